import { availableParallelism } from 'node:os';
import type { GbdtParams } from '../params.ts';
import { createPrng } from '../prng.ts';
import { computeBins, transposeBins, type FeatureBins } from './binning.ts';
import { COUNT_BITS } from './hist-kernel.mjs';
import { HistogramBuilder } from './histogram.ts';
import type { GbdtModel, GbdtTree } from './model.ts';

export interface GbdtTrainInput {
  names: string[];
  /** row-major float32 [rows, names.length], NaN = missing; rows sorted by time */
  values: Float32Array;
  target: Float64Array;
  rows: number;
}

export interface GbdtTrainResult {
  model: GbdtModel;
  /** trees kept (after early stopping) */
  trees_used: number;
  /** validation RMSE per tree when early stopping is on */
  validation_rmse: number[] | null;
  /** rows that went through the histogram kernel (work measure for benchmarks) */
  histogram_rows: number;
}

/** The smallest row count that leaves at least one row in the early-stopping validation slice. */
export function minRowsForValidation(validationFraction: number): number {
  return Math.ceil(1 / validationFraction);
}

/**
 * Histogram gradient boosting for squared error, grown level by level (depth <= max_depth).
 *
 * - Squared error has hessian 1, so the "hessian" histogram is the row count (which also serves
 *   min_samples_leaf). Histogram bins hold quantised gradient sums and counts as exact integers
 *   (see hist-kernel.wat); leaf values use exact float64 gradient sums.
 * - Per level, only the smaller child of each split gets its histogram built from rows (in one
 *   batch for the whole level, features split over threads); its sibling is parent - child.
 * - Rows live in one Int32Array partition where every node owns a contiguous segment in
 *   ascending row order; gradients are permuted alongside so the kernel reads them in order.
 * - Bins are kept twice: row-major for the histogram kernel (one row's bins are contiguous) and
 *   column-major for partitioning and bin-space tree walks (one feature of many rows).
 * Deterministic for a seed and independent of `threads`.
 */
export async function trainGbdt(input: GbdtTrainInput, params: GbdtParams): Promise<GbdtTrainResult> {
  const { names, values, target, rows } = input;
  const nFeatures = names.length;
  const earlyStopping = params.early_stopping_rounds !== null;
  const nVal = earlyStopping ? Math.floor(rows * params.validation_fraction) : 0;
  if (earlyStopping && (nVal < 1 || rows - nVal < 1)) {
    throw new Error(
      `gbdt: ${rows} training rows are too few for the early-stopping validation slice ` +
        `(validation_fraction=${params.validation_fraction} needs at least ${minRowsForValidation(params.validation_fraction)} rows); ` +
        `add rows or set early_stopping_rounds: null`,
    );
  }
  const nTrain = rows - nVal;
  if (nTrain >= 2 ** COUNT_BITS) throw new Error(`gbdt: at most ${2 ** COUNT_BITS - 1} training rows are supported, got ${nTrain}`);
  const threads = Math.max(1, params.threads === 0 ? availableParallelism() : params.threads);

  // The validation slice is the newest rows; it is binned with the training edges.
  const featureBins = computeBins(values, nTrain, nFeatures, params.max_bins);
  // Histogram slots in use at once: at most two levels' worth of splittable nodes.
  const widestLevel = Math.min(2 ** (params.max_depth - 1), Math.ceil(nTrain / (2 * params.min_samples_leaf)));
  const builder = new HistogramBuilder(rows, nFeatures, nTrain, threads, Math.min(64, 2 * widestLevel + 1), 2 * widestLevel + 2);
  try {
    const { bins, rowIdx, gradQ, gradOrd } = builder;
    builder.binMatrix(values, featureBins.upperEdges);
    const columns = transposeBins(bins, rows, nFeatures, builder.columns);

    let sum = 0;
    for (let r = 0; r < nTrain; r++) sum += target[r];
    const baseScore = Math.fround(sum / nTrain);

    // Features that can never split (one value bin and no missing values) are skipped.
    const usable: number[] = [];
    for (let f = 0; f < nFeatures; f++) {
      if (featureBins.binCount[f] > 2 || hasMissing(columns, f * rows, nTrain)) usable.push(f);
    }

    const pred = new Float64Array(nTrain).fill(baseScore);
    const valPred = new Float64Array(nVal).fill(baseScore);
    const grad = new Float64Array(nTrain);
    const rng = createPrng(params.seed);
    const grower = new TreeGrower(params, featureBins, gradOrd, gradQ, builder);
    const trees: GbdtTree[] = [];
    const validationRmse: number[] = [];
    let bestMse = Infinity;
    let bestTrees = 0;
    for (let t = 0; t < params.trees; t++) {
      for (let r = 0; r < nTrain; r++) grad[r] = pred[r] - target[r];
      const sampled = sampleRows(rowIdx, gradOrd, grad, nTrain, params.subsample, rng);
      const features = sampleFeatures(usable, params.colsample, rng);
      const scale = quantiseGradients(gradOrd, gradQ, sampled);
      const grown = await grower.grow(sampled, features, scale, sampled === nTrain);
      trees.push(grown.tree);
      // In-sample rows take their leaf from the partition; the others walk the tree on bins.
      for (let s = 0; s < grown.leafNodes.length; s++) {
        const v = grown.tree.value[grown.leafNodes[s]];
        for (let i = grown.leafStart[s]; i < grown.leafEnd[s]; i++) pred[rowIdx[i]] += v;
      }
      if (sampled < nTrain) {
        const inSample = new Uint8Array(nTrain);
        for (let i = 0; i < sampled; i++) inSample[rowIdx[i]] = 1;
        for (let r = 0; r < nTrain; r++) if (inSample[r] === 0) pred[r] += grown.binned.leafValue(columns, rows, r);
      }
      if (earlyStopping) {
        let sse = 0;
        for (let v = 0; v < nVal; v++) {
          valPred[v] += grown.binned.leafValue(columns, rows, nTrain + v);
          const e = valPred[v] - target[nTrain + v];
          sse += e * e;
        }
        const mse = sse / nVal;
        validationRmse.push(Math.sqrt(mse));
        if (mse < bestMse) {
          bestMse = mse;
          bestTrees = t + 1;
        } else if (t + 1 - bestTrees >= (params.early_stopping_rounds as number)) {
          break;
        }
      }
    }
    const kept = earlyStopping ? trees.slice(0, bestTrees) : trees;
    return {
      model: { kind: 'gbdt', names: [...names], base_score: baseScore, trees: kept },
      trees_used: kept.length,
      validation_rmse: earlyStopping ? validationRmse : null,
      histogram_rows: builder.rowsBuilt,
    };
  } finally {
    await builder.close();
  }
}

function hasMissing(columns: Uint8Array, col: number, n: number): boolean {
  for (let r = 0; r < n; r++) if (columns[col + r] === 0) return true;
  return false;
}

/**
 * Quantised gradients for the histograms: round(g * scale) with |q| <= QUANT_MAX, so that a
 * node's sum (< 2^24 rows x 2^14) shifted left by 24 bits stays inside an i64 bin. Split search
 * uses these sums (exact, order-free integers); leaf values use the exact float64 sums.
 * Returns the scale (quantised units per gradient unit).
 */
function quantiseGradients(gradOrd: Float64Array, gradQ: Int32Array, n: number): number {
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(gradOrd[i]);
    if (a > maxAbs) maxAbs = a;
  }
  const scale = maxAbs > 0 ? QUANT_MAX / maxAbs : 1;
  for (let i = 0; i < n; i++) gradQ[i] = Math.round(gradOrd[i] * scale);
  return scale;
}

const QUANT_MAX = 2 ** 14 - 1;

/** Fills the root segment with the tree's rows (Bernoulli sample, ascending) and their gradients. */
function sampleRows(rowIdx: Int32Array, gradOrd: Float64Array, grad: Float64Array, n: number, subsample: number, rng: () => number): number {
  if (subsample >= 1) {
    for (let r = 0; r < n; r++) rowIdx[r] = r;
    gradOrd.set(grad);
    return n;
  }
  let k = 0;
  for (let r = 0; r < n; r++) {
    if (rng() < subsample) {
      rowIdx[k] = r;
      gradOrd[k++] = grad[r];
    }
  }
  return k;
}

/** Per-tree feature sample (partial Fisher-Yates), ascending so split ties resolve by index. */
function sampleFeatures(usable: number[], colsample: number, rng: () => number): Int32Array {
  if (colsample >= 1) return Int32Array.from(usable);
  const pool = usable.slice();
  const k = Math.max(1, Math.round(colsample * pool.length));
  for (let i = 0; i < k && i < pool.length; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return Int32Array.from(pool.slice(0, k)).sort();
}

interface GrownTree {
  tree: GbdtTree;
  /** leaves with their segment of the row partition */
  leafNodes: number[];
  leafStart: number[];
  leafEnd: number[];
  binned: BinnedTree;
}

/** The tree in bin space, for rows that are not in the partition (out-of-sample, validation). */
class BinnedTree {
  constructor(
    private readonly feature: Int32Array,
    private readonly splitBin: Int32Array,
    private readonly missingLeft: Uint8Array,
    private readonly left: Int32Array,
    private readonly right: Int32Array,
    private readonly value: Float32Array,
  ) {}

  /** Leaf value of row r, reading column-major bins [nFeatures, nAll]. */
  leafValue(columns: Uint8Array, nAll: number, r: number): number {
    let node = 0;
    while (this.feature[node] >= 0) {
      const b = columns[this.feature[node] * nAll + r];
      const goLeft = b === 0 ? this.missingLeft[node] === 1 : b <= this.splitBin[node];
      node = goLeft ? this.left[node] : this.right[node];
    }
    return this.value[node];
  }
}

/** Grows one tree level by level over the current partition. Reuses its scratch between trees. */
class TreeGrower {
  private readonly freeSlots: number[] = [];
  private slotCount = 0;

  constructor(
    private readonly params: GbdtParams,
    private readonly fb: FeatureBins,
    private readonly gradOrd: Float64Array,
    private readonly gradQ: Int32Array,
    private readonly builder: HistogramBuilder,
  ) {}

  private takeSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    this.builder.ensureSlots(this.slotCount + 1);
    return this.slotCount++;
  }

  async grow(nRows: number, features: Int32Array, scale: number, allRowsInOrder: boolean): Promise<GrownTree> {
    const { params } = this;
    const lambda = params.l2;
    const msl = params.min_samples_leaf;
    const maxDepth = params.max_depth;
    // Node table (grown as needed).
    const feature: number[] = [];
    const splitBin: number[] = [];
    const threshold: number[] = [];
    const missingLeft: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const value: number[] = [];
    const start: number[] = [];
    const end: number[] = [];
    const gsum: number[] = [];
    const qsum: number[] = [];
    const slot: number[] = [];
    const best: (Split | null)[] = [];
    const addNode = (s: number, e: number, g: number, q: number): number => {
      feature.push(-1);
      splitBin.push(0);
      threshold.push(0);
      missingLeft.push(0);
      left.push(-1);
      right.push(-1);
      value.push(Math.fround((-params.learning_rate * g) / (e - s + lambda)));
      start.push(s);
      end.push(e);
      gsum.push(g);
      qsum.push(q);
      slot.push(-1);
      best.push(null);
      return feature.length - 1;
    };
    const canSplit = (node: number, depth: number): boolean => depth < maxDepth && end[node] - start[node] >= 2 * msl;

    let g0 = 0;
    let q0 = 0;
    for (let i = 0; i < nRows; i++) {
      g0 += this.gradOrd[i];
      q0 += this.gradQ[i];
    }
    const root = addNode(0, nRows, g0, q0);
    let frontier: number[] = [];
    if (canSplit(root, 0) && features.length > 0) {
      this.builder.startTree(nRows, allRowsInOrder);
      slot[root] = this.takeSlot();
      await this.builder.build(features, Int32Array.of(slot[root], 0, nRows), 1);
      best[root] = this.findSplit(slot[root], features, qsum[root], nRows, scale);
      frontier.push(root);
    }

    for (let depth = 0; frontier.length > 0; depth++) {
      const next: number[] = [];
      const buildTriples: number[] = [];
      const subtractions: [target: number, small: number][] = [];
      const releaseAfter: number[] = [];
      const reordered: number[] = [];
      for (const node of frontier) {
        const split = best[node];
        if (split === null) {
          this.freeSlots.push(slot[node]);
          continue;
        }
        // Children at max depth are leaves: their gradients need no reordering, only sums.
        const mid = this.builder.partition(split.feature, split.bin, split.missingLeft, start[node], end[node], depth + 1 >= maxDepth);
        reordered.push(start[node], end[node]);
        feature[node] = split.feature;
        splitBin[node] = split.bin;
        threshold[node] = this.fb.upperEdges[split.feature][split.bin - 1];
        missingLeft[node] = split.missingLeft ? 1 : 0;
        value[node] = 0;
        const l = addNode(start[node], mid, this.builder.leftGrad, this.builder.leftQ);
        const r = addNode(mid, end[node], gsum[node] - this.builder.leftGrad, qsum[node] - this.builder.leftQ);
        left[node] = l;
        right[node] = r;
        const lSplit = canSplit(l, depth + 1);
        const rSplit = canSplit(r, depth + 1);
        if (!lSplit && !rSplit) {
          this.freeSlots.push(slot[node]);
          continue;
        }
        const [small, large] = mid - start[node] <= end[node] - mid ? [l, r] : [r, l];
        const largeSplits = small === l ? rSplit : lSplit;
        const smallSplits = small === l ? lSplit : rSplit;
        if (largeSplits) {
          // The large child inherits the parent's slot: parent - small, in place.
          slot[large] = slot[node];
          slot[small] = this.takeSlot();
          subtractions.push([large, small]);
          next.push(large);
          if (smallSplits) next.push(small);
          else releaseAfter.push(small);
        } else {
          slot[small] = slot[node];
          next.push(small);
        }
        buildTriples.push(slot[small], start[small], end[small]);
      }
      if (buildTriples.length > 0) {
        this.builder.reorder(reordered);
        await this.builder.build(features, Int32Array.from(buildTriples), buildTriples.length / 3);
      }
      for (const [target, small] of subtractions) this.builder.subtract(slot[target], slot[small]);
      for (const node of releaseAfter) this.freeSlots.push(slot[node]);
      for (const node of next) best[node] = this.findSplit(slot[node], features, qsum[node], end[node] - start[node], scale);
      frontier = next;
    }

    const leafNodes: number[] = [];
    const leafStart: number[] = [];
    const leafEnd: number[] = [];
    for (let i = 0; i < feature.length; i++) {
      if (feature[i] < 0) {
        leafNodes.push(i);
        leafStart.push(start[i]);
        leafEnd.push(end[i]);
      }
    }
    const tree: GbdtTree = {
      feature: Int32Array.from(feature),
      threshold: Float32Array.from(threshold),
      missing_left: Uint8Array.from(missingLeft),
      left: Int32Array.from(left.map((v) => Math.max(v, 0))),
      right: Int32Array.from(right.map((v) => Math.max(v, 0))),
      value: Float32Array.from(value),
    };
    const binned = new BinnedTree(tree.feature, Int32Array.from(splitBin), tree.missing_left, tree.left, tree.right, tree.value);
    return { tree, leafNodes, leafStart, leafEnd, binned };
  }

  /**
   * Best split of a node from its histogram: for each feature and bin boundary, missing values
   * tried on both sides (kept on the better one); plus "all values left, missing right".
   * Sums are quantised gradients (Q = node total); gains are converted to loss units with scale.
   */
  private findSplit(nodeSlot: number, features: Int32Array, Q: number, H: number, scale: number): Split | null {
    const { l2: lambda, min_samples_leaf: msl, min_gain: minGain } = this.params;
    const hist = this.builder.hist;
    const base = nodeSlot * this.builder.histStride;
    // G = Q / scale, so G^2 / (H + l2) = Q^2 / (H + l2) / scale^2.
    const toLoss = 0.5 / (scale * scale);
    const parentScore = (Q * Q) / (H + lambda);
    let bestGain = minGain;
    let bestFeature = -1;
    let bestBin = 0;
    let bestMissingLeft = false;
    for (let k = 0; k < features.length; k++) {
      const f = features[k];
      // bin j of feature f: int32 words (lo, hi) at off + 2j; lo's low 24 bits are the count
      const off = base + f * 512;
      const nValueBins = this.fb.binCount[f] - 1;
      const mLo = hist[off];
      const hm = mLo & 0xffffff;
      const qm = hist[off + 1] * 256 + (mLo >>> 24);
      let ql = 0;
      let hl = 0;
      for (let j = 1; j <= nValueBins; j++) {
        const lo = hist[off + 2 * j];
        const c = lo & 0xffffff;
        // An empty bin repeats the previous boundary's split.
        if (c === 0 && j < nValueBins) continue;
        hl += c;
        ql += hist[off + 2 * j + 1] * 256 + (lo >>> 24);
        if (j === nValueBins && hm === 0) break;
        // Missing values right (or, for the last bin, "all values left, missing right").
        let hL = hl;
        let qL = ql;
        for (let side = 0; side < 2; side++) {
          const hR = H - hL;
          if (hL >= msl && hR >= msl) {
            const qR = Q - qL;
            const gain = toLoss * ((qL * qL) / (hL + lambda) + (qR * qR) / (hR + lambda) - parentScore);
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = f;
              bestBin = j;
              // Without missing values in this node, unseen NaNs follow the larger child.
              bestMissingLeft = hm === 0 ? hl >= H - hl : side === 1;
            }
          }
          if (hm === 0 || j === nValueBins) break;
          // Missing values left.
          hL = hl + hm;
          qL = ql + qm;
        }
      }
    }
    return bestFeature < 0 ? null : { feature: bestFeature, bin: bestBin, missingLeft: bestMissingLeft, gain: bestGain };
  }
}

interface Split {
  feature: number;
  /** last value bin going left (1-based) */
  bin: number;
  missingLeft: boolean;
  gain: number;
}
