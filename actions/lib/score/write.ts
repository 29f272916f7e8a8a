import type { Db } from '../db/index.ts';

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

/**
 * Appends the model server's predictions (origin 'online') in one statement per `batch` rows:
 * a log, never an upsert, so requests never collide with each other or with the batch rows.
 */
export async function writeOnlinePredictions(db: Db, rows: readonly OnlinePrediction[], batch = PREDICTION_BATCH): Promise<number> {
  let written = 0;
  for (let start = 0; start < rows.length; start += batch) {
    const part = rows.slice(start, start + batch);
    const col = <T>(f: (r: OnlinePrediction) => T): T[] => part.map(f);
    const res = await db.query(
      `INSERT INTO mlops.predictions (pipeline, model_version, sha256, entity, ts, prediction, row_key, scored_at, origin, request_id, latency_ms, inputs_hash, predicted_label)
       SELECT u.pipeline, u.model_version, u.sha256, u.entity, u.ts, u.prediction, u.row_key, u.scored_at, 'online', u.request_id, u.latency_ms, u.inputs_hash, u.label
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::text[], $8::timestamptz[], $9::text[], $10::float8[], $11::text[], $12::smallint[])
         AS u(pipeline, model_version, sha256, entity, ts, prediction, row_key, scored_at, request_id, latency_ms, inputs_hash, label)`,
      [
        col((r) => r.pipeline),
        col((r) => r.modelVersion),
        col((r) => r.sha256),
        col((r) => r.entity),
        col((r) => new Date(r.ts).toISOString()),
        col((r) => (Number.isFinite(r.prediction) ? r.prediction : null)),
        col((r) => r.rowKey),
        col((r) => new Date(r.servedAt).toISOString()),
        col((r) => r.requestId),
        col((r) => r.latencyMs),
        col((r) => r.inputsHash),
        col((r) => r.label),
      ],
    );
    written += res.rowCount;
  }
  return written;
}
