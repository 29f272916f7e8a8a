import { availableParallelism } from 'node:os';
import type { GbdtParams } from '../params.ts';
import { createPrng } from '../prng.ts';
import { computeBins, type FeatureBins } from './binning.ts';
import { COUNT_BITS, QUANT_MAX } from './hist-kernel.mjs';
import { fitThreads, HistogramBuilder, type Split } from './histogram.ts';
import type { GbdtModel, GbdtTree } from './model.ts';
import { classWeights } from '../logistic.ts';

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
  /** the validation slice's loss per tree when early stopping is on: RMSE (squared error) or weighted log loss (logistic) */
  validation_rmse: number[] | null;
  /** rows that went through the histogram kernel (work measure for benchmarks) */
  histogram_rows: number;
  /** threads the fit ran on (see autoThreads and fitThreads) */
  threads: number;
  /**
   * The kept model's sum on every input row (training rows, then the validation slice), from the
   * boosting's running predictions: what the training metrics need, without walking every tree again.
   */
  train_scores: Float64Array;
}

/**
 * Training rows per thread of `threads: 0` (auto): below this a level's phases are too short to
 * pay for starting and joining a second thread. Measured in the CLI retrain of the tank-level
 * pipeline at 30 days (34,282 x 49) on 2 cores: train 1.90-1.98 s on one thread against
 * 1.89-2.45 s on two, with 0.7 s less CPU; at 100,000 x 49 two threads gained a little (1.5-2.0 s
 * against 1.8-2.0 s), at 417,448 x 49 clearly (14.8-16.1 s against 17.8-18.1 s).
 */
const AUTO_ROWS_PER_THREAD = 50_000;

/** `threads: 0`: one per core, and one per AUTO_ROWS_PER_THREAD training rows at most (the feature rule follows in fitThreads). */
export function autoThreads(nTrain: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, Math.floor(nTrain / AUTO_ROWS_PER_THREAD)));
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
 * - Per level, only the smaller child of each split gets its histogram built from rows; its
 *   sibling is parent - child. A level is two parallel batches (see histogram.ts): the nodes'
 *   partitions (whole nodes per thread), then, per feature group (claimed by the threads), the
 *   histograms and the split search. Gradients, quantisation and prediction updates run on all
 *   threads too.
 * - Rows live in one Int32Array partition where every node owns a contiguous segment in
 *   ascending row order; gradients are permuted alongside, and the histograms read each row's bins
 *   through its id (forward, since the ids ascend).
 * - Bins are kept twice: row-major per feature group for the histogram kernel (one row's bins
 *   are contiguous) and column-major for partitioning and bin-space tree walks.
 * Deterministic for a seed and independent of `threads`.
 * - The fit yields to the event loop after every tree, so that timers (the run lease's heartbeat)
 *   and signal handlers (SIGTERM ends the run as failed) run during a long fit.
 *
 * With `loss: 'logistic'` (binary classification, targets 0/1) the model sums to log-odds and
 * boosts log loss as Friedman's gradient boosting for the binomial deviance (scikit-learn's
 * GradientBoostingClassifier): each tree is grown on the gradients σ(f) − y with the squared-error
 * split search above, and each leaf gets one Newton step, −lr · Σ g / (Σ h + l2) with
 * h = σ(f)(1 − σ(f)); gradients and hessians carry the class weights. The start value is the
 * log-odds of the (weighted) base rate.
 */
export async function trainGbdt(input: GbdtTrainInput, params: GbdtParams, loss: 'squared' | 'logistic' = 'squared'): Promise<GbdtTrainResult> {
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
  // The group rule (fitThreads) counts the features a tree samples: with colsample < 1 each group
  // builds only its share of them, and narrow groups cost more than one thread.
  const threads = fitThreads(Math.max(1, Math.round(params.colsample * nFeatures)), params.threads === 0 ? autoThreads(nTrain) : params.threads);
  const logistic = loss === 'logistic';
  const weights: [number, number] = logistic ? classWeights(target, nTrain, params.class_weight) : [1, 1];

  // Histogram slots in use at once: at most two levels' worth of splittable nodes.
  const widestLevel = Math.min(2 ** (params.max_depth - 1), Math.ceil(nTrain / (2 * params.min_samples_leaf)));
  // The workers start while the bin edges are computed.
  const builder = new HistogramBuilder(rows, nFeatures, nTrain, threads, Math.min(64, 2 * widestLevel + 1), 2 * widestLevel + 2, {
    l2: params.l2,
    minSamplesLeaf: params.min_samples_leaf,
    minGain: params.min_gain,
    loss,
    classWeights: weights,
  });
  try {
    const { rowIdx, gradOrd, columns } = builder;
    // The validation slice is the newest rows; it is binned with the training edges.
    const featureBins = computeBins(values, nTrain, nFeatures, params.max_bins);
    await builder.ready();
    builder.binMatrix(values, featureBins.upperEdges, featureBins.binCount);

    let sum = 0;
    let weightSum = 0;
    for (let r = 0; r < nTrain; r++) {
      const w = logistic ? weights[target[r]] : 1;
      sum += w * target[r];
      weightSum += w;
    }
    const baseScore = Math.fround(logistic ? Math.log(sum / (weightSum - sum)) : sum / nTrain);

    // Features that can never split (one value bin and no missing values) are skipped.
    const usable: number[] = [];
    for (let f = 0; f < nFeatures; f++) {
      if (featureBins.binCount[f] > 2 || hasMissing(columns, f * rows, nTrain)) usable.push(f);
    }

    const { pred } = builder;
    pred.fill(baseScore);
    builder.target.set(target.subarray(0, nTrain));
    const valPred = new Float64Array(nVal).fill(baseScore);
    const rng = createPrng(params.seed);
    const grower = new TreeGrower(params, featureBins, builder);
    // Log loss: one Newton step per leaf over its rows (by row id: gradients are not kept in leaf
    // order), from the σ(prediction) of each row that the tree's gradients computed (prob).
    const { prob } = builder;
    const newtonLeaf = logistic
      ? (start: number, end: number): number => {
          let g = 0;
          let h = 0;
          for (let i = start; i < end; i++) {
            const r = rowIdx[i];
            const y = target[r];
            const w = weights[y];
            const p = prob[r];
            g += w * (p - y);
            h += w * p * (1 - p);
          }
          return Math.fround((-params.learning_rate * g) / (h + params.l2));
        }
      : undefined;
    const trees: GbdtTree[] = [];
    // Each tree in bin space: early stopping takes the trees after the best back out of the running predictions.
    const binnedTrees: BinnedTree[] = [];
    const validationRmse: number[] = [];
    let bestMse = Infinity;
    let bestTrees = 0;
    for (let t = 0; t < params.trees; t++) {
      let sampled = nTrain;
      let maxAbs: number;
      if (params.subsample >= 1) {
        maxAbs = builder.gradients(nTrain);
      } else {
        sampled = sampleRows(rowIdx, gradOrd, pred, target, nTrain, params.subsample, rng, logistic ? weights : null, prob);
        maxAbs = 0;
        for (let i = 0; i < sampled; i++) {
          const a = Math.abs(gradOrd[i]);
          if (a > maxAbs) maxAbs = a;
        }
      }
      const features = sampleFeatures(usable, params.colsample, rng);
      // Quantised gradients for the histograms: round(g * scale) with |q| <= QUANT_MAX, so that a
      // node's sum (< 2^24 rows x 2^14) shifted left by 24 bits stays inside an i64 bin. Split
      // search uses these sums (exact, order-free integers); leaf values use the exact float64 sums
      // (gradSum in row order).
      const scale = maxAbs > 0 ? QUANT_MAX / maxAbs : 1;
      const quantSum = builder.quantise(sampled, scale);
      let gradSum = 0;
      for (let i = 0; i < sampled; i++) gradSum += gradOrd[i];
      const grown = grower.grow(sampled, features, scale, gradSum, quantSum, sampled === nTrain, newtonLeaf);
      trees.push(grown.tree);
      binnedTrees.push(grown.binned);
      // In-sample rows take their leaf from the partition; the others walk the tree on bins.
      builder.updatePredictions(
        grown.leafStart,
        grown.leafEnd,
        grown.leafNodes.map((node) => grown.tree.value[node]),
      );
      if (sampled < nTrain) {
        const inSample = new Uint8Array(nTrain);
        for (let i = 0; i < sampled; i++) inSample[rowIdx[i]] = 1;
        for (let r = 0; r < nTrain; r++) if (inSample[r] === 0) pred[r] += grown.binned.leafValue(columns, rows, r);
      }
      if (earlyStopping) {
        let sse = 0;
        for (let v = 0; v < nVal; v++) {
          valPred[v] += grown.binned.leafValue(columns, rows, nTrain + v);
          const y = target[nTrain + v];
          if (logistic) {
            // weighted log loss of log-odds f: log(1 + e^f) − y f
            const f = valPred[v];
            sse += weights[y] * ((f > 0 ? f + Math.log1p(Math.exp(-f)) : Math.log1p(Math.exp(f))) - y * f);
          } else {
            const e = valPred[v] - y;
            sse += e * e;
          }
        }
        const mse = sse / nVal;
        validationRmse.push(logistic ? mse : Math.sqrt(mse));
        if (mse < bestMse) {
          bestMse = mse;
          bestTrees = t + 1;
        } else if (t + 1 - bestTrees >= (params.early_stopping_rounds as number)) {
          break;
        }
      }
      await yieldToEventLoop();
    }
    const kept = earlyStopping ? trees.slice(0, bestTrees) : trees;
    const trainScores = new Float64Array(rows);
    trainScores.set(pred.subarray(0, nTrain));
    trainScores.set(valPred, nTrain);
    for (const dropped of binnedTrees.slice(kept.length)) {
      for (let r = 0; r < rows; r++) trainScores[r] -= dropped.leafValue(columns, rows, r);
    }
    return {
      model: { kind: 'gbdt', ...(logistic ? { objective: 'logistic' as const } : {}), names: [...names], base_score: baseScore, trees: kept },
      trees_used: kept.length,
      validation_rmse: earlyStopping ? validationRmse : null,
      histogram_rows: builder.rowsBuilt,
      threads: builder.threads,
      train_scores: trainScores,
    };
  } finally {
    await builder.close();
  }
}

/** One macrotask: pending timers, I/O callbacks and signal handlers run before the next tree. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function hasMissing(columns: Uint8Array, col: number, n: number): boolean {
  for (let r = 0; r < n; r++) if (columns[col + r] === 0) return true;
  return false;
}

/**
 * Fills the root segment with the tree's rows (Bernoulli sample, ascending) and their gradients
 * (squared error: prediction - target; log loss with `weights`: w · (σ(prediction) − target),
 * keeping σ(prediction) in prob[r]). Without subsampling, HistogramBuilder.gradients does this on
 * all threads.
 */
function sampleRows(
  rowIdx: Int32Array,
  gradOrd: Float64Array,
  pred: Float64Array,
  target: Float64Array,
  n: number,
  subsample: number,
  rng: () => number,
  weights: [number, number] | null,
  prob: Float64Array,
): number {
  let k = 0;
  for (let r = 0; r < n; r++) {
    if (rng() < subsample) {
      rowIdx[k] = r;
      const y = target[r];
      if (weights) {
        const p = 1 / (1 + Math.exp(-pred[r]));
        prob[r] = p;
        gradOrd[k++] = weights[y] * (p - y);
      } else gradOrd[k++] = pred[r] - y;
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
  private readonly feature: Int32Array;
  private readonly splitBin: Int32Array;
  private readonly missingLeft: Uint8Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Float32Array;

  constructor(feature: Int32Array, splitBin: Int32Array, missingLeft: Uint8Array, left: Int32Array, right: Int32Array, value: Float32Array) {
    this.feature = feature;
    this.splitBin = splitBin;
    this.missingLeft = missingLeft;
    this.left = left;
    this.right = right;
    this.value = value;
  }

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
  private readonly params: GbdtParams;
  private readonly fb: FeatureBins;
  private readonly builder: HistogramBuilder;

  constructor(params: GbdtParams, fb: FeatureBins, builder: HistogramBuilder) {
    this.params = params;
    this.fb = fb;
    this.builder = builder;
  }

  private takeSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    this.builder.ensureSlots(this.slotCount + 1);
    return this.slotCount++;
  }

  /** `leafValue(start, end)`: a leaf's value from its partition segment (default: the squared-error step). */
  grow(
    nRows: number,
    features: Int32Array,
    scale: number,
    g0: number,
    q0: number,
    allRowsInOrder: boolean,
    leafValue?: (start: number, end: number) => number,
  ): GrownTree {
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

    const root = addNode(0, nRows, g0, q0);
    let frontier: number[] = [];
    if (canSplit(root, 0) && features.length > 0) {
      this.builder.startTree(allRowsInOrder);
      slot[root] = this.takeSlot();
      [best[root]] = this.builder.level({
        builds: [slot[root], 0, nRows],
        subtractions: [],
        splitSlots: [slot[root]],
        splitRows: [nRows],
        splitQ: [qsum[root]],
        features,
        scale,
      });
      frontier.push(root);
    }

    for (let depth = 0; frontier.length > 0; depth++) {
      // Children at max depth are leaves: their gradients need no reordering, only sums.
      const rowsOnly = depth + 1 >= maxDepth ? 1 : 0;
      const parts: number[] = [];
      for (const node of frontier) {
        const split = best[node];
        if (split !== null) parts.push(start[node], end[node], split.feature, split.bin, split.missingLeft ? 1 : 0, rowsOnly);
      }
      if (parts.length > 0) this.builder.partitionNodes(parts);
      const next: number[] = [];
      const builds: number[] = [];
      const subtractions: number[] = [];
      const releaseAfter: number[] = [];
      let k = 0;
      for (const node of frontier) {
        const split = best[node];
        if (split === null) {
          this.freeSlots.push(slot[node]);
          continue;
        }
        const mid = this.builder.partitionMid(k);
        const leftGrad = this.builder.partitionLeftGrad(k);
        const leftQ = this.builder.partitionLeftQ(k);
        k++;
        feature[node] = split.feature;
        splitBin[node] = split.bin;
        threshold[node] = this.fb.upperEdges[split.feature][split.bin - 1];
        missingLeft[node] = split.missingLeft ? 1 : 0;
        value[node] = 0;
        const l = addNode(start[node], mid, leftGrad, leftQ);
        const r = addNode(mid, end[node], gsum[node] - leftGrad, qsum[node] - leftQ);
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
          subtractions.push(slot[large], slot[small]);
          next.push(large);
          if (smallSplits) next.push(small);
          else releaseAfter.push(small);
        } else {
          slot[small] = slot[node];
          next.push(small);
        }
        builds.push(slot[small], start[small], end[small]);
      }
      if (builds.length > 0) {
        const found = this.builder.level({
          builds,
          subtractions,
          splitSlots: next.map((node) => slot[node]),
          splitRows: next.map((node) => end[node] - start[node]),
          splitQ: next.map((node) => qsum[node]),
          features,
          scale,
        });
        next.forEach((node, i) => (best[node] = found[i]));
      }
      for (const node of releaseAfter) this.freeSlots.push(slot[node]);
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
        if (leafValue) value[i] = leafValue(start[i], end[i]);
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
}
