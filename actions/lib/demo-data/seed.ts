import { analyze, quoteIdent, type Db } from '../db/index.ts';
import { generateReadings, type GenerateOptions, type Readings } from './generate.ts';
import { ensureReadingsTable, READINGS_COLUMNS, READINGS_TABLE, SENSOR_COLUMNS } from './table.ts';

export const CSV_CHUNK_ROWS = 10_000;

const MINUTE_SUFFIX = Array.from({ length: 1440 }, (_, m) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00.000Z`);

/**
 * The readings as CSV chunks of `rowsPerChunk` rows, columns in `READINGS_COLUMNS` order, no header.
 * Numbers are written with JavaScript's shortest round-trip form, so float8 reads back bit for bit;
 * NULL is the empty field; times are ISO-8601 in UTC.
 */
export async function* readingsCsv(r: Readings, rowsPerChunk = CSV_CHUNK_ROWS): AsyncGenerator<string> {
  const cols = SENSOR_COLUMNS.map((c) => r.columns[c]);
  const ids = r.stationIds.map((id) => (/[",\r\n]/.test(id) || id === '' ? '"' + id.replace(/"/g, '""') + '"' : id));
  // Times are whole minutes: a day prefix and a minute-of-day suffix, instead of toISOString per row.
  let dayStart = Number.NaN;
  let dayPrefix = '';
  for (let from = 0; from < r.rows; from += rowsPerChunk) {
    const to = Math.min(r.rows, from + rowsPerChunk);
    let chunk = '';
    for (let i = from; i < to; i++) {
      const t = r.times[i];
      let iso: string;
      const minuteOfDay = (t - dayStart) / 60_000;
      if (minuteOfDay >= 0 && minuteOfDay < 1440 && Number.isInteger(minuteOfDay)) iso = dayPrefix + MINUTE_SUFFIX[minuteOfDay];
      else {
        iso = new Date(t).toISOString();
        if (t % 60_000 === 0 && iso.length === 24) {
          dayStart = t - (((t % 86_400_000) + 86_400_000) % 86_400_000);
          dayPrefix = iso.slice(0, 11);
        }
      }
      let line = iso + ',' + ids[r.stations[i]];
      for (let c = 0; c < cols.length; c++) {
        const v = cols[c][i];
        line += v === v ? ',' + String(v) : ',';
      }
      line += r.pumpOn[i] ? ',1' : ',0';
      line += r.sensorFault[i] ? ',1\n' : ',0\n';
      chunk += line;
    }
    yield chunk;
  }
}

export interface SeedOptions extends GenerateOptions {
  /** default `public.readings_wide` */
  table?: string;
}

export interface SeedResult {
  /** rows written */
  rows: number;
  /** rows of the same stations and window that were there before and were replaced */
  replaced: number;
  /** [start, end) of the seeded window */
  start: Date;
  end: Date;
  stations: string[];
  table: string;
}

/**
 * Generates readings and loads them in ONE transaction: create the table if needed, delete the
 * seeded stations' rows in [start, end), then COPY the new rows straight into the table.
 *
 * Re-seeding therefore REPLACES the window: running the same command twice leaves exactly the same
 * rows (idempotent, no duplicate-key failure), a different seed or drift over the same window
 * swaps the data, and rows outside the window or of other stations are never touched. (The other
 * choice, COPY into a temporary table then INSERT ... ON CONFLICT DO NOTHING, would keep stale rows
 * from an earlier seed and cost a second pass over the data.) A failure rolls everything back.
 */
export async function seedReadings(db: Db, options: SeedOptions): Promise<SeedResult> {
  const table = options.table ?? READINGS_TABLE;
  const data = generateReadings(options);
  return db.transaction(async (tx) => {
    await ensureReadingsTable(tx, table);
    const del = await tx.query(`DELETE FROM ${quoteIdent(table)} WHERE station_id = ANY($1::text[]) AND ts >= $2 AND ts < $3`, [
      data.stationIds,
      data.start.toISOString(),
      data.end.toISOString(),
    ]);
    const rows = data.rows === 0 ? 0 : await tx.copyInCsv(table, READINGS_COLUMNS, readingsCsv(data));
    if (rows !== data.rows) throw new Error(`seeding ${table}: COPY loaded ${rows} rows, expected ${data.rows}`);
    await analyze(tx, table);
    return { rows, replaced: del.rowCount, start: data.start, end: data.end, stations: data.stationIds, table };
  });
}
