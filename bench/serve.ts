import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { cpuShares, machineCpu } from './machine.ts';
import { join, resolve } from 'node:path';
import { openDb, openMigratedDb, type Db } from '../actions/lib/db/index.ts';
import { targetOptions } from './target.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema } from '../actions/lib/config/schema.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { buildFeatures } from '../actions/lib/features/build.ts';
import { featureSpecFromPipeline } from '../actions/lib/features/spec.ts';
import { buildTrainingSet } from '../actions/lib/features/training-set.ts';
import { train } from '../actions/lib/train/index.ts';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { ScratchRepo } from '../test/helpers/onnx-models.ts';
import { openLoop } from './open-loop.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

/**
 * Serving: the demo's pump-efficiency gbdt (its pipeline's trainer: 200 trees, depth 6) trained on
 * a week of generated readings, promoted into a scratch repository and deployed, then served by
 * `mlops serve` in a process of its own with the prediction log on (every prediction written to
 * mlops.predictions), and driven at a constant arrival rate of single-row predicts (open-loop.ts).
 * Reports the latency percentiles, the throughput, how many predictions reached the table, the
 * server's event-loop lag and its CPU per request by thread (on PGlite the database runs on a
 * worker thread of the server: see actions/lib/db/pglite-worker.ts), and how the machine's CPU time
 * went during the run (busy, idle, and steal: time the hypervisor gave the VM's vCPUs to others).
 */

const START = new Date('2025-01-01T00:00:00Z');

export interface ServeBenchOptions {
  /** a PGlite directory or a PostgreSQL URL, empty */
  target: string;
  rate?: number;
  seconds?: number;
  connections?: number;
}

/** CPU ms (user + system) a process's threads have used, by thread name (Linux /proc; empty elsewhere). */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  const tick = 1000 / 100; // USER_HZ
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = tid === String(pid) ? 'event_loop' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tick);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** The predict route's cumulative latency buckets (mlops_serve_request_duration_seconds, every model and version) by upper bound, seconds. */
function latencyBuckets(exposition: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of exposition.matchAll(/^mlops_serve_request_duration_seconds_bucket\{le="([^"]+)"[^}]*\} (\S+)$/gm)) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * The run's latency as the server measured it (from its handler's start to the prediction, the
 * difference of two scrapes): the share answered within the 5 ms target and the bucket that holds
 * the 99th percentile. Next to the load generator's figures it tells the server's own time from
 * the time a request waits in the generator, the kernel and the server's queue.
 */
function serverLatency(
  before: Map<number, number>,
  after: Map<number, number>,
): { requests: number; within_5ms_share: number | null; p99_at_most_ms: number | null } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le: number): number => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const total = count(Infinity);
  if (total <= 0) return { requests: 0, within_5ms_share: null, p99_at_most_ms: null };
  const p99 = bounds.find((le) => count(le) >= 0.99 * total) ?? Infinity;
  return {
    requests: total,
    within_5ms_share: after.has(0.005) ? Math.round((count(0.005) / total) * 10_000) / 10_000 : null,
    p99_at_most_ms: Number.isFinite(p99) ? p99 * 1000 : null,
  };
}

async function open(target: string): Promise<Db> {
  return openDb(targetOptions(target));
}

export async function benchServe(options: ServeBenchOptions): Promise<object> {
  const rate = options.rate ?? 1000;
  const seconds = options.seconds ?? 10;
  const connections = options.connections ?? 16;
  const repo = ScratchRepo.create('mlops-bench-serve-');
  const scratch = mkdtempSync(join(tmpdir(), 'mlops-bench-serve-'));
  let db = (await openMigratedDb(targetOptions(options.target))).db;
  try {
    const base = loadPipelineFile('pipelines/pump-efficiency.yaml');
    const p = pipelineSchema.parse({ ...base, source: { ...base.source, window_days: 7 } });
    await seedReadings(db, { days: 8, stations: 1, seed: 42, start: START });
    const asOf = new Date(START.getTime() + 8 * DAY_MS);
    const frame = await extractFrame(db, p.source, asOf);
    const set = buildTrainingSet(frame, featureSpecFromPipeline(p), p.split);
    const model = await train(p.trainer, set.train, {
      model_name: p.name,
      training_window: { start: frame.window.start.toISOString(), end: frame.window.end.toISOString() },
      data_fingerprint: frame.fingerprint,
    });
    repo.promote(p.name, 1, 1, {
      onnx: model.onnx,
      entry: {
        features: { names: set.train.names, spec: { ...set.spec, zscore_stats: set.stats } },
        trainer: { algorithm: 'gbdt', params: { ...model.params } },
      },
    });
    await deploy(db, repo.work);
    // One request row: the newest reading's inputs before standardisation, by feature name.
    const raw = buildFeatures(frame, set.spec).matrix;
    const last = raw.rows - 1;
    const row: Record<string, unknown> = { [p.source.time_column]: new Date(raw.times[last]).toISOString(), station_id: raw.entityIds[raw.entities[last]] };
    raw.names.forEach((n, j) => (row[n] = raw.values[last * raw.names.length + j]));
    const body = JSON.stringify({ rows: [row] });
    if (!options.target.startsWith('postgres')) {
      await db.close(); // the embedded database is one process's at a time: the server's now
    }

    // as `npm run mlops` starts it (scripts/mlops.mjs: Node's own type stripping)
    const cli = spawn(
      process.execPath,
      [
        resolve('scripts/mlops.mjs'),
        'serve',
        '--port',
        '0',
        '--repo',
        repo.work,
        ...(options.target.startsWith('postgres') ? ['--database-url', options.target] : ['--data-dir', options.target]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } },
    );
    let out = '';
    cli.stdout.on('data', (b: Buffer) => (out += b.toString()));
    cli.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const url = await new Promise<string>((done, fail) => {
      const timer = setInterval(() => {
        const m = /listening on (http:\/\/\S+?)[ ;(]/.exec(out);
        if (m) {
          clearInterval(timer);
          done(m[1]);
        } else if (cli.exitCode !== null) {
          clearInterval(timer);
          fail(new Error(`mlops serve exited: ${out}`));
        }
      }, 50);
    });
    const path = `/v1/models/${p.name}/predict`;
    const run = (duration: number) => openLoop({ origin: url, path, body, rate, seconds: duration, connections });
    await run(2); // warm up: JIT, onnxruntime, connections
    // a scrape resets prom-client's event loop lag histogram: the lag below is the run's; its latency buckets are the baseline
    const before = latencyBuckets(await (await fetch(`${url}/metrics`)).text());
    const load1m = loadavg()[0];
    const cpu0 = threadCpuMs(cli.pid!);
    const machine0 = machineCpu();
    const result = await run(seconds);
    const machine1 = machineCpu();
    const cpu1 = threadCpuMs(cli.pid!);
    // The server's own view: how long its event loop was held up (prom-client's default metrics).
    const exposition = await (await fetch(`${url}/metrics`)).text();
    const gauge = (name: string): number | null => {
      const m = new RegExp(`^mlops_serve_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(exposition);
      return m ? Math.round(Number(m[1]) * 1e5) / 100 : null;
    };
    // prom-client samples the lag with a 10 ms timer, so it reads ~10 ms even when idle
    const eventLoopLag = { p99: gauge('p99'), max: gauge('max'), resolution_ms: 10 };
    const server = serverLatency(before, latencyBuckets(exposition));
    // CPU per request: the event loop's (what answering costs the thread that answers), PGlite's
    // thread (when it runs on one), and the whole server process; robust to a loaded machine.
    const perRequest = (names: string[] | null): number => {
      let ms = 0;
      for (const [name, v] of cpu1) if (!names || names.includes(name)) ms += v - (cpu0.get(name) ?? 0);
      return Math.round((ms / result.requests) * 1000) / 1000;
    };
    const stopped = new Promise<number | null>((done) => cli.on('close', (code) => done(code)));
    cli.kill('SIGTERM');
    const code = await stopped;
    if (!options.target.startsWith('postgres')) db = await open(options.target);
    const logged = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM mlops.predictions WHERE origin = 'online'");
    return {
      model: `${p.name} ${model.algorithm} (${JSON.stringify(model.params).slice(0, 60)}..., ${model.trees_used ?? '?'} trees used, ${set.train.names.length} features)`,
      target_rate_rps: rate,
      connections,
      seconds,
      ...result,
      p99_target_ms: 5,
      p99_ok: result.latency_ms.p99 < 5,
      server_latency: server,
      server_event_loop_lag_ms: eventLoopLag,
      server_cpu_ms_per_request: { event_loop: perRequest(['event_loop']), pglite_thread: perRequest(['pglite']), process: perRequest(null) },
      load_average_1m: Math.round(load1m * 100) / 100,
      machine_cpu_share: cpuShares(machine0, machine1),
      predictions_logged: logged.rows[0].n,
      server_exit: code,
    };
  } finally {
    await db.close().catch(() => undefined);
    repo.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}
