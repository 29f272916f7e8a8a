import { Worker } from 'node:worker_threads';
import {
  createContext,
  createSharedMemory,
  CTL_CLAIM,
  CTL_ERROR,
  CTL_GEN,
  CTL_WORDS,
  ERROR_BYTES,
  FEATURE_HIST_BYTES,
  PHASE_BIN,
  PHASE_GRAD,
  PHASE_QUANT,
  PHASE_UPDATE,
  PHASE_LEVEL,
  PAIR_MIN_FEATURES,
  PHASE_PARTITION,
  runPhase,
  taskLayout,
  type KernelConfig,
  type KernelContext,
  type SharedMemory,
  type TaskLayout,
} from './hist-kernel.mjs';

const PAGE = 65536;
/** Rows per block copied into the kernel memory for binning, and blocks per thread at a time. */
const BIN_BLOCK_ROWS = 2048;
const BIN_BLOCKS_PER_THREAD = 2;
/** Upper bound of the shared memory (wasm32 addresses); only what is used is committed. */
const MAX_PAGES = 65536;
/**
 * Threads of a fit, each building the histograms of one feature group (threads claim the groups of
 * a level as they go). A group is never narrower than PAIR_MIN_FEATURES: a row's gradient and
 * index are read once per group, so narrow groups multiply that per-row cost, and on 2 cores
 * measured slower than one thread (100,000 x 20: 2.7-3.5 s and 3.1-3.4 s of CPU on 2 threads of
 * 6 groups, 1.7-1.8 s on one; 323,198 x 11: 5.7 s vs 4.1 s, twice the CPU), while wide groups
 * gain (100,000 x 49: 1.5-2.0 s vs 1.8-2.0 s; 200,000 x 94: 3.0-3.4 s vs 4.0-4.5 s) and build
 * in row pairs. So: one group per thread, and at most nFeatures / PAIR_MIN_FEATURES threads.
 */
export function fitThreads(nFeatures: number, threads: number): number {
  return Math.max(1, Math.min(threads, Math.floor(nFeatures / PAIR_MIN_FEATURES)));
}

/** A phase that has not finished after this long means a worker is gone. */
const PHASE_TIMEOUT_MS = 10 * 60_000;

/** The split search settings the threads need (see runPhase in hist-kernel.mjs). */
export interface SplitSettings {
  l2: number;
  minSamplesLeaf: number;
  minGain: number;
  /** the loss of the gradients (default squared error) and the class weights of log loss */
  loss?: 'squared' | 'logistic';
  classWeights?: [number, number];
}

/** Best split of a node (merged over the feature groups). */
export interface Split {
  feature: number;
  /** last value bin going left (1-based) */
  bin: number;
  missingLeft: boolean;
  gain: number;
}

/** One tree level's work after its partition (see level()). */
export interface LevelWork {
  /** histograms built from rows: (slot, start, end) triples */
  builds: number[];
  /** slot dst -= slot src pairs, after the builds */
  subtractions: number[];
  /** nodes whose best split is wanted, after the subtractions: slots, row counts, quantised sums */
  splitSlots: number[];
  splitRows: number[];
  splitQ: number[];
  features: Int32Array;
  scale: number;
}

/**
 * Owns the GBDT training buffers in one shared WebAssembly.Memory and runs the wasm kernels
 * (hist-kernel.wat) on the main thread and `threads - 1` workers (see hist-kernel.mjs), which
 * claim the work of each phase from a shared counter: binning (row blocks), gradients,
 * quantisation and prediction updates (row chunks / leaves), partitioning the nodes of a level
 * (whole nodes), and per level and feature group: building node histograms from the group's
 * row-major bins (read through the partition's row ids), subtracting them, and searching splits. Each feature
 * is always handled whole by one thread, in integers, so results are identical for any thread
 * count. Phases are started and joined with Atomics.notify / Atomics.wait on the shared memory
 * (no message round trips). Histogram slots sit at the end of the memory and grow on demand
 * (memory.grow; the other buffers never move).
 */
export class HistogramBuilder {
  readonly rowIdx: Int32Array;
  /** quantised gradients, permuted with rowIdx (see hist-kernel.wat) */
  readonly gradQ: Int32Array;
  /** column-major bins [nFeatures, nAll] (partitioning and bin-space tree walks) */
  readonly columns: Uint8Array;
  /** exact gradients, permuted with rowIdx */
  readonly gradOrd: Float64Array;
  /** current predictions and the targets of the training rows (by row id) */
  readonly pred: Float64Array;
  readonly target: Float64Array;
  /** log loss: σ(pred[r]) of every row as the last gradients() computed it (empty for squared error) */
  readonly prob: Float64Array;
  /** rows passed through the histogram kernel (for benchmarks) */
  rowsBuilt = 0;
  /** histogram slots as int32 words: bin = (lo, hi) of (gradient sum << 24) + count */
  hist: Int32Array;
  private readonly memory: SharedMemory;
  private readonly ctx: KernelContext;
  private readonly config: KernelConfig;
  private readonly lay: TaskLayout;
  private readonly ctl: Int32Array;
  private task: Int32Array;
  private taskF: Float64Array;
  /** the next level() is a tree's root of all training rows in order (positions are row ids) */
  private rootInOrder = false;
  private gen = 0;
  /** threads the fit runs on (fitThreads of the count asked for) */
  readonly threads: number;
  private readonly edgeTable: Float32Array;
  private readonly scratch: Float32Array;
  private readonly binBlocks: number;
  private readonly workers: Worker[] = [];
  private readonly started: Promise<void>[] = [];
  private readonly maxSlots: number;

  constructor(nAll: number, nFeatures: number, nTrain: number, threads: number, initialSlots: number, maxSlots: number, split: SplitSettings) {
    this.maxSlots = maxSlots;
    this.threads = fitThreads(nFeatures, threads);
    const groups = this.threads;
    const w = maxSlots;
    const lay = taskLayout(w, nFeatures, groups);
    let top = 0;
    const take = (bytes: number): number => {
      const at = top;
      top += Math.ceil(bytes / 64) * 64;
      return at;
    };
    // Training rows' bins, row-major per feature group (group g: [nTrain, width g] at
    // nTrain * groupStart[g]), by row id.
    const orig = take(nTrain * nFeatures);
    const rowIdx = take(nTrain * 4);
    const columns = take(nAll * nFeatures);
    const grad = take(nTrain * 8);
    const tmpIdx = take(nTrain * 4);
    const tmpGrad = take(nTrain * 8);
    const tmpQ = take(nTrain * 4);
    const gradQ = take(nTrain * 4);
    const edgeTable = take(nFeatures * 256 * 4);
    const binCount = take(nFeatures * 4);
    const pred = take(nTrain * 8);
    const target = take(nTrain * 8);
    const probRows = split.loss === 'logistic' ? nTrain : 0;
    const prob = take(probRows * 8);
    this.binBlocks = this.threads === 1 ? 1 : BIN_BLOCKS_PER_THREAD * this.threads;
    const binValues = take(this.binBlocks * BIN_BLOCK_ROWS * nFeatures * 4);
    const binBins = take(this.binBlocks * BIN_BLOCK_ROWS * nFeatures);
    const ctl = take(CTL_WORDS * 4 + ERROR_BYTES);
    const task = take(lay.i32Words * 4);
    const taskF = take(lay.f64Words * 8);
    const hist = take(0);
    const histStrideBytes = nFeatures * FEATURE_HIST_BYTES;
    const pages = Math.ceil((hist + initialSlots * histStrideBytes) / PAGE);
    if (pages > MAX_PAGES) throw new Error(`gbdt: ${nAll} rows x ${nFeatures} features do not fit the 4 GiB training memory`);
    const maxPages = Math.max(pages, Math.min(MAX_PAGES, Math.ceil((hist + maxSlots * histStrideBytes) / PAGE)));
    this.memory = createSharedMemory(pages, maxPages);
    const groupStart = Array.from({ length: groups + 1 }, (_, g) => Math.floor((g * nFeatures) / groups));
    this.config = {
      nFeatures,
      nTrain,
      nAll,
      threads: this.threads,
      groups,
      groupStart,
      w,
      histStrideBytes,
      binBlockRows: BIN_BLOCK_ROWS,
      l2: split.l2,
      minSamplesLeaf: split.minSamplesLeaf,
      minGain: split.minGain,
      loss: split.loss ?? 'squared',
      classWeights: split.classWeights ?? [1, 1],
      at: {
        orig,
        rowIdx,
        columns,
        grad,
        gradQ,
        tmpIdx,
        tmpGrad,
        tmpQ,
        hist,
        task,
        taskF,
        ctl,
        binCount,
        pred,
        target,
        prob,
        binValues,
        binBins,
        edgeTable,
      },
    };
    this.lay = lay;
    this.ctx = createContext(this.memory, this.config);
    const buf = this.memory.buffer;
    this.rowIdx = new Int32Array(buf, rowIdx, nTrain);
    this.gradQ = new Int32Array(buf, gradQ, nTrain);
    this.columns = new Uint8Array(buf, columns, nAll * nFeatures);
    this.gradOrd = new Float64Array(buf, grad, nTrain);
    this.pred = new Float64Array(buf, pred, nTrain);
    this.target = new Float64Array(buf, target, nTrain);
    this.prob = new Float64Array(buf, prob, probRows);
    this.ctl = new Int32Array(buf, ctl, CTL_WORDS);
    this.task = new Int32Array(buf, task, lay.i32Words);
    this.taskF = new Float64Array(buf, taskF, lay.f64Words);
    this.edgeTable = new Float32Array(buf, edgeTable, nFeatures * 256);
    this.scratch = new Float32Array(buf, binValues, this.binBlocks * BIN_BLOCK_ROWS * nFeatures);
    this.hist = this.histView();
    for (let t = 1; t < this.threads; t++) {
      // Plain JavaScript: the worker needs none of the parent's loaders (tsx's --import costs each worker ~0.1 s of CPU).
      const worker = new Worker(new URL('./hist-worker.mjs', import.meta.url), { execArgv: [] });
      worker.unref();
      const started = new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`gbdt training worker exited (${code}) before starting`)));
      });
      // Seen by ready(); not an unhandled rejection when training stops before that (close()).
      started.catch(() => undefined);
      this.started.push(started);
      worker.postMessage({ memory: this.memory, config: this.config, thread: t });
      this.workers.push(worker);
    }
  }

  /** int32 words per node slot: nFeatures * 256 bins * 2 (an i64 bin read as lo, hi) */
  get histStride(): number {
    return this.config.histStrideBytes / 4;
  }

  /** Resolves once every worker is serving. */
  async ready(): Promise<void> {
    await Promise.all(this.started);
  }

  get slots(): number {
    return this.hist.length / this.histStride;
  }

  /** Makes sure slot indices below `slots` exist, keeping the contents. */
  ensureSlots(slots: number): void {
    if (slots <= this.slots) return;
    const { histStrideBytes } = this.config;
    const hist = this.config.at.hist;
    const want = hist + Math.max(slots, Math.min(this.slots * 2, this.maxSlots)) * histStrideBytes;
    const pages = Math.ceil(want / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) {
      try {
        this.memory.grow(pages);
      } catch {
        throw new Error(`gbdt: histogram memory for ${slots} tree nodes exceeds the 4 GiB training memory; lower max_depth or raise min_samples_leaf`);
      }
    }
    this.hist = this.histView();
    const buf = this.memory.buffer;
    this.task = new Int32Array(buf, this.config.at.task, this.lay.i32Words);
    this.taskF = new Float64Array(buf, this.config.at.taskF, this.lay.f64Words);
  }

  /**
   * Starts a tree on the root rows rowIdx[0..n): when they are all training rows in order, the
   * root's histograms read the bins by position (no row id to load).
   */
  startTree(allRowsInOrder: boolean): void {
    this.rootInOrder = allRowsInOrder;
  }

  /**
   * Stable partitions of the given nodes, whole nodes per thread. Each node k is (start, end,
   * feature, bin, missingLeft, rowsOnly) at nodes[6k..]: positions [start, end) split by
   * "feature's bin <= bin (missing: missingLeft)"; with rowsOnly (children are leaves) only the
   * row ids move. Results: partitionMid / partitionLeftGrad / partitionLeftQ(k).
   */
  partitionNodes(nodes: number[]): void {
    const { task, lay } = this;
    const n = nodes.length / 6;
    task[0] = PHASE_PARTITION;
    task[1] = n;
    for (let k = 0; k < n; k++) for (let i = 0; i < 6; i++) task[lay.part + 8 * k + i] = nodes[6 * k + i];
    // Threads claim the nodes largest first.
    const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => nodes[6 * b + 1] - nodes[6 * b] - (nodes[6 * a + 1] - nodes[6 * a]));
    order.forEach((k, c) => (task[lay.part + 8 * c + 6] = k));
    // A single node is the main thread's.
    this.run(n === 1);
  }

  /** First position of the right part of partition node k. */
  partitionMid(k: number): number {
    return this.taskF[this.lay.partRes + 3 * k + 2];
  }

  /** Exact gradient sum of the left part of partition node k. */
  partitionLeftGrad(k: number): number {
    return this.taskF[this.lay.partRes + 3 * k];
  }

  /** Quantised gradient sum of the left part of partition node k. */
  partitionLeftQ(k: number): number {
    return this.taskF[this.lay.partRes + 3 * k + 1];
  }

  /**
   * One level after its partition (or the root after startTree): the builds, subtractions and
   * split searches run, per feature group. Returns the best split of each splitSlots node (null: none).
   */
  level(work: LevelWork): (Split | null)[] {
    const { task, taskF, lay } = this;
    const { builds, subtractions, splitSlots, features } = work;
    for (let q = 0; q < builds.length; q += 3) this.rowsBuilt += builds[q + 2] - builds[q + 1];
    task[0] = PHASE_LEVEL;
    // The root of all rows in order reads them by position; every other node through rowIdx.
    task[4] = this.rootInOrder ? 0 : 1;
    this.rootInOrder = false;
    task[6] = builds.length / 3;
    task.set(builds, lay.build);
    task[7] = subtractions.length / 2;
    task.set(subtractions, lay.sub);
    const nSplit = splitSlots.length;
    task[8] = nSplit;
    for (let k = 0; k < nSplit; k++) {
      task[lay.split + 2 * k] = splitSlots[k];
      task[lay.split + 2 * k + 1] = work.splitRows[k];
      taskF[lay.splitQ + k] = work.splitQ[k];
    }
    task[9] = features.length;
    task.set(features, lay.feat);
    taskF[0] = work.scale;
    this.run(false);
    const out: (Split | null)[] = [];
    const minGain = this.config.minGain;
    for (let k = 0; k < nSplit; k++) {
      // Groups in feature order; a later group wins only with a strictly larger gain.
      let best: Split | null = null;
      let bestGain = minGain;
      for (let g = 0; g < this.config.groups; g++) {
        const o = lay.splitRes + 4 * (k * this.config.groups + g);
        const f = taskF[o + 1];
        if (f >= 0 && taskF[o] > bestGain) {
          bestGain = taskF[o];
          best = { feature: f, bin: taskF[o + 2], missingLeft: taskF[o + 3] === 1, gain: taskF[o] };
        }
      }
      out.push(best);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.workers.length > 0) {
      Atomics.store(this.ctl, CTL_GEN, -1);
      Atomics.notify(this.ctl, CTL_GEN);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  /**
   * Bins the row-major float32 matrix (see binning.ts for the bin semantics) into the column-major
   * bins and the training rows' per-group row-major bins, streaming row blocks through scratch
   * areas of the kernel memory.
   */
  binMatrix(values: Float32Array, upperEdges: Float32Array[], binCount: Int32Array): void {
    const { nFeatures: nf, nAll } = this.config;
    new Int32Array(this.memory.buffer, this.config.at.binCount, nf).set(binCount);
    this.edgeTable.fill(Infinity);
    upperEdges.forEach((edges, f) => this.edgeTable.set(edges, f * 256));
    const step = this.binBlocks * BIN_BLOCK_ROWS;
    for (let r0 = 0; r0 < nAll; r0 += step) {
      const r1 = Math.min(nAll, r0 + step);
      this.scratch.set(values.subarray(r0 * nf, r1 * nf));
      this.task[0] = PHASE_BIN;
      this.task[1] = Math.ceil((r1 - r0) / BIN_BLOCK_ROWS);
      this.task[2] = r0;
      this.task[3] = r1;
      this.run(this.task[1] === 1);
    }
  }

  /**
   * All n training rows in order as the root: rowIdx[r] = r and gradOrd[r] the row's gradient
   * (pred[r] - target[r] for squared error, w · (σ(pred[r]) - target[r]) for log loss, with
   * σ(pred[r]) kept in prob[r]).
   * Returns the largest |gradient|.
   */
  gradients(n: number): number {
    const parts = this.chunks(PHASE_GRAD, n);
    let maxAbs = 0;
    for (let c = 0; c < parts; c++) if (this.taskF[this.lay.partRes + c] > maxAbs) maxAbs = this.taskF[this.lay.partRes + c];
    return maxAbs;
  }

  /** gradQ[i] = round(gradOrd[i] * scale) for i < n; returns their sum. */
  quantise(n: number, scale: number): number {
    this.taskF[0] = scale;
    const parts = this.chunks(PHASE_QUANT, n);
    let sum = 0;
    for (let c = 0; c < parts; c++) sum += this.taskF[this.lay.partRes + c];
    return sum;
  }

  /** pred[rowIdx[i]] += values[k] for i in [starts[k], ends[k]) (the leaves of a tree). */
  updatePredictions(starts: number[], ends: number[], values: number[]): void {
    const { task, taskF, lay } = this;
    task[0] = PHASE_UPDATE;
    task[1] = starts.length;
    for (let k = 0; k < starts.length; k++) {
      task[lay.part + 2 * k] = starts[k];
      task[lay.part + 2 * k + 1] = ends[k];
      taskF[lay.partRes + k] = values[k];
    }
    this.run(starts.length === 1);
  }

  /** Runs a row-chunk phase over rows [0, n); returns the number of chunks. */
  private chunks(phase: number, n: number): number {
    const parts = this.workers.length === 0 ? 1 : Math.max(1, Math.min(4 * this.threads, 3 * this.config.w, Math.ceil(n / 4096)));
    this.task[0] = phase;
    this.task[1] = parts;
    this.task[2] = n;
    this.task[3] = Math.ceil(n / parts);
    this.run(parts === 1);
    return parts;
  }

  /** Starts a phase on every thread, runs the main thread's share and waits for the workers. */
  private run(mainOnly: boolean): void {
    const ctl = this.ctl;
    Atomics.store(ctl, CTL_CLAIM, 0);
    if (this.workers.length === 0 || mainOnly) {
      runPhase(this.ctx);
      return;
    }
    const gen = ++this.gen;
    Atomics.store(ctl, CTL_GEN, gen);
    Atomics.notify(ctl, CTL_GEN);
    runPhase(this.ctx);
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    for (let t = 1; t < this.threads; t++) {
      for (;;) {
        const v = Atomics.load(ctl, t);
        if (v === gen) break;
        if (Atomics.wait(ctl, t, v, 1000) === 'timed-out' && Date.now() > deadline) {
          throw new Error('gbdt: a training worker did not finish its phase');
        }
      }
    }
    const err = Atomics.load(ctl, CTL_ERROR);
    if (err !== 0) {
      const text = new TextDecoder().decode(new Uint8Array(this.memory.buffer, this.config.at.ctl + CTL_WORDS * 4, err - 1).slice());
      throw new Error(`gbdt training worker failed: ${text}`);
    }
  }

  private histView(): Int32Array {
    const buf = this.memory.buffer;
    const { histStrideBytes } = this.config;
    const hist = this.config.at.hist;
    const slots = Math.floor((buf.byteLength - hist) / histStrideBytes);
    return new Int32Array(buf, hist, (slots * histStrideBytes) / 4);
  }
}
