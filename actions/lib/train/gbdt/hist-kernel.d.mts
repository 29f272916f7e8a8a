/** See hist-kernel.mjs / hist-kernel.wat. */
export interface HistKernel {
  histContiguous(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, f0: number, f1: number): void;
  histListed(bins: number, nFeatures: number, gradQ: number, hist: number, start: number, end: number, featureList: number, from: number, to: number): void;
  gatherRows(src: number, dst: number, perm: number, start: number, end: number, nFeatures: number): void;
  histSubtract(dst: number, src: number, nBins: number): void;
  binValues(values: number, n: number, nFeatures: number, edgeTable: number, out: number): void;
  partition(
    col: number, bin: number, missLeft: number, start: number, end: number, rowsOnly: number,
    rowIdx: number, grad: number, gradQ: number, perm: number,
    tmpIdx: number, tmpGrad: number, tmpQ: number, tmpPerm: number, out: number,
  ): number;
}

/** Byte addresses of the training buffers inside the shared memory. */
export interface KernelLayout {
  nFeatures: number;
  /** i32 quantised gradients in partition order */
  gradQ: number;
  featureList: number;
  hist: number;
  histStrideBytes: number;
}

/** The parts of a shared WebAssembly.Memory used here (the project's lib has no DOM/wasm types). */
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(deltaPages: number): number;
}

export declare const FEATURE_HIST_BYTES: number;
export declare const COUNT_BITS: number;
export declare function createSharedMemory(initial: number, maximum: number): SharedMemory;
export declare function instantiateKernel(memory: SharedMemory): HistKernel;
export declare function buildHistograms(
  kernel: HistKernel,
  memory: SharedMemory,
  layout: KernelLayout,
  bins: number,
  features: Int32Array,
  from: number,
  to: number,
  nodes: Int32Array,
  nNodes: number,
): void;
