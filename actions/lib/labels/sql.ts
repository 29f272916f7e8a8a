/**
 * The labels source of a classification pipeline (labels: table, key, label, label time) in SQL,
 * one home for every reader of it: the retrain's extract (labels of the window's rows) and the
 * live join (labels of the champion's predictions, labels/live.ts). A label counts once it is
 * known (its time <= the as-of); of several known labels of one key, the newest wins.
 *
 * The join by key runs in this process, not in the server: the labels are read in one COPY (a
 * scan, no sort, no DISTINCT ON) with each key as text, coded by the reader's own key dictionary
 * (decodeBinaryCopy's codesOf), and the newest label of each key is kept in typed arrays. On a
 * year of applications (~500,000 rows, ~460,000 labels) that is a fraction of the server's hash
 * join and sort. Keys compare as text, so a source keyed by integers joins labels keyed by text.
 */
import { binaryTimestampSql, decodeBinaryCopy } from '../db/copy-binary.ts';
import type { TextDictionary } from '../db/text-dictionary.ts';
import { quoteIdent, type Queryable } from '../db/index.ts';
import type { LabelsConfig } from '../config/schema.ts';

/** What checkLabels learns of the labels table. */
export interface LabelsTable {
  /** the label column's SQL type (format_type): how a label is read as 1 or 0 */
  labelType: string;
  /** the time column's (a timestamp or a date) */
  timeType: string;
}

/**
 * SELECT k, y, known: the labels known at the setting mlops.labels_as_of, every one of them or,
 * with `keys` (a subquery yielding text keys), those of its keys: key as text (k), label as 1, 0
 * or INVALID_LABEL (y), and when it became known (known, for the decoder's 'timestamp': epoch ms). Reads the settings
 * mlops.labels_as_of and mlops.positive (labelSettings sets them), so no value is spliced into
 * the SQL and it can run inside a COPY. Each setting is read in a subquery, evaluated once per
 * statement: as an expression it would be read and parsed again for every row (on a year of
 * labels, more than the scan itself).
 */
export function knownLabelsSql(labels: LabelsConfig, table: LabelsTable, keys?: string): string {
  const l = {
    table: quoteIdent(labels.table),
    key: `lb.${quoteIdent(labels.key_column)}`,
    label: `lb.${quoteIdent(labels.label_column)}`,
    time: `lb.${quoteIdent(labels.time_column)}`,
  };
  const value = labelValue(l.label, labels.positive, table.labelType);
  return `SELECT ${l.key}::text AS k, ${value} AS y, ${binaryTimestampSql(l.time, table.timeType)} AS known
    FROM ${l.table} lb
    WHERE ${l.time} <= (SELECT current_setting('mlops.labels_as_of')::timestamptz) AND ${l.label} IS NOT NULL${keys ? ` AND ${l.key}::text IN (${keys})` : ''}`;
}

/** Per key code of a reader's keys: its newest label known at as-of and when it became known. */
export interface KnownLabels {
  /** 1, 0 or INVALID_LABEL; NaN without a known label */
  y: Float64Array;
  /** epoch ms; NaN without a known label */
  known: Float64Array;
}

export function noKnownLabels(keys: number): KnownLabels {
  return { y: new Float64Array(keys).fill(Number.NaN), known: new Float64Array(keys).fill(Number.NaN) };
}

/**
 * Reads the labels known at as-of (knownLabelsSql: all of them, or those of `keysSql`) and keeps
 * in `into` the newest of each key of `keys` (key text -> code < into.y.length); labels of other
 * keys are passed over. Needs labelSettings in the transaction.
 */
export async function readKnownLabels(
  tx: Queryable,
  labels: LabelsConfig,
  table: LabelsTable,
  keys: TextDictionary,
  into: KnownLabels,
  keysSql?: string,
): Promise<void> {
  const decoded = await decodeBinaryCopy(tx, knownLabelsSql(labels, table, keysSql), ['text', 'float8', 'timestamp'], { codesOf: [keys] });
  const codes = decoded.columns[0] as Int32Array;
  const y = decoded.columns[1] as Float64Array;
  const known = decoded.columns[2] as Float64Array;
  const { y: outY, known: outKnown } = into;
  for (let i = 0; i < decoded.rows; i++) {
    const c = codes[i];
    // The newest wins (NaN, no label yet, is never >=).
    if (c >= 0 && !(outKnown[c] >= known[i])) {
      outY[c] = y[i];
      outKnown[c] = known[i];
    }
  }
}

/** The transaction-local settings knownLabelsSql reads. */
export async function labelSettings(tx: Queryable, labels: LabelsConfig, asOf: Date): Promise<void> {
  await tx.query("SELECT set_config('mlops.labels_as_of', $1, true), set_config('mlops.positive', $2, true)", [asOf.toISOString(), positiveSetting(labels)]);
}

/** labels.positive as the text of the setting mlops.positive ('' without one). */
export function positiveSetting(labels: LabelsConfig): string {
  return labels.positive === null ? '' : String(labels.positive);
}

/** What a label that is neither 0/1 nor true/false reads as, so it can be reported instead of guessed. */
export const INVALID_LABEL = 2;

const NUMERIC_TYPE = /^(smallint|integer|bigint|real|double precision|numeric)\b/;

/**
 * A label as 1 or 0: equal to `labels.positive` (compared as a number, a boolean or text, as it
 * was written) or, without one, 1/true and 0/false; anything else reads as INVALID_LABEL. A
 * number or boolean column is compared in its own type (no text per row), any other as text.
 */
export function labelValue(label: string, positive: LabelsConfig['positive'], type: string): string {
  const numeric = NUMERIC_TYPE.test(type);
  const boolean = type === 'boolean';
  if (typeof positive === 'number') {
    const v = numeric ? label : `${label}::text::float8`;
    return `CASE WHEN ${v} = (SELECT current_setting('mlops.positive')::float8) THEN 1 ELSE 0 END::float8`;
  }
  if (typeof positive === 'boolean') {
    const v = boolean ? label : `${label}::text::boolean`;
    return `CASE WHEN ${v} = (SELECT current_setting('mlops.positive')::boolean) THEN 1 ELSE 0 END::float8`;
  }
  if (typeof positive === 'string') return `CASE WHEN ${label}::text = (SELECT current_setting('mlops.positive')) THEN 1 ELSE 0 END::float8`;
  if (numeric) return `CASE WHEN ${label} = 1 THEN 1 WHEN ${label} = 0 THEN 0 ELSE ${INVALID_LABEL} END::float8`;
  if (boolean) return `CASE WHEN ${label} THEN 1 ELSE 0 END::float8`;
  return `CASE WHEN lower(${label}::text) IN ('1', '1.0', 'true', 't') THEN 1 WHEN lower(${label}::text) IN ('0', '0.0', 'false', 'f') THEN 0 ELSE ${INVALID_LABEL} END::float8`;
}

/** The error for labels that are neither positive nor negative: how many, and which values. */
export async function invalidLabels(tx: Queryable, labels: LabelsConfig, table: LabelsTable, count: number): Promise<string> {
  const label = `lb.${quoteIdent(labels.label_column)}`;
  const { rows } = await tx.query<{ v: string; n: string }>(
    `SELECT ${label}::text AS v, count(*) AS n FROM ${quoteIdent(labels.table)} lb
     WHERE ${label} IS NOT NULL AND ${labelValue(label, labels.positive, table.labelType)} = ${INVALID_LABEL}
     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`,
  );
  const seen = rows.map((r) => `${JSON.stringify(r.v)} (${r.n} rows)`).join(', ');
  return (
    `labels.label_column: ${count} row(s) of the window have a label that is neither 1/true nor 0/false (${seen}); ` +
    `set labels.positive to the value of the positive class (e.g. positive: ${JSON.stringify(rows[0]?.v ?? 'default')})`
  );
}

/** Fails with the pipeline field to fix when the labels table or one of its columns is wrong; else says what the join needs of it. */
export async function checkLabels(tx: Queryable, labels: LabelsConfig): Promise<LabelsTable> {
  const table = quoteIdent(labels.table);
  const rel = await tx.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [table]);
  if (!rel.rows[0]?.oid) throw new Error(`labels.table: table "${labels.table}" does not exist (load labels with: npm run mlops -- labels import)`);
  const attrs = await tx.query<{ name: string; type: string }>(
    'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
    [table],
  );
  const have = new Map(attrs.rows.map((r) => [r.name, r.type]));
  for (const field of ['key_column', 'label_column', 'time_column'] as const) {
    if (!have.has(labels[field]))
      throw new Error(`labels.${field}: column "${labels[field]}" does not exist in table "${labels.table}" (has: ${[...have.keys()].join(', ')})`);
  }
  if (!/^(timestamp|date)/.test(have.get(labels.time_column) ?? '')) {
    throw new Error(
      `labels.time_column: column "${labels.time_column}" is ${have.get(labels.time_column)}, expected a timestamp (when the label became known)`,
    );
  }
  return { labelType: have.get(labels.label_column)!, timeType: have.get(labels.time_column)! };
}
