/**
 * CSV import into a table: the header names the columns, every row is checked, and the file is
 * loaded by COPY in one transaction (all or nothing). Errors name file, line, column and value, up
 * to MAX_ERRORS at once. `data import` (demo-data/import.ts) and `labels import` (labels/import.ts)
 * are this one reader and checker with their own rules on top.
 *
 * One pass, streaming: the file's bytes are read once and checked in place (csv.ts gives byte
 * ranges, not strings). A row in the common spellings (`fastRow`: what the server reads exactly as
 * `checkRow` would write it) is encoded from its bytes: as binary COPY tuples when every column has
 * a binary form (binary-rows.ts), else as the CSV bytes they are; any other row is rewritten by
 * `checkRow`. Duplicate keys are the database's to find (the primary key rejects them). When a row
 * fails a check or the key rejects one, the COPY stops and its transaction rolls back, and a second
 * reading of the file (`checkCsv`, which keeps every key) names the errors as they always were
 * named: type errors and duplicates in file order, or the rows already in the table.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { analyze, quoteIdent, type Db, type Queryable } from '../db/index.ts';
import { decodeBinaryCopy, type BinaryColumnType } from '../db/copy-binary.ts';
import { CsvScanner, HAS_CR, NON_ASCII, quoteCsv, recordFields, type CsvRecord } from './csv.ts';
import { binaryKinds, TupleWriter, type BinaryKind } from './binary-rows.ts';

export const MAX_ERRORS = 20;
/** bytes per read of the file (and so, about, per COPY message) */
const READ_BYTES = 1 << 20;

export interface ImportResult {
  file: string;
  table: string;
  rows: number;
  /** the file's columns, in file order */
  columns: string[];
}

/** One error per line of the message; `errors` holds them one by one. */
export class CsvImportError extends Error {
  readonly errors: string[];
  constructor(errors: string[]) {
    super(errors.join('\n'));
    this.name = 'CsvImportError';
    this.errors = errors;
  }
}

export type Kind = 'timestamptz' | 'float' | 'int' | 'bool' | 'text' | 'other';

export interface TableColumn {
  name: string;
  dataType: string;
  kind: Kind;
  notNull: boolean;
  required: boolean;
}

export interface TableInfo {
  columns: TableColumn[];
  primaryKey: string[];
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
};

function kindOf(dataType: string): Kind {
  switch (dataType) {
    case 'timestamp with time zone':
      return 'timestamptz';
    case 'double precision':
    case 'real':
    case 'numeric':
      return 'float';
    case 'smallint':
    case 'integer':
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'text':
    case 'character varying':
    case 'character':
      return 'text';
    default:
      return 'other';
  }
}

export async function describeTable(db: Db, table: string): Promise<TableInfo | null> {
  const rel = await db.query<{ schema: string; name: string }>(
    'SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)',
    [quoteIdent(table)],
  );
  if (rel.rows.length === 0) return null;
  const { schema, name } = rel.rows[0];
  const cols = await db.query<{
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
    is_identity: string;
    is_generated: string;
  }>(
    `SELECT column_name, data_type, is_nullable, column_default, is_identity, is_generated
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  const pk = await db.query<{ column_name: string }>(
    `SELECT kcu.column_name
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu
         ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
      WHERE tc.table_schema = $1 AND tc.table_name = $2 AND tc.constraint_type = 'PRIMARY KEY'
      ORDER BY kcu.ordinal_position`,
    [schema, name],
  );
  return {
    columns: cols.rows.map((c) => ({
      name: c.column_name,
      dataType: c.data_type,
      kind: kindOf(c.data_type),
      notNull: c.is_nullable === 'NO',
      required: c.is_nullable === 'NO' && c.column_default === null && c.is_identity !== 'YES' && c.is_generated !== 'ALWAYS',
    })),
    primaryKey: pk.rows.map((r) => r.column_name),
  };
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)$/;
const EPOCH_MS = /^-?\d{1,16}$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const BOOL = /^(?:t|f|true|false|y|n|yes|no|on|off|1|0)$/i;
/** 0001-01-01 .. 9999-12-31 (what toISOString writes as four-digit years) */
const MIN_MS = -62135596800000;
const MAX_MS = 253402300799999;

/** Epoch milliseconds of an ISO-8601 time with an offset or of epoch milliseconds; null when neither. */
export function parseTime(text: string): number | null {
  let ms: number;
  if (EPOCH_MS.test(text)) {
    ms = Number(text);
  } else {
    const m = ISO_TIME.exec(text);
    if (!m) return null;
    const [, y, mo, d, hh, mi, ss, frac, off] = m;
    const year = Number(y);
    const month = Number(mo);
    const day = Number(d);
    const hour = Number(hh);
    const minute = Number(mi);
    const second = ss === undefined ? 0 : Number(ss);
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 || year < 1) return null;
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    if (date.getUTCDate() !== day) return null; // 2026-02-30
    let offsetMin = 0;
    if (off !== 'Z' && off !== 'z') {
      const sign = off[0] === '-' ? -1 : 1;
      const digits = off.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 15 || om > 59) return null;
      offsetMin = sign * (oh * 60 + om);
    }
    const fraction = frac === undefined ? 0 : Math.round(Number('0.' + frac) * 1000);
    ms = date.getTime() + ((hour * 60 + minute - offsetMin) * 60 + second) * 1000 + fraction;
  }
  return ms >= MIN_MS && ms <= MAX_MS ? ms : null;
}

/** A number (NUMBER's form) the type cannot hold: too large, or so small it would be read as 0 (the server refuses both). */
function outOfRange(dataType: string, value: string): boolean {
  const v = Math.abs(Number(value));
  if (!Number.isFinite(v)) return true;
  if (dataType === 'numeric') return false;
  if (dataType === 'real') return v > 3.4028235e38 || (v < 1.401298464324817e-45 && /[1-9]/.test(value.split(/[eE]/)[0]));
  return v === 0 && /[1-9]/.test(value.split(/[eE]/)[0]);
}

export function show(value: string): string {
  return value.length > 60 ? value.slice(0, 57) + '...' : value;
}

/** A validated row: one CSV line for COPY and the primary key (null when it is incomplete). */
interface RowResult {
  csv: string;
  key: string | null;
  keyValues: string[];
  /** epoch ms of the first timestamptz key column, for the conflict diagnosis */
  keyTime: number;
}

export interface Plan {
  file: string;
  table: string;
  info: TableInfo;
  /** the file's columns, in file order */
  names: string[];
  header: TableColumn[];
  /** positions in the header of the unique-key columns (empty when not all are present) */
  keyPositions: number[];
}

function checkRow(plan: Plan, line: number, fields: string[], errors: string[]): RowResult | null {
  const { file, header } = plan;
  if (fields.length !== header.length) {
    errors.push(`${file}:${line}: expected ${header.length} fields as in the header, found ${fields.length}`);
    return null;
  }
  const before = errors.length;
  const normalized: string[] = new Array(fields.length);
  const times: number[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const col = header[i];
    const raw = fields[i];
    const value = col.kind === 'text' || col.kind === 'other' ? raw : raw.trim();
    const where = `${file}:${line}: column "${col.name}"`;
    if (value === '') {
      if (col.notNull) errors.push(`${where}: empty, but the column is NOT NULL`);
      normalized[i] = '';
      continue;
    }
    switch (col.kind) {
      case 'timestamptz': {
        const ms = parseTime(value);
        if (ms === null) errors.push(`${where}: "${show(raw)}" is not an ISO-8601 time with offset or epoch milliseconds`);
        else {
          normalized[i] = new Date(ms).toISOString();
          times[i] = ms;
        }
        break;
      }
      case 'float': {
        if (!NUMBER.test(value)) errors.push(`${where}: "${show(raw)}" is not a number`);
        else if (outOfRange(col.dataType, value)) errors.push(`${where}: "${show(raw)}" is out of range for ${col.dataType}`);
        else normalized[i] = value;
        break;
      }
      case 'int': {
        if (!INTEGER.test(value)) {
          errors.push(`${where}: "${show(raw)}" is not ${NUMBER.test(value) ? 'an integer' : 'a number'}`);
          break;
        }
        const [lo, hi] = INT_RANGES[col.dataType];
        const v = BigInt(value);
        if (v < lo || v > hi) errors.push(`${where}: "${show(raw)}" is out of range for ${col.dataType}`);
        else normalized[i] = v.toString();
        break;
      }
      case 'bool':
        if (!BOOL.test(value)) errors.push(`${where}: "${show(raw)}" is not a boolean`);
        else normalized[i] = value;
        break;
      default:
        normalized[i] = quoteCsv(value);
    }
  }
  if (errors.length > before) return null;
  let key: string | null = null;
  let keyTime = Number.NaN;
  const keyValues: string[] = [];
  if (plan.keyPositions.length > 0) {
    for (const p of plan.keyPositions) {
      const col = header[p];
      if (Number.isNaN(keyTime) && col.kind === 'timestamptz') keyTime = times[p];
      keyValues.push(col.kind === 'text' || col.kind === 'other' ? fields[p] : col.kind === 'float' ? String(Number(normalized[p])) : normalized[p]);
    }
    key = keyValues.join('\u0000');
  }
  return { csv: normalized.join(','), key, keyValues, keyTime };
}

function keyText(plan: Plan): string {
  return '(' + plan.keyPositions.map((p) => plan.header[p].name).join(', ') + ')';
}

/** What a caller adds to the generic checks (labels import: its columns, its values, its key). */
export interface CheckRules {
  /** columns the file must have besides the table's NOT NULL ones, and why (for the message) */
  required?: { columns: readonly string[]; why: string };
  /** the columns no two rows may share (default: the table's primary key) */
  uniqueKey?: readonly string[];
  /** more checks of a row that passed the type checks: `fields` in the order of `columns` (the header), errors pushed as `file:line: ...` */
  row?: (line: number, fields: readonly string[], errors: string[], columns: readonly string[]) => void;
}

/** A file that passed every check: what loading it needs. */
export interface CheckedCsv {
  file: string;
  table: string;
  /** the file's columns, in file order */
  columns: string[];
  /** data rows */
  rows: number;
  plan: Plan;
  /** first line of each unique key, for the conflict diagnosis */
  firstLine: Map<string, number>;
  minTime: number;
  maxTime: number;
}

/** The file in chunks of bytes as read (each chunk a buffer of its own). */
async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  const input = createReadStream(file, { highWaterMark: READ_BYTES });
  try {
    for await (const chunk of input) yield chunk as Uint8Array;
  } finally {
    input.destroy();
  }
}

/** Feeds the file to `onRecord` until it returns false or the file ends. */
async function scanFile(file: string, onRecord: (record: CsvRecord) => boolean): Promise<void> {
  const scanner = new CsvScanner(onRecord);
  for await (const chunk of fileChunks(file)) {
    scanner.feed(chunk);
    if (scanner.done) return;
  }
  scanner.end();
}

/**
 * The header against the table and the caller's required columns; throws CsvImportError with
 * every problem of the header.
 */
export async function planCsv(db: Db, file: string, table: string, rules: CheckRules = {}): Promise<Plan> {
  const s = await stat(file).catch(() => null);
  if (!s || !s.isFile()) throw new CsvImportError([`${file}: no such file`]);
  const info = await describeTable(db, table);
  if (!info) throw new CsvImportError([`${file}: table ${table} does not exist`]);

  let headerFields: string[] | null = null;
  let headerError: string | null = null;
  let hl = 1;
  await scanFile(file, (rec) => {
    hl = rec.line;
    if (rec.error) headerError = rec.error;
    else headerFields = recordFields(rec);
    return false;
  });
  if (headerError !== null) throw new CsvImportError([`${file}:${hl}: ${headerError}`]);
  if (headerFields === null) throw new CsvImportError([`${file}:1: the file is empty (expected a header row)`]);
  const names = (headerFields as string[]).map((f) => f.trim());
  const errors: string[] = [];
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const seen = new Set<string>();
  for (const n of names) {
    if (!byName.has(n)) errors.push(`${file}:${hl}: unknown column "${n}" (table ${table} has: ${info.columns.map((c) => c.name).join(', ')})`);
    else if (seen.has(n)) errors.push(`${file}:${hl}: column "${n}" appears twice in the header`);
    seen.add(n);
  }
  const missing = new Set<string>();
  for (const c of rules.required?.columns ?? []) {
    if (!seen.has(c)) {
      errors.push(`${file}:${hl}: missing column "${c}" (${rules.required!.why})`);
      missing.add(c);
    }
  }
  for (const c of info.columns) {
    if (c.required && !seen.has(c.name) && !missing.has(c.name)) errors.push(`${file}:${hl}: missing column "${c.name}" (required by ${table})`);
  }
  if (errors.length > 0) throw new CsvImportError(errors.slice(0, MAX_ERRORS));
  const header = names.map((n) => byName.get(n)!);
  const unique = rules.uniqueKey ?? info.primaryKey;
  const keyPositions = unique.length > 0 && unique.every((k) => names.includes(k)) ? unique.map((k) => names.indexOf(k)) : [];
  return { file, table, info, names, header, keyPositions };
}

/**
 * Every row (types, NOT NULL, the unique key, the caller's rules), before anything is written.
 * Throws CsvImportError with every problem found (up to MAX_ERRORS). It keeps every key: the
 * reading that names the errors, and labels import's first pass.
 */
export async function checkCsv(db: Db, file: string, table: string, rules: CheckRules = {}): Promise<CheckedCsv> {
  return checkRows(await planCsv(db, file, table, rules), rules);
}

async function checkRows(plan: Plan, rules: CheckRules = {}): Promise<CheckedCsv> {
  const { file, names } = plan;
  const errors: string[] = [];
  const firstLine = new Map<string, number>();
  let rows = 0;
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  let header = true;
  await scanFile(file, (rec) => {
    if (header) {
      header = false;
      return true;
    }
    if (rec.error) errors.push(`${file}:${rec.line}: ${rec.error}`);
    else {
      const fields = recordFields(rec);
      const row = checkRow(plan, rec.line, fields, errors);
      if (row) {
        rows++;
        rules.row?.(rec.line, fields, errors, names);
        if (row.key !== null) {
          const prev = firstLine.get(row.key);
          if (prev !== undefined) {
            errors.push(`${file}:${rec.line}: duplicate ${keyText(plan)} = (${row.keyValues.join(', ')}), first seen on line ${prev}`);
          } else firstLine.set(row.key, rec.line);
          if (row.keyTime < minTime) minTime = row.keyTime;
          if (row.keyTime > maxTime) maxTime = row.keyTime;
        }
      }
    }
    if (errors.length >= MAX_ERRORS) {
      errors.push(`${file}: stopped after ${MAX_ERRORS} errors`);
      return false;
    }
    return true;
  });
  if (errors.length > 0) throw new CsvImportError(errors);
  return { file, table: plan.table, columns: names, rows, plan, firstLine, minTime, maxTime };
}

// Column kinds of the in-place check.
const F_TIME = 0;
const F_FLOAT = 1;
const F_INT = 2;
const F_BOOL = 3;
const F_TEXT = 4;

/** What `fastRow` needs of a plan, as typed arrays. */
interface FastPlan {
  kinds: Uint8Array;
  notNull: Uint8Array;
  /** integer columns: most digits that are surely in range */
  digits: Uint8Array;
}

function fastPlan(plan: Plan): FastPlan {
  const n = plan.header.length;
  const kinds = new Uint8Array(n);
  const notNull = new Uint8Array(n);
  const digits = new Uint8Array(n);
  plan.header.forEach((c, i) => {
    kinds[i] = c.kind === 'timestamptz' ? F_TIME : c.kind === 'float' ? F_FLOAT : c.kind === 'int' ? F_INT : c.kind === 'bool' ? F_BOOL : F_TEXT;
    notNull[i] = c.notNull ? 1 : 0;
    digits[i] = c.dataType === 'smallint' ? 4 : c.dataType === 'integer' ? 9 : 18;
  });
  return { kinds, notNull, digits };
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at `p` as a number, or -1. */
function two(b: Uint8Array, p: number): number {
  const a = b[p] - 48;
  const c = b[p + 1] - 48;
  return a >= 0 && a <= 9 && c >= 0 && c <= 9 ? a * 10 + c : -1;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.f{1,3}](Z|±HH|±HH:MM)` (or `T` between date and time), a real date, years
 * 1000-9998: the server reads it as the same instant `parseTime` does, to the millisecond.
 */
function fastTime(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 20 || b[s + 4] !== 45 || b[s + 7] !== 45 || b[s + 13] !== 58 || b[s + 16] !== 58) return false;
  const sep = b[s + 10];
  if (sep !== 32 && sep !== 84) return false;
  const hi = two(b, s);
  const lo = two(b, s + 2);
  const month = two(b, s + 5);
  const day = two(b, s + 8);
  const hour = two(b, s + 11);
  const minute = two(b, s + 14);
  const second = two(b, s + 17);
  if (hi < 10 || lo < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  const year = hi * 100 + lo;
  if (year > 9998) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month])) return false;
  let p = s + 19;
  if (b[p] === 46) {
    const from = ++p;
    while (p < e && b[p] >= 48 && b[p] <= 57) p++;
    if (p === from || p - from > 3) return false;
  }
  const rest = e - p;
  const c = b[p];
  if (c === 90) return rest === 1;
  if (c !== 43 && c !== 45) return false;
  const oh = two(b, p + 1);
  if (oh < 0 || oh > 15) return false;
  if (rest === 3) return true;
  if (rest !== 6 || b[p + 3] !== 58) return false;
  const om = two(b, p + 4);
  return om >= 0 && om <= 59;
}

/** `-?digits[.digits]` (or `.digits`), short enough to be in range for real and double precision. */
function fastNumber(b: Uint8Array, s: number, e: number): boolean {
  if (e - s > 30) return false;
  let p = s;
  if (b[p] === 45) p++;
  let digits = 0;
  let dot = false;
  for (; p < e; p++) {
    const c = b[p];
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46 && !dot) dot = true;
    else return false;
  }
  return digits > 0;
}

/** `-?digits`, few enough digits to be in range. */
function fastInt(b: Uint8Array, s: number, e: number, maxDigits: number): boolean {
  let p = s;
  if (b[p] === 45) p++;
  if (p === e || e - p > maxDigits) return false;
  for (; p < e; p++) if (b[p] < 48 || b[p] > 57) return false;
  return true;
}

/** 0, 1, t, f, true, false. */
function fastBool(b: Uint8Array, s: number, e: number): boolean {
  const len = e - s;
  const c = b[s];
  if (len === 1) return c === 48 || c === 49 || c === 116 || c === 102;
  if (len === 4) return c === 116 && b[s + 1] === 114 && b[s + 2] === 117 && b[s + 3] === 101;
  if (len === 5) return c === 102 && b[s + 1] === 97 && b[s + 2] === 108 && b[s + 3] === 115 && b[s + 4] === 101;
  return false;
}

/**
 * True when the record, as its bytes, is a valid row that the server reads exactly as `checkRow`
 * would rewrite it: the common spellings only (a strict subset of what `checkRow` accepts).
 * Anything else (other time spellings, epoch milliseconds, quoted numbers, spaces, exponents,
 * empty quoted fields, CR inside quotes, non-ASCII text, every error) goes to `checkRow`.
 */
function fastRow(fp: FastPlan, rec: CsvRecord): boolean {
  const n = fp.kinds.length;
  if (rec.error !== null || rec.fields !== n) return false;
  const b = rec.buf;
  const { starts, ends, flags } = rec;
  for (let f = 0; f < n; f++) {
    const s = starts[f];
    const e = ends[f];
    const fl = flags[f];
    if (s === e) {
      // unquoted empty: NULL, as checkRow writes it
      if (fl !== 0 || fp.notNull[f] === 1) return false;
      continue;
    }
    switch (fp.kinds[f]) {
      case F_TEXT:
        // CR inside quotes is read as LF; non-ASCII is decoded as checkRow decodes it; `\.` ends COPY data
        if ((fl & (HAS_CR | NON_ASCII)) !== 0) return false;
        if (fl === 0 && e - s === 2 && b[s] === 92 && b[s + 1] === 46) return false;
        break;
      case F_FLOAT:
        if (fl !== 0 || !fastNumber(b, s, e)) return false;
        break;
      case F_INT:
        if (fl !== 0 || !fastInt(b, s, e, fp.digits[f])) return false;
        break;
      case F_BOOL:
        if (fl !== 0 || !fastBool(b, s, e)) return false;
        break;
      default:
        if (fl !== 0 || !fastTime(b, s, e)) return false;
    }
  }
  return true;
}

function changedError(file: string, line: number): CsvImportError {
  return new CsvImportError([`${file}:${line}: the file changed while it was being imported`]);
}

/** Where a streamed load stopped: the line of the first row that failed a check (0 while none has). */
export interface LoadState {
  rejectedLine: number;
}

const NEWLINE = new Uint8Array([10]);

/** Where the rows of one read of the file go, and what is handed to COPY after each read. */
interface RowEncoder {
  /** a row that fastRow passed, as it is in the file */
  fast(rec: CsvRecord): void;
  /** a row that checkRow passed: its fields and checkRow's CSV line */
  checked(fields: string[], csv: string): void;
  /** a row left out */
  skip(): void;
  take(): Uint8Array | null;
}

/** COPY ... (FORMAT csv): runs of good rows as the bytes they are, other rows as checkRow writes them. */
function csvEncoder(): RowEncoder {
  const encoder = new TextEncoder();
  let pieces: Uint8Array[] = [];
  let size = 0;
  // the run of rows being passed on as they are: [runStart, runEnd) of runBuf
  let runBuf: Uint8Array | null = null;
  let runStart = -1;
  let runEnd = -1;
  const push = (piece: Uint8Array): void => {
    pieces.push(piece);
    size += piece.length;
  };
  const flushRun = (): void => {
    if (runStart >= 0) {
      push(runBuf!.subarray(runStart, runEnd));
      runStart = -1;
    }
  };
  return {
    fast(rec) {
      if (runStart < 0 || runBuf !== rec.buf || runEnd !== rec.start) {
        flushRun();
        runBuf = rec.buf;
        runStart = rec.start;
      }
      if (rec.next === rec.end + 1 && rec.buf[rec.end] === 10) runEnd = rec.next;
      else {
        // CRLF, CR or no line end: the row without it, then LF
        runEnd = rec.end;
        flushRun();
        push(NEWLINE);
      }
    },
    checked(_fields, csv) {
      flushRun();
      push(encoder.encode(csv + '\n'));
    },
    skip: flushRun,
    take() {
      flushRun();
      if (size === 0) return null;
      // a copy: the pieces are views of the buffers read, and a backend may keep what it is given
      const out = Buffer.concat(pieces, size);
      pieces = [];
      size = 0;
      return out;
    },
  };
}

/** COPY ... (FORMAT binary) tuples (binary-rows.ts). */
function binaryEncoder(kinds: readonly BinaryKind[]): RowEncoder {
  const writer = new TupleWriter(kinds);
  return {
    fast: (rec) => writer.fast(rec),
    checked: (fields) => writer.text(fields),
    skip: () => undefined,
    take: () => writer.take(),
  };
}

interface LoadOptions {
  /** leaves rows out by line */
  keep?: (line: number) => boolean;
  /** binary COPY tuples of these kinds (binaryKinds), instead of CSV */
  binary?: readonly BinaryKind[];
}

/**
 * The file's data rows for COPY, checked and streamed in one pass: CSV for COPY ... (FORMAT csv),
 * or with `binary` the tuples of a binary COPY. At the first row that fails a check it sets
 * `state.rejectedLine` and throws, which aborts the COPY (the caller names the errors with `checkCsv`).
 */
async function* loadRows(plan: Plan, state: LoadState, options: LoadOptions = {}): AsyncGenerator<Uint8Array> {
  const fp = fastPlan(plan);
  const { keep } = options;
  const out = options.binary ? binaryEncoder(options.binary) : csvEncoder();
  const noErrors: string[] = [];
  let header = true;
  const scanner = new CsvScanner((rec) => {
    if (header) {
      header = false;
      return true;
    }
    if (keep && !keep(rec.line)) {
      out.skip();
      return true;
    }
    if (fastRow(fp, rec)) {
      out.fast(rec);
      return true;
    }
    const fields = rec.error === null ? recordFields(rec) : null;
    const row = fields ? checkRow(plan, rec.line, fields, noErrors) : null;
    if (row === null) {
      state.rejectedLine = rec.line;
      return false;
    }
    out.checked(fields!, row.csv);
    return true;
  });
  for await (const chunk of fileChunks(plan.file)) {
    scanner.feed(chunk);
    if (state.rejectedLine > 0) break;
    const bytes = out.take();
    if (bytes) yield bytes;
  }
  if (state.rejectedLine === 0) {
    scanner.end();
    const bytes = out.take();
    if (bytes) yield bytes;
  }
  if (state.rejectedLine > 0) throw changedError(plan.file, state.rejectedLine);
}

/**
 * Loads the rows of `plan` into `table` (its own, or one with the same columns) in one pass:
 * binary COPY tuples when every column has a binary form (binary-rows.ts), else CSV. Binary takes
 * the costliest part of COPY off the server, reading floats and times from text: on PGlite (musl's
 * strtod in WASM, in soft-float long doubles) it was ~40% of the load, and on PostgreSQL the
 * encoding here runs beside the server's inserts (a 365-day load took ~25% less time than CSV).
 */
export function copyRows(tx: Queryable, table: string, plan: Plan, state: LoadState, keep?: (line: number) => boolean): Promise<number> {
  const binary = binaryKinds(plan.header);
  return binary
    ? tx.copyInBinary(table, plan.names, loadRows(plan, state, { keep, binary }))
    : tx.copyInCsv(table, plan.names, loadRows(plan, state, { keep }));
}

/**
 * A database error during a load as the import's error: nothing was imported, and why. With the
 * load's state: a row that failed its check in the load after passing it before means the file changed.
 */
export function loadFailure(file: string, table: string, err: unknown, state?: LoadState): CsvImportError {
  if (state && state.rejectedLine > 0) return changedError(file, state.rejectedLine);
  if (err instanceof CsvImportError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CsvImportError([`${file}: import into ${table} failed, nothing was imported: ${message}`]);
}

/**
 * Checks a CSV file against an existing table and loads it by COPY in one transaction, all or
 * nothing, in one streaming pass; a failure is named by a second, checking pass.
 */
export async function importCsvTable(db: Db, file: string, table: string): Promise<ImportResult> {
  const plan = await planCsv(db, file, table);
  const state: LoadState = { rejectedLine: 0 };
  try {
    const loaded = await db.transaction(async (tx) => {
      const rows = await copyRows(tx, table, plan, state);
      await analyze(tx, table);
      return rows;
    });
    return { file, table, rows: loaded, columns: plan.names };
  } catch (err) {
    const duplicate = isDuplicateKey(err);
    if (state.rejectedLine === 0 && !duplicate) throw loadFailure(file, table, err);
    // Names every error in file order (and throws), as a check before the load would have.
    const checked = await checkRows(plan);
    if (!duplicate) throw changedError(file, state.rejectedLine);
    const conflicts = await findConflicts(db, plan, checked.firstLine, checked.minTime, checked.maxTime).catch(() => []);
    if (conflicts.length > 0) throw new CsvImportError(conflicts);
    const message = err instanceof Error ? err.message : String(err);
    throw new CsvImportError([`${file}: rows already in ${table} (${message}); nothing was imported`]);
  }
}

function isDuplicateKey(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof Error && 'code' in err ? String((err as { code: unknown }).code) : '';
  return code === '23505' || /duplicate key value/.test(message);
}

/** After a duplicate-key failure: which lines of the file are already in the table (up to MAX_ERRORS). */
async function findConflicts(db: Db, plan: Plan, firstLine: Map<string, number>, minTime: number, maxTime: number): Promise<string[]> {
  if (plan.keyPositions.length === 0) return [];
  const cols = plan.keyPositions.map((p) => plan.header[p]);
  const exprs = cols.map((c) => (c.kind === 'timestamptz' ? `(extract(epoch FROM ${quoteIdent(c.name)}) * 1000)::float8` : `${quoteIdent(c.name)}::text`));
  const types: BinaryColumnType[] = cols.map((c) => (c.kind === 'timestamptz' ? 'float8' : 'text'));
  const timeCol = cols.find((c) => c.kind === 'timestamptz');
  // toISOString() output is a safe literal (digits, '-', ':', '.', 'T', 'Z').
  const where =
    timeCol && Number.isFinite(minTime)
      ? `WHERE ${quoteIdent(timeCol.name)} BETWEEN '${new Date(minTime).toISOString()}'::timestamptz AND '${new Date(maxTime).toISOString()}'::timestamptz`
      : '';
  const decoded = await db.transaction((tx) => decodeBinaryCopy(tx, `SELECT ${exprs.join(', ')} FROM ${quoteIdent(plan.table)} ${where}`, types), {
    readOnly: true,
  });
  const hits: { line: number; values: string[] }[] = [];
  let hitCount = 0;
  const values: string[] = new Array(cols.length);
  for (let r = 0; r < decoded.rows; r++) {
    for (let i = 0; i < cols.length; i++) {
      const column = decoded.columns[i];
      if (types[i] === 'float8') values[i] = new Date(column[r]).toISOString();
      else values[i] = column[r] < 0 ? '' : decoded.dictionaries[i]![column[r]];
    }
    const line = firstLine.get(values.join('\u0000'));
    if (line === undefined) continue;
    // only the first MAX_ERRORS lines are named: keep those, count the rest (a re-import hits every row)
    hitCount++;
    if (hits.length === MAX_ERRORS && line > hits[MAX_ERRORS - 1].line) continue;
    let at = hits.length;
    while (at > 0 && hits[at - 1].line > line) at--;
    hits.splice(at, 0, { line, values: values.slice() });
    if (hits.length > MAX_ERRORS) hits.pop();
  }
  const out = hits.map((h) => `${plan.file}:${h.line}: ${keyText(plan)} = (${h.values.join(', ')}) already in ${plan.table}`);
  if (hitCount > MAX_ERRORS) out.push(`${plan.file}: ${hitCount - MAX_ERRORS} more rows already in ${plan.table}`);
  return out;
}
