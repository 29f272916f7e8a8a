/**
 * A streaming decoder of PostgreSQL's binary COPY format into columns: float8 columns into
 * Float64Arrays (NULL -> NaN), text columns into dictionary codes (few distinct values, such as
 * entity ids). No per-row objects; memory grows with the columns, not with the wire chunks.
 *
 * It is on the hot path of every extract (half a million rows for a year of applications), so
 * the loop keeps its state in locals, writes straight into the typed arrays, and spares a text
 * value the string it would make when its bytes equal the column's previous value (entity ids
 * arrive sorted): it takes that value's code.
 */
/**
 * float8; text; timestamp: a timestamp or timestamptz column (int64 microseconds since 2000-01-01)
 * as epoch milliseconds, the float8 `extract(epoch from t) * 1000` gives (both the correctly
 * rounded quotient of the exact microseconds by 1000), without the server's numeric arithmetic
 * per row. A date column is sent as a timestamp with binaryTimestampSql.
 */
export type BinaryColumnType = 'float8' | 'text' | 'timestamp';

/** A time column of SQL type `type` (format_type) as the COPY sends a 'timestamp' column. */
export function binaryTimestampSql(column: string, type: string): string {
  return type.startsWith('timestamp') ? column : `${column}::timestamp`;
}

/** Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_US = 946_684_800_000_000;

/**
 * Epoch ms of `us` microseconds since 1970 (its int64 words hi, lo since 2000): one division of
 * an exact integer while it is below 2^53 (until the year 2255); beyond, the decimal quotient read
 * as a number (correctly rounded, as the server's numeric to float8).
 */
function epochMs(us: number, hi: number, lo: number): number {
  if (Math.abs(us) < 2 ** 53) return us / 1000;
  const v = (BigInt(hi) << 32n) + BigInt(lo) + BigInt(PG_EPOCH_US);
  const a = v < 0n ? -v : v;
  return Number(`${v < 0n ? '-' : ''}${a / 1000n}.${String(a % 1000n).padStart(3, '0')}`);
}

export interface DecodedColumns {
  rows: number;
  /** per column: Float64Array for float8, Int32Array of codes into `dictionaries[i]` for text (-1 = NULL) */
  columns: (Float64Array | Int32Array)[];
  /** per text column its values by code (null for float8 columns and for columns coded by `codesOf`) */
  dictionaries: (string[] | null)[];
  /** per text column the same dictionary as value -> code (null as in `dictionaries`) */
  maps: (Map<string, number> | null)[];
}

export interface DecodeOptions {
  /**
   * Per text column, a dictionary to code it by instead of building one (such as another
   * stream's keys, to join on them): a value not in it reads as -1, like NULL, and is not added.
   */
  codesOf?: readonly (ReadonlyMap<string, number> | null | undefined)[];
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** What a binary COPY stream starts with: the signature, no flags, no header extension. */
export const BINARY_COPY_HEADER = new Uint8Array([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0]);
/** What it ends with: a tuple of -1 fields. */
export const BINARY_COPY_TRAILER = new Uint8Array([0xff, 0xff]);

/** One column being decoded: its values so far, and for text its dictionary. */
interface ColumnState {
  text: boolean;
  time: boolean;
  f64: Float64Array;
  codes: Int32Array;
  /** text: the dictionary being built */
  dict: Map<string, number> | null;
  /** text coded by a given dictionary (DecodeOptions.codesOf) */
  fixed: ReadonlyMap<string, number> | null;
  /** text: the previous value's bytes and code */
  last: Uint8Array;
  lastLen: number;
  lastCode: number;
}

export async function decodeBinaryCopy(
  chunks: AsyncIterable<Uint8Array>,
  types: readonly BinaryColumnType[],
  options: DecodeOptions = {},
): Promise<DecodedColumns> {
  const ncols = types.length;
  const cols: ColumnState[] = types.map((t, c) => {
    const fixed = t === 'text' ? (options.codesOf?.[c] ?? null) : null;
    return {
      text: t === 'text',
      time: t === 'timestamp',
      f64: new Float64Array(t === 'text' ? 0 : 1024),
      codes: new Int32Array(t === 'text' ? 1024 : 0),
      dict: t === 'text' && !fixed ? new Map<string, number>() : null,
      fixed,
      last: new Uint8Array(64),
      lastLen: -1,
      lastCode: -1,
    };
  });
  const decoder = new TextDecoder();
  let capacity = 1024;
  let buf: Uint8Array = new Uint8Array(0);
  let headerDone = false;
  let rows = 0;
  let finished = false;

  const grow = (): void => {
    capacity *= 2;
    for (const c of cols) {
      if (c.text) {
        const next = new Int32Array(capacity);
        next.set(c.codes);
        c.codes = next;
      } else {
        const next = new Float64Array(capacity);
        next.set(c.f64);
        c.f64 = next;
      }
    }
  };

  /** The code of a text value at b[p, p + len). */
  const textCode = (c: ColumnState, b: Uint8Array, p: number, len: number): number => {
    if (len === c.lastLen) {
      const last = c.last;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (b[p + i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return c.lastCode;
    }
    const s = decoder.decode(b.subarray(p, p + len));
    let code: number;
    if (c.fixed) code = c.fixed.get(s) ?? -1;
    else {
      const d = c.dict!;
      const had = d.get(s);
      if (had === undefined) {
        code = d.size;
        d.set(s, code);
      } else code = had;
    }
    if (len <= c.last.length) {
      c.last.set(b.subarray(p, p + len));
      c.lastLen = len;
      c.lastCode = code;
    }
    return code;
  };

  const consume = (): void => {
    const b = buf;
    const end = b.length;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let pos = 0;
    if (!headerDone) {
      if (end < 19) return;
      for (let i = 0; i < SIGNATURE.length; i++) {
        if (b[i] !== SIGNATURE[i]) throw new Error('not a PostgreSQL binary COPY stream (bad signature)');
      }
      const extLen = view.getInt32(15);
      if (end < 19 + extLen) return;
      pos = 19 + extLen;
      headerDone = true;
    }
    let r = rows;
    for (;;) {
      if (end - pos < 2) break;
      const fields = view.getInt16(pos);
      if (fields === -1) {
        finished = true;
        pos += 2;
        break;
      }
      if (fields !== ncols) throw new Error(`binary COPY row has ${fields} fields, expected ${ncols}`);
      // Check that the whole tuple is in the buffer before decoding any of it.
      let p = pos + 2;
      let complete = true;
      for (let c = 0; c < ncols; c++) {
        if (end - p < 4) {
          complete = false;
          break;
        }
        const len = view.getInt32(p);
        p += 4 + (len > 0 ? len : 0);
        if (p > end) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      if (r === capacity) grow();
      p = pos + 2;
      for (let c = 0; c < ncols; c++) {
        const col = cols[c];
        const len = view.getInt32(p);
        p += 4;
        if (col.time) {
          if (len === -1) col.f64[r] = Number.NaN;
          else if (len === 8) {
            const hi = view.getInt32(p);
            const lo = view.getUint32(p + 4);
            // infinity and -infinity are the int64 extremes
            if (hi === 0x7fffffff && lo === 0xffffffff) col.f64[r] = Number.POSITIVE_INFINITY;
            else if (hi === -0x80000000 && lo === 0) col.f64[r] = Number.NEGATIVE_INFINITY;
            else col.f64[r] = epochMs(hi * 4294967296 + lo + PG_EPOCH_US, hi, lo);
          } else throw new Error(`column ${c} is not a timestamp (field of ${len} bytes)`);
        } else if (!col.text) {
          if (len === -1) col.f64[r] = Number.NaN;
          else if (len === 8) col.f64[r] = view.getFloat64(p);
          else throw new Error(`column ${c} is not float8 (field of ${len} bytes)`);
        } else {
          col.codes[r] = len === -1 ? -1 : textCode(col, b, p, len);
        }
        if (len > 0) p += len;
      }
      pos = p;
      r++;
    }
    rows = r;
    // (The previous text values are copies: they outlive the buffer.)
    buf = b.subarray(pos);
  };

  for await (const chunk of chunks) {
    if (finished) continue;
    if (buf.length === 0) buf = chunk;
    else {
      const merged = new Uint8Array(buf.length + chunk.length);
      merged.set(buf);
      merged.set(chunk, buf.length);
      buf = merged;
    }
    consume();
  }
  if (!finished) throw new Error('binary COPY stream ended before its trailer');
  return {
    rows,
    columns: cols.map((c) => (c.text ? c.codes.slice(0, rows) : c.f64.slice(0, rows))),
    dictionaries: cols.map((c) => (c.dict ? [...c.dict.keys()] : null)),
    maps: cols.map((c) => c.dict),
  };
}
