/** See hist-kernel.mjs / hist-kernel.wat. */
export interface HistKernel {
  /** `rowIds`: i32 row id per position (0: the position is the row id) */
  histContiguous(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, f0: number, f1: number, rowIds: number): void;
  histListed(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, featureList: number, from: number, to: number, rowIds: number): void;
  /** the same two rows at a time (for wide feature groups: see hist-kernel.wat) */
  histContiguousPairs(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, f0: number, f1: number, rowIds: number): void;
  histListedPairs(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, featureList: number, from: number, to: number, rowIds: number): void;
  histSubtract(dst: number, src: number, nBins: number): void;
  binValues(values: number, n: number, nFeatures: number, edgeTable: number, out: number): void;
  partition(
    col: number, bin: number, missLeft: number, start: number, end: number, rowsOnly: number,
    rowIdx: number, grad: number, gradQ: number,
    tmpIdx: number, tmpGrad: number, tmpQ: number, out: number,
  ): number;
  copyCols(src: number, srcStride: number, dst: number, dstStride: number, width: number, n: number): void;
  transposeRows(src: number, nFeatures: number, n: number, dst: number, dstStride: number): void;
  gramUpper(z: number, stride: number, kp: number, g: number): void;
  findSplit(
    hist: number, binCount: number, local: number, n: number, f0: number,
    Q: number, H: number, scale: number, l2: number, minSamplesLeaf: number, minGain: number, out: number,
  ): void;
}

/** The parts of a shared WebAssembly.Memory used here (the project's lib has no DOM/wasm types). */
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(deltaPages: number): number;
}

/** Byte addresses of the training buffers inside the shared memory. */
export interface KernelAddresses {
  /** the training rows' bins, row-major per feature group, by row id */
  orig: number;
  rowIdx: number;
  columns: number;
  grad: number;
  gradQ: number;
  tmpIdx: number;
  tmpGrad: number;
  tmpQ: number;
  hist: number;
  task: number;
  taskF: number;
  ctl: number;
  /** binning scratch: float32 values and u8 bins of binBlocks blocks, the edge table */
  /** f64 per training row: current predictions and targets */
  pred: number;
  target: number;
  /** f64 per training row, log loss only: σ(prediction) as the last gradient phase computed it (the leaves' Newton step reads it) */
  prob: number;
  /** i32 per feature: bins including the missing bin (set by the main thread before training) */
  binCount: number;
  binValues: number;
  binBins: number;
  edgeTable: number;
}

/** What every thread knows about the training run (see createContext). */
export interface KernelConfig {
  nFeatures: number;
  nTrain: number;
  nAll: number;
  threads: number;
  /** feature groups (units of a level's work) */
  groups: number;
  /** feature group boundaries: group g is features [groupStart[g], groupStart[g + 1]) */
  groupStart: number[];
  /** nodes per level the task area holds */
  w: number;
  histStrideBytes: number;
  binBlockRows: number;
  l2: number;
  minSamplesLeaf: number;
  minGain: number;
  /**
   * The loss whose gradients PHASE_GRAD computes: squared error (prediction − target) or log loss
   * (σ(prediction) − target, the prediction being log-odds), times the class weight of the row.
   */
  loss: 'squared' | 'logistic';
  /** weights of targets 0 and 1 (logistic; 1 and 1 for squared error) */
  classWeights: [number, number];
  at: KernelAddresses;
}

export interface TaskLayout {
  part: number;
  build: number;
  sub: number;
  split: number;
  feat: number;
  local: number;
  i32Words: number;
  partRes: number;
  splitQ: number;
  splitRes: number;
  f64Words: number;
}

export interface KernelContext {
  readonly memory: SharedMemory;
  readonly config: KernelConfig;
  readonly kernel: HistKernel;
  readonly lay: TaskLayout;
}

export declare const FEATURE_HIST_BYTES: number;
export declare const COUNT_BITS: number;
export declare const PHASE_PARTITION: number;
export declare const PHASE_LEVEL: number;
export declare const PHASE_BIN: number;
export declare const PHASE_GRAD: number;
export declare const PHASE_QUANT: number;
export declare const PHASE_UPDATE: number;
/** Features of a group from which histograms take rows in pairs. */
export declare const PAIR_MIN_FEATURES: number;
export declare const QUANT_MAX: number;
export declare const CTL_WORDS: number;
export declare const CTL_GEN: number;
export declare const CTL_CLAIM: number;
export declare const CTL_ERROR: number;
export declare const ERROR_BYTES: number;
export declare function createSharedMemory(initial: number, maximum: number): SharedMemory;
export declare function instantiateKernel(memory: SharedMemory): HistKernel;
export declare function taskLayout(w: number, nFeatures: number, groups: number): TaskLayout;
export declare function createContext(memory: SharedMemory, config: KernelConfig): KernelContext;
export declare function runPhase(ctx: KernelContext): void;
export declare function serveWorker(memory: SharedMemory, config: KernelConfig, t: number): void;
