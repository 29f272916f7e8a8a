import type { Db, Queryable } from '../db/index.ts';
import { BinaryTupleWriter } from '../db/copy-binary.ts';

/** Rows per INSERT statement (each statement carries 3 array parameters, whatever the batch size). */
export const PREDICTION_BATCH = 5000;

export interface PredictionRows {
  pipeline: string;
  modelVersion: number;
  sha256: string;
  rows: number;
  /** epoch ms per row */
  times: Float64Array;
  entities: Int32Array;
  entityIds: readonly string[];
  /** the key labels join on (source.key_column) per row; row_key is NULL without */
  keys?: readonly string[];
  /** one per row (a classifier's positive-class probability); NaN is stored as NULL */
  predictions: Float32Array;
}

/**
 * Writes predictions to mlops.predictions in one transaction, in batches of `batch` rows: each
 * batch is one `INSERT ... SELECT FROM unnest($entities, $times, $predictions, $keys)` with the values as
 * array parameters (never spliced into SQL), upserting on (pipeline, entity, ts, model_version),
 * or on (pipeline, row_key, model_version) for keyed rows, among batch rows (origin 'batch'; the
 * model server's online rows are a separate log): re-scoring a window with the same model
 * replaces its rows instead of adding duplicates.
 * Returns the number of rows written (inserted or updated).
 */
export async function writePredictions(db: Db, p: PredictionRows, batch = PREDICTION_BATCH): Promise<number> {
  if (p.rows === 0) return 0;
  if (!(batch >= 1)) throw new Error(`writePredictions: batch must be >= 1, got ${batch}`);
  return db.transaction(async (tx) => {
    let written = 0;
    for (let start = 0; start < p.rows; start += batch) {
      const end = Math.min(p.rows, start + batch);
      const entities: string[] = new Array(end - start);
      const times: string[] = new Array(end - start);
      const values: (number | null)[] = new Array(end - start);
      const keys: (string | null)[] = new Array(end - start);
      for (let i = start; i < end; i++) {
        keys[i - start] = p.keys ? p.keys[i] : null;
        entities[i - start] = p.entityIds[p.entities[i]];
        times[i - start] = new Date(p.times[i]).toISOString();
        const y = p.predictions[i];
        values[i - start] = Number.isFinite(y) ? y : null;
      }
      const res = await tx.query(
        `INSERT INTO mlops.predictions (pipeline, model_version, sha256, entity, ts, prediction, row_key, scored_at)
         SELECT $1, $2, $3, u.entity, u.ts, u.prediction, u.row_key, now()
         FROM unnest($4::text[], $5::timestamptz[], $6::float8[], $7::text[]) AS u(entity, ts, prediction, row_key)
         ${p.keys ? "ON CONFLICT (pipeline, row_key, model_version) WHERE row_key IS NOT NULL AND origin = 'batch'" : "ON CONFLICT (pipeline, entity, ts, model_version) WHERE row_key IS NULL AND origin = 'batch'"}
         DO UPDATE SET sha256 = EXCLUDED.sha256, prediction = EXCLUDED.prediction, entity = EXCLUDED.entity, ts = EXCLUDED.ts, scored_at = EXCLUDED.scored_at`,
        [p.pipeline, p.modelVersion, p.sha256, entities, times, values, keys],
      );
      written += res.rowCount;
    }
    return written;
  });
}

/** One prediction the model server answered (origin 'online'). */
export interface OnlinePrediction {
  pipeline: string;
  modelVersion: number;
  sha256: string;
  /** the row's time (epoch ms): the time it sent, or when it was served */
  ts: number;
  entity: string;
  rowKey: string | null;
  /** NaN is stored as NULL */
  prediction: number;
  /** classification: the class at the model's threshold */
  label: number | null;
  requestId: string;
  latencyMs: number;
  inputsHash: string;
  /** when it was served, epoch ms */
  servedAt: number;
}

/** mlops.predictions' columns an online prediction fills, in the order OnlinePredictionTuples writes them. */
const ONLINE_COLUMNS = [
  'pipeline',
  'model_version',
  'sha256',
  'entity',
  'ts',
  'prediction',
  'row_key',
  'scored_at',
  'origin',
  'request_id',
  'latency_ms',
  'inputs_hash',
  'predicted_label',
] as const;

/**
 * Online predictions as binary COPY tuples of mlops.predictions (ONLINE_COLUMNS). The database
 * takes each field as it is, where an INSERT from twelve text-array parameters parsed every element
 * (times and floats from text): on PGlite's thread the log's CPU fell from ~11-13 to ~7-8 ms per
 * 250 rows (measured over 300 flushes). Encoding costs the server's own thread ~1 µs a row, about
 * what building the arrays did.
 */
export class OnlinePredictionTuples extends BinaryTupleWriter {
  add(r: Omit<OnlinePrediction, 'inputsHash'>, inputsHash: string): void {
    this.row(ONLINE_COLUMNS.length);
    this.textField(r.pipeline);
    this.int4Field(r.modelVersion);
    this.textField(r.sha256);
    this.textField(r.entity);
    this.timestampField(r.ts);
    if (Number.isFinite(r.prediction)) this.float8Field(r.prediction);
    else this.nullField();
    if (r.rowKey === null) this.nullField();
    else this.textField(r.rowKey);
    this.timestampField(r.servedAt);
    this.textField('online');
    this.textField(r.requestId);
    this.float8Field(r.latencyMs);
    this.textField(inputsHash);
    if (r.label === null) this.nullField();
    else this.int2Field(r.label);
  }
}

/**
 * Appends the model server's predictions (origin 'online') by one binary COPY of `tuples`
 * (OnlinePredictionTuples' output): a log, never an upsert, so requests never collide with each
 * other or with the batch rows. Returns the number of rows written.
 */
export function copyOnlinePredictions(db: Queryable, tuples: Uint8Array): Promise<number> {
  return db.copyInBinary(
    'mlops.predictions',
    ONLINE_COLUMNS,
    (async function* () {
      yield tuples;
    })(),
  );
}

/** copyOnlinePredictions of rows at hand, in one COPY. */
export async function writeOnlinePredictions(db: Queryable, rows: readonly OnlinePrediction[]): Promise<number> {
  if (rows.length === 0) return 0;
  const tuples = new OnlinePredictionTuples();
  for (const r of rows) tuples.add(r, r.inputsHash);
  return copyOnlinePredictions(db, tuples.take()!);
}
