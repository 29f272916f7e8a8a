import { beforeAll, afterAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema, type PipelineConfig } from '../actions/lib/config/schema.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';

const base = loadPipelineFile('pipelines/tank-level-forecast.yaml');

/**
 * Data a model cannot learn from or be scored on (issue #10, part 5): a stuck target sensor, a
 * disconnected feature sensor, and a target that got stuck in the newest days only, so that the
 * whole window passes its quality checks but the holdout is flat.
 */
describeDb('degenerate data', ({ db }) => {
  let work: string;
  let asOf: Date;
  /** the demo pipeline on four days of `table`, with a ridge model */
  const pipeline = (table: string, quality: Record<string, unknown> = {}): PipelineConfig =>
    pipelineSchema.parse({
      ...base,
      source: { ...base.source, table, window_days: 4 },
      quality: { ...base.quality, min_rows: 3000, min_days: 3, ...quality },
      drift: { ...base.drift, current_days: 1 },
      trainer: { algorithm: 'ridge', params: {} },
    });
  const run = (p: PipelineConfig, force = false) =>
    retrain(db(), { pipeline: p, pipelineFile: 'x', asOf, runsDir: join(work, 'runs'), repoDir: join(work, 'repo'), force });
  /** a copy of the readings with `change` applied */
  const readings = async (table: string, change: string): Promise<string> => {
    await db().exec(`CREATE TABLE public.${table} AS SELECT * FROM public.readings_wide; ${change.replaceAll('$t', `public.${table}`)}`);
    return table;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-degenerate-'));
    asOf = (await seedReadings(db(), { days: 4, stations: 1, seed: 21, start: new Date('2026-10-01T00:00:00Z') })).end;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('skips the retrain of a stuck target sensor, saying so, and trains nothing', async () => {
    const r = await run(pipeline(await readings('stuck_target', 'UPDATE $t SET tank_level_m = 5.25')));
    expect(r.decision).toBe('skip');
    expect(r.reasons).toContain(
      'data quality: tank_level_m: 100.00% of rows hold the same value (5.25; maximum 99.00%): a stuck sensor or a flat target; a model would learn nothing and score a perfect 0 on it',
    );
    expect(r.artifact).toBeNull();
    expect(r.quality!.failed.map((c) => [c.name, c.column])).toContainEqual(['flat_target', 'tank_level_m']);
    // Near-constant, but noisy: caught by the optional minimum standard deviation.
    const noisy = await readings('noisy_target', 'UPDATE $t SET tank_level_m = 5.25 + random() * 0.001');
    const n = await run(pipeline(noisy, { min_target_std: 0.01 }));
    expect(n.decision).toBe('skip');
    expect(n.reasons.find((x) => x.includes('standard deviation'))).toMatch(
      /^data quality: tank_level_m: standard deviation 0\.000\d+ \(minimum 0\.01\): a near-constant target$/,
    );
  });

  it('skips on a constant feature column (a disconnected sensor), unless the pipeline allows it', async () => {
    const table = await readings('pump_off', 'UPDATE $t SET pump_speed_rpm = 0');
    const r = await run(pipeline(table));
    expect(r.decision).toBe('skip');
    expect(r.reasons).toEqual([
      'data quality: pump_speed_rpm: the same value (0) in every row: a stuck or disconnected sensor; as a feature it carries nothing (list it in quality.allow_constant_columns if that is expected)',
    ]);
    const allowed = await run(pipeline(table, { allow_constant_columns: ['pump_speed_rpm'] }));
    expect(allowed.decision).not.toBe('skip');
  });

  it('refuses to promote on a flat holdout (the sensor stuck in the newest day), even with --force', async () => {
    const since = new Date(asOf.getTime() - 30 * 3_600_000).toISOString();
    const table = await readings('stuck_late', `UPDATE $t SET tank_level_m = 5.25 WHERE ts >= '${since}'`);
    const r = await run(pipeline(table), true);
    expect(r.quality!.passed).toBe(true);
    expect(r.decision).toBe('reject');
    const gate = r.gates.find((g) => g.name === 'degenerate_holdout')!;
    expect(gate).toMatchObject({ passed: false, hard: true, overridden: false, value: 'constant (5.25)' });
    expect(r.reasons[0]).toBe(
      `the holdout target is constant (5.25) in all ${r.holdout!.rows} rows (a stuck sensor?): every model that predicts that value scores a meaningless perfect 0 on it, so none is promoted on it`,
    );
    // The recorded evaluation carries the refusing gate.
    const ev = await db().query<{ decision: string; gates: { name: string; passed: boolean }[] }>(
      'SELECT decision, gates FROM mlops.evaluations WHERE run_id = $1',
      [r.run_id],
    );
    expect(ev.rows[0].decision).toBe('reject');
    expect(ev.rows[0].gates).toContainEqual(expect.objectContaining({ name: 'degenerate_holdout', passed: false }));
  });
});
