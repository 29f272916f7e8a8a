import { describe, expect, it } from 'vitest';
import { extractFrame, type SourceSpec } from '../actions/lib/source/extract.ts';
import { deriveExpressionProblem } from '../actions/lib/source/check.ts';
import { frameFingerprint } from '../actions/lib/source/fingerprint.ts';
import { column, type Frame } from '../actions/lib/source/frame.ts';
import { sourceSchema } from '../actions/lib/config/schema.ts';
import { describeDb } from './helpers/db.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const MIN = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** 3 stations x 10 minutes; S2's value at minute 4 is NULL. */
function readingsCsv(): string {
  const lines: string[] = [];
  // Inserted out of order on purpose: extract must sort by entity, then time.
  for (let m = 9; m >= 0; m--) {
    for (const s of ['S2', 'S0', 'S1']) {
      const level = s === 'S2' && m === 4 ? '' : String(Number(s.slice(1)) * 100 + m + 0.5);
      lines.push(`${iso(T0 + m * MIN)},${s},${level},${m * 2},${m % 2}`);
    }
  }
  return lines.join('\n') + '\n';
}

function source(extra: Partial<SourceSpec> = {}): SourceSpec {
  return sourceSchema.parse({
    table: 'public.readings_t',
    time_column: 'ts',
    entity_column: 'station_id',
    window_days: 1,
    columns: ['level', 'flow'],
    ...extra,
  });
}

describeDb('extract', ({ db, backend }) => {
  it('creates its fixture tables', async () => {
    await db().exec(`
      CREATE TABLE public.readings_t (ts timestamptz, station_id text, level double precision, flow double precision, pump_on smallint, note text);
      CREATE TABLE public."Odd Table" ("Select" double precision, "from" timestamptz, "weird ""col" double precision);
    `);
    expect(await db().copyInCsv('public.readings_t', ['ts', 'station_id', 'level', 'flow', 'pump_on'], readingsCsv())).toBe(30);
    expect(await db().copyInCsv('public.Odd Table', ['Select', 'from', 'weird "col'], `1.5,${iso(T0)},2\n2.5,${iso(T0 + MIN)},\n`)).toBe(2);
  });

  it('reads [start, end): start inclusive, end exclusive, ordered by entity then time', async () => {
    const f = await extractFrame(db(), source(), new Date(T0 + 5 * MIN), { start: new Date(T0 + 2 * MIN) });
    expect(f.rows).toBe(9);
    expect(f.entityIds).toEqual(['S0', 'S1', 'S2']);
    expect([...f.entities]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect([...f.times].map((t) => (t - T0) / MIN)).toEqual([2, 3, 4, 2, 3, 4, 2, 3, 4]);
    expect(f.names).toEqual(['level', 'flow']);
    const level = column(f, 'level');
    expect([...level.slice(0, 6)]).toEqual([2.5, 3.5, 4.5, 102.5, 103.5, 104.5]);
    expect(level[8]).toBeNaN();
    expect(f.window).toEqual({ start: new Date(T0 + 2 * MIN), end: new Date(T0 + 5 * MIN) });
    expect(f.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(f.fingerprint).toBe(frameFingerprint(f));
  });

  it('defaults to [asOf - window_days, asOf)', async () => {
    const f = await extractFrame(db(), source(), new Date(T0 + 10 * MIN));
    expect(f.rows).toBe(30);
    expect(f.window.start).toEqual(new Date(T0 + 10 * MIN - 86_400_000));
  });

  it('filters entities (option or source.entities) and returns zero rows without failing', async () => {
    const a = await extractFrame(db(), source({ entities: ['S1'] }), new Date(T0 + 10 * MIN));
    expect(a.entityIds).toEqual(['S1']);
    expect(a.rows).toBe(10);
    const b = await extractFrame(db(), source(), new Date(T0 + 10 * MIN), { entities: ['S2', 'S0', "x'); drop"] });
    expect(b.entityIds).toEqual(['S0', 'S2']);
    const none = await extractFrame(db(), source(), new Date(T0 - MIN));
    expect(none.rows).toBe(0);
    expect(none.columns.map((c) => c.length)).toEqual([0, 0]);
    expect(none.entityIds).toEqual([]);
  });

  it('evaluates derive expressions as float8 columns', async () => {
    const f = await extractFrame(
      db(),
      source({
        columns: ['level', 'flow', 'pump_on'],
        derive: { ratio: 'flow / nullif(level, 0)', on_flag: 'CASE WHEN pump_on = 1 THEN 1 ELSE 0 END', tag: "length('a)b')" },
      }),
      new Date(T0 + 2 * MIN),
    );
    expect(f.names).toEqual(['level', 'flow', 'pump_on', 'ratio', 'on_flag', 'tag']);
    // A column an expression uses must be read (listed in source.columns): the retrain says so, as validate does.
    await expect(extractFrame(db(), source({ columns: ['level'], derive: { ratio: 'flow / nullif(level, 0)' } }), new Date(T0 + 2 * MIN))).rejects.toThrow(
      'source.derive.ratio: expression uses column "flow", which is not in source.columns; add it there',
    );
    expect(column(f, 'ratio')[1]).toBeCloseTo(2 / 1.5, 12);
    expect([...column(f, 'on_flag').slice(0, 2)]).toEqual([0, 1]);
    expect(column(f, 'tag')[0]).toBe(3);
  });

  it('uses a constant entity when there is none and quotes odd identifiers', async () => {
    const f = await extractFrame(
      db(),
      sourceSchema.parse({ table: 'public.readings_t', time_column: 'ts', window_days: 1, columns: ['level'], derive: {} }),
      new Date(T0 + MIN),
    );
    expect(f.entityIds).toEqual(['all']);
    expect(f.rows).toBe(3);
    // The config schema refuses such names; quoting must still be right for those it allows.
    const odd = { ...source(), table: 'public.Odd Table', time_column: 'from', entity_column: undefined, columns: ['Select', 'weird "col'] } as SourceSpec;
    const g = await extractFrame(db(), odd, new Date(T0 + 5 * MIN));
    expect(g.names).toEqual(['Select', 'weird "col']);
    expect([...g.columns[0]]).toEqual([1.5, 2.5]);
    expect(g.columns[1][1]).toBeNaN();
  });

  it('names the pipeline field for unknown tables, columns and bad expressions', async () => {
    const asOf = new Date(T0 + 10 * MIN);
    await expect(extractFrame(db(), source({ table: 'public.nope' }), asOf)).rejects.toThrow(/source\.table: table "public\.nope" does not exist/);
    await expect(extractFrame(db(), source({ columns: ['level', 'nope'] }), asOf)).rejects.toThrow(/source\.columns\[1\]: column "nope" does not exist/);
    await expect(extractFrame(db(), source({ time_column: 'tz' }), asOf)).rejects.toThrow(/source\.time_column: column "tz"/);
    await expect(extractFrame(db(), source({ time_column: 'level' }), asOf)).rejects.toThrow(/source\.time_column: .*expected a timestamp/);
    await expect(extractFrame(db(), source({ entity_column: 'site' }), asOf)).rejects.toThrow(/source\.entity_column: column "site"/);
    await expect(extractFrame(db(), source({ columns: ['ts'] }), asOf)).rejects.toThrow(/source\.columns: .*timestamp/);
    // Castable at plan time, fails on the data: still says which source it was.
    await expect(extractFrame(db(), source({ columns: ['station_id'] }), asOf)).rejects.toThrow(/extract from public\.readings_t: .*double precision/);
    await expect(extractFrame(db(), source({ derive: { bad: 'levl * 2' } }), asOf)).rejects.toThrow(/source\.derive\.bad: .*levl/);
    await expect(extractFrame(db(), source({ derive: { level: 'flow' } }), asOf)).rejects.toThrow(/column "level" appears twice/);
  });

  it('refuses derive expressions that could escape their SELECT', async () => {
    const asOf = new Date(T0 + 10 * MIN);
    await expect(extractFrame(db(), source({ derive: { x: '1; DROP TABLE readings_t' } }), asOf)).rejects.toThrow(/source\.derive\.x: .*";"/);
    expect(deriveExpressionProblem('level -- hidden')).toMatch(/comments/);
    expect(deriveExpressionProblem('level /* hidden */')).toMatch(/comments/);
    expect(deriveExpressionProblem('1) FROM pg_authid UNION SELECT (1')).toMatch(/unbalanced "\)"/);
    expect(deriveExpressionProblem("level || ')")).toMatch(/unterminated string/);
    expect(deriveExpressionProblem("length(')')")).toBeNull();
    expect(deriveExpressionProblem('$1')).toMatch(/"\$"/);
    expect(deriveExpressionProblem("query_to_xml('select 1', true, false, '')")).toMatch(/^calls query_to_xml\(\), which runs SQL given as text/);
    expect(deriveExpressionProblem("set_config('role', 'postgres', true)")).toMatch(/^calls set_config\(\)/);
    expect(deriveExpressionProblem("'pg_read_file(' || level")).toBeNull();
  });

  it('runs READ ONLY: a writing derive expression fails', async () => {
    await db().exec('CREATE SEQUENCE public.extract_probe_seq');
    await expect(extractFrame(db(), source({ derive: { n: "nextval('public.extract_probe_seq')" } }), new Date(T0 + 10 * MIN))).rejects.toThrow(/read-only/);
  });

  it('orders rows by entity and key as collation "C" does, whatever order the server sends: NULL beside \'\', numbers as text, another collation', async () => {
    // The server sorts by the stored columns (so that an index can supply the order): NULL
    // entities last, apart from '' ones, integer ids 2 < 9 < 10, and in ICU's root collation
    // 'b' < 'B' < 'é' < 'z'. The frame wants them as text, by code point.
    await db().exec(`
      CREATE TABLE public.order_probe (ts timestamptz, site text, unit int, app text, grade text, v double precision, place text COLLATE "und-x-icu");
      CREATE INDEX order_probe_site_ts ON public.order_probe (site, ts);
      CREATE INDEX order_probe_place_ts ON public.order_probe (place, ts);`);
    const sites = ['', null, 'b', 'B', 'é', '\u{1F600}', '\uFFFD'];
    const lines: string[] = [];
    let n = 0;
    for (let m = 0; m < 6; m++) {
      for (const site of sites) {
        // two rows at each time, keys unique: as text, in the order opposite to the insert's
        for (const app of [`k${m}-${String.fromCharCode(0x7a - (n % 3))}${n}`, `k${m}-${String.fromCharCode(0x41 + (n % 5))}${n}`]) {
          const unit = [2, 10, 9][n % 3];
          const place = ['z', 'b', 'B', 'é', 'e', 'Z', '10', '9'][n % 8];
          lines.push(`${iso(T0 + (5 - m) * MIN)},${site === null ? '' : `"${site}"`},${unit},${app},${['lo', 'hi', ''][n % 3]},${n},${place}`);
          n++;
        }
      }
    }
    expect(await db().copyInCsv('public.order_probe', ['ts', 'site', 'unit', 'app', 'grade', 'v', 'place'], `${lines.join('\n')}\n`)).toBe(n);
    // the server's order of places is not the frame's
    const places = (await db().query<{ place: string }>('SELECT DISTINCT place FROM public.order_probe ORDER BY place')).rows.map((r) => r.place);
    expect(places).toEqual(['10', '9', 'b', 'B', 'e', 'é', 'z', 'Z']);
    const asOf = new Date(T0 + 10 * MIN);
    const spec = (entity: string): SourceSpec =>
      sourceSchema.parse({
        table: 'public.order_probe',
        time_column: 'ts',
        entity_column: entity,
        key_column: 'app',
        window_days: 1,
        columns: ['v'],
        categorical: ['grade'],
      });
    const all = (
      await db().query<{ ts: Date; site: string | null; unit: number; app: string; grade: string | null; v: number; place: string }>(
        'SELECT * FROM public.order_probe',
      )
    ).rows;
    const byCodePoint = (a: string, b: string): number => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    for (const [entity, text] of [
      ['site', (r: (typeof all)[number]) => r.site ?? ''],
      ['unit', (r: (typeof all)[number]) => String(r.unit)],
      ['place', (r: (typeof all)[number]) => r.place],
    ] as const) {
      const f = await extractFrame(db(), spec(entity), asOf);
      const expected = [...all].sort((a, b) => byCodePoint(text(a), text(b)) || a.ts.getTime() - b.ts.getTime() || byCodePoint(a.app, b.app));
      expect(f.rows).toBe(n);
      expect(Array.from(f.entities, (e) => f.entityIds[e])).toEqual(expected.map(text));
      expect(f.entityIds).toEqual([...new Set(expected.map(text))]);
      expect([...f.times]).toEqual(expected.map((r) => r.ts.getTime()));
      expect(f.keys).toEqual(expected.map((r) => r.app));
      expect([...column(f, 'v')]).toEqual(expected.map((r) => r.v));
      // categories numbered in order of first appearance in the frame's order
      const grades = [...new Set(expected.map((r) => r.grade).filter((g) => g !== null))];
      expect(f.categories?.grade).toEqual(grades);
      expect(Array.from(column(f, 'grade'), (c) => (Number.isNaN(c) ? null : f.categories!.grade[c]))).toEqual(expected.map((r) => r.grade));
      expect(f.fingerprint).toBe(frameFingerprint(f));
    }
  });

  it(`fingerprints the rows, not the backend (${backend})`, async () => {
    const f = await extractFrame(db(), source(), new Date(T0 + 10 * MIN));
    // Computed once from this fixture; the same value must come out of PGlite and PostgreSQL.
    expect(f.fingerprint).toBe(EXPECTED_FINGERPRINT);
    await db().query("UPDATE public.readings_t SET flow = 7.000000001 WHERE station_id = 'S1' AND ts = $1", [iso(T0 + 3 * MIN)]);
    const g = await extractFrame(db(), source(), new Date(T0 + 10 * MIN));
    expect(g.fingerprint).not.toBe(f.fingerprint);
  });
});

// sha256 of the canonical encoding of the 30-row fixture above (see fingerprint.ts).
const EXPECTED_FINGERPRINT = 'sha256:18e393825761adb3eb96d70876fa65586c56b84f5d7af825f248d25d91ed372e';

describe('frameFingerprint', () => {
  const base = (): Frame => ({
    rows: 3,
    times: new Float64Array([0, 60_000, 120_000]),
    entities: new Int32Array([0, 0, 0]),
    entityIds: ['a'],
    names: ['x'],
    columns: [new Float64Array([1, Number.NaN, 3])],
    window: { start: new Date(0), end: new Date(180_000) },
  });

  it('canonicalises NaN payloads and ignores the window', () => {
    const a = base();
    const b = base();
    // A NaN with a different payload (as another producer might write) hashes the same.
    new DataView(b.columns[0].buffer).setUint32(8, 0x7ff80000 | 0x1234, true);
    new DataView(b.columns[0].buffer).setUint32(8, 0xfff80001, false);
    expect(b.columns[0][1]).toBeNaN();
    b.window = { start: new Date(1), end: new Date(2) };
    expect(frameFingerprint(b)).toBe(frameFingerprint(a));
  });

  it('changes with any value, name, entity or time', () => {
    const ref = frameFingerprint(base());
    const variants: ((f: Frame) => void)[] = [
      (f) => (f.columns[0][2] = 3.0000001),
      (f) => (f.names = ['y']),
      (f) => (f.entityIds = ['b']),
      (f) => (f.times[1] = 60_001),
      (f) => (f.columns[0][1] = 0),
    ];
    for (const change of variants) {
      const f = base();
      change(f);
      expect(frameFingerprint(f)).not.toBe(ref);
    }
  });
});
