import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import pg from 'pg';
import { freshDatabase, testBackends, type FreshDatabase } from './helpers/db.ts';
import { mlops, pauseAt, startMlops, waitUntil, type CliProcess } from './helpers/cli.ts';
import { openDb, type Db } from '../actions/lib/db/index.ts';
import { migrate } from '../actions/lib/db/migrate.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { LOCK_FILE } from '../actions/lib/db/dir-lock.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';

/**
 * The fault-injection suite (issue #10): real CLI processes, killed (SIGKILL), stopped (SIGTERM,
 * SIGINT), cut off from PostgreSQL (pg_terminate_backend) or racing for one embedded database, in
 * the middle of a retrain. A pause point (actions/lib/faults/pause-point.ts) only decides where the
 * process is when the fault lands. After every fault: no run is left `running`, no committed row
 * is lost, the next retrain succeeds, and what the user sees names what happened.
 */

const PIPELINE = 'tank-level-forecast';
const AS_OF = '2026-10-04T00:00:00Z';
const SEED = { days: 3, stations: 1, seed: 5, start: new Date('2026-10-01T00:00:00Z') };
/** no raw stack trace reaches the user */
const STACK = /\n\s+at [^\n]+:\d+:\d+/;

/** The demo pipeline, small: three days of data, a ridge model. */
function writePipeline(dir: string): void {
  const p = parse(readFileSync(`pipelines/${PIPELINE}.yaml`, 'utf8')) as Record<string, Record<string, unknown>>;
  p.source.window_days = 3;
  p.quality = { ...p.quality, min_rows: 2000, min_days: 2 };
  p.drift = { ...p.drift, current_days: 1 };
  p.trainer = { algorithm: 'ridge', params: {} };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${PIPELINE}.yaml`), stringify(p));
}

interface RunRow {
  run_id: string;
  status: string;
  error: string | null;
  finished_at: Date | null;
}

for (const backend of testBackends()) {
  describe(`faults injected into real retrain processes [${backend}]`, () => {
    let work: string;
    let dataDir: string;
    let fresh: FreshDatabase | null = null;
    let dbArgs: string[];
    let dbEnv: NodeJS.ProcessEnv;
    /** runs the CLI reported as succeeded: every row of theirs must still be there at the end */
    const committed: string[] = [];
    /** runs ended by a fault, and the status and error each must end with */
    const ended = new Map<string, { status: string; error: RegExp }>();
    let readings = 0;
    let pauses = 0;

    const retrainArgs = (...extra: string[]) => [
      'retrain',
      '--pipeline',
      PIPELINE,
      '--dir',
      join(work, 'pipelines'),
      '--as-of',
      AS_OF,
      '--runs-dir',
      join(work, 'runs'),
      '--repo',
      join(work, 'repo'),
      ...dbArgs,
      ...extra,
    ];
    const start = (args: string[], env: NodeJS.ProcessEnv = {}): CliProcess => startMlops(args, { ...dbEnv, ...env });
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => mlops(args, { ...dbEnv, ...env });
    /** a retrain that must succeed, remembered as committed */
    const retrainOk = async (env: NodeJS.ProcessEnv = {}) => {
      const r = await run(retrainArgs('--json'), env);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { run_id: string; status: string; decision: string };
      expect(doc.status).toBe('succeeded');
      expect(doc.decision).toMatch(/^(promote|reject)$/);
      committed.push(doc.run_id);
      return { ...r, doc };
    };
    /** a retrain process stopped at `point` (its run is `running`), and its run id */
    const pausedRetrain = async (point: string, env: NodeJS.ProcessEnv = {}) => {
      const pause = pauseAt(mkdtempSync(join(work, `pause-${++pauses}-`)), point);
      const before = new Set(runDirs());
      const p = start(retrainArgs(), { ...pause.env, ...env });
      await pause.reached(p);
      const ids = runDirs().filter((d) => !before.has(d));
      expect(ids).toHaveLength(1);
      return { p, runId: ids[0], release: pause.release };
    };
    const runDirs = (): string[] => (existsSync(join(work, 'runs')) ? readdirSync(join(work, 'runs')) : []);
    /** the database, in this process (PGlite: only while no CLI process has it open) */
    const withDb = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
      const db = backend === 'postgres' ? await fresh!.open() : await openDb({ dataDir, ignoreEnv: true, waitMs: 30_000 });
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    };
    const runRow = async (db: Db, runId: string): Promise<RunRow | undefined> =>
      (await db.query<RunRow>('SELECT run_id, status, error, finished_at FROM mlops.training_runs WHERE run_id = $1', [runId])).rows[0];
    /** every backend of the scratch database but the caller's, ended by the server */
    const terminateBackends = async (): Promise<number> => {
      const admin = new pg.Client({ connectionString: fresh!.url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        return rows[0].n;
      } finally {
        await admin.end();
      }
    };

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), `mlops-faults-${backend}-`));
      writePipeline(join(work, 'pipelines'));
      dataDir = join(work, 'db');
      if (backend === 'postgres') {
        fresh = await freshDatabase('postgres');
        dbArgs = [];
        dbEnv = { DATABASE_URL: fresh.url };
      } else {
        dbArgs = ['--data-dir', dataDir];
        dbEnv = {};
      }
      // The data and a first champion-less run, in this process: setup, not a fault.
      readings = await withDb(async (db) => {
        await migrate(db);
        const seeded = await seedReadings(db, SEED);
        const first = await retrain(db, {
          pipeline: loadPipelineFile(join(work, 'pipelines', `${PIPELINE}.yaml`)),
          pipelineFile: 'x',
          asOf: new Date(AS_OF),
          runsDir: join(work, 'runs'),
          repoDir: join(work, 'repo'),
        });
        committed.push(first.run_id);
        return seeded.rows;
      });
    });
    afterAll(async () => {
      await fresh?.drop();
      rmSync(work, { recursive: true, force: true });
    });

    it('kill -9 mid-training: the next retrain marks the run abandoned (with why) and succeeds; health alerts', async () => {
      const { p, runId } = await pausedRetrain('stage:train');
      const pid = p.child.pid!;
      p.child.kill('SIGKILL');
      expect((await p.exited).signal).toBe('SIGKILL');
      if (backend === 'postgres') {
        // The fault is real: the killed process left its run `running`.
        expect((await withDb((db) => runRow(db, runId)))!.status).toBe('running');
      } else {
        // ... and its lock on the embedded database behind, with its (dead) pid.
        expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid });
      }
      const next = await retrainOk();
      expect(next.stderr).toContain(`${PIPELINE}: ⚠️ run ${runId} `);
      expect(next.stderr).toMatch(
        new RegExp(
          `was left running and is now marked abandoned: abandoned: its process \\(pid ${pid} on host [^)]+\\) is gone: it was killed or crashed without finishing`,
        ),
      );
      expect(next.stderr).not.toMatch(/in use by another mlops process/);
      ended.set(runId, {
        status: 'abandoned',
        error: new RegExp(
          `^abandoned: its process \\(pid ${pid} on host .+\\) is gone: .+; found by the next retrain of ${PIPELINE} \\(run ${next.doc.run_id}\\)$`,
        ),
      });

      const health = await run(['health', '--pipeline', PIPELINE, '--dir', join(work, 'pipelines'), '--repo', join(work, 'repo'), '--as-of', AS_OF, ...dbArgs]);
      expect(health.code, health.stderr).toBe(0);
      expect(health.stdout).toMatch(
        new RegExp(
          `FIRING  ${PIPELINE}/retrain-abandoned: ${PIPELINE}: a retrain was abandoned in the 7 days to 2026-10-04: run ${runId} \\(as of 2026-10-04\\) abandoned: its process \\(pid ${pid} `,
        ),
      );
      expect(health.stdout).toContain(`${PIPELINE}/retrain-abandoned opened`);
      expect(health.stdout).not.toMatch(/retrain-failed: .* is running/);
    });

    it('SIGTERM and SIGINT mid-training: the run is recorded failed before the process exits (143, 130); the next retrain succeeds', async () => {
      for (const [signal, code, stage] of [
        ['SIGTERM', 143, 'train'],
        ['SIGINT', 130, 'features'],
      ] as const) {
        const { p, runId } = await pausedRetrain(`stage:${stage}`);
        p.child.kill(signal);
        const r = await p.exited;
        expect(r.code, r.stderr).toBe(code);
        expect(r.stderr).toContain(
          `${PIPELINE}: ⏹ run ${runId} recorded as failed: interrupted by ${signal} during the ${stage} stage: the process was asked to stop`,
        );
        expect(r.stderr).not.toMatch(STACK);
        ended.set(runId, { status: 'failed', error: new RegExp(`^interrupted by ${signal} during the ${stage} stage: `) });
        if (backend === 'pglite') expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
        const report = JSON.parse(readFileSync(join(work, 'runs', runId, 'report.json'), 'utf8'));
        expect(report).toMatchObject({ status: 'failed', error: expect.stringContaining(`interrupted by ${signal}`) });
      }
      await retrainOk();
    });

    it.runIf(backend === 'pglite')(
      'SIGTERM during a long gbdt fit: the fit yields between trees, so the run is recorded failed and the process exits at once',
      async () => {
        // The same pipeline with a fit that would run for minutes: 10,000 deep trees on three days.
        const gbdtDir = join(work, 'pipelines-gbdt');
        const p = parse(readFileSync(join(work, 'pipelines', `${PIPELINE}.yaml`), 'utf8')) as Record<string, unknown>;
        p.trainer = {
          algorithm: 'gbdt',
          params: { trees: 10_000, max_depth: 12, min_samples_leaf: 1, learning_rate: 0.001, early_stopping_rounds: null, threads: 1 },
        };
        mkdirSync(gbdtDir, { recursive: true });
        writeFileSync(join(gbdtDir, `${PIPELINE}.yaml`), stringify(p));
        const pause = pauseAt(mkdtempSync(join(work, `pause-${++pauses}-`)), 'stage:train');
        const before = new Set(runDirs());
        const args = retrainArgs().map((a, i, all) => (all[i - 1] === '--dir' ? gbdtDir : a));
        const child = start(args, pause.env);
        await pause.reached(child);
        const [runId] = runDirs().filter((d) => !before.has(d));
        pause.release();
        // Let the fit get going (its first trees), then stop the process.
        await new Promise((r) => setTimeout(r, 1500));
        const killedAt = Date.now();
        child.child.kill('SIGTERM');
        const r = await child.exited;
        const afterKill = Date.now() - killedAt;
        expect(r.code, r.stderr).toBe(143);
        expect(r.stderr).toContain(`${PIPELINE}: ⏹ run ${runId} recorded as failed: interrupted by SIGTERM during the train stage`);
        // A fit that held the event loop would have run all its 10,000 trees before the handler: minutes.
        expect(afterKill).toBeLessThan(60_000);
        ended.set(runId, { status: 'failed', error: /^interrupted by SIGTERM during the train stage: / });
      },
    );

    it.runIf(backend === 'pglite')(
      'a second process on the same embedded database waits with a message or fails clearly; two retrains are serialised',
      async () => {
        const a = await pausedRetrain('stage:train');
        const busy = await run(['runs', 'list', ...dbArgs], { MLOPS_DB_WAIT_SECONDS: '1' });
        expect(busy.code).toBe(1);
        expect(busy.stderr).toMatch(
          new RegExp(
            `^mlops runs list: the embedded database ${dataDir} is in use by another mlops process \\(pid ${a.p.child.pid} on host [^,]+, since [^:]+:\\d\\d:\\d\\d\\.\\d+Z: "mlops retrain --pipeline ${PIPELINE} `,
          ),
        );
        expect(busy.stderr).toContain('gave up after 1.0 s. PGlite allows one process at a time');
        expect(busy.stderr).not.toMatch(STACK);
        // A second retrain waits, says so, and runs when the first one has finished.
        const b = start(retrainArgs('--json'), { MLOPS_DB_WAIT_SECONDS: '120' });
        await waitUntil('the second retrain to say it waits', () => /waiting up to 120 s for it to finish/.test(b.stderr));
        a.release();
        const [ra, rb] = await Promise.all([a.p.exited, b.exited]);
        expect(ra.code, ra.stderr).toBe(0);
        expect(rb.code, rb.stderr).toBe(0);
        expect(rb.stderr).toMatch(
          /^mlops retrain: the embedded database .+ is in use by another mlops process .+; waiting up to 120 s for it to finish\.\.\.$/m,
        );
        committed.push(a.runId, JSON.parse(rb.stdout.trim()).run_id);
      },
    );

    it.runIf(backend === 'postgres')(
      "the advisory lock's session is terminated mid-training: the run stops, is recorded failed, never goes on unlocked",
      async () => {
        const a = await pausedRetrain('stage:train');
        expect(await terminateBackends()).toBeGreaterThan(0);
        // The lock went with its session: another retrain of the pipeline runs now, to the end.
        await retrainOk();
        a.release();
        const r = await a.p.exited;
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
          `${PIPELINE}: 💥 failed (run ${a.runId}, recorded as failed): lost the advisory lock of pipeline "${PIPELINE}": the database connection was lost (terminating connection due to administrator command), and the lock with it; the run stopped so that it never goes on unlocked`,
        );
        expect(r.stderr).not.toMatch(STACK);
        ended.set(a.runId, { status: 'failed', error: /^lost the advisory lock of pipeline/ });
        await retrainOk();
      },
    );

    it.runIf(backend === 'postgres')(
      'the connection is terminated during extraction (COPY streaming): the run is recorded failed with what happened',
      async () => {
        const a = await pausedRetrain('extract:copy');
        expect(await terminateBackends()).toBeGreaterThan(0);
        a.release();
        const r = await a.p.exited;
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `${PIPELINE}: 💥 failed \\(run ${a.runId}, recorded as failed\\): extract from readings_wide: the database connection was lost \\(terminating connection due to administrator command\\)`,
          ),
        );
        expect(r.stderr).not.toMatch(STACK);
        ended.set(a.runId, { status: 'failed', error: /^extract from readings_wide: the database connection was lost/ });
        await retrainOk();
      },
    );

    it('afterwards: no run is left running, every committed row is there, each ended run says what happened', async () => {
      await withDb(async (db) => {
        const running = await db.query('SELECT run_id FROM mlops.training_runs WHERE status = $1', ['running']);
        expect(running.rows).toEqual([]);
        expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_wide')).rows[0].n).toBe(readings);
        for (const runId of committed) {
          expect((await runRow(db, runId))?.status, runId).toBe('succeeded');
          for (const table of ['evaluations', 'model_performance']) {
            expect(
              (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mlops.${table} WHERE run_id = $1`, [runId])).rows[0].n,
              `${table} ${runId}`,
            ).toBe(1);
          }
          expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mlops.quality_checks WHERE run_id = $1', [runId])).rows[0].n).toBeGreaterThan(
            0,
          );
        }
        const artifacts = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM mlops.training_runs r WHERE r.run_id = ANY($1) AND NOT EXISTS (SELECT 1 FROM mlops.model_artifacts a WHERE a.sha256 = r.artifact_sha256)`,
          [committed],
        );
        expect(artifacts.rows[0].n).toBe(0);
        for (const [runId, want] of ended) {
          const row = await runRow(db, runId);
          expect(row?.status, runId).toBe(want.status);
          expect(row?.error ?? '').toMatch(want.error);
          expect(row?.finished_at).not.toBeNull();
        }
      });
    });
  });
}
