/**
 * The fitted GBDT as plain data, and its native prediction.
 *
 * Split rule (matches ONNX TreeEnsembleRegressor `BRANCH_LEQ` exactly): a row goes left when
 * `x <= threshold`, both float32; a NaN goes left when `missing_left[node] === 1`
 * (`nodes_missing_value_tracks_true`). Leaf values already include the learning rate.
 * Prediction sums the trees' leaf values in float32, tree by tree, then adds `base_score` —
 * the order onnxruntime uses — so native and ONNX scores agree to the last bit on most rows.
 */
export interface GbdtTree {
  /** feature index of each node; -1 marks a leaf */
  feature: Int32Array;
  /** float32 threshold of each split node (0 for leaves) */
  threshold: Float32Array;
  /** 1 when missing values (NaN) go left at this node */
  missing_left: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  /** leaf value (learning rate applied); 0 for split nodes */
  value: Float32Array;
}

export interface GbdtModel {
  kind: 'gbdt';
  /** absent: squared error (regression, the sum is the prediction); logistic: the sum is log-odds */
  objective?: 'logistic';
  names: string[];
  /** float32 start value added to the sum of the trees */
  base_score: number;
  trees: GbdtTree[];
}

/** Leaf value of one row (row-major `X`, row offset `base`). */
export function treeLeafValue(tree: GbdtTree, X: Float32Array, base: number): number {
  const { feature, threshold, missing_left, left, right } = tree;
  let node = 0;
  while (feature[node] >= 0) {
    const x = X[base + feature[node]];
    const goLeft = x === x ? x <= threshold[node] : missing_left[node] === 1;
    node = goLeft ? left[node] : right[node];
  }
  return tree.value[node];
}

/**
 * Native predictions on raw float32 features (row-major, `rows` x `model.names.length`): the sum
 * of the trees, which for a classifier is the log-odds (see predictNative for probabilities).
 */
export function predictGbdt(model: GbdtModel, X: Float32Array, rows: number): Float64Array {
  const n = model.names.length;
  if (X.length !== rows * n) throw new Error(`predictGbdt: X has ${X.length} values, expected ${rows} rows x ${n} features`);
  const out = new Float64Array(rows);
  const f32 = Math.fround;
  const base = f32(model.base_score);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (const tree of model.trees) s = f32(s + treeLeafValue(tree, X, r * n));
    out[r] = f32(s + base);
  }
  return out;
}
