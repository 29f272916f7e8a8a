/**
 * `labels import`: a CSV of outcomes into a classification pipeline's labels table, all or nothing,
 * with the reading and checking of `data import` (ingest/table-import.ts) and the labels' own rules:
 *
 *  - the file has the pipeline's key, label and label-time columns (the labels table is created
 *    with exactly those when it does not exist yet);
 *  - every label is a label: 1/0 or true/false, or, with `labels.positive`, a value of its type;
 *  - no (key, label time) twice in the file;
 *  - every key is a key of the source (`source.key_column`), unless told otherwise
 *    (`unknownKeys`: `error`, the default; `skip` leaves those rows out; `keep` imports them, for
 *    labels that arrive before their cases are loaded);
 *  - idempotent: a row already in the table with the same label is left as it is, so re-importing
 *    a file (or a file that overlaps an earlier one) adds only what is new; the same key and time
 *    with a different label is an error (a correction is a new row with a later time).
 *
 * Errors name file, line, column and value.
 */
import { quoteIdent, type Db, type Queryable } from '../db/index.ts';
import type { ClassificationPipeline, LabelsConfig } from '../config/schema.ts';
import { decodeBinaryCopy } from '../db/copy-binary.ts';
import { checkCsv, copyRows, CsvImportError, loadFailure, MAX_ERRORS, parseTime, show, type LoadState } from '../ingest/table-import.ts';

export type UnknownKeyPolicy = 'error' | 'skip' | 'keep';
export const UNKNOWN_KEY_POLICIES: readonly UnknownKeyPolicy[] = ['error', 'skip', 'keep'];

export interface LabelsImportOptions {
  /** labels whose key is not in the source (default error) */
  unknownKeys?: UnknownKeyPolicy;
}

export interface LabelsImportResult {
  file: string;
  pipeline: string;
  table: string;
  /** data rows in the file */
  rows: number;
  /** rows added to the table */
  inserted: number;
  /** rows already in the table with the same label (a re-import) */
  unchanged: number;
  /** rows left out because their key is not in the source (unknownKeys: skip) */
  skipped: number;
  /** rows imported or already there whose key is not in the source (unknownKeys: keep) */
  unknown_keys: number;
  /** positive labels among the rows imported or already there */
  positives: number;
}

const TEMP_TABLE = 'pg_temp.mlops_labels_in';
/** keys per lookup of the source */
const KEY_BATCH = 50_000;

const LABEL_01 = /^(?:1|0|1\.0|0\.0|true|false|t|f)$/i;
const POSITIVE_01 = /^(?:1|1\.0|true|t)$/i;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:t|f|true|false|y|n|yes|no|on|off|1|0)$/i;
const TRUE = /^(?:t|true|y|yes|on|1)$/i;

/** The SQL type of a label column created for `labels.positive`. */
function labelType(positive: LabelsConfig['positive']): string {
  if (typeof positive === 'string') return 'text';
  if (typeof positive === 'number') return 'double precision';
  if (typeof positive === 'boolean') return 'boolean';
  return 'smallint';
}

/** Creates the labels table (key, label, label time; one row per key and time) when it does not exist. */
export async function ensureLabelsTable(db: Queryable, labels: LabelsConfig): Promise<void> {
  const [k, y, t] = [labels.key_column, labels.label_column, labels.time_column].map(quoteIdent);
  await db.exec(`CREATE TABLE IF NOT EXISTS ${quoteIdent(labels.table)} (
  ${k} text NOT NULL,
  ${y} ${labelType(labels.positive)} NOT NULL,
  ${t} timestamptz NOT NULL,
  PRIMARY KEY (${k}, ${t})
)`);
}

/** Why a label value is not one (null when it is), and whether it is the positive class. */
function judgeLabel(value: string, positive: LabelsConfig['positive']): { problem: string | null; positive: boolean } {
  if (positive === null) {
    return LABEL_01.test(value)
      ? { problem: null, positive: POSITIVE_01.test(value) }
      : { problem: 'is not a label: expected 1 or 0, true or false (or name the positive value in labels.positive)', positive: false };
  }
  if (typeof positive === 'number') {
    return NUMBER.test(value)
      ? { problem: null, positive: Number(value) === positive }
      : { problem: `is not a number (labels.positive is ${positive})`, positive: false };
  }
  if (typeof positive === 'boolean') {
    return BOOLEAN.test(value)
      ? { problem: null, positive: TRUE.test(value) === positive }
      : { problem: `is not a boolean (labels.positive is ${positive})`, positive: false };
  }
  return { problem: null, positive: value === positive };
}

/** The keys among `keys` that the source table has (compared as text, as the label join does). */
async function sourceKeys(db: Db, pipeline: ClassificationPipeline, keys: string[]): Promise<Set<string>> {
  const column = pipeline.source.key_column!;
  const found = new Set<string>();
  await db.readSource(async (tx) => {
    for (let from = 0; from < keys.length; from += KEY_BATCH) {
      const batch = keys.slice(from, from + KEY_BATCH);
      // COPY takes no parameters: the keys travel as a transaction-local setting, never as SQL text.
      await tx.query("SELECT set_config('mlops.label_keys', $1, true)", [JSON.stringify(batch)]);
      const decoded = await decodeBinaryCopy(
        tx,
        `SELECT DISTINCT ${quoteIdent(column)}::text FROM ${quoteIdent(pipeline.source.table)}
         WHERE ${quoteIdent(column)}::text IN (SELECT jsonb_array_elements_text(current_setting('mlops.label_keys')::jsonb))`,
        ['text'],
      );
      const dict = decoded.dictionaries[0] ?? [];
      const codes = decoded.columns[0] as Int32Array;
      for (let i = 0; i < decoded.rows; i++) if (codes[i] >= 0) found.add(dict[codes[i]]);
    }
  });
  return found;
}

/** Imports a CSV of labels into the pipeline's labels table: all or nothing (see the module comment). */
export async function importLabels(db: Db, file: string, pipeline: ClassificationPipeline, options: LabelsImportOptions = {}): Promise<LabelsImportResult> {
  const policy = options.unknownKeys ?? 'error';
  const { labels, source } = pipeline;
  if (!source.key_column) throw new CsvImportError([`${pipeline.name}: source.key_column is not set, so labels have nothing to join on`]);
  const table = labels.table;
  await ensureLabelsTable(db, labels);

  // Pass 1 (the shared checks, plus the labels' own): positions are known once the header is read.
  const required = [labels.key_column, labels.label_column, labels.time_column];
  let pos: [number, number, number] | null = null;
  const keyLines = new Map<string, number>();
  const rowLines = new Map<string, number>();
  const positiveLines = new Set<number>();
  const checked = await checkCsv(db, file, table, {
    required: { columns: required, why: `the labels of ${pipeline.name} are ${required.join(', ')}` },
    uniqueKey: [labels.key_column, labels.time_column],
    row(line, fields, errors, columns) {
      const [k, y, t] = (pos ??= [columns.indexOf(labels.key_column), columns.indexOf(labels.label_column), columns.indexOf(labels.time_column)]);
      const key = fields[k];
      const label = fields[y].trim();
      const where = (column: string): string => `${file}:${line}: column "${column}"`;
      if (key === '') errors.push(`${where(labels.key_column)}: empty, but every label needs its key`);
      if (label === '') errors.push(`${where(labels.label_column)}: empty, but a label needs a value`);
      else {
        const judged = judgeLabel(label, labels.positive);
        if (judged.problem) errors.push(`${where(labels.label_column)}: "${show(fields[y])}" ${judged.problem}`);
        else if (judged.positive) positiveLines.add(line);
      }
      const ms = parseTime(fields[t].trim());
      if (fields[t].trim() === '') errors.push(`${where(labels.time_column)}: empty, but a label needs the time it became known`);
      if (key !== '' && ms !== null) {
        if (!keyLines.has(key)) keyLines.set(key, line);
        rowLines.set(`${key}\u0000${ms}`, line);
      }
    },
  });

  // Keys the source does not have (counted under every policy).
  const found = await sourceKeys(db, pipeline, [...keyLines.keys()]).catch((err: unknown) => {
    throw new CsvImportError([`${file}: cannot check the labels' keys against ${source.table}.${source.key_column}: ${(err as Error).message}`]);
  });
  const unknown = new Set([...keyLines.keys()].filter((k) => !found.has(k)));
  const unknownLines = new Set<number>();
  if (unknown.size > 0) {
    for (const [row, line] of rowLines) if (unknown.has(row.slice(0, row.indexOf('\u0000')))) unknownLines.add(line);
  }
  if (policy === 'error' && unknown.size > 0) {
    const lines = [...unknown].map((k) => ({ key: k, line: keyLines.get(k)! })).sort((a, b) => a.line - b.line);
    const errors = lines
      .slice(0, MAX_ERRORS)
      .map((u) => `${file}:${u.line}: column "${labels.key_column}": "${show(u.key)}" is not a key of ${source.table} (${source.key_column})`);
    if (lines.length > MAX_ERRORS) errors.push(`${file}: ${lines.length - MAX_ERRORS} more keys not in ${source.table}`);
    errors.push(
      `${file}: ${unknownLines.size} label(s) name a key that ${source.table} does not have; nothing was imported ` +
        '(--unknown-keys skip leaves them out, --unknown-keys keep imports them for cases loaded later)',
    );
    throw new CsvImportError(errors);
  }
  const skipped = policy === 'skip' ? unknownLines.size : 0;
  const keep = policy === 'skip' && skipped > 0 ? (line: number): boolean => !unknownLines.has(line) : undefined;
  const kept = checked.rows - skipped;
  let positives = 0;
  for (const line of positiveLines) if (!keep || keep(line)) positives++;
  const base = { file, pipeline: pipeline.name, table, rows: checked.rows, skipped, unknown_keys: policy === 'keep' ? unknownLines.size : 0, positives };
  if (kept === 0) return { ...base, inserted: 0, unchanged: 0 };

  // Pass 2: into a scratch table, then only what the labels table does not have yet, in one transaction.
  const names = checked.columns;
  const cols = names.map(quoteIdent).join(', ');
  const [k, y, t] = [labels.key_column, labels.label_column, labels.time_column].map(quoteIdent);
  const target = quoteIdent(table);
  const same = `t.${k} = i.${k} AND t.${t} = i.${t}`;
  const state: LoadState = { rejectedLine: 0 };
  try {
    const inserted = await db.transaction(async (tx) => {
      await tx.exec(`CREATE TEMP TABLE ${quoteIdent(TEMP_TABLE)} ON COMMIT DROP AS SELECT ${cols} FROM ${target} WITH NO DATA`);
      await copyRows(tx, TEMP_TABLE, checked.plan, state, keep);
      const conflicts = await tx.query<{ k: string; ms: number; have: string; got: string }>(
        `SELECT i.${k}::text AS k, (extract(epoch FROM i.${t}) * 1000)::float8 AS ms, t.${y}::text AS have, i.${y}::text AS got
         FROM ${quoteIdent(TEMP_TABLE)} i JOIN ${target} t ON ${same} WHERE t.${y} IS DISTINCT FROM i.${y} LIMIT ${MAX_ERRORS + 1}`,
      );
      if (conflicts.rows.length > 0) {
        const errors = conflicts.rows
          .map((c) => ({ ...c, line: rowLines.get(`${c.k}\u0000${Number(c.ms)}`) }))
          .sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
          .slice(0, MAX_ERRORS)
          .map(
            (c) =>
              `${file}${c.line ? `:${c.line}` : ''}: (${labels.key_column}, ${labels.time_column}) = (${c.k}, ${new Date(Number(c.ms)).toISOString()}) ` +
              `is already in ${table} with ${labels.label_column} = ${c.have}, not ${c.got} (a correction is a new row with a later ${labels.time_column})`,
          );
        if (conflicts.rows.length > MAX_ERRORS) errors.push(`${file}: more rows conflict with ${table}`);
        throw new CsvImportError(errors);
      }
      const res = await tx.query(
        `INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${quoteIdent(TEMP_TABLE)} i WHERE NOT EXISTS (SELECT 1 FROM ${target} t WHERE ${same})`,
      );
      return res.rowCount;
    });
    return { ...base, inserted, unchanged: kept - inserted };
  } catch (err) {
    throw loadFailure(file, table, err, state);
  }
}
