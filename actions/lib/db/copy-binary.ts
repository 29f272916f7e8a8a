import type { Queryable } from './types.ts';
import { TextDictionary } from './text-dictionary.ts';

/**
 * A streaming decoder of PostgreSQL's binary COPY format into columns: float8 columns into
 * Float64Arrays (NULL -> NaN), timestamps into epoch ms, text columns into codes of a
 * TextDictionary. No per-row objects: memory grows with the columns, not with the stream, which
 * is handed over chunk by chunk and never held whole (only a tuple split between two chunks is
 * copied, to be completed by the next).
 *
 * It is on the hot path of every extract (half a million rows for a year of applications), so
 * the loop keeps its state in locals and writes straight into the typed arrays, and a text field
 * is coded from its bytes (TextDictionary): no string is made per row, only one per distinct value.
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
  /** per column: Float64Array for float8 and timestamp, Int32Array of codes into `texts[i]` for text (-1 = NULL) */
  columns: (Float64Array | Int32Array)[];
  /** per text column its values by code (null for float8 columns and for columns coded by `codesOf`) */
  dictionaries: (string[] | null)[];
  /** per text column the dictionary its codes are of (null as in `dictionaries`) */
  texts: (TextDictionary | null)[];
}

export interface DecodeOptions {
  /**
   * Per text column, a dictionary to code it by instead of building one (such as another
   * stream's keys, to join on them): a value not in it reads as -1, like NULL, and is not added.
   */
  codesOf?: readonly (TextDictionary | null | undefined)[];
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** What a binary COPY stream starts with: the signature, no flags, no header extension. */
export const BINARY_COPY_HEADER = new Uint8Array([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0]);
/** What it ends with: a tuple of -1 fields. */
export const BINARY_COPY_TRAILER = new Uint8Array([0xff, 0xff]);

const FLOAT8 = 0;
const TIMESTAMP = 1;
/** text coded by a dictionary built as it comes */
const TEXT = 2;
/** text coded by a given dictionary (DecodeOptions.codesOf) */
const TEXT_FIXED = 3;

/** The big-endian int32 at b[p]. */
function int32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}

/**
 * Decodes one binary COPY stream pushed to it chunk by chunk (`push`, in stream order, chunks of
 * any size and split anywhere), then `finish` gives the columns. A chunk is read during `push`
 * only, so it may be a view of memory that is reused after (PGlite's).
 */
export class BinaryCopyDecoder {
  readonly #kinds: Int32Array;
  #f64: Float64Array[];
  #codes: Int32Array[];
  readonly #dicts: (TextDictionary | null)[];
  #capacity = 1024;
  #rows = 0;
  #headerDone = false;
  #finished = false;
  /** the start of the stream's next unit (header or tuple) when a chunk ended inside it */
  #carry = new Uint8Array(256);
  #carryLen = 0;

  constructor(types: readonly BinaryColumnType[], options: DecodeOptions = {}) {
    this.#kinds = Int32Array.from(types, (t, c) => (t === 'float8' ? FLOAT8 : t === 'timestamp' ? TIMESTAMP : options.codesOf?.[c] ? TEXT_FIXED : TEXT));
    this.#f64 = types.map((t) => new Float64Array(t === 'text' ? 0 : this.#capacity));
    this.#codes = types.map((t) => new Int32Array(t === 'text' ? this.#capacity : 0));
    this.#dicts = types.map((t, c) => (t === 'text' ? (options.codesOf?.[c] ?? new TextDictionary()) : null));
  }

  /** Decodes what `chunk` completes; keeps a copy of an unfinished tuple at its end. */
  push(chunk: Uint8Array): void {
    if (this.#finished) return;
    let pos = 0;
    const end = chunk.length;
    if (this.#carryLen > 0) {
      // Complete the carried unit with as few bytes as it needs, then decode it from the carry.
      for (;;) {
        const missing = this.#missing(this.#carry, this.#carryLen);
        if (missing === 0) break;
        if (pos === end) return;
        const take = Math.min(missing, end - pos);
        if (this.#carryLen + take > this.#carry.length) {
          const grown = new Uint8Array(Math.max(2 * this.#carry.length, this.#carryLen + take));
          grown.set(this.#carry.subarray(0, this.#carryLen));
          this.#carry = grown;
        }
        this.#carry.set(chunk.subarray(pos, pos + take), this.#carryLen);
        this.#carryLen += take;
        pos += take;
      }
      const used = this.#consume(this.#carry, 0, this.#carryLen);
      if (used !== this.#carryLen) throw new Error('binary COPY decoder: a completed unit was not decoded');
      this.#carryLen = 0;
      if (this.#finished) return;
    }
    pos = this.#consume(chunk, pos, end);
    if (pos < end && !this.#finished) {
      const rest = end - pos;
      if (rest > this.#carry.length) this.#carry = new Uint8Array(Math.max(2 * this.#carry.length, rest));
      this.#carry.set(chunk.subarray(pos, end));
      this.#carryLen = rest;
    }
  }

  /** The columns decoded; throws when the stream has not ended with its trailer. */
  finish(): DecodedColumns {
    if (!this.#finished) throw new Error('binary COPY stream ended before its trailer');
    const rows = this.#rows;
    const kinds = this.#kinds;
    const texts = this.#dicts.map((d, c) => (kinds[c] === TEXT ? d : null));
    return {
      rows,
      columns: Array.from(kinds, (k, c) => (k >= TEXT ? this.#codes[c].slice(0, rows) : this.#f64[c].slice(0, rows))),
      dictionaries: texts.map((d) => (d ? d.values() : null)),
      texts,
    };
  }

  /** Bytes missing from the unit at b[0, len) before it can be decoded (0: it is whole, or malformed and decoding says why). */
  #missing(b: Uint8Array, len: number): number {
    if (!this.#headerDone) {
      if (len < 19) return 19 - len;
      return Math.max(0, 19 + int32(b, 15) - len);
    }
    if (len < 2) return 2 - len;
    const fields = ((b[0] << 24) >> 16) | b[1];
    if (fields < 0) return 0;
    let p = 2;
    for (let c = 0; c < fields; c++) {
      if (len < p + 4) return p + 4 - len;
      const flen = int32(b, p);
      p += 4 + (flen > 0 ? flen : 0);
    }
    return Math.max(0, p - len);
  }

  /** Decodes the whole units of b[pos, end); returns where the first unfinished one starts. */
  #consume(b: Uint8Array, pos: number, end: number): number {
    if (!this.#headerDone) {
      if (end - pos < 19) return pos;
      for (let i = 0; i < SIGNATURE.length; i++) {
        if (b[pos + i] !== SIGNATURE[i]) throw new Error('not a PostgreSQL binary COPY stream (bad signature)');
      }
      const extLen = int32(b, pos + 15);
      if (end - pos < 19 + extLen) return pos;
      pos += 19 + extLen;
      this.#headerDone = true;
    }
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const kinds = this.#kinds;
    const ncols = kinds.length;
    const f64 = this.#f64;
    const codes = this.#codes;
    const dicts = this.#dicts;
    let r = this.#rows;
    let capacity = this.#capacity;
    for (;;) {
      if (end - pos < 2) break;
      const fields = ((b[pos] << 24) >> 16) | b[pos + 1];
      if (fields === -1) {
        this.#finished = true;
        pos += 2;
        break;
      }
      if (fields !== ncols) throw new Error(`binary COPY row has ${fields} fields, expected ${ncols}`);
      if (r === capacity) {
        this.#grow();
        capacity = this.#capacity;
      }
      // Fields are decoded as they are found whole; a tuple cut short is decoded again, whole,
      // from the carry (its row is not counted until then; a text value met twice keeps its code).
      let p = pos + 2;
      let whole = true;
      for (let c = 0; c < ncols; c++) {
        if (end - p < 4) {
          whole = false;
          break;
        }
        const len = int32(b, p);
        p += 4;
        if (len > end - p) {
          whole = false;
          break;
        }
        const kind = kinds[c];
        if (kind === FLOAT8) {
          if (len === 8) f64[c][r] = view.getFloat64(p);
          else if (len === -1) f64[c][r] = Number.NaN;
          else throw new Error(`column ${c} is not float8 (field of ${len} bytes)`);
        } else if (kind === TIMESTAMP) {
          if (len === 8) {
            const hi = int32(b, p);
            const lo = int32(b, p + 4) >>> 0;
            // infinity and -infinity are the int64 extremes
            if (hi === 0x7fffffff && lo === 0xffffffff) f64[c][r] = Number.POSITIVE_INFINITY;
            else if (hi === -0x80000000 && lo === 0) f64[c][r] = Number.NEGATIVE_INFINITY;
            else f64[c][r] = epochMs(hi * 4294967296 + lo + PG_EPOCH_US, hi, lo);
          } else if (len === -1) f64[c][r] = Number.NaN;
          else throw new Error(`column ${c} is not a timestamp (field of ${len} bytes)`);
        } else if (len === -1) codes[c][r] = -1;
        else if (kind === TEXT) codes[c][r] = dicts[c]!.intern(b, p, len);
        else codes[c][r] = dicts[c]!.find(b, p, len);
        if (len > 0) p += len;
      }
      if (!whole) break;
      pos = p;
      r++;
    }
    this.#rows = r;
    return pos;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    this.#kinds.forEach((k, c) => {
      if (k >= TEXT) {
        const next = new Int32Array(capacity);
        next.set(this.#codes[c]);
        this.#codes[c] = next;
      } else {
        const next = new Float64Array(capacity);
        next.set(this.#f64[c]);
        this.#f64[c] = next;
      }
    });
    this.#capacity = capacity;
  }
}

/** Runs `COPY (<select>) TO STDOUT (FORMAT binary)` on `tx` and decodes its stream as it arrives. */
export async function decodeBinaryCopy(
  tx: Pick<Queryable, 'copyOutBinary'>,
  select: string,
  types: readonly BinaryColumnType[],
  options: DecodeOptions = {},
): Promise<DecodedColumns> {
  const decoder = new BinaryCopyDecoder(types, options);
  await tx.copyOutBinary(select, (chunk) => decoder.push(chunk));
  return decoder.finish();
}

/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in ms */
const PG_EPOCH_MS = 946_684_800_000;
const TWO32 = 4294967296;
const utf8 = new TextEncoder();

/**
 * The encoder beside the decoder: tuples of the binary COPY format written field by field into a
 * growing buffer (`copyInBinary` adds the header and trailer), each field as the server's recv
 * function reads it. `take` hands over what was written since the last take, so a caller can
 * stream a long COPY chunk by chunk. No per-row strings or parameter arrays: what the bulk writers
 * (the CSV import, the model server's prediction log) encode with.
 */
export class BinaryTupleWriter {
  protected buf = new Uint8Array(1 << 16);
  protected view = new DataView(this.buf.buffer);
  protected pos = 0;

  constructor(initialBytes = 1 << 16) {
    if (initialBytes !== this.buf.length) {
      this.buf = new Uint8Array(initialBytes);
      this.view = new DataView(this.buf.buffer);
    }
  }

  /** Room for `n` more bytes. */
  protected ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Bytes written since the last take. */
  get length(): number {
    return this.pos;
  }

  /** What was written since the last take (a copy: the buffer is reused), or null when nothing. */
  take(): Uint8Array | null {
    if (this.pos === 0) return null;
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  /** Starts a tuple of `fields` fields. */
  row(fields: number): void {
    this.ensure(2);
    this.view.setInt16(this.pos, fields);
    this.pos += 2;
  }

  nullField(): void {
    this.ensure(4);
    this.view.setInt32(this.pos, -1);
    this.pos += 4;
  }

  /** An int64 whose value is the integer v (exact halves while |v| <= 2^53), without its length word. */
  protected int64(v: number): void {
    const hi = Math.floor(v / TWO32);
    this.view.setInt32(this.pos, hi);
    this.view.setUint32(this.pos + 4, v - hi * TWO32);
    this.pos += 8;
  }

  /** A timestamptz (or timestamp) field of epoch ms (to the microsecond). */
  timestampField(ms: number): void {
    this.ensure(12);
    this.view.setInt32(this.pos, 8);
    this.pos += 4;
    const us = Math.round((ms - PG_EPOCH_MS) * 1000);
    if (Math.abs(us) <= Number.MAX_SAFE_INTEGER) this.int64(us);
    else {
      this.view.setBigInt64(this.pos, BigInt(Math.round(ms - PG_EPOCH_MS)) * 1000n);
      this.pos += 8;
    }
  }

  float8Field(v: number): void {
    this.ensure(12);
    this.view.setInt32(this.pos, 8);
    this.view.setFloat64(this.pos + 4, v);
    this.pos += 12;
  }

  int2Field(v: number): void {
    this.ensure(6);
    this.view.setInt32(this.pos, 2);
    this.view.setInt16(this.pos + 4, v);
    this.pos += 6;
  }

  int4Field(v: number): void {
    this.ensure(8);
    this.view.setInt32(this.pos, 4);
    this.view.setInt32(this.pos + 4, v);
    this.pos += 8;
  }

  int8Field(v: number | bigint): void {
    this.ensure(12);
    this.view.setInt32(this.pos, 8);
    this.pos += 4;
    if (typeof v === 'bigint') {
      this.view.setBigInt64(this.pos, v);
      this.pos += 8;
    } else this.int64(v);
  }

  boolField(v: boolean): void {
    this.ensure(5);
    this.view.setInt32(this.pos, 1);
    this.buf[this.pos + 4] = v ? 1 : 0;
    this.pos += 5;
  }

  /** A text field of a string (UTF-8). */
  textField(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    this.ensure(4 + s.length * 3);
    const buf = this.buf;
    const start = this.pos + 4;
    // ASCII byte by byte: the short identifiers, hashes and ids of a log, without a view per field
    let p = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        p = start + utf8.encodeInto(s, buf.subarray(start)).written;
        break;
      }
      buf[p++] = c;
    }
    this.view.setInt32(this.pos, p - start);
    this.pos = p;
  }

  /** A text field of the bytes src[s, e); `escaped`: a quoted CSV field whose "" is one quote. */
  bytesField(src: Uint8Array, s: number, e: number, escaped = false): void {
    this.ensure(4 + (e - s));
    const at = this.pos;
    let p = at + 4;
    if (!escaped) {
      this.buf.set(src.subarray(s, e), p);
      p += e - s;
    } else {
      for (let i = s; i < e; i++) {
        this.buf[p++] = src[i];
        if (src[i] === 34) i++; // "" is one quote
      }
    }
    this.view.setInt32(at, p - at - 4);
    this.pos = p;
  }
}
