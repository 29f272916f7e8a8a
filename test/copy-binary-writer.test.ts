import { expect, it } from 'vitest';
import { BinaryTupleWriter } from '../actions/lib/db/copy-binary.ts';
import { describeDb } from './helpers/db.ts';

/**
 * The binary COPY encoder against the real server's recv functions: every kind of field the bulk
 * writers use, written by BinaryTupleWriter, loaded by COPY ... (FORMAT binary) and read back as
 * text by SQL, so a field the server reads differently from what was meant fails here.
 */
describeDb('BinaryTupleWriter', ({ db }) => {
  it('writes fields that COPY ... FORMAT binary loads as the values meant', async () => {
    await db().exec('CREATE TEMP TABLE tuple_kinds (i int, t text, s smallint, n integer, b bigint, f double precision, ok boolean, at timestamptz)');
    const w = new BinaryTupleWriter(16); // tiny: every row makes it grow
    const rows: [number, string | null, number | null, number | null, number | bigint | null, number | null, boolean | null, number | null][] = [
      [1, 'pump-efficiency', -32768, -2147483648, 9007199254740991, 0.1, true, Date.UTC(2025, 0, 1)],
      [2, 'Zürich ✓ 🚰 "quoted", back\\slash', 32767, 2147483647, -9007199254740991n * 1000n, -0, false, Date.UTC(1999, 11, 31, 23, 59, 59, 999)],
      [3, '', 0, 0, 0, Number.POSITIVE_INFINITY, null, Date.UTC(2025, 5, 30, 12, 0, 0) + 0.2506],
      [4, null, null, null, null, Number.NaN, true, null],
      [5, 'x'.repeat(5000), 1, 1, 1n << 62n, 1e-310, false, Date.UTC(2262, 0, 1)],
    ];
    for (const [i, t, s, n, b, f, ok, at] of rows) {
      w.row(8);
      w.int4Field(i);
      if (t === null) w.nullField();
      else w.textField(t);
      if (s === null) w.nullField();
      else w.int2Field(s);
      if (n === null) w.nullField();
      else w.int4Field(n);
      if (b === null) w.nullField();
      else w.int8Field(b);
      if (f === null) w.nullField();
      else w.float8Field(f);
      if (ok === null) w.nullField();
      else w.boolField(ok);
      if (at === null) w.nullField();
      else w.timestampField(at);
    }
    const tuples = w.take()!;
    expect(w.take()).toBeNull();
    const loaded = await db().copyInBinary(
      'tuple_kinds',
      ['i', 't', 's', 'n', 'b', 'f', 'ok', 'at'],
      (async function* () {
        yield tuples.subarray(0, 7); // split anywhere: the COPY is one stream
        yield tuples.subarray(7);
      })(),
    );
    expect(loaded).toBe(rows.length);
    const back = await db().query<Record<string, string | null>>(
      `SELECT i::text, t, s::text, n::text, b::text, f::text, ok::text,
              to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM tuple_kinds ORDER BY i`,
    );
    expect(back.rows).toEqual([
      { i: '1', t: 'pump-efficiency', s: '-32768', n: '-2147483648', b: '9007199254740991', f: '0.1', ok: 'true', at: '2025-01-01T00:00:00.000000' },
      {
        i: '2',
        t: 'Zürich ✓ 🚰 "quoted", back\\slash',
        s: '32767',
        n: '2147483647',
        b: '-9007199254740991000',
        f: '-0',
        ok: 'false',
        at: '1999-12-31T23:59:59.999000',
      },
      { i: '3', t: '', s: '0', n: '0', b: '0', f: 'Infinity', ok: null, at: '2025-06-30T12:00:00.000251' },
      { i: '4', t: null, s: null, n: null, b: null, f: 'NaN', ok: 'true', at: null },
      { i: '5', t: 'x'.repeat(5000), s: '1', n: '1', b: String(1n << 62n), f: '1e-310', ok: 'false', at: '2262-01-01T00:00:00.000000' },
    ]);
  });
});
