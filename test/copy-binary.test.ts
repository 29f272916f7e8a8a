import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, BinaryCopyDecoder, type BinaryColumnType } from '../actions/lib/db/copy-binary.ts';
import { TextDictionary } from '../actions/lib/db/text-dictionary.ts';

/** One row as the test means it: per column a number (float8, epoch ms of a timestamp), a string, or null. */
type Value = number | string | null;

const PG_EPOCH_MS = 946_684_800_000;
const encoder = new TextEncoder();

/** The binary COPY stream of `rows` (PostgreSQL's format, written independently of the decoder). */
function encode(types: readonly BinaryColumnType[], rows: readonly Value[][]): Uint8Array {
  const parts: number[] = [...BINARY_COPY_HEADER];
  const int32 = (v: number): void => {
    parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  };
  for (const row of rows) {
    parts.push((types.length >> 8) & 0xff, types.length & 0xff);
    types.forEach((t, c) => {
      const v = row[c];
      if (v === null) return int32(-1);
      if (t === 'text') {
        const b = encoder.encode(v as string);
        int32(b.length);
        parts.push(...b);
      } else if (t === 'float8') {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v as number);
        int32(8);
        parts.push(...b);
      } else {
        // whole milliseconds: exact as int64 microseconds since 2000
        const us = BigInt(v as number) * 1000n - BigInt(PG_EPOCH_MS) * 1000n;
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigInt64(0, us);
        int32(8);
        parts.push(...b);
      }
    });
  }
  parts.push(...BINARY_COPY_TRAILER);
  return Uint8Array.from(parts);
}

/** Decodes `stream` pushed in pieces cut at `cuts` (byte offsets), each piece a fresh copy overwritten after its push. */
function decodeInPieces(types: readonly BinaryColumnType[], stream: Uint8Array, cuts: readonly number[], codesOf?: (TextDictionary | null)[]) {
  const decoder = new BinaryCopyDecoder(types, codesOf ? { codesOf } : {});
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...at, stream.length]) {
    const piece = stream.slice(from, to);
    decoder.push(piece);
    // a chunk is valid only during the push (PGlite reuses its memory)
    piece.fill(0xee);
    from = to;
  }
  return decoder.finish();
}

/** The rows back from decoded columns, as `Value`s. */
function rowsOf(types: readonly BinaryColumnType[], d: ReturnType<BinaryCopyDecoder['finish']>, codesOf?: (TextDictionary | null)[]): Value[][] {
  return Array.from({ length: d.rows }, (_, r) =>
    types.map((t, c) => {
      const v = d.columns[c][r];
      if (t !== 'text') return Number.isNaN(v) ? null : v;
      if (v < 0) return null;
      return (codesOf?.[c] ?? d.texts[c])!.values()[v];
    }),
  );
}

const text = fc.oneof(
  fc.constantFrom('', 'a', 'S1', 'Zürich', '日本語', '😀 emoji', 'ka\u0000b'),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/[\uD800-\uDFFF]/g, '?')),
);
const type = fc.constantFrom<BinaryColumnType>('float8', 'text', 'timestamp');
const valueOf = (t: BinaryColumnType): fc.Arbitrary<Value> =>
  fc.option<Value, null>(t === 'text' ? text : t === 'float8' ? fc.double({ noNaN: true }) : fc.integer({ min: -(2 ** 40), max: 2 ** 42 }), {
    nil: null,
    freq: 5,
  });
const table = fc
  .array(type, { minLength: 1, maxLength: 5 })
  .chain((types) => fc.tuple(fc.constant(types), fc.array(fc.tuple(...types.map(valueOf)), { maxLength: 40 })));

describe('binary COPY decoder', () => {
  it('decodes any rows, whatever the chunks: cut inside the header, a tuple, a length word or a multi-byte character', () => {
    fc.assert(
      fc.property(table, fc.array(fc.nat(), { maxLength: 30 }), ([types, rows], cuts) => {
        const stream = encode(types, rows);
        const d = decodeInPieces(types, stream, cuts);
        expect(d.rows).toBe(rows.length);
        expect(rowsOf(types, d)).toEqual(rows);
        types.forEach((t, c) => {
          if (t !== 'text') return expect(d.texts[c]).toBeNull();
          // codes in order of first appearance, one per distinct value, none for NULL
          const distinct = [...new Set(rows.map((r) => r[c]).filter((v) => v !== null))];
          expect(d.dictionaries[c]).toEqual(distinct);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('decodes byte by byte as it does whole', () => {
    const types: BinaryColumnType[] = ['timestamp', 'text', 'float8', 'text'];
    const rows: Value[][] = Array.from({ length: 50 }, (_, i) => [
      1_700_000_000_000 + i * 1000,
      `Ωmega-${i % 3}`,
      i % 7 ? i / 3 : null,
      i % 5 ? `key-${i}-🙂` : null,
    ]);
    const stream = encode(types, rows);
    const whole = decodeInPieces(types, stream, []);
    const bytes = decodeInPieces(
      types,
      stream,
      Array.from({ length: stream.length }, (_, i) => i),
    );
    expect(rowsOf(types, bytes)).toEqual(rows);
    expect(rowsOf(types, whole)).toEqual(rows);
    expect(bytes.dictionaries).toEqual(whole.dictionaries);
  });

  it("codes text by another stream's dictionary: a value not in it reads as -1 and is not added", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(text, { nil: null }), { maxLength: 40 }),
        fc.array(text, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (values, known, cuts) => {
          const dict = TextDictionary.of(known);
          const size = dict.size;
          const d = decodeInPieces(
            ['text'],
            encode(
              ['text'],
              values.map((v) => [v]),
            ),
            cuts,
            [dict],
          );
          const distinct = [...new Set(known)];
          expect(Array.from(d.columns[0])).toEqual(values.map((v) => (v === null ? -1 : distinct.indexOf(v))));
          expect(d.texts[0]).toBeNull();
          expect(d.dictionaries[0]).toBeNull();
          expect(dict.size).toBe(size);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('says what is wrong with a stream that is not binary COPY, has the wrong fields, or stops early', () => {
    const stream = encode(['float8', 'text'], [[1, 'a']]);
    expect(() => decodeInPieces(['float8'], stream, [])).toThrow('binary COPY row has 2 fields, expected 1');
    expect(() => decodeInPieces(['text', 'text'], stream, [])).not.toThrow();
    expect(() => decodeInPieces(['float8', 'float8'], stream, [])).toThrow('column 1 is not float8 (field of 1 bytes)');
    expect(() => decodeInPieces(['float8', 'text'], stream.slice(0, stream.length - 2), [])).toThrow('binary COPY stream ended before its trailer');
    expect(() => decodeInPieces(['float8'], encoder.encode('PGCOPY\nno, not really'), [])).toThrow('bad signature');
  });
});

describe('TextDictionary', () => {
  it('codes values in order of first addition, finds them by string or bytes, and gives them back, ASCII or not', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(text, fc.nat().map(String)), { maxLength: 3000 }), (values) => {
        const d = new TextDictionary();
        const codes = values.map((v) => d.add(v));
        const distinct = [...new Set(values)];
        expect(codes).toEqual(values.map((v) => distinct.indexOf(v)));
        expect(d.size).toBe(distinct.length);
        expect(d.values()).toEqual(distinct);
        for (const v of distinct) {
          expect(d.get(v)).toBe(distinct.indexOf(v));
          const b = encoder.encode(`xx${v}`);
          expect(d.find(b, 2, b.length - 2)).toBe(distinct.indexOf(v));
        }
        expect(d.get('not one of them: ∅')).toBeUndefined();
        // values added after values() was asked for join it
        d.add('later ✓');
        expect(d.values().at(-1)).toBe('later ✓');
      }),
      { numRuns: 100 },
    );
  });
});
