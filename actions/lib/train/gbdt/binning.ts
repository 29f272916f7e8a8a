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
  const column = new Float32Array(sampleRows);
  const keys = new Uint32Array(column.buffer);
  const sorter = new KeySorter(sampleRows);
  const upperEdges: Float32Array[] = [];
  const binCount = new Int32Array(nFeatures);
  for (let f = 0; f < nFeatures; f++) {
    let m = 0;
    const src = sample.subarray(f * sampleRows, (f + 1) * sampleRows);
    for (let i = 0; i < sampleRows; i++) {
      const v = src[i];
      if (v === v) column[m++] = v;
    }
    sorter.sortFloats(keys, m);
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
  // Distinct values first (collected up to one past maxBins): when there are few, every value gets its own bin.
  let edges = [sorted[0]];
  for (let i = 1; i < m && edges.length <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) edges.push(sorted[i]);
  if (edges.length > maxBins) {
    edges = [];
    for (let j = 1; j <= maxBins; j++) {
      const v = sorted[Math.min(m - 1, Math.ceil((j * m) / maxBins) - 1)];
      if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
    }
  }
  edges[edges.length - 1] = Infinity;
  return Float32Array.from(edges);
}

/**
 * Sorts float32 values, viewed as their uint32 bits, ascending by value: LSD radix sort (3 passes of
 * 11 bits) on order-preserving keys, one column per feature of a fit: with it, computeBins on the
 * 30-day tank-level matrix (34,284 x 49) took 29-97 ms against 166-205 ms with
 * Int32Array.prototype.sort. NaN must be filtered out first; -0 sorts before +0, as in the
 * comparison sort it replaced.
 */
class KeySorter {
  private readonly tmp: Uint32Array;
  private readonly counts = new Uint32Array(3 * 2048);

  constructor(capacity: number) {
    this.tmp = new Uint32Array(capacity);
  }

  sortFloats(bits: Uint32Array, n: number): void {
    const { tmp, counts } = this;
    // key: a negative float's bits all flipped, a positive one's sign bit set, so that unsigned order is value order
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      bits[i] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    }
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const k = bits[i];
      counts[k & 0x7ff]++;
      counts[2048 + ((k >>> 11) & 0x7ff)]++;
      counts[4096 + (k >>> 22)]++;
    }
    for (let d = 0; d < 3; d++) {
      let sum = 0;
      for (let j = d * 2048, e = j + 2048; j < e; j++) {
        const c = counts[j];
        counts[j] = sum;
        sum += c;
      }
    }
    for (let i = 0; i < n; i++) {
      const k = bits[i];
      tmp[counts[k & 0x7ff]++] = k;
    }
    for (let i = 0; i < n; i++) {
      const k = tmp[i];
      bits[counts[2048 + ((k >>> 11) & 0x7ff)]++] = k;
    }
    for (let i = 0; i < n; i++) {
      const k = bits[i];
      tmp[counts[4096 + (k >>> 22)]++] = k;
    }
    for (let i = 0; i < n; i++) {
      const k = tmp[i];
      bits[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
    }
  }
}
