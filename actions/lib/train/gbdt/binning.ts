/**
 * Quantile binning of the feature matrix for histogram boosting (the binning itself runs in the
 * wasm kernel, HistogramBuilder.binMatrix).
 *
 * Bin 0 of every feature is reserved for missing values (NaN); value bins are 1..k. Bin j holds
 * the values v with upperEdges[j-2] < v <= upperEdges[j-1]; the last edge is +Infinity. Edges are
 * float32 values taken from the data, so a split "bins 1..j go left" is exactly the float32
 * comparison `x <= upperEdges[j-1]` (ONNX BRANCH_LEQ) on the raw feature value.
 */

/** Rows used to estimate the quantiles; more adds time but barely changes the edges. */
const QUANTILE_SAMPLE_ROWS = 50_000;

export interface FeatureBins {
  /** per feature: the upper edge of each value bin (float32 values), last = +Infinity */
  upperEdges: Float32Array[];
  /** per feature: number of bins including the missing bin (k + 1) */
  binCount: Int32Array;
}

/** Quantile edges per feature from an evenly spaced sample of the first `rows` rows. */
export function computeBins(values: Float32Array, rows: number, nFeatures: number, maxBins: number): FeatureBins {
  const step = Math.max(1, Math.ceil(rows / QUANTILE_SAMPLE_ROWS));
  const sampleRows = Math.ceil(rows / step);
  // Transpose the sample in one sequential pass; per-feature strided reads would touch every
  // cache line of the matrix once per feature.
  const sample = new Float32Array(sampleRows * nFeatures);
  for (let s = 0, r = 0; r < rows; r += step, s++) {
    for (let f = 0; f < nFeatures; f++) sample[f * sampleRows + s] = values[r * nFeatures + f];
  }
  // Floats are sorted as order-preserving int32 keys: Int32Array sorts ~2x faster than Float32Array.
  const column = new Float32Array(sampleRows);
  const keys = new Int32Array(column.buffer);
  const upperEdges: Float32Array[] = [];
  const binCount = new Int32Array(nFeatures);
  for (let f = 0; f < nFeatures; f++) {
    let m = 0;
    const src = sample.subarray(f * sampleRows, (f + 1) * sampleRows);
    for (let i = 0; i < sampleRows; i++) {
      const v = src[i];
      if (v === v) column[m++] = v;
    }
    for (let i = 0; i < m; i++) keys[i] ^= (keys[i] >> 31) & 0x7fffffff;
    keys.subarray(0, m).sort();
    for (let i = 0; i < m; i++) keys[i] ^= (keys[i] >> 31) & 0x7fffffff;
    const sorted = column.subarray(0, m);
    const edges = quantileUpperEdges(sorted, maxBins);
    upperEdges.push(edges);
    binCount[f] = edges.length + 1;
  }
  return { upperEdges, binCount };
}

function quantileUpperEdges(sorted: Float32Array, maxBins: number): Float32Array {
  const m = sorted.length;
  if (m === 0) return Float32Array.of(Infinity);
  // Distinct values first: when there are few, every value gets its own bin.
  const distinct: number[] = [];
  for (let i = 0; i < m; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
  let edges: number[];
  if (distinct.length <= maxBins) {
    edges = distinct;
  } else {
    edges = [];
    for (let j = 1; j <= maxBins; j++) {
      const v = sorted[Math.min(m - 1, Math.ceil((j * m) / maxBins) - 1)];
      if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
    }
  }
  edges[edges.length - 1] = Infinity;
  return Float32Array.from(edges);
}
