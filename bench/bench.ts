/**
 * `npm run bench`: speed figures as JSON, never asserted in tests.
 *
 * - seed_read: rows/s of seeding and of reading back 365 days x 1 station, per backend;
 * - e2e: 30 and 365 days of one station, wall time and peak memory of extract, features, gbdt
 *   training (100 trees, depth 6, learning rate 0.1, no early stopping) and ONNX scoring of the
 *   holdout, per backend;
 * - gbdt: the trainer alone on a 420,000 x 94 matrix (the shape compared with xgboost's hist);
 * - ridge: the ridge fit alone on a 420,000 x 94 matrix, and NumPy's BLAS solve of the same problem
 *   on the same bytes (bench/ridge.ts), with the coefficients compared;
 * - classification: 365 days of credit applications (~500,000 rows, the demo's generator),
 *   end to end: extract with each row's label known at as-of joined by key, features (one-hot
 *   region), gbdt with log loss (100 trees, depth 6), ONNX scoring of the holdout and the
 *   classification metrics, per backend (target: under 10 s on 2 cores).
 *   Both end-to-end cases also give the 1-minute load average when they began and the CPU
 *   seconds of their process, to read wall times taken on a shared machine.
 * - serve: `mlops serve` with the demo's pump-efficiency gbdt, single-row predicts at 1,000
 *   requests/s at a constant arrival rate (bench/open-loop.ts) with the prediction log on: p50/p99 latency and throughput, per
 *   backend (target: p99 under 5 ms on 2 cores; on PGlite the server runs the database on a worker
 *   thread), with the latency the server itself measured (the share within 5 ms, the bucket of its
 *   p99), the server's event-loop lag, its CPU per request (event loop, PGlite's thread,
 *   whole process: comparable on a loaded machine, where latencies are not), the load average and
 *   the machine's CPU shares during the run (busy, idle, steal; bench/machine.ts).
 *
 * - cli: the whole CLI process (bench/cli.ts): `--help`, a no-op command on an existing database,
 *   and the retrain at 30 and 365 days (wall time, CPU seconds, time after start-up, peak memory),
 *   per backend, with the load average when the case began;
 * - import: a 365-day CSV (525,600 rows) by `mlops data import` into each backend, and by
 *   `psql \copy` into PostgreSQL, side by side (needs DATABASE_URL and psql).
 *
 * Each case runs in a child process of its own, so its peak memory (maxRSS) is its own. The
 * PostgreSQL cases run when DATABASE_URL is set, each in a scratch database that is dropped after.
 * Options: --quick (30 days only, smaller gbdt; 120 days of applications), --case NAME to run one case.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { openDb, openMigratedDb, type Db } from '../actions/lib/db/index.ts';
import { targetOptions } from './target.ts';
import { seedCredit, seedReadings } from '../actions/lib/demo-data/index.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema } from '../actions/lib/config/schema.ts';
import { classificationMetrics } from '../actions/lib/evaluate/metrics.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { featureSpecFromPipeline } from '../actions/lib/features/spec.ts';
import { buildTrainingSet } from '../actions/lib/features/training-set.ts';
import { train } from '../actions/lib/train/index.ts';
import { scoreOnnx } from '../actions/lib/onnx/score.ts';
import { benchGbdt } from '../actions/lib/train/bench.ts';
import { benchSeedRead } from './seed-read.ts';
import { helpFigure, importFigures, retrainFigures, timeCli, timeProcess } from './cli.ts';
import { benchServe } from './serve.ts';
import { benchRidge } from './ridge.ts';
import { cpuShares, machineCpu } from './machine.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const START = new Date('2025-01-01T00:00:00Z');
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

function peakMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function openTarget(target: string): Promise<Db> {
  return openDb(targetOptions(target));
}

async function openMigratedTarget(target: string): Promise<Db> {
  return (await openMigratedDb(targetOptions(target))).db;
}

/** Child: seed N days into a target (a PGlite directory or a PostgreSQL URL). */
async function childSeed(target: string, days: number): Promise<object> {
  const db = await openMigratedTarget(target);
  try {
    const t0 = performance.now();
    const r = await seedReadings(db, { days, stations: 1, seed: 42, start: START });
    return { rows: r.rows, seed_s: round((performance.now() - t0) / 1000) };
  } finally {
    await db.close();
  }
}

/**
 * Child: extract -> features -> gbdt (100 trees, depth 6, learning rate 0.1) -> ONNX scoring of
 * the holdout, timed stage by stage: the tank-level pipeline (regression) or credit-default
 * (classification: labels known at as-of joined by key, log loss, classification metrics).
 */
async function childE2e(target: string, days: number, task: 'regression' | 'classification' = 'regression'): Promise<object> {
  const db = await openTarget(target);
  try {
    const base = loadPipelineFile(task === 'regression' ? 'pipelines/tank-level-forecast.yaml' : 'pipelines/credit-default.yaml');
    const p = pipelineSchema.parse({
      ...base,
      source: { ...base.source, window_days: days },
      trainer: { algorithm: 'gbdt', params: { trees: 100, max_depth: 6, learning_rate: 0.1, early_stopping_rounds: null } },
    });
    const classification = p.task === 'classification' ? { decision_threshold: p.target.decision_threshold } : undefined;
    const asOf = new Date(START.getTime() + days * DAY_MS);
    const t: Record<string, number> = {};
    const mem: Record<string, number> = {};
    // On a shared machine the wall times say little alone: the load when the case began, and the
    // CPU this process used (PGlite's server included; PostgreSQL's is its own processes').
    const load1m = loadavg()[0];
    const machine0 = machineCpu();
    const cpu0 = process.cpuUsage();
    let t0 = performance.now();
    const frame = await extractFrame(db, p.source, asOf, { labels: p.task === 'classification' ? p.labels : undefined });
    t.extract_s = (performance.now() - t0) / 1000;
    mem.after_extract_mib = peakMiB();
    t0 = performance.now();
    const set = buildTrainingSet(frame, featureSpecFromPipeline(p), p.split);
    t.features_s = (performance.now() - t0) / 1000;
    mem.after_features_mib = peakMiB();
    t0 = performance.now();
    const model = await train(p.trainer, set.train, {
      model_name: p.name,
      training_window: { start: frame.window.start.toISOString(), end: frame.window.end.toISOString() },
      data_fingerprint: frame.fingerprint,
      ...(classification ? { classification } : {}),
    });
    t.train_s = (performance.now() - t0) / 1000;
    mem.after_train_mib = peakMiB();
    t0 = performance.now();
    const pred = await scoreOnnx(model.onnx, set.holdout.values, set.holdout.rows, set.holdout.names.length);
    const quality = classification ? classificationMetrics(set.holdout.target, pred, classification.decision_threshold) : null;
    t.score_s = (performance.now() - t0) / 1000;
    if (pred.length !== set.holdout.rows) throw new Error('scoring returned the wrong number of rows');
    const total = t.extract_s + t.features_s + t.train_s + t.score_s;
    const cpu = process.cpuUsage(cpu0);
    return {
      days,
      rows: frame.rows,
      train_rows: set.train.rows,
      holdout_rows: set.holdout.rows,
      features: set.train.names.length,
      trees: model.trees_used ?? 100,
      ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(v)])),
      end_to_end_s: round(total),
      process_cpu_s: round((cpu.user + cpu.system) / 1e6),
      load_1m_at_start: round(load1m, 2),
      machine_cpu_share: cpuShares(machine0, machineCpu()),
      peak_rss_mib: peakMiB(),
      ...mem,
      ...(quality ? { labelled_rows: set.train.rows + set.holdout.rows + set.split.gapRows, roc_auc: round(quality.roc_auc), f1: round(quality.f1) } : {}),
    };
  } finally {
    await db.close();
  }
}

const CREDIT_PER_DAY = 1370;

/** Child: seed N days of credit applications (~1,370 a day) and their outcomes. */
async function childSeedCredit(target: string, days: number): Promise<object> {
  const db = await openMigratedTarget(target);
  try {
    const t0 = performance.now();
    const r = await seedCredit(db, { days, perDay: CREDIT_PER_DAY, seed: 42, start: START });
    return { applications: r.applications, outcomes: r.outcomes, seed_s: round((performance.now() - t0) / 1000) };
  } finally {
    await db.close();
  }
}

async function childSeedRead(target: string): Promise<object> {
  const db = await openMigratedTarget(target);
  try {
    return { ...(await benchSeedRead(db, { days: 365, stations: 1 })), peak_rss_mib: peakMiB() };
  } finally {
    await db.close();
  }
}

async function childGbdt(quick: boolean): Promise<object> {
  const r = await benchGbdt(quick ? { rows: 100_000 } : {});
  return { ...r, seconds: round(r.wall_ms / 1000), peak_rss_mib: peakMiB() };
}

function round(x: number, digits = 3): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

/** Runs this file as a child with `--child ...` and parses the JSON line it prints. */
function child(...childArgs: string[]): object {
  const out = execFileSync(process.execPath, ['--import', 'tsx', resolve('bench/bench.ts'), '--child', ...childArgs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = out.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as object;
}

async function scratchPostgres(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `mlops_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

async function main(): Promise<void> {
  if (args[0] === '--child') {
    const [, kind, target, days] = args;
    const result =
      kind === 'seed'
        ? await childSeed(target, Number(days))
        : kind === 'e2e'
          ? await childE2e(target, Number(days))
          : kind === 'seed-read'
            ? await childSeedRead(target)
            : kind === 'seed-credit'
              ? await childSeedCredit(target, Number(days))
              : kind === 'classify'
                ? await childE2e(target, Number(days), 'classification')
                : kind === 'serve'
                  ? await benchServe({ target, seconds: Number(days) })
                  : kind === 'ridge'
                    ? benchRidge(target === 'quick' ? 100_000 : 420_000)
                    : await childGbdt(target === 'quick');
    console.log(JSON.stringify(result));
    return;
  }
  const quick = args.includes('--quick');
  const only = arg('case');
  const dayList = quick ? [30] : [30, 365];
  const report: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length, started_at: new Date().toISOString() };
  const backends: { name: string; target: () => Promise<{ target: string; done: () => Promise<void> }> }[] = [
    {
      name: 'pglite',
      target: async () => {
        const dir = resolve('.mlops', 'bench', `pglite-${randomBytes(3).toString('hex')}`);
        mkdirSync(dir, { recursive: true });
        return { target: dir, done: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (process.env.DATABASE_URL) {
    const adminUrl = process.env.DATABASE_URL;
    backends.push({
      name: 'postgres',
      target: async () => {
        const s = await scratchPostgres(adminUrl);
        return { target: s.url, done: s.drop };
      },
    });
  } else {
    report.note = 'DATABASE_URL is not set: PostgreSQL cases skipped';
  }

  if (!only || only === 'seed_read') {
    const rows: object[] = [];
    for (const b of backends) {
      const t = await b.target();
      try {
        rows.push(child('seed-read', t.target));
      } finally {
        await t.done();
      }
    }
    report.seed_read = rows;
  }
  /** Per backend and window: a fresh target, seeded by one child, measured by another. */
  const seededCases = async (seedKind: string, runKind: string, days: number[]): Promise<object[]> => {
    const rows: object[] = [];
    for (const b of backends) {
      for (const d of days) {
        const t = await b.target();
        try {
          const seeded = child(seedKind, t.target, String(d));
          rows.push({ backend: b.name, seeded, ...child(runKind, t.target, String(d)) });
        } finally {
          await t.done();
        }
      }
    }
    return rows;
  };
  if (!only || only === 'e2e') report.e2e = await seededCases('seed', 'e2e', dayList);
  if (!only || only === 'gbdt') report.gbdt = child('gbdt', quick ? 'quick' : 'full');
  if (!only || only === 'ridge') report.ridge = child('ridge', quick ? 'quick' : 'full');
  if (!only || only === 'cli') {
    const cliLoad = round(loadavg()[0], 2);
    const rows: object[] = [];
    for (const b of backends) {
      for (const d of dayList) {
        const t = await b.target();
        const work = resolve('.mlops', 'bench', `cli-${randomBytes(3).toString('hex')}`);
        try {
          const dbArgs = b.name === 'pglite' ? ['--data-dir', t.target] : ['--database-url', t.target];
          rows.push({ backend: b.name, ...retrainFigures(dbArgs, work, d, START) });
        } finally {
          rmSync(work, { recursive: true, force: true });
          await t.done();
        }
      }
    }
    report.cli = { load_1m_at_start: cliLoad, help: helpFigure(), retrain: rows };
  }
  if ((!only || only === 'import') && process.env.DATABASE_URL) {
    const source = await scratchPostgres(process.env.DATABASE_URL);
    const dest = await scratchPostgres(process.env.DATABASE_URL);
    const pglite = resolve('.mlops', 'bench', `import-${randomBytes(3).toString('hex')}`);
    const csv = resolve('.mlops', 'bench', `readings-365d-${randomBytes(3).toString('hex')}.csv`);
    mkdirSync(resolve('.mlops', 'bench'), { recursive: true });
    try {
      const days = quick ? 30 : 365;
      timeCli(['data', 'seed', '--days', String(days), '--start', START.toISOString(), '--database-url', source.url]);
      timeProcess('psql', [
        source.url,
        '-q',
        '-c',
        `\\copy (SELECT * FROM public.readings_wide ORDER BY station_id, ts) TO '${csv}' WITH (FORMAT csv, HEADER true)`,
      ]);
      report.import = { days, ...importFigures(csv, { pglite, postgres: { url: dest.url, psqlUrl: dest.url } }) };
    } finally {
      rmSync(pglite, { recursive: true, force: true });
      rmSync(csv, { force: true });
      await source.drop();
      await dest.drop();
    }
  }
  if (!only || only === 'classification') report.classification = await seededCases('seed-credit', 'classify', [quick ? 120 : 365]);
  if (!only || only === 'serve') {
    const rows: object[] = [];
    for (const b of backends) {
      const t = await b.target();
      try {
        rows.push({ backend: b.name, ...child('serve', t.target, quick ? '5' : '10') });
      } finally {
        await t.done();
      }
    }
    report.serve = rows;
  }
  console.log(JSON.stringify(report, null, 2));
}

await main();
