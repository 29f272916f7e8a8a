import { BinaryCopyDecoder, binaryTimestampSql, type BinaryColumnType, type DecodedColumns } from '../db/copy-binary.ts';
import { isConnectionLost, quoteIdent, type Db, type Queryable } from '../db/index.ts';
import type { LabelsConfig, PipelineConfig } from '../config/schema.ts';
import type { Frame } from './frame.ts';
import { frameFingerprint } from './fingerprint.ts';
import { pausePoint } from '../faults/pause-point.ts';
import { formatSourceIssues, sourceIssues } from './check.ts';
import { checkLabels, invalidLabels, noKnownLabels, positiveSetting, readKnownLabels, INVALID_LABEL, type LabelsTable } from '../labels/sql.ts';
import { DAY_MS } from '../util/duration.ts';

export type SourceSpec = PipelineConfig['source'];

export interface ExtractOptions {
  /** Window start (inclusive); default asOf - window_days. */
  start?: Date;
  /** Window end (exclusive); default asOf. */
  end?: Date;
  /** Only these entities; default `source.entities`, or all when that is absent too. */
  entities?: readonly string[];
  /**
   * Classification: join each row's label by key (source.key_column = labels.key_column), using
   * only labels known at `labelsAsOf` (their time <= it; default the window end): the newest such
   * label of a key wins. The label becomes the frame column `labels.label_column` (1, 0, NaN when
   * none is known) and its time `frame.labelTimes`.
   */
  labels?: LabelsConfig;
  labelsAsOf?: Date;
}

export type ExtractedFrame = Frame & { fingerprint: string };

/** The entity id of every row when the source has no entity column. */
export const SINGLE_ENTITY = 'all';

/**
 * Reads `[asOf - window_days, asOf)` of a pipeline's source into a columnar frame, ordered by
 * entity then time, in one READ ONLY transaction. The entity filter and the labels' settings
 * travel as transaction-local settings (COPY takes no bind parameters), so no text value is ever
 * spliced into SQL; the window bounds are timestamp literals of two Dates (timestampLiteral), so
 * that the planner can size the window and read it in index order; identifiers are quoted;
 * derive expressions are the pipeline owner's SQL, screened
 * (source/check.ts) for statement separators, comments and functions that reach beyond the row.
 * Zero rows is a valid result: the quality stage judges it.
 */
export async function extractFrame(db: Db, source: SourceSpec, asOf: Date, opts: ExtractOptions = {}): Promise<ExtractedFrame> {
  const end = opts.end ?? asOf;
  const start = opts.start ?? new Date(end.getTime() - source.window_days * DAY_MS);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error('extract: window start/end is not a valid date');
  if (start.getTime() > end.getTime()) throw new Error(`extract: window start ${start.toISOString()} is after its end ${end.toISOString()}`);
  const entities = opts.entities ?? source.entities;
  const derive = Object.entries(source.derive ?? {});
  const categorical = source.categorical ?? [];
  const numeric = [...source.columns, ...derive.map(([name]) => name)];
  const labels = opts.labels;
  if (labels && !source.key_column) throw new Error('source.key_column: labels join on a key column; the source names none');
  const names = [...numeric, ...categorical, ...(labels ? [labels.label_column] : [])];
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate)
    throw new Error(
      `source: column "${duplicate}" appears twice (source.columns, source.categorical, source.derive and labels.label_column share one namespace)`,
    );
  const labelsAsOf = opts.labelsAsOf ?? end;

  // A connection lost anywhere in the read (the COPY stream, the commit) says it was the extract.
  const lost = (err: unknown): never => {
    if (isConnectionLost(err) && !(err as Error).message.startsWith('extract from')) {
      throw Object.assign(new Error(`extract from ${source.table}: ${(err as Error).message}`), { connectionLost: true });
    }
    throw err;
  };
  return db
    .readSource(async (tx) => {
      // The same checks as `pipelines validate` (one function): all problems at once, by field.
      const issues = await sourceIssues(tx, source);
      if (issues.length) throw new Error(formatSourceIssues(issues));
      const labelsTable: LabelsTable | null = labels ? await checkLabels(tx, labels) : null;
      await tx.query("SELECT set_config('mlops.entities', $1, true), set_config('mlops.labels_as_of', $2, true), set_config('mlops.positive', $3, true)", [
        JSON.stringify(entities ?? []),
        labelsAsOf.toISOString(),
        labels ? positiveSetting(labels) : '',
      ]);
      const timeType = await columnType(tx, source.table, source.time_column);
      const sql = selectSql(source, derive, entities !== undefined, timeType, { start, end });
      const key = source.key_column ? 1 : 0;
      const types: BinaryColumnType[] = [
        'timestamp',
        'text',
        ...(key ? ['text' as const] : []),
        ...numeric.map((): BinaryColumnType => 'float8'),
        ...categorical.map((): BinaryColumnType => 'text'),
      ];
      // The stream is decoded as it arrives, chunk by chunk (never held whole).
      const decoder = new BinaryCopyDecoder(types);
      let first = true;
      const streamed = await tx
        .copyOutBinary(sql, (chunk) => {
          decoder.push(chunk);
          if (!first) return;
          first = false;
          // the fault-injection tests' pause point: the stream is open and has sent data
          return pausePoint('extract:copy');
        })
        .then(() => decoder.finish())
        .catch((err: unknown) => {
          throw Object.assign(new Error(`extract from ${source.table}: ${err instanceof Error ? err.message : String(err)}`), {
            connectionLost: isConnectionLost(err),
          });
        });
      const decoded = inFrameOrder(streamed, key === 1);
      const rows = decoded.rows;
      const at = 2 + key;
      const columns = decoded.columns.slice(at, at + numeric.length) as Float64Array[];
      const categories: Record<string, string[]> = {};
      categorical.forEach((c, i) => {
        const codes = decoded.columns[at + numeric.length + i] as Int32Array;
        columns.push(Float64Array.from(codes.subarray(0, rows), (v) => (v < 0 ? Number.NaN : v)));
        categories[c] = decoded.dictionaries[at + numeric.length + i] ?? [];
      });
      const frame: Frame = {
        rows,
        times: decoded.columns[0] as Float64Array,
        entities: decoded.columns[1] as Int32Array,
        entityIds: decoded.dictionaries[1] ?? [],
        names,
        columns,
        window: { start, end },
        ...(categorical.length ? { categories } : {}),
      };
      if (key) {
        const codes = decoded.columns[2] as Int32Array;
        const dict = decoded.dictionaries[2] ?? [];
        frame.keys = Array.from(codes.subarray(0, rows), (c) => dict[c]);
      }
      if (labels && labelsTable) {
        // Each row's label by its key code (see labels/sql.ts): every label known at as-of is read
        // and those of the window's keys are kept.
        const codes = decoded.columns[2] as Int32Array;
        const keyCodes = decoded.texts[2]!;
        const known = noKnownLabels(keyCodes.size);
        await readKnownLabels(tx, labels, labelsTable, keyCodes, known);
        const label = new Float64Array(rows);
        const labelTimes = new Float64Array(rows);
        let invalid = 0;
        for (let i = 0; i < rows; i++) {
          const c = codes[i];
          label[i] = known.y[c];
          labelTimes[i] = known.known[c];
          if (label[i] === INVALID_LABEL) invalid++;
        }
        if (invalid > 0) throw new Error(await invalidLabels(tx, labels, labelsTable, invalid));
        frame.columns.push(label);
        frame.labelTimes = labelTimes;
      }
      return { ...frame, fingerprint: frameFingerprint(frame) };
    })
    .catch(lost);
}

/**
 * The decoded stream in the frame's order: by entity (its text, compared as collation "C" does:
 * by code point), then time, then key (likewise), with entity and categorical codes numbered in
 * order of first appearance. The server sorts by the stored entity and time columns in their own
 * collation, so that their index supplies the order; where that differs from "C" (another
 * collation, a non-text entity column) only the entities' order differs, and a stable counting
 * pass by entity puts them in order in O(n). Within an entity the server's order is the frame's
 * unless two stored values share one text (NULL beside ''): such an entity's rows are sorted. One
 * pass checks each.
 */
function inFrameOrder(d: DecodedColumns, keyed: boolean): DecodedColumns {
  const rows = d.rows;
  const times = d.columns[0] as Float64Array;
  const entities = d.columns[1] as Int32Array;
  const entityIds = d.dictionaries[1] ?? [];
  const keyCodes = keyed ? (d.columns[2] as Int32Array) : null;
  const keyValues = keyed ? (d.dictionaries[2] ?? []) : [];
  const rank = new Int32Array(entityIds.length);
  Array.from(entityIds.keys())
    .sort((a, b) => compareCodePoints(entityIds[a], entityIds[b]))
    .forEach((code, r) => {
      rank[code] = r;
    });
  const keyOf = (i: number): string => (keyCodes![i] < 0 ? '' : keyValues[keyCodes![i]]);
  const compare = (i: number, j: number): number =>
    rank[entities[i]] - rank[entities[j]] || times[i] - times[j] || (keyCodes ? compareCodePoints(keyOf(i), keyOf(j)) : 0);
  let ordered = true;
  for (let i = 1; i < rows && ordered; i++) {
    // entity codes count up in order of first appearance: in order, each is its rank
    if (rank[entities[i]] !== entities[i] || compare(i - 1, i) > 0) ordered = false;
  }
  if (ordered) return d;
  // Stable counting sort by entity rank: each entity's rows keep the server's order.
  const starts = new Int32Array(entityIds.length + 1);
  for (let i = 0; i < rows; i++) starts[rank[entities[i]] + 1]++;
  for (let r = 1; r <= entityIds.length; r++) starts[r] += starts[r - 1];
  const order = new Int32Array(rows);
  const fill = starts.slice(0, entityIds.length);
  for (let i = 0; i < rows; i++) order[fill[rank[entities[i]]]++] = i;
  for (let r = 0; r < entityIds.length; r++) {
    const entity = order.subarray(starts[r], starts[r + 1]);
    for (let i = 1; i < entity.length; i++) {
      if (compare(entity[i - 1], entity[i]) <= 0) continue;
      entity.sort((a, b) => compare(a, b) || a - b);
      break;
    }
  }
  const columns = d.columns.map((column) => {
    const out = column instanceof Float64Array ? new Float64Array(rows) : new Int32Array(rows);
    for (let i = 0; i < rows; i++) out[i] = column[order[i]];
    return out;
  });
  const dictionaries = d.dictionaries.slice();
  // text columns but the key: codes again in order of first appearance
  d.dictionaries.forEach((values, c) => {
    if (!values || (keyed && c === 2)) return;
    const codes = columns[c] as Int32Array;
    const renumbered = new Int32Array(values.length).fill(-1);
    const next: string[] = [];
    for (let i = 0; i < rows; i++) {
      const v = codes[i];
      if (v < 0) continue;
      if (renumbered[v] < 0) {
        renumbered[v] = next.length;
        next.push(values[v]);
      }
      codes[i] = renumbered[v];
    }
    dictionaries[c] = next;
  });
  return { rows, columns, dictionaries, texts: d.texts.map((t, c) => (keyed && c === 2 ? t : null)) };
}

/** a < b by code point (as UTF-8 bytes, collation "C"): UTF-16 units compare so except surrogates against U+E000 and above. */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** The SQL type (format_type) of a column. */
async function columnType(tx: Queryable, table: string, column: string): Promise<string> {
  const { rows } = await tx.query<{ type: string }>(
    'SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped',
    [quoteIdent(table), column],
  );
  return rows[0]?.type ?? 'timestamp with time zone';
}

/**
 * The COPY select: times (of SQL type `timeType`) as the decoder's 'timestamp' (epoch ms),
 * entity (and key) as text, numeric and derived columns as float8, categorical columns as text.
 */
export function selectSql(
  source: SourceSpec,
  derive: readonly [string, string][],
  filterEntities: boolean,
  timeType: string,
  window: { start: Date; end: Date },
): string {
  const time = quoteIdent(source.time_column);
  // NULL entities become '' so that every row keeps an entity; keys compare by collation "C", so
  // that rows at one time have the same order on every server whatever its locale.
  const entity = source.entity_column ? `coalesce(${quoteIdent(source.entity_column)}::text, '')` : `'${SINGLE_ENTITY}'::text`;
  const key = source.key_column ? `coalesce(${quoteIdent(source.key_column)}::text, '')` : null;
  const cols = [
    binaryTimestampSql(time, timeType),
    entity,
    ...(key ? [`${key} COLLATE "C"`] : []),
    ...source.columns.map((c) => `${quoteIdent(c)}::float8 AS ${quoteIdent(c)}`),
    ...derive.map(([name, expr]) => `(${expr})::float8 AS ${quoteIdent(name)}`),
    ...(source.categorical ?? []).map((c) => `${quoteIdent(c)}::text AS ${quoteIdent(c)}`),
  ];
  const where = [`${time} >= ${timestampLiteral(window.start)}`, `${time} < ${timestampLiteral(window.end)}`];
  if (filterEntities && source.entity_column) {
    where.push(`${entity} IN (SELECT jsonb_array_elements_text(current_setting('mlops.entities')::jsonb))`);
  }
  // By the stored entity and time columns, so that an index on them (the primary key of a
  // readings table) supplies the order and nothing is sorted; rows at one time by key, so that a
  // keyed frame (and its fingerprint) has one order (an incremental sort of each time's few rows).
  // inFrameOrder makes it the frame's order where the entity column's collation is not "C".
  const order = [...(source.entity_column ? [quoteIdent(source.entity_column)] : []), time, ...(key ? ['3'] : [])];
  return `SELECT ${cols.join(', ')} FROM ${quoteIdent(source.table)} WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')}`;
}

const ISO_TIME = /^[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * `d` as a timestamptz literal: its ISO text, which has only digits and '+-:.TZ' (checked). A
 * literal, not a setting, because the planner sizes a range only by constants: with a setting it
 * guesses a few rows, and sorts a year of readings that the primary key has in order already.
 */
function timestampLiteral(d: Date): string {
  const iso = d.toISOString();
  if (!ISO_TIME.test(iso)) throw new Error(`not a timestamp: ${iso}`);
  return `'${iso}'::timestamptz`;
}
