/**
 * Checked CSV rows as tuples of PostgreSQL's binary COPY format. Reading floats and times from
 * text is the costliest part of a server's COPY (on PGlite, musl's strtod in WASM works in
 * soft-float long doubles: ~40% of a CSV COPY), while here a decimal is one division, done beside
 * the server's inserts. Only for tables whose columns are all of the
 * kinds below; each field is written as the server's recv function reads it, and holds the value
 * the text would have given (`m / 10^k` with both exact is the correctly rounded double, as strtod's
 * is; times to the millisecond, as `parseTime` reads them).
 */
import { ESCAPED, QUOTED, type CsvRecord } from './csv.ts';
import { parseTime, type TableColumn } from './table-import.ts';
import { BinaryTupleWriter } from '../db/copy-binary.ts';

export type BinaryKind = 'timestamptz' | 'float8' | 'int2' | 'int4' | 'int8' | 'bool' | 'text';

const KIND_OF: Record<string, BinaryKind> = {
  'timestamp with time zone': 'timestamptz',
  'double precision': 'float8',
  smallint: 'int2',
  integer: 'int4',
  bigint: 'int8',
  boolean: 'bool',
  text: 'text',
  'character varying': 'text',
};

/** The binary kinds of the file's columns, or null when one has no binary form here. */
export function binaryKinds(header: readonly TableColumn[]): BinaryKind[] | null {
  const kinds: BinaryKind[] = [];
  for (const c of header) {
    const k = KIND_OF[c.dataType];
    if (!k) return null;
    kinds.push(k);
  }
  return kinds;
}

const K_TIME = 0;
const K_FLOAT = 1;
const K_INT2 = 2;
const K_INT4 = 3;
const K_INT8 = 4;
const K_BOOL = 5;
const K_TEXT = 6;
const CODES: Record<BinaryKind, number> = { timestamptz: K_TIME, float8: K_FLOAT, int2: K_INT2, int4: K_INT4, int8: K_INT8, bool: K_BOOL, text: K_TEXT };

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TRUE = /^(?:t|true|y|yes|on|1)$/i;

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1-12). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digits(b: Uint8Array, s: number, e: number): number {
  let v = 0;
  for (let p = s; p < e; p++) v = v * 10 + (b[p] - 48);
  return v;
}

const latin1 = new TextDecoder('latin1');

/** Binary COPY tuples of checked CSV rows, in the columns' kinds (db/copy-binary.ts writes the fields). */
export class TupleWriter extends BinaryTupleWriter {
  private readonly kinds: Uint8Array;

  constructor(kinds: readonly BinaryKind[]) {
    super(1 << 20);
    this.kinds = Uint8Array.from(kinds, (k) => CODES[k]);
  }

  private int(kind: number, v: number | bigint): void {
    if (kind === K_INT2) this.int2Field(Number(v));
    else if (kind === K_INT4) this.int4Field(Number(v));
    else this.int8Field(v);
  }

  /** A row that `fastRow` passed: its fields read from the bytes in place. */
  fast(rec: CsvRecord): void {
    const n = this.kinds.length;
    const b = rec.buf;
    this.ensure(2 + n * 12);
    this.view.setInt16(this.pos, n);
    this.pos += 2;
    for (let f = 0; f < n; f++) {
      const s = rec.starts[f];
      const e = rec.ends[f];
      if (s === e && (rec.flags[f] & QUOTED) === 0) {
        this.ensure(4);
        this.view.setInt32(this.pos, -1);
        this.pos += 4;
        continue;
      }
      const kind = this.kinds[f];
      if (kind === K_TEXT) {
        this.bytesField(b, s, e, (rec.flags[f] & ESCAPED) !== 0);
        continue;
      }
      this.ensure(12);
      switch (kind) {
        case K_FLOAT: {
          // -?digits[.digits]: fastRow checked the form
          let p = s;
          const neg = b[p] === 45;
          if (neg) p++;
          let m = 0;
          let k = 0;
          let dot = false;
          for (; p < e; p++) {
            const c = b[p];
            if (c === 46) dot = true;
            else {
              m = m * 10 + (c - 48);
              if (dot) k++;
            }
          }
          let v = m <= Number.MAX_SAFE_INTEGER && k <= 22 ? m / POW10[k] : Number(latin1.decode(b.subarray(s, e)));
          if (neg && v > 0) v = -v;
          else if (neg && v === 0) v = -0;
          this.float8Field(v);
          break;
        }
        case K_TIME: {
          const year = digits(b, s, s + 4);
          const month = digits(b, s + 5, s + 7);
          const day = digits(b, s + 8, s + 10);
          const minutes = digits(b, s + 11, s + 13) * 60 + digits(b, s + 14, s + 16);
          let ms = digits(b, s + 17, s + 19) * 1000;
          let p = s + 19;
          if (b[p] === 46) {
            const from = ++p;
            while (b[p] >= 48 && b[p] <= 57) p++;
            ms += digits(b, from, p) * POW10[3 - (p - from)];
          }
          let offset = 0;
          if (b[p] !== 90) {
            offset = digits(b, p + 1, p + 3) * 60 + (e - p === 6 ? digits(b, p + 4, p + 6) : 0);
            if (b[p] === 45) offset = -offset;
          }
          this.timestampField(daysFromCivil(year, month, day) * 86_400_000 + (minutes - offset) * 60_000 + ms);
          break;
        }
        case K_BOOL: {
          const c = b[s];
          this.view.setInt32(this.pos, 1);
          this.buf[this.pos + 4] = c === 49 || c === 116 ? 1 : 0;
          this.pos += 5;
          break;
        }
        default: {
          const neg = b[s] === 45;
          const len = e - s - (neg ? 1 : 0);
          if (len > 15) this.int(kind, BigInt(latin1.decode(b.subarray(s, e))));
          else {
            const v = digits(b, neg ? s + 1 : s, e);
            this.int(kind, neg ? -v : v);
          }
        }
      }
    }
  }

  /** A row that `checkRow` passed, from its fields as text (the same values checkRow's CSV means). */
  text(fields: readonly string[]): void {
    const n = this.kinds.length;
    this.ensure(2);
    this.view.setInt16(this.pos, n);
    this.pos += 2;
    for (let f = 0; f < n; f++) {
      const kind = this.kinds[f];
      const value = kind === K_TEXT ? fields[f] : fields[f].trim();
      this.ensure(12);
      if (value === '') {
        this.view.setInt32(this.pos, -1);
        this.pos += 4;
        continue;
      }
      switch (kind) {
        case K_TEXT:
          this.textField(value);
          break;
        case K_FLOAT:
          this.float8Field(Number(value));
          break;
        case K_TIME:
          this.timestampField(parseTime(value)!);
          break;
        case K_BOOL:
          this.view.setInt32(this.pos, 1);
          this.buf[this.pos + 4] = TRUE.test(value) ? 1 : 0;
          this.pos += 5;
          break;
        default:
          this.int(kind, kind === K_INT8 ? BigInt(value) : Number(value));
      }
    }
  }
}
