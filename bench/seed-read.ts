/**
 * Seed-and-read-back benchmark of the demo table: generate + COPY in (seedReadings), then read the
 * whole window back as `COPY (...) TO STDOUT (FORMAT binary)` decoded into columns, in a READ ONLY
 * transaction, the way extract reads a pipeline's source.
 */
import type { Backend, Db } from '../actions/lib/db/index.ts';
import { quoteIdent } from '../actions/lib/db/index.ts';
import { decodeBinaryCopy, type BinaryColumnType } from '../actions/lib/db/copy-binary.ts';
import { seedReadings, SENSOR_COLUMNS, FLAG_COLUMNS } from '../actions/lib/demo-data/index.ts';

export interface SeedReadOptions {
  days?: number;
  stations?: number;
  seed?: number;
  /** a scratch table of its own by default, so a bench never touches the demo's readings_wide */
  table?: string;
  /** keep the table afterwards (default: drop it, if the bench created it) */
  keep?: boolean;
}

export interface SeedReadResult {
  backend: Backend;
  rows: number;
  seed_rows_per_s: number;
  read_rows_per_s: number;
  seed_s: number;
  read_s: number;
}

export async function benchSeedRead(db: Db, options: SeedReadOptions = {}): Promise<SeedReadResult> {
  const days = options.days ?? 365;
  const stations = options.stations ?? 1;
  const table = options.table ?? 'public.bench_readings_wide';
  const start = new Date('2025-01-01T00:00:00Z');
  const before = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [quoteIdent(table)]);
  const created = !before.rows[0].present;
  try {
    const t0 = performance.now();
    const seeded = await seedReadings(db, { days, stations, seed: options.seed ?? 42, start, table });
    const seedS = (performance.now() - t0) / 1000;

    const cols = [...SENSOR_COLUMNS, ...FLAG_COLUMNS];
    const select =
      `SELECT (extract(epoch FROM ts) * 1000)::float8, station_id, ${cols.map((c) => `${quoteIdent(c)}::float8`).join(', ')} ` +
      `FROM ${quoteIdent(table)} WHERE ts >= '${seeded.start.toISOString()}'::timestamptz AND ts < '${seeded.end.toISOString()}'::timestamptz ` +
      'ORDER BY station_id, ts';
    const types: BinaryColumnType[] = ['float8', 'text', ...cols.map((): BinaryColumnType => 'float8')];
    const t1 = performance.now();
    const decoded = await db.transaction((tx) => decodeBinaryCopy(tx, select, types), { readOnly: true });
    const readS = (performance.now() - t1) / 1000;
    if (decoded.rows !== seeded.rows) throw new Error(`read back ${decoded.rows} rows, seeded ${seeded.rows}`);
    const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d;
    return {
      backend: db.backend,
      rows: seeded.rows,
      seed_rows_per_s: Math.round(seeded.rows / seedS),
      read_rows_per_s: Math.round(decoded.rows / readS),
      seed_s: round(seedS),
      read_s: round(readS),
    };
  } finally {
    if (created && !options.keep) await db.exec(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}
