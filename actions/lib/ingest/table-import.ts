/**
 * CSV import into a table: the header names the columns, the whole file is validated before
 * anything is written, then it is loaded by COPY in one transaction (all or nothing). Errors name
 * file, line, column and value, up to MAX_ERRORS at once. `data import` (demo-data/import.ts) and
 * `labels import` (labels/import.ts) are this one reader and checker with their own rules on top.
 */
import { stat } from 'node:fs/promises';
import { quoteIdent, type Db } from '../db/index.ts';
import { decodeBinaryCopy, type BinaryColumnType } from '../db/copy-binary.ts';
import { quoteCsv, readCsvRecords } from './csv.ts';

export const MAX_ERRORS = 20;
const CHUNK_ROWS = 10_000;

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
        else if (!Number.isFinite(Number(value)) || (col.dataType === 'real' && Math.abs(Number(value)) > 3.4028235e38)) {
          errors.push(`${where}: "${show(raw)}" is out of range for ${col.dataType}`);
        } else normalized[i] = value;
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

/**
 * Pass 1: the header against the table, then every row (types, NOT NULL, the unique key, the
 * caller's rules), before anything is written. Throws CsvImportError with every problem found
 * (up to MAX_ERRORS).
 */
export async function checkCsv(db: Db, file: string, table: string, rules: CheckRules = {}): Promise<CheckedCsv> {
  const s = await stat(file).catch(() => null);
  if (!s || !s.isFile()) throw new CsvImportError([`${file}: no such file`]);
  const info = await describeTable(db, table);
  if (!info) throw new CsvImportError([`${file}: table ${table} does not exist`]);

  const errors: string[] = [];
  const records = readCsvRecords(file);
  const first = await records.next();
  if (first.done) {
    await records.return(undefined);
    throw new CsvImportError([`${file}:1: the file is empty (expected a header row)`]);
  }
  const headerRecord = first.value;
  const hl = headerRecord.line;
  if (headerRecord.error) {
    await records.return(undefined);
    throw new CsvImportError([`${file}:${hl}: ${headerRecord.error}`]);
  }
  const names = headerRecord.fields.map((f) => f.trim());
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
  if (errors.length > 0) {
    await records.return(undefined);
    throw new CsvImportError(errors.slice(0, MAX_ERRORS));
  }
  const header = names.map((n) => byName.get(n)!);
  const unique = rules.uniqueKey ?? info.primaryKey;
  const keyPositions = unique.length > 0 && unique.every((k) => names.includes(k)) ? unique.map((k) => names.indexOf(k)) : [];
  const plan: Plan = { file, table, info, header, keyPositions };

  const firstLine = new Map<string, number>();
  let rows = 0;
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for await (const rec of records) {
    if (rec.error) errors.push(`${file}:${rec.line}: ${rec.error}`);
    else {
      const row = checkRow(plan, rec.line, rec.fields, errors);
      if (row) {
        rows++;
        rules.row?.(rec.line, rec.fields, errors, names);
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
      break;
    }
  }
  if (errors.length > 0) throw new CsvImportError(errors);
  return { file, table, columns: names, rows, plan, firstLine, minTime, maxTime };
}

/**
 * Pass 2: the checked file's rows again, normalised for COPY (FORMAT csv), in chunks; `keep`
 * leaves rows out by line. A file that changed since it was checked fails.
 */
export async function* csvChunks(checked: CheckedCsv, keep?: (line: number) => boolean): AsyncGenerator<string> {
  const { file, plan } = checked;
  let chunk = '';
  let n = 0;
  let headerSkipped = false;
  for await (const rec of readCsvRecords(file)) {
    if (!headerSkipped) {
      headerSkipped = true;
      continue;
    }
    const errs: string[] = [];
    const row = rec.error ? null : checkRow(plan, rec.line, rec.fields, errs);
    if (!row) throw new CsvImportError([`${file}:${rec.line}: the file changed while it was being imported`]);
    if (keep && !keep(rec.line)) continue;
    chunk += row.csv + '\n';
    if (++n === CHUNK_ROWS) {
      yield chunk;
      chunk = '';
      n = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** A database error during a load as the import's error: nothing was imported, and why. */
export function loadFailure(file: string, table: string, err: unknown): CsvImportError {
  if (err instanceof CsvImportError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CsvImportError([`${file}: import into ${table} failed, nothing was imported: ${message}`]);
}

/** Checks a CSV file against an existing table and loads it by COPY in one transaction, all or nothing. */
export async function importCsvTable(db: Db, file: string, table: string): Promise<ImportResult> {
  const checked = await checkCsv(db, file, table);
  const { plan, firstLine, minTime, maxTime, columns: names } = checked;
  if (checked.rows === 0) return { file, table, rows: 0, columns: names };
  try {
    const loaded = await db.transaction((tx) => tx.copyInCsv(table, names, csvChunks(checked)));
    return { file, table, rows: loaded, columns: names };
  } catch (err) {
    if (err instanceof CsvImportError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof Error && 'code' in err ? String((err as { code: unknown }).code) : '';
    if (code === '23505' || /duplicate key value/.test(message)) {
      const conflicts = await findConflicts(db, plan, firstLine, minTime, maxTime).catch(() => []);
      if (conflicts.length > 0) throw new CsvImportError(conflicts);
      throw new CsvImportError([`${file}: rows already in ${table} (${message}); nothing was imported`]);
    }
    throw loadFailure(file, table, err);
  }
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
  const decoded = await db.transaction(
    (tx) => decodeBinaryCopy(tx.copyOutBinary(`SELECT ${exprs.join(', ')} FROM ${quoteIdent(plan.table)} ${where}`), types),
    { readOnly: true },
  );
  const hits: { line: number; values: string[] }[] = [];
  const values: string[] = new Array(cols.length);
  for (let r = 0; r < decoded.rows; r++) {
    for (let i = 0; i < cols.length; i++) {
      const column = decoded.columns[i];
      if (types[i] === 'float8') values[i] = new Date(column[r]).toISOString();
      else values[i] = column[r] < 0 ? '' : decoded.dictionaries[i]![column[r]];
    }
    const line = firstLine.get(values.join('\u0000'));
    if (line !== undefined) hits.push({ line, values: values.slice() });
  }
  hits.sort((a, b) => a.line - b.line);
  const out = hits.slice(0, MAX_ERRORS).map((h) => `${plan.file}:${h.line}: ${keyText(plan)} = (${h.values.join(', ')}) already in ${plan.table}`);
  if (hits.length > MAX_ERRORS) out.push(`${plan.file}: ${hits.length - MAX_ERRORS} more rows already in ${plan.table}`);
  return out;
}
