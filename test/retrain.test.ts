import { metricValue } from '../actions/lib/evaluate/metrics.ts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema, type PipelineConfig } from '../actions/lib/config/schema.ts';
import { trainerSchema } from '../actions/lib/train/params.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { retrain, type RetrainOptions } from '../actions/lib/retrain/retrain.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { openDb, type Db } from '../actions/lib/db/index.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { MemoryRunStore } from '../actions/lib/retrain/store.ts';

const base = loadPipelineFile('pipelines/tank-level-forecast.yaml');
// Small models keep the suite fast; the engine is the same.
const gbdt = trainerSchema.parse({ algorithm: 'gbdt', params: { trees: 40, max_depth: 5, learning_rate: 0.2, threads: 1 } });
const ridge = trainerSchema.parse({ algorithm: 'ridge', params: {} });
const nanTrainer = trainerSchema.parse({ algorithm: 'command', params: { command: [process.execPath, '--import', 'tsx', 'test/fixtures/nan-trainer.ts'] } });

function pipeline(over: Partial<PipelineConfig> = {}): PipelineConfig {
  return pipelineSchema.parse({ ...base, ...over });
}

describeDb('weekly retrain', ({ db, backend, fresh }) => {
  let work: string;
  let repo: string;
  let asOf: Date;
  const run = (over: Partial<RetrainOptions> & { pipeline: PipelineConfig }): Promise<RetrainResult> =>
    retrain(db(), { pipelineFile: 'pipelines/tank-level-forecast.yaml', asOf, runsDir: join(work, 'runs'), repoDir: repo, ...over });
  const accept = (r: RetrainResult): void => {
    const plan = planRegistryEdit(readRegistry(repo), promotionFromRunDir(r.lineage.run_dir));
    writeRegistryEdit(repo, plan);
  };
  const count = async (table: string, runId: string): Promise<number> =>
    (await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM mlops.${table} WHERE run_id = $1`, [runId])).rows[0].n;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-retrain-'));
    repo = join(work, 'repo');
    const seeded = await seedReadings(db(), { days: 35, stations: 1, seed: 11, start: new Date('2026-10-01T00:00:00Z') });
    asOf = seeded.end;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  let first: RetrainResult;
  it('promotes the first model of a pipeline when every other gate passes', async () => {
    first = await run({ pipeline: pipeline({ trainer: ridge }) });
    expect(first.decision).toBe('promote');
    expect(first.scores.champion).toBeNull();
    expect(first.gates.map((g) => [g.name, g.value, g.passed])).toContainEqual(['improvement', 'first model', true]);
    expect(first.holdout!.rows).toBeGreaterThan(1000);
    expect(first.holdout!.start < first.holdout!.end).toBe(true);
    // Tracked whatever the decision: the run, its evaluation and its performance row.
    const row = (
      await db().query<{ status: string; decision: string; code_sha: string; fingerprint: string; artifact_sha256: string }>(
        'SELECT status, decision, code_sha, fingerprint, artifact_sha256 FROM mlops.training_runs WHERE run_id = $1',
        [first.run_id],
      )
    ).rows[0];
    expect(row).toMatchObject({ status: 'succeeded', decision: 'promote', fingerprint: first.data!.fingerprint, artifact_sha256: first.artifact!.sha256 });
    expect(row.code_sha).toMatch(/^[0-9a-f]{40}$/);
    const perf = (
      await db().query<{ model_type: string; model_name: string; promoted: number; rmse_val: number; rmse_train: number }>(
        'SELECT model_type, model_name, promoted, rmse_val, rmse_train FROM mlops.model_performance WHERE run_id = $1',
        [first.run_id],
      )
    ).rows[0];
    expect(perf).toMatchObject({ model_type: 'ridge', model_name: 'tank-level-forecast', promoted: 1 });
    expect(perf.rmse_val).toBeCloseTo(metricValue(first.scores.challenger!.metrics, 'rmse'), 9);
    expect(await count('evaluations', first.run_id)).toBe(1);
    const art = (await db().query<{ size: number }>('SELECT size FROM mlops.model_artifacts WHERE sha256 = $1', [first.artifact!.sha256])).rows[0];
    expect(art.size).toBe(first.artifact!.bytes);
    // The run directory holds everything a later step or a person needs.
    for (const f of ['run.json', 'frame.arrow', 'train.arrow', 'holdout.arrow', 'model.onnx', 'report.json', 'report.md']) {
      expect(existsSync(join(first.lineage.run_dir, f)), f).toBe(true);
    }
    const md = readFileSync(join(first.lineage.run_dir, 'report.md'), 'utf8');
    expect(md).toContain('| improvement over champion | >= 2% | first model | ✅ |');
    accept(first);
  });

  let second: RetrainResult;
  it('promotes a challenger that really improves on the champion, scored on the same holdout', async () => {
    second = await run({ pipeline: pipeline({ trainer: gbdt }) });
    expect(second.decision).toBe('promote');
    expect(second.scores.champion!.label).toBe('champion v1');
    expect(second.scores.champion!.metrics.rows + second.scores.champion!.metrics.nan_predictions).toBe(second.holdout!.rows);
    expect(second.scores.challenger!.metrics.rows).toBe(second.holdout!.rows);
    expect(second.improvement_pct!).toBeGreaterThan(2);
    accept(second);
    expect(readRegistry(repo).models['tank-level-forecast'].version).toBe(2);
  });

  it('rejects a challenger that does not improve enough, and --force overrides only that gate', async () => {
    const same = await run({ pipeline: pipeline({ trainer: gbdt }) });
    expect(same.decision).toBe('reject');
    expect(same.improvement_pct).toBeCloseTo(0, 6);
    expect(same.reasons[0]).toMatch(/^rmse improves only 0\.0% on the champion \(.+ -> .+\); 2% required$/);
    const forced = await run({ pipeline: pipeline({ trainer: gbdt }), force: true });
    expect(forced.decision).toBe('promote');
    expect(forced.forced).toBe(true);
    expect(forced.gates.find((g) => g.name === 'improvement')).toMatchObject({ passed: false, overridden: true });
  });

  it('hard-rejects a challenger that emits NaN, even with --force', async () => {
    const r = await run({ pipeline: pipeline({ trainer: nanTrainer }), force: true });
    expect(r.decision).toBe('reject');
    expect(r.scores.challenger!.metrics.nan_predictions).toBe(r.holdout!.rows);
    expect(r.reasons).toContain(`challenger produced ${r.holdout!.rows} NaN or infinite predictions on the holdout`);
  });

  it('skips on bad data, listing every failed check, and trains nothing', async () => {
    const late = new Date(asOf.getTime() + 3 * 86_400_000);
    const r = await run({ pipeline: pipeline({ trainer: gbdt }), asOf: late });
    expect(r.decision).toBe('skip');
    expect(r.reasons).toEqual([
      'data quality: 89.96% of expected rows present (worst: PS-001) (minimum 95.00%)',
      `data quality: newest row is 4,321 min old at ${late.toISOString()} (maximum 120 min)`,
    ]);
    expect(r.artifact).toBeNull();
    expect(r.scores.challenger).toBeNull();
    const checks = await db().query<{ check_name: string; passed: boolean }>('SELECT check_name, passed FROM mlops.quality_checks WHERE run_id = $1', [
      r.run_id,
    ]);
    expect(checks.rows.filter((c) => !c.passed).map((c) => c.check_name)).toContain('staleness');
    expect(await count('model_performance', r.run_id)).toBe(1);
  });

  it('fails clearly when the champion artifact no longer matches its sha256, and records the run as failed', async () => {
    const entry = readRegistry(repo).models['tank-level-forecast'];
    const file = join(repo, entry.artifact.path);
    const good = readFileSync(file);
    writeFileSync(file, Buffer.concat([good, Buffer.from('tampered')]));
    try {
      const err = await run({ pipeline: pipeline({ trainer: gbdt }), runId: 'tampered-champion' }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        new RegExp(`^tank-level-forecast v2: artifact ${entry.artifact.path} has sha256 [0-9a-f]{64} but the registry records ${entry.artifact.sha256}$`),
      );
      const row = (
        await db().query<{ status: string; error: string }>('SELECT status, error FROM mlops.training_runs WHERE run_id = $1', ['tampered-champion'])
      ).rows[0];
      expect(row.status).toBe('failed');
      expect(row.error).toBe((err as Error).message);
    } finally {
      writeFileSync(file, good);
    }
  });

  it("names the model and its file when the champion's bytes are no ONNX model (with a matching sha256)", async () => {
    const file = join(repo, 'registry/production.json');
    const registry = readFileSync(file, 'utf8');
    const entry = readRegistry(repo).models['tank-level-forecast'];
    const artifact = join(repo, entry.artifact.path);
    const good = readFileSync(artifact);
    const junk = Buffer.from('not a model at all');
    try {
      writeFileSync(artifact, junk);
      writeFileSync(file, registry.replace(entry.artifact.sha256, createHash('sha256').update(junk).digest('hex')));
      const err = await run({ pipeline: pipeline({ trainer: ridge }), runId: 'corrupt-champion' }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^the champion v${entry.version} \\(${entry.artifact.path.replace(/\./g, '\\.')}\\) is not an ONNX model onnxruntime can load \\(18 bytes, sha256 [0-9a-f]{12}\\): `,
        ),
      );
      expect((await db().query<{ status: string }>('SELECT status FROM mlops.training_runs WHERE run_id = $1', ['corrupt-champion'])).rows[0].status).toBe(
        'failed',
      );
    } finally {
      writeFileSync(artifact, good);
      writeFileSync(file, registry);
    }
  });

  it('records a crash mid-run as failed with its error', async () => {
    const err = await run({
      pipeline: pipeline({ trainer: gbdt }),
      runId: 'crash-mid-run',
      afterStage: (stage) => {
        if (stage === 'train') throw new Error('injected crash after training');
      },
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('injected crash after training');
    const row = (
      await db().query<{ status: string; error: string; finished_at: Date | null; stage_timings: Record<string, number> }>(
        'SELECT status, error, finished_at, stage_timings FROM mlops.training_runs WHERE run_id = $1',
        ['crash-mid-run'],
      )
    ).rows[0];
    expect(row).toMatchObject({ status: 'failed', error: 'injected crash after training' });
    expect(row.finished_at).not.toBeNull();
    expect(Object.keys(row.stage_timings)).toEqual(expect.arrayContaining(['extract', 'quality', 'features', 'train']));
    const report = JSON.parse(readFileSync(join(work, 'runs', 'crash-mid-run', 'report.json'), 'utf8'));
    expect(report).toMatchObject({ status: 'failed', error: 'injected crash after training' });
  });

  it("records a stage that throws as failed, with that stage's time", async () => {
    const broken = pipeline({ trainer: gbdt, source: { ...base.source, table: 'no_such_table' } });
    const err = await run({ pipeline: broken, runId: 'missing-source' }).catch((e: Error) => e);
    expect((err as Error).message).toBe('source.table: table "no_such_table" does not exist');
    const row = (
      await db().query<{ status: string; error: string; stage_timings: Record<string, number> }>(
        'SELECT status, error, stage_timings FROM mlops.training_runs WHERE run_id = $1',
        ['missing-source'],
      )
    ).rows[0];
    expect(row).toMatchObject({ status: 'failed', error: 'source.table: table "no_such_table" does not exist' });
    expect(row.stage_timings.extract).toBeGreaterThan(0);
  });

  it('runs the same stages on an in-memory store: same outcome, nothing on disk', async () => {
    const stores: MemoryRunStore[] = [];
    const r = await run({
      pipeline: pipeline({ trainer: ridge }),
      runId: 'in-memory',
      store: (dir) => {
        stores.push(new MemoryRunStore(dir));
        return stores[0];
      },
    });
    expect(r.decision).toBe('reject');
    expect(r.scores.challenger!.metrics.rows).toBe(r.holdout!.rows);
    expect(existsSync(join(work, 'runs', 'in-memory'))).toBe(false);
    expect(JSON.parse(stores[0].reports!.json)).toMatchObject({ run_id: 'in-memory', decision: 'reject' });
    expect(await count('evaluations', 'in-memory')).toBe(1);
  });

  it("refuses a run id that is taken (a finished run, or another pipeline's) and leaves that run exactly as it was", async () => {
    const p = pipeline({ trainer: ridge });
    const done = await run({ pipeline: p, runId: 'same-run' });
    const snapshot = async () => ({
      run: (await db().query('SELECT * FROM mlops.training_runs WHERE run_id = $1', ['same-run'])).rows,
      evaluation: (await db().query('SELECT * FROM mlops.evaluations WHERE run_id = $1', ['same-run'])).rows,
      performance: (await db().query('SELECT * FROM mlops.model_performance WHERE run_id = $1', ['same-run'])).rows,
      checks: (await db().query('SELECT * FROM mlops.quality_checks WHERE run_id = $1 ORDER BY id', ['same-run'])).rows,
      report: readFileSync(join(done.lineage.run_dir, 'report.json'), 'utf8'),
      model: readFileSync(join(done.lineage.run_dir, 'model.onnx')),
    });
    const before = await snapshot();
    // The same runs directory: the run's files are there.
    const again = await run({ pipeline: p, runId: 'same-run' }).catch((e: Error) => e);
    expect((again as Error).message).toMatch(/^run id "same-run" is taken: .*same-run already holds a run \(run\.json\); a run's files are never overwritten/);
    // Elsewhere on disk: the database still knows the run.
    const elsewhere = join(work, 'runs-elsewhere');
    const inDb = await run({ pipeline: p, runId: 'same-run', runsDir: elsewhere }).catch((e: Error) => e);
    expect((inDb as Error).message).toBe(
      `run id "same-run" is taken: run same-run of tank-level-forecast already succeeded with decision ${done.decision} ` +
        `(finished ${(before.run[0] as { finished_at: Date }).finished_at.toISOString().slice(0, 16).replace('T', ' ')} UTC); a run's record is never overwritten: omit --run-id (or the run-id input) to get a new one`,
    );
    // Another pipeline's run.
    const theirs = await run({ pipeline: pipeline({ trainer: ridge, name: 'other-pipeline' }), runId: 'same-run', runsDir: elsewhere }).catch((e: Error) => e);
    expect((theirs as Error).message).toMatch(
      /^run id "same-run" is taken by a run of another pipeline, "tank-level-forecast" \(started .+ UTC, succeeded\); run ids are unique across pipelines/,
    );
    expect(existsSync(join(elsewhere, 'same-run'))).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it.runIf(backend === 'postgres')('serialises two concurrent retrains of one pipeline with an advisory lock', async () => {
    const other: Db = await openDb({ url: fresh().url });
    try {
      const spans: Record<string, [number, number]> = {};
      const timedRun = (name: string, conn: Db) => {
        let t0 = 0;
        return retrain(conn, {
          pipeline: pipeline({ trainer: ridge }),
          pipelineFile: 'x',
          asOf,
          runsDir: join(work, 'runs'),
          repoDir: repo,
          runId: name,
          afterStage: (s) => {
            if (s === 'extract') t0 = Date.now();
            if (s === 'gate') spans[name] = [t0, Date.now()];
          },
        });
      };
      await Promise.all([timedRun('lock-a', db()), timedRun('lock-b', other)]);
      const [a, b] = [spans['lock-a'], spans['lock-b']];
      expect(a[1] <= b[0] || b[1] <= a[0]).toBe(true);

      // A retrain that cannot get the lock in time says why.
      // Wait for the holder to be inside its run (lock taken), not for a fixed time: on a loaded
      // machine 500 ms was not always enough, and the second retrain then took the lock first.
      let release!: () => void;
      let inside!: () => void;
      const holding = new Promise<void>((r) => (inside = r));
      const held = retrain(other, {
        pipeline: pipeline({ trainer: ridge }),
        pipelineFile: 'x',
        asOf,
        runsDir: join(work, 'runs'),
        repoDir: repo,
        runId: 'lock-holder',
        afterStage: (s) => {
          if (s !== 'extract') return undefined;
          inside();
          return new Promise<void>((r) => (release = r));
        },
      });
      await holding;
      const err = await retrain(db(), {
        pipeline: pipeline({ trainer: ridge }),
        pipelineFile: 'x',
        asOf,
        runsDir: join(work, 'runs'),
        repoDir: repo,
        lockTimeoutMs: 300,
      }).catch((e: Error) => e);
      release();
      await held;
      expect((err as Error).message).toBe(
        'another retrain of pipeline "tank-level-forecast" is running (advisory lock mlops.retrain/tank-level-forecast held); waited 0.3 s — try again when it has finished',
      );
    } finally {
      await other.close();
    }
  });
});
