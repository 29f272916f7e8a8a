import { buildFeatures } from '../features/build.ts';
import { takeRows } from '../features/matrix.ts';
import { featureNames, isCalendarName, type FeatureSpec } from '../features/spec.ts';
import type { ZScoreStats } from '../features/zscore.ts';
import type { Frame } from '../source/frame.ts';

/**
 * Serving features: the champion's feature matrix of every row of a frame, built by the same
 * `buildFeatures` (and z-score stats) it was trained with.
 *
 * Training keeps only rows whose target (t + horizon) is known; at scoring time the target lies in
 * the future, so the spec's target is swapped for a constant column at horizon 0 that every row
 * has. Features never read the target (lags and rolling windows look back, calendar is the row's
 * own time), so each row's features are exactly those the model would have had in training.
 */

/** The stand-in target column: never a source column or a feature name. */
export const SERVING_TARGET = '__mlops_serving_target__';

export interface ServingMatrix {
  rows: number;
  names: string[];
  /** row-major [rows, names.length], the ONNX input */
  values: Float32Array;
  /** epoch ms of each row (the prediction time) */
  times: Float64Array;
  entities: Int32Array;
  entityIds: string[];
  /** the row key of each row (source.key_column), when the source has one */
  keys?: string[];
}

export { historyMinutes } from '../features/spec.ts';

/**
 * Features of the rows of `frame` with time in [from, to) that have at least one model input
 * (a non-calendar feature that is not NaN); `names` must equal the champion's recorded names.
 */
export function servingMatrix(
  frame: Frame,
  spec: FeatureSpec,
  stats: ZScoreStats | null,
  from: number,
  to: number,
  expectedNames: readonly string[],
): ServingMatrix {
  const names = featureNames(spec);
  if (names.length !== expectedNames.length || names.some((n, i) => n !== expectedNames[i]))
    throw new Error(`the features rebuilt from the champion's spec (${names.join(', ')}) differ from its recorded names (${expectedNames.join(', ')})`);
  const empty: ServingMatrix = {
    rows: 0,
    names,
    values: new Float32Array(0),
    times: new Float64Array(0),
    entities: new Int32Array(0),
    entityIds: frame.entityIds,
  };
  if (frame.rows === 0) return empty;
  for (const c of spec.columns) {
    if (!frame.names.includes(c))
      throw new Error(`the champion's features use column "${c}", which the pipeline no longer extracts; add it back to source.columns (or source.derive)`);
  }
  if (spec.zscore && !stats) throw new Error("the champion's spec standardises features (zscore) but its entry records no zscore_stats");
  const serving: Frame = { ...frame, names: [...frame.names, SERVING_TARGET], columns: [...frame.columns, new Float64Array(frame.rows)] };
  const built = buildFeatures(serving, { ...spec, target: { column: SERVING_TARGET, horizon_minutes: 0, valid_range: null } }, stats ?? undefined).matrix;

  const nf = names.length;
  const inputs = names
    .map((n, j) => [n, j] as const)
    .filter(([n]) => !isCalendarName(n))
    .map(([, j]) => j);
  const keep = new Int32Array(built.rows);
  let k = 0;
  for (let i = 0; i < built.rows; i++) {
    const t = built.times[i];
    if (t < from || t >= to) continue;
    let has = inputs.length === 0;
    for (let q = 0; q < inputs.length && !has; q++) {
      const v = built.values[i * nf + inputs[q]];
      has = v === v;
    }
    if (has) keep[k++] = i;
  }
  if (k === 0) return empty;
  const m = takeRows(built, keep.subarray(0, k));
  return { rows: m.rows, names, values: m.values, times: m.times, entities: m.entities, entityIds: m.entityIds, ...(m.keys ? { keys: m.keys } : {}) };
}
