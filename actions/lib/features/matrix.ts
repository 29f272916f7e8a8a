/**
 * The hand-off between feature building and training/scoring: a dense float32 matrix in
 * row-major order ([rows, names.length]) — exactly the layout of the ONNX input `features` —
 * plus the target and the time and entity of every row. NaN marks a missing feature value.
 */
export interface FeatureMatrix {
  rows: number;
  names: string[];
  /** row-major, length rows * names.length */
  values: Float32Array;
  /** target per row (already shifted by the horizon); never NaN: rows without a target are dropped */
  target: Float64Array;
  /** epoch ms of each row (the time the features describe, not the target's time) */
  times: Float64Array;
  /** index into `entityIds` per row */
  entities: Int32Array;
  entityIds: string[];
  /** the row key of each row (frame.keys), when the source has a key column */
  keys?: string[];
  /**
   * When each row's target became known, epoch ms: the label time of a classification row. Absent
   * for regression, where it is the row's time plus the horizon.
   */
  knownAt?: Float64Array;
}

/** A row slice [start, end) of a matrix sharing no memory with the original. */
export function sliceRows(m: FeatureMatrix, start: number, end: number): FeatureMatrix {
  const n = m.names.length;
  return {
    rows: end - start,
    names: m.names,
    values: m.values.slice(start * n, end * n),
    target: m.target.slice(start, end),
    times: m.times.slice(start, end),
    entities: m.entities.slice(start, end),
    entityIds: m.entityIds,
    ...(m.keys ? { keys: m.keys.slice(start, end) } : {}),
    ...(m.knownAt ? { knownAt: m.knownAt.slice(start, end) } : {}),
  };
}

/** Rows picked by index, in the given order. */
export function takeRows(m: FeatureMatrix, index: ArrayLike<number>): FeatureMatrix {
  const n = m.names.length;
  const k = index.length;
  const values = new Float32Array(k * n);
  const target = new Float64Array(k);
  const times = new Float64Array(k);
  const entities = new Int32Array(k);
  const keys = m.keys ? new Array<string>(k) : undefined;
  const knownAt = m.knownAt ? new Float64Array(k) : undefined;
  for (let i = 0; i < k; i++) {
    const r = index[i];
    values.set(m.values.subarray(r * n, r * n + n), i * n);
    target[i] = m.target[r];
    times[i] = m.times[r];
    entities[i] = m.entities[r];
    if (keys) keys[i] = m.keys![r];
    if (knownAt) knownAt[i] = m.knownAt![r];
  }
  return { rows: k, names: m.names, values, target, times, entities, entityIds: m.entityIds, ...(keys ? { keys } : {}), ...(knownAt ? { knownAt } : {}) };
}
