import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { regressionPipelineSchema, type RegressionPipeline } from '../actions/lib/config/schema.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { referenceGate } from '../actions/lib/gates/gates.ts';

const base = loadPipelineFile('pipelines/pump-efficiency.yaml') as RegressionPipeline;
const pipeline = (over: Record<string, unknown>): RegressionPipeline => regressionPipelineSchema.parse({ ...base, ...over });

describeDb('double evaluation on a fixed reference set (regression)', ({ db }) => {
  let work: string;
  let repo: string;
  let asOf: Date;
  const REFERENCE = { start: '2026-10-08T00:00:00Z', end: '2026-10-10T00:00:00Z', tolerance_pct: 2 };
  const run = (p: RegressionPipeline, force = false): Promise<RetrainResult> =>
    retrain(db(), { pipeline: p, pipelineFile: 'pipelines/pump-efficiency.yaml', asOf, runsDir: join(work, 'runs'), repoDir: repo, force });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-reference-'));
    repo = join(work, 'repo');
    asOf = (await seedReadings(db(), { days: 32, stations: 1, seed: 8, start: new Date('2026-10-01T00:00:00Z') })).end;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  let first: RetrainResult;
  it('scores the challenger on the reference set too; without a champion the gate passes', async () => {
    first = await run(
      pipeline({ reference_set: REFERENCE, trainer: { algorithm: 'gbdt', params: { trees: 30, max_depth: 4, learning_rate: 0.2, threads: 1 } } }),
    );
    expect(first.decision).toBe('promote');
    expect(first.reference).toMatchObject({ start: '2026-10-08T00:00:00.000Z', end: '2026-10-10T00:00:00.000Z', from_run: null, champion: null });
    expect(first.reference!.rows).toBeGreaterThan(1000);
    expect(first.gates.find((g) => g.name === 'reference_set')).toMatchObject({ passed: true, reason: 'no champion to compare with on the reference set' });
    expect(readFileSync(join(first.lineage.run_dir, 'report.md'), 'utf8')).toContain('### Reference set (double evaluation)');
    writeRegistryEdit(repo, planRegistryEdit(readRegistry(repo), promotionFromRunDir(first.lineage.run_dir)));
  });

  it('rejects a challenger that regresses on the reference set beyond the tolerance, even when forced', async () => {
    // A mean-only model (one shallow tree) is far worse than the champion everywhere; --force lifts the
    // improvement gate, but the reference set (a hard gate) still holds.
    const weak = await run(
      pipeline({ reference_set: REFERENCE, trainer: { algorithm: 'gbdt', params: { trees: 1, max_depth: 1, learning_rate: 0.01, threads: 1 } } }),
      true,
    );
    expect(weak.decision).toBe('reject');
    const gate = weak.gates.find((g) => g.name === 'reference_set')!;
    expect(gate).toMatchObject({ passed: false, hard: true });
    expect(weak.reasons).toContain(gate.reason);
    expect(gate.reason).toMatch(/^rmse on the \d+ reference rows [\d.]+ -> [\d.]+: \d+\.\d% worse than the champion, over the 2% tolerance$/);
    expect(weak.reference!.champion!.label).toBe('champion v1');
    expect(weak.reference!.champion!.metrics.rows).toBe(weak.reference!.challenger.metrics.rows);
  });

  it('reuses the holdout an earlier run evaluated on (from_run)', async () => {
    const same = await run(pipeline({ reference_set: { from_run: first.run_id }, trainer: first.trainer }));
    expect(same.reference).toMatchObject({ from_run: first.run_id, start: first.holdout!.start });
    expect(same.gates.find((g) => g.name === 'reference_set')).toMatchObject({ passed: true });
    await expect(run(pipeline({ reference_set: { from_run: 'no-such-run' } }))).rejects.toThrow(
      'reference_set.from_run: run "no-such-run" of pump-efficiency has no recorded holdout',
    );
  });
});

it("the reference gate compares in the metric's direction", () => {
  expect(referenceGate('f1', { rows: 500, challenger: 0.4905, champion: 0.5, tolerancePct: 2 })).toMatchObject({ passed: true, value: '-1.9%' });
  expect(referenceGate('f1', { rows: 500, challenger: 0.48, champion: 0.5, tolerancePct: 2 })).toMatchObject({ passed: false });
  expect(referenceGate('rmse', { rows: 500, challenger: 0.9, champion: 1, tolerancePct: 0 })).toMatchObject({ passed: true, value: '+10.0%' });
  expect(referenceGate('rmse', { rows: 0, challenger: Number.NaN, champion: 1, tolerancePct: 2 })).toMatchObject({ passed: false, value: 'no rows' });
});
