import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvImportError, importCsv, parseTime, READINGS_COLUMNS } from '../actions/lib/demo-data/index.ts';
import { parseCsvRecord } from '../actions/lib/ingest/csv.ts';
import { MAX_ERRORS } from '../actions/lib/ingest/table-import.ts';
import { describeDb } from './helpers/db.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'import-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function csvFile(lines: string[], name = `data${++counter}.csv`): string {
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const HEADER = 'ts,station_id,tank_level_m,pump_speed_rpm';
const ALL = READINGS_COLUMNS.join(', ');

async function failure(p: Promise<unknown>): Promise<CsvImportError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsvImportError) return err;
    throw err;
  }
  throw new Error('expected the import to fail');
}

describe('CSV parsing', () => {
  it('handles quotes, commas, doubled quotes and empty fields', () => {
    expect(parseCsvRecord('a,"b,c","d ""e""",,')).toEqual({ kind: 'ok', fields: ['a', 'b,c', 'd "e"', '', ''] });
    expect(parseCsvRecord('"a\nb')).toEqual({ kind: 'open' });
    expect(parseCsvRecord('"a"x,b').kind).toBe('error');
    expect(parseCsvRecord('a"b,c').kind).toBe('error');
  });

  it('parses ISO-8601 times with offsets and epoch milliseconds', () => {
    const t = Date.parse('2026-01-01T00:00:00Z');
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(t);
    expect(parseTime('2026-01-01T02:00:00+02:00')).toBe(t);
    expect(parseTime('2025-12-31 19:00-0500')).toBe(t);
    expect(parseTime('2026-01-01T00:00:00.250Z')).toBe(t + 250);
    expect(parseTime(String(t))).toBe(t);
    expect(parseTime('2026-01-01T00:00:00')).toBeNull();
    expect(parseTime('2026-02-30T00:00:00Z')).toBeNull();
    expect(parseTime('yesterday')).toBeNull();
  });
});

describeDb('importCsv', ({ db }) => {
  const count = async (): Promise<number> => (await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_wide')).rows[0].n;

  it('imports ISO and epoch-ms times, quoted fields and NULLs in one go', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const file = csvFile([
      HEADER + ',pump_on',
      '2026-01-01T00:00:00Z,PS-001,5.5,1450.5,1',
      '2026-01-01T02:01:00+02:00,"PS-001",5.25,,1',
      `${t0 + 120_000},PS-001,,1400,0`,
      '"2026-01-01T00:00:00Z","PS,""9""",1e1,-0.5,',
    ]);
    const r = await importCsv(db(), file);
    expect(r).toEqual({ file, table: 'readings_wide', rows: 4, columns: ['ts', 'station_id', 'tank_level_m', 'pump_speed_rpm', 'pump_on'] });
    const { rows } = await db().query<{ ts: number; station_id: string; tank_level_m: number | null; pump_speed_rpm: number | null; pump_on: number | null }>(
      `SELECT (extract(epoch FROM ts) * 1000)::float8 AS ts, station_id, tank_level_m, pump_speed_rpm, pump_on
         FROM public.readings_wide ORDER BY station_id COLLATE "C", ts`,
    );
    expect(rows).toEqual([
      { ts: t0, station_id: 'PS,"9"', tank_level_m: 10, pump_speed_rpm: -0.5, pump_on: null },
      { ts: t0, station_id: 'PS-001', tank_level_m: 5.5, pump_speed_rpm: 1450.5, pump_on: 1 },
      { ts: t0 + 60_000, station_id: 'PS-001', tank_level_m: 5.25, pump_speed_rpm: null, pump_on: 1 },
      { ts: t0 + 120_000, station_id: 'PS-001', tank_level_m: null, pump_speed_rpm: 1400, pump_on: 0 },
    ]);
  });

  it('names file, line, column and value of a bad number', async () => {
    const before = await count();
    const file = csvFile([HEADER, '2026-02-01T00:00:00Z,PS-002,5,1400', '2026-02-01T00:01:00Z,PS-002,5,fast']);
    const err = await failure(importCsv(db(), file));
    expect(err.message).toBe(`${file}:3: column "pump_speed_rpm": "fast" is not a number`);
    expect(await count()).toBe(before);
  });

  it('reports a missing required column', async () => {
    const file = csvFile(['ts,tank_level_m', '2026-02-01T00:00:00Z,5']);
    const err = await failure(importCsv(db(), file));
    expect(err.message).toBe(`${file}:1: missing column "station_id" (required by readings_wide)`);
  });

  it('reports an unknown column with the columns the table has', async () => {
    const file = csvFile(['ts,station_id,foo', '2026-02-01T00:00:00Z,PS-002,5']);
    const err = await failure(importCsv(db(), file));
    expect(err.message).toBe(`${file}:1: unknown column "foo" (table readings_wide has: ${ALL})`);
  });

  it('reports a duplicate key within the file, whatever the time spelling', async () => {
    const before = await count();
    const file = csvFile([
      HEADER,
      '2026-02-01T00:00:00Z,PS-002,5,1400',
      '2026-02-01T00:05:00Z,PS-002,5,1400',
      '2026-02-01T00:06:00Z,PS-002,5,1400',
      '2026-02-01T01:05:00+01:00,PS-002,5,1400',
    ]);
    const err = await failure(importCsv(db(), file));
    expect(err.message).toBe(`${file}:5: duplicate (station_id, ts) = (PS-002, 2026-02-01T00:05:00.000Z), first seen on line 3`);
    expect(await count()).toBe(before);
  });

  it('reports a time that is neither ISO-8601 with offset nor epoch ms', async () => {
    const file = csvFile([HEADER, 'yesterday,PS-002,5,1400', '2026-02-01T00:00:00,PS-002,5,1400']);
    const err = await failure(importCsv(db(), file));
    expect(err.errors).toEqual([
      `${file}:2: column "ts": "yesterday" is not an ISO-8601 time with offset or epoch milliseconds`,
      `${file}:3: column "ts": "2026-02-01T00:00:00" is not an ISO-8601 time with offset or epoch milliseconds`,
    ]);
    expect(err.message).toBe(err.errors.join('\n'));
  });

  it('reports a wrong number of fields, NOT NULL, integers and malformed quotes', async () => {
    const file = csvFile([
      HEADER + ',pump_on',
      '2026-02-01T00:00:00Z,PS-002,5',
      '2026-02-01T00:01:00Z,,5,1400,1',
      '2026-02-01T00:02:00Z,PS-002,5,1400,1.5',
      '2026-02-01T00:03:00Z,PS-002,5,1400,70000',
      '2026-02-01T00:04:00Z,"PS-002"x,5,1400,1',
      '2026-02-01T00:05:00Z,PS-002,1e999,1400,1',
    ]);
    const err = await failure(importCsv(db(), file));
    expect(err.errors).toEqual([
      `${file}:2: expected 5 fields as in the header, found 3`,
      `${file}:3: column "station_id": empty, but the column is NOT NULL`,
      `${file}:4: column "pump_on": "1.5" is not an integer`,
      `${file}:5: column "pump_on": "70000" is out of range for smallint`,
      `${file}:6: malformed CSV: text after the closing quote of field 2`,
      `${file}:7: column "tank_level_m": "1e999" is out of range for double precision`,
    ]);
  });

  it('stops after 20 errors, listing them one per line', async () => {
    const lines = [HEADER];
    for (let i = 0; i < 30; i++) lines.push(`2026-02-01T00:${String(i).padStart(2, '0')}:00Z,PS-002,x${i},1400`);
    const file = csvFile(lines);
    const err = await failure(importCsv(db(), file));
    expect(err.errors).toHaveLength(21);
    expect(err.errors[0]).toBe(`${file}:2: column "tank_level_m": "x0" is not a number`);
    expect(err.errors[19]).toBe(`${file}:21: column "tank_level_m": "x19" is not a number`);
    expect(err.errors[20]).toBe(`${file}: stopped after 20 errors`);
    expect(err.message.split('\n')).toHaveLength(21);
  });

  it('reports rows already in the table and writes nothing', async () => {
    const before = await count();
    const file = csvFile([HEADER, '2026-01-05T00:00:00Z,PS-001,5,1400', '2026-01-01T02:01:00+02:00,PS-001,5.25,1400', '2026-01-05T00:01:00Z,PS-001,5,1400']);
    const err = await failure(importCsv(db(), file));
    expect(err.message).toBe(`${file}:3: (station_id, ts) = (PS-001, 2026-01-01T00:01:00.000Z) already in readings_wide`);
    expect(await count()).toBe(before);
  });

  it('reads a quoted field over several lines, with CRLF line ends', async () => {
    const file = join(dir, 'crlf.csv');
    writeFileSync(file, '\ufeffts,station_id,tank_level_m\r\n2026-03-01T00:00:00Z,"PS\r\n003",1\r\n\r\n2026-03-01T00:01:00Z,PS-003,2\r\n');
    const r = await importCsv(db(), file);
    expect(r.rows).toBe(2);
    const { rows } = await db().query<{ station_id: string }>(
      `SELECT station_id FROM public.readings_wide WHERE ts >= '2026-03-01' ORDER BY station_id COLLATE "C"`,
    );
    expect(rows.map((x) => x.station_id)).toEqual(['PS\n003', 'PS-003']);
  });

  it('stores the same values whether a row is passed on as it is or rewritten, across reads of the file', async () => {
    // Over 1 MiB (more than one read), LF and CRLF line ends, blank lines, and rows in spellings
    // that go to COPY as they are beside spellings that are rewritten (offsets, fractions, epoch
    // ms, lowercase t/z, exponents, spaces, quoted numbers): the table holds what checkRow means.
    const t0 = Date.parse('2026-05-01T00:00:00Z');
    const spell = (ms: number, i: number): string => {
      const iso = new Date(ms).toISOString();
      switch (i % 8) {
        case 0:
          return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '+00';
        case 1:
          return iso;
        case 2:
          return new Date(ms + 5.5 * 3_600_000).toISOString().slice(0, 19) + '+05:30';
        case 3:
          return new Date(ms - 3_600_000).toISOString().slice(0, 23) + '-01';
        case 4:
          return String(ms);
        case 5:
          return iso.replace('T', 't').replace('Z', 'z');
        case 6:
          return ' ' + iso + ' ';
        default:
          return `"${iso}"`;
      }
    };
    const level = (i: number): number => Math.round(i * 7.3) / 100;
    const levelText = (i: number): string =>
      i % 11 === 3 ? `${level(i) * 10}e-1` : i % 13 === 5 ? `"${level(i)}"` : i % 17 === 7 ? ` ${level(i)}` : String(level(i));
    const rows = 30_000;
    let body = HEADER + ',pump_on\n';
    for (let i = 0; i < rows; i++) {
      const end = i % 5 === 0 ? '\r\n' : '\n';
      body += `${spell(t0 + i * 60_000, i)},PS-010,${levelText(i)},${i % 3 === 0 ? '' : 1000 + i},${i % 2}${end}`;
      if (i % 997 === 0) body += '\n';
    }
    expect(body.length).toBeGreaterThan(1 << 20);
    const file = join(dir, 'spellings.csv');
    writeFileSync(file, body);
    expect((await importCsv(db(), file)).rows).toBe(rows);
    const { rows: got } = await db().query<{
      n: number;
      ts_sum: number;
      level_sum: number;
      rpm_sum: number;
      rpm_nulls: number;
      on_sum: number;
      min_ms: number;
      max_ms: number;
    }>(
      `SELECT count(*)::int AS n, sum(extract(epoch FROM ts) * 1000 - ${t0})::float8 AS ts_sum, sum(tank_level_m)::float8 AS level_sum,
              sum(pump_speed_rpm)::float8 AS rpm_sum, count(*) FILTER (WHERE pump_speed_rpm IS NULL)::int AS rpm_nulls, sum(pump_on)::int AS on_sum,
              (extract(epoch FROM min(ts)) * 1000)::float8 AS min_ms, (extract(epoch FROM max(ts)) * 1000)::float8 AS max_ms
         FROM public.readings_wide WHERE station_id = 'PS-010'`,
    );
    let levels = 0;
    let rpm = 0;
    let nulls = 0;
    for (let i = 0; i < rows; i++) {
      levels += level(i);
      if (i % 3 === 0) nulls++;
      else rpm += 1000 + i;
    }
    expect(got[0]).toEqual({
      n: rows,
      ts_sum: ((rows * (rows - 1)) / 2) * 60_000,
      level_sum: expect.closeTo(levels, 6),
      rpm_sum: rpm,
      rpm_nulls: nulls,
      on_sum: rows / 2,
      min_ms: t0,
      max_ms: t0 + (rows - 1) * 60_000,
    });
    // The same file again: every row is already there, named by line, nothing written.
    const err = await failure(importCsv(db(), file));
    expect(err.errors[0]).toBe(`${file}:2: (station_id, ts) = (PS-010, ${new Date(t0).toISOString()}) already in readings_wide`);
    expect(err.errors).toHaveLength(MAX_ERRORS + 1);
    expect(err.errors[MAX_ERRORS]).toBe(`${file}: ${rows - MAX_ERRORS} more rows already in readings_wide`);
    expect(await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM public.readings_wide WHERE station_id = 'PS-010'`)).toMatchObject({
      rows: [{ n: rows }],
    });
  });

  it("stores exactly what the database's own text input gives, for awkward numbers and times", async () => {
    // The reference is the server's parser (float8in, timestamptz_in), on each backend.
    const numbers = [
      '0',
      '-0',
      '1.5',
      '0.1',
      '-0.000001',
      '.5',
      '5.',
      '0.30000000000000004',
      '123456789012345.6',
      '1234567890.123456789',
      '3.141592653589793238',
    ];
    const more = ['9007199254740993', '100000000000000000000000', '1e22', '1e23', '1e-300', '2.2250738585072014e-308', '4.9e-324', '1.7976931348623157e308'];
    const times = [
      '2026-06-01 12:34:56.789+05:30',
      '2026-06-01T00:00:00.1-01',
      '1999-12-31 23:59:59+00',
      '1900-02-28 00:00:00+00',
      '2400-02-29 00:00:00Z',
      '1000-01-01 00:00:00Z',
      '9998-12-31 23:59:59.999+15',
      '2026-06-02T03:04:05.67-09:30',
    ];
    const values = [...numbers, ...more];
    const stamps = values.map((_, i) => times[i % times.length]);
    const file = csvFile([HEADER, ...values.map((v, i) => `${stamps[i]},PS-02${i},${v},1`)]);
    expect((await importCsv(db(), file)).rows).toBe(values.length);
    const { rows } = await db().query<{ i: number; same_ts: boolean; same_level: boolean }>(
      `SELECT v.i::int AS i, r.ts = v.ts::timestamptz AS same_ts, float8send(r.tank_level_m) = float8send(v.level::float8) AS same_level
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(ts, level, i)
         LEFT JOIN public.readings_wide r ON r.station_id = 'PS-02' || (v.i - 1)
        ORDER BY v.i`,
      [stamps, values],
    );
    expect(rows).toEqual(values.map((_, i) => ({ i: i + 1, same_ts: true, same_level: true })));
    // Quoted text with doubled quotes, commas and a line break, in rows otherwise in the common spellings.
    const quoted = csvFile([HEADER, '2026-06-04 00:00:00+00,"PS ""Q"", x",1,1', '2026-06-04 00:01:00+00,"PS\nR",2,2']);
    expect((await importCsv(db(), quoted)).rows).toBe(2);
    const names = await db().query<{ station_id: string }>(
      `SELECT station_id FROM public.readings_wide WHERE ts >= '2026-06-04' AND ts < '2026-06-05' ORDER BY ts`,
    );
    expect(names.rows.map((r) => r.station_id)).toEqual(['PS "Q", x', 'PS\nR']);
    // A number so small the server would read it as 0 is refused, as one too large is.
    const tiny = csvFile([HEADER, '2026-06-03T00:00:00Z,PS-030,1e-400,1']);
    expect((await failure(importCsv(db(), tiny))).message).toBe(`${tiny}:2: column "tank_level_m": "1e-400" is out of range for double precision`);
  });

  it('imports into another existing table, and refuses a missing one', async () => {
    await db().exec("CREATE TABLE public.import_probe (id integer PRIMARY KEY, label text NOT NULL, score real, ok boolean, note text DEFAULT 'x')");
    const good = csvFile(['id,label,score,ok', '1,"a, b",1.5,true', '2,c,,f']);
    expect((await importCsv(db(), good, { table: 'public.import_probe' })).rows).toBe(2);
    const bad = csvFile(['id,score', '3,1']);
    const err = await failure(importCsv(db(), bad, { table: 'public.import_probe' }));
    expect(err.message).toBe(`${bad}:1: missing column "label" (required by public.import_probe)`);
    const dup = csvFile(['id,label', '2,z']);
    expect((await failure(importCsv(db(), dup, { table: 'public.import_probe' }))).message).toBe(`${dup}:2: (id) = (2) already in public.import_probe`);
    const missing = await failure(importCsv(db(), good, { table: 'public.nope' }));
    expect(missing.message).toBe(`${good}: table public.nope does not exist`);
    const empty = csvFile([]);
    expect((await failure(importCsv(db(), empty))).message).toBe(`${empty}:1: the file is empty (expected a header row)`);
  });
});
