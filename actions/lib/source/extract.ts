import { decodeBinaryCopy, type BinaryColumnType } from '../db/copy-binary.ts';
import { isConnectionLost, quoteIdent, type Db, type Queryable } from '../db/index.ts';
import type { PipelineConfig } from '../config/schema.ts';
import type { Frame } from './frame.ts';
import { frameFingerprint } from './fingerprint.ts';
import { pausePoint } from '../faults/pause-point.ts';

export type SourceSpec = PipelineConfig['source'];

export interface ExtractOptions {
  /** Window start (inclusive); default asOf - window_days. */
  start?: Date;
  /** Window end (exclusive); default asOf. */
  end?: Date;
  /** Only these entities; default `source.entities`, or all when that is absent too. */
  entities?: readonly string[];
}

export type ExtractedFrame = Frame & { fingerprint: string };

/** The entity id of every row when the source has no entity column. */
export const SINGLE_ENTITY = 'all';

const DAY_MS = 86_400_000;

/**
 * Reads `[asOf - window_days, asOf)` of a pipeline's source into a columnar frame, ordered by
 * entity then time, in one READ ONLY transaction. The window bounds and the entity filter travel
 * as transaction-local settings (COPY takes no bind parameters), so no value is ever spliced into
 * SQL text; identifiers are quoted; derive expressions are the pipeline owner's SQL, screened for
 * statement separators and comments. Zero rows is a valid result: the quality stage judges it.
 */
export async function extractFrame(db: Db, source: SourceSpec, asOf: Date, opts: ExtractOptions = {}): Promise<ExtractedFrame> {
  const end = opts.end ?? asOf;
  const start = opts.start ?? new Date(end.getTime() - source.window_days * DAY_MS);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error('extract: window start/end is not a valid date');
  if (start.getTime() > end.getTime()) throw new Error(`extract: window start ${start.toISOString()} is after its end ${end.toISOString()}`);
  const entities = opts.entities ?? source.entities;
  const derive = Object.entries(source.derive ?? {});
  for (const [name, expr] of derive) checkDeriveExpression(name, expr);
  const names = [...source.columns, ...derive.map(([name]) => name)];
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`source: column "${duplicate}" appears twice (source.columns and source.derive share one namespace)`);

  // A connection lost anywhere in the read (the COPY stream, the commit) says it was the extract.
  const lost = (err: unknown): never => {
    if (isConnectionLost(err) && !(err as Error).message.startsWith('extract from')) {
      throw Object.assign(new Error(`extract from ${source.table}: ${(err as Error).message}`), { connectionLost: true });
    }
    throw err;
  };
  return db.transaction(
    async (tx) => {
      await checkSource(tx, source, derive);
      await tx.query(
        "SELECT set_config('mlops.window_start', $1, true), set_config('mlops.window_end', $2, true), set_config('mlops.entities', $3, true)",
        [start.toISOString(), end.toISOString(), JSON.stringify(entities ?? [])],
      );
      const sql = selectSql(source, derive, entities !== undefined);
      const types: BinaryColumnType[] = ['float8', 'text', ...names.map((): BinaryColumnType => 'float8')];
      const decoded = await decodeBinaryCopy(pauseAfterFirstChunk(tx.copyOutBinary(sql)), types).catch((err: unknown) => {
        throw Object.assign(new Error(`extract from ${source.table}: ${err instanceof Error ? err.message : String(err)}`), { connectionLost: isConnectionLost(err) });
      });
      const entityCodes = decoded.columns[1] as Int32Array;
      const frame: Frame = {
        rows: decoded.rows,
        times: decoded.columns[0] as Float64Array,
        entities: entityCodes,
        entityIds: decoded.dictionaries[1] ?? [],
        names,
        columns: decoded.columns.slice(2) as Float64Array[],
        window: { start, end },
      };
      return { ...frame, fingerprint: frameFingerprint(frame) };
    },
    { readOnly: true },
  ).catch(lost);
}

/** The fault-injection tests' pause point `extract:copy`: the stream is open and has sent data. */
async function* pauseAfterFirstChunk(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let first = true;
  for await (const chunk of chunks) {
    yield chunk;
    if (first) {
      first = false;
      await pausePoint('extract:copy');
    }
  }
}

/** The COPY select: times as epoch ms, entity as text, every column as float8. */
export function selectSql(source: SourceSpec, derive: readonly [string, string][], filterEntities: boolean): string {
  const time = quoteIdent(source.time_column);
  // NULL entities become '' so that every row keeps an entity; collation "C" makes the order
  // (and so the entity codes and the fingerprint) the same on every server whatever its locale.
  const entity = source.entity_column ? `coalesce(${quoteIdent(source.entity_column)}::text, '')` : `'${SINGLE_ENTITY}'::text`;
  const cols = [
    `(extract(epoch from ${time}) * 1000)::float8`,
    `${entity} COLLATE "C"`,
    ...source.columns.map((c) => `${quoteIdent(c)}::float8 AS ${quoteIdent(c)}`),
    ...derive.map(([name, expr]) => `(${expr})::float8 AS ${quoteIdent(name)}`),
  ];
  const where = [
    `${time} >= current_setting('mlops.window_start')::timestamptz`,
    `${time} < current_setting('mlops.window_end')::timestamptz`,
  ];
  if (filterEntities && source.entity_column) {
    where.push(`${entity} IN (SELECT jsonb_array_elements_text(current_setting('mlops.entities')::jsonb))`);
  }
  return `SELECT ${cols.join(', ')} FROM ${quoteIdent(source.table)} WHERE ${where.join(' AND ')} ORDER BY 2, 1`;
}

/**
 * A derive expression is wrapped as `(<expr>)::float8` in one SELECT: refuse what could end that
 * statement, hide text from review, or close the parenthesis early. It runs READ ONLY regardless.
 */
export function checkDeriveExpression(name: string, expr: string): void {
  const field = `source.derive.${name}`;
  if (expr.includes(';')) throw new Error(`${field}: a derive expression may not contain ";"`);
  if (expr.includes('--') || expr.includes('/*')) throw new Error(`${field}: a derive expression may not contain SQL comments`);
  if (expr.includes('$')) throw new Error(`${field}: a derive expression may not contain "$" (no parameters or dollar quoting)`);
  let depth = 0;
  let quote: "'" | '"' | null = null;
  for (const ch of expr) {
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) throw new Error(`${field}: unbalanced ")" in derive expression`);
  }
  if (quote) throw new Error(`${field}: unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'} in derive expression`);
  if (depth !== 0) throw new Error(`${field}: unbalanced "(" in derive expression`);
  if (expr.trim().length === 0) throw new Error(`${field}: empty derive expression`);
}

/** Fails with the pipeline field to fix when the table, a column or an expression is wrong. */
async function checkSource(tx: Queryable, source: SourceSpec, derive: readonly [string, string][]): Promise<void> {
  const table = quoteIdent(source.table);
  const rel = await tx.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [table]);
  if (!rel.rows[0]?.oid) throw new Error(`source.table: table "${source.table}" does not exist`);
  const attrs = await tx.query<{ name: string; type: string }>(
    'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
    [table],
  );
  const have = new Map(attrs.rows.map((r) => [r.name, r.type]));
  const known = `(${source.table} has: ${[...have.keys()].join(', ')})`;
  const need = (field: string, col: string): void => {
    if (!have.has(col)) throw new Error(`${field}: column "${col}" does not exist in table "${source.table}" ${known}`);
  };
  need('source.time_column', source.time_column);
  if (!/^(timestamp|date)/.test(have.get(source.time_column) ?? '')) {
    throw new Error(`source.time_column: column "${source.time_column}" is ${have.get(source.time_column)}, expected a timestamp`);
  }
  if (source.entity_column) need('source.entity_column', source.entity_column);
  for (const c of source.columns) need('source.columns', c);
  // Planning a LIMIT 0 select catches type errors (a text column, a bad expression) with its field name.
  await probe(tx, 'source.columns', `SELECT ${source.columns.map((c) => `${quoteIdent(c)}::float8`).join(', ')} FROM ${table} LIMIT 0`);
  for (const [name, expr] of derive) {
    await probe(tx, `source.derive.${name}`, `SELECT (${expr})::float8 FROM ${table} LIMIT 0`);
  }
}

async function probe(tx: Queryable, field: string, sql: string): Promise<void> {
  try {
    await tx.query(sql);
  } catch (err) {
    throw new Error(`${field}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
