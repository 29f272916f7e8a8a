import { decodeBinaryCopy, type BinaryColumnType } from '../db/copy-binary.ts';
import { isConnectionLost, quoteIdent, type Db } from '../db/index.ts';
import type { PipelineConfig } from '../config/schema.ts';
import type { Frame } from './frame.ts';
import { frameFingerprint } from './fingerprint.ts';
import { pausePoint } from '../faults/pause-point.ts';
import { formatSourceIssues, sourceIssues } from './check.ts';

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
 * SQL text; identifiers are quoted; derive expressions are the pipeline owner's SQL, screened
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
  return db.readSource(
    async (tx) => {
      // The same checks as `pipelines validate` (one function): all problems at once, by field.
      const issues = await sourceIssues(tx, source);
      if (issues.length) throw new Error(formatSourceIssues(issues));
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
