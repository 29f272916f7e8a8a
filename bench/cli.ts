/**
 * The whole CLI process as a user runs it (`node scripts/mlops.mjs ...`, what `npm run mlops` runs): wall time and
 * peak memory of `--help`, of a no-op command on an existing database (start-up), of the retrain
 * at N days (its time after start-up = its wall time less the no-op's), and of a CSV import next
 * to `psql \copy` of the same file. Peak memory is GNU time's maxRSS of the process and CPU its user +
 * system seconds (all threads), both null without /usr/bin/time: on a shared machine the wall times
 * move with the load, the CPU seconds much less. Every figure is measured here, none is quoted.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const CLI = resolve('scripts/mlops.mjs');
const GNU_TIME = '/usr/bin/time';

export interface ProcessFigure {
  wall_s: number;
  /** user + system CPU seconds of the process */
  cpu_s: number | null;
  peak_rss_mib: number | null;
}

/** One process, timed; throws with its stderr when it fails. */
export function timeProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ProcessFigure & { stdout: string } {
  const withTime = existsSync(GNU_TIME);
  const marker = 'mlops-bench-rss=';
  const argv = withTime ? ['-f', `${marker}%M %U %S`, command, ...args] : args;
  const t0 = performance.now();
  const r = spawnSync(withTime ? GNU_TIME : command, argv, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = withTime ? /mlops-bench-rss=(\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '') : null;
  return {
    wall_s: round(wall),
    cpu_s: m ? round(Number(m[2]) + Number(m[3]), 2) : null,
    peak_rss_mib: m ? Math.round(Number(m[1]) / 1024) : null,
    stdout: r.stdout,
  };
}

/** The CLI, timed; `db` is `--data-dir DIR` or `--database-url URL`. */
export function timeCli(args: string[], env: NodeJS.ProcessEnv = {}): ProcessFigure & { stdout: string } {
  return timeProcess(process.execPath, [CLI, ...args], { DATABASE_URL: '', ...env });
}

/** The median of `n` runs (by wall time): start-up figures are noisy on a shared machine. */
export function median(n: number, run: () => ProcessFigure): ProcessFigure {
  const runs = Array.from({ length: n }, run).sort((a, b) => a.wall_s - b.wall_s);
  const mid = runs[Math.floor(n / 2)];
  return { wall_s: mid.wall_s, cpu_s: mid.cpu_s, peak_rss_mib: mid.peak_rss_mib };
}

export function helpFigure(): ProcessFigure {
  return median(3, () => timeCli(['--help']));
}

/** A pipelines folder with the demo regression pipeline over `days` days. */
function pipelinesFor(dir: string, days: number): string {
  const p = parse(readFileSync('pipelines/tank-level-forecast.yaml', 'utf8')) as Record<string, Record<string, unknown>>;
  p.source.window_days = days;
  p.quality = { ...p.quality, min_rows: Math.min(Number(p.quality.min_rows), days * 1200), min_days: Math.max(1, days - 5) };
  const out = join(dir, 'pipelines');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'tank-level-forecast.yaml'), stringify(p));
  return out;
}

/**
 * Seeds `days` days through the CLI, then times a no-op command (`runs list`, the median of
 * three) and the retrain of the demo regression pipeline over those days.
 */
export function retrainFigures(dbArgs: string[], work: string, days: number, start: Date): object {
  const seed = timeCli(['data', 'seed', '--days', String(days), '--start', start.toISOString(), ...dbArgs]);
  const noop = median(3, () => timeCli(['runs', 'list', ...dbArgs]));
  const asOf = new Date(start.getTime() + days * 86_400_000).toISOString();
  const retrain = timeCli([
    'retrain',
    '--pipeline',
    'tank-level-forecast',
    '--dir',
    pipelinesFor(work, days),
    '--as-of',
    asOf,
    '--runs-dir',
    join(work, 'runs'),
    '--repo',
    join(work, 'repo'),
    '--json',
    ...dbArgs,
  ]);
  const result = JSON.parse(retrain.stdout.trim().split('\n').at(-1) ?? '{}') as { status?: string; decision?: string };
  return {
    days,
    seed_wall_s: seed.wall_s,
    noop_startup: noop,
    retrain: { wall_s: retrain.wall_s, cpu_s: retrain.cpu_s, peak_rss_mib: retrain.peak_rss_mib },
    retrain_after_startup_s: round(retrain.wall_s - noop.wall_s),
    retrain_cpu_after_startup_s: retrain.cpu_s !== null && noop.cpu_s !== null ? round(retrain.cpu_s - noop.cpu_s, 2) : null,
    status: result.status,
    decision: result.decision,
  };
}

/**
 * Import of one CSV: `mlops data import` into a fresh database of each backend, and, on
 * PostgreSQL, `psql \copy` of the same file into the same (empty) table, side by side.
 */
export function importFigures(csv: string, targets: { pglite: string; postgres?: { url: string; psqlUrl: string } }): object {
  const bytes = statSync(csv).size;
  const out: Record<string, unknown> = { csv_mib: round(bytes / 2 ** 20, 1) };
  // Each database exists and is migrated first: the figures are the import's, with the start-up of a command.
  timeCli(['db', 'migrate', '--data-dir', targets.pglite]);
  out.pglite_import = timeCli(['data', 'import', '--csv', csv, '--data-dir', targets.pglite, '--json']);
  delete (out.pglite_import as { stdout?: string }).stdout;
  if (targets.postgres) {
    const { url, psqlUrl } = targets.postgres;
    timeCli(['db', 'migrate', '--database-url', url]);
    const mlops = timeCli(['data', 'import', '--csv', csv, '--database-url', url, '--json']);
    const rows = (JSON.parse(mlops.stdout) as { rows: number }).rows;
    // The same table, emptied, for psql: its COPY then does exactly the work the import's does.
    timeProcess('psql', [psqlUrl, '-q', '-c', 'TRUNCATE public.readings_wide']);
    const psql = timeProcess('psql', [psqlUrl, '-q', '-c', `\\copy public.readings_wide (${csvHeader(csv)}) FROM '${csv}' WITH (FORMAT csv, HEADER true)`]);
    out.rows = rows;
    out.postgres_import = { wall_s: mlops.wall_s, cpu_s: mlops.cpu_s, peak_rss_mib: mlops.peak_rss_mib };
    out.psql_copy = { wall_s: psql.wall_s, cpu_s: psql.cpu_s, peak_rss_mib: psql.peak_rss_mib };
    out.import_vs_psql = round(mlops.wall_s / psql.wall_s, 2);
    out.pglite_vs_psql = round((out.pglite_import as ProcessFigure).wall_s / psql.wall_s, 2);
  }
  return out;
}

/** The CSV's header line: the column list psql's COPY needs (the import reads it itself). */
function csvHeader(csv: string): string {
  const fd = openSync(csv, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').split('\n')[0].trim();
  } finally {
    closeSync(fd);
  }
}

function round(x: number, digits = 3): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}
