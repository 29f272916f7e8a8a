import { Worker } from 'node:worker_threads';
import { buildHistograms, createSharedMemory, FEATURE_HIST_BYTES, instantiateKernel, type HistKernel, type KernelLayout, type SharedMemory } from './hist-kernel.mjs';

const PAGE = 65536;
/** Rows per block copied into the kernel memory for binning. */
const BIN_BLOCK_ROWS = 2048;
/** Upper bound of the shared memory (wasm32 addresses); only what is used is committed. */
const MAX_PAGES = 65536;

/**
 * Owns the GBDT training buffers in one shared WebAssembly.Memory and drives the wasm kernels
 * (hist-kernel.wat): binning, partitioning a node, reordering the row-major bins into partition
 * order after each level, and building node histograms with the features split among the main
 * thread and `threads - 1` workers. Each feature is always built whole by one thread, in
 * integers, so results are identical for any thread count. Histogram slots sit at the end of the
 * memory and grow on demand (memory.grow; the other buffers never move).
 */
export class HistogramBuilder {
  readonly bins: Uint8Array;
  readonly rowIdx: Int32Array;
  /** quantised gradients, permuted with rowIdx (see hist-kernel.wat) */
  readonly gradQ: Int32Array;
  /** per partition position, the row's position before this level's partition */
  readonly perm: Int32Array;
  /** column-major copy of the bins [nFeatures, nAll] (partitioning and bin-space tree walks) */
  readonly columns: Uint8Array;
  /** exact gradients, permuted with rowIdx */
  readonly gradOrd: Float64Array;
  /** gradient sums (exact, quantised) of the left part of the last partition */
  leftGrad = 0;
  leftQ = 0;
  /** int32 words per node slot: nFeatures * 256 bins * 2 (an i64 bin read as lo, hi) */
  readonly histStride: number;
  /** histogram slots as int32 words: bin = (lo, hi) of (gradient sum << 24) + count */
  hist: Int32Array;
  /** rows passed through the histogram kernel (for benchmarks) */
  rowsBuilt = 0;
  private readonly memory: SharedMemory;
  private readonly kernel: HistKernel;
  private readonly layout: KernelLayout;
  /** byte addresses of the bin copies, the level permutation and the row partition */
  private readonly at: Record<'bins' | 'binsA' | 'binsB' | 'perm' | 'rowIdx' | 'columns' | 'grad' | 'tmpIdx' | 'tmpGrad' | 'tmpQ' | 'tmpPerm' | 'out', number>;
  private readonly out: Float64Array;
  /** address of the row-major bins in the current partition order */
  private current: number;
  private readonly featureList: Int32Array;
  private readonly edgeTable: Float32Array;
  private readonly scratch: Float32Array;
  private readonly edgeTableAt: number;
  private readonly scratchAt: number;
  private readonly nAll: number;
  private readonly workers: Worker[] = [];

  constructor(nAll: number, nFeatures: number, nTrain: number, threads: number, initialSlots: number, private readonly maxSlots: number) {
    let top = 0;
    const take = (bytes: number): number => {
      const at = top;
      top += Math.ceil(bytes / 64) * 64;
      return at;
    };
    const bins = take(nAll * nFeatures);
    // Two more copies of the training rows' bins, in partition order (swapped level by level).
    const binsA = take(nTrain * nFeatures);
    const binsB = take(nTrain * nFeatures);
    const perm = take(nTrain * 4);
    const rowIdx = take(nTrain * 4);
    const columns = take(nAll * nFeatures);
    const grad = take(nTrain * 8);
    const tmpIdx = take(nTrain * 4);
    const tmpGrad = take(nTrain * 8);
    const tmpQ = take(nTrain * 4);
    const tmpPerm = take(nTrain * 4);
    const out = take(16);
    const gradQ = take(nTrain * 4);
    const featureList = take(nFeatures * 4);
    const edgeTable = take(nFeatures * 256 * 4);
    const scratch = take(BIN_BLOCK_ROWS * nFeatures * 4);
    const hist = take(0);
    const histStrideBytes = nFeatures * FEATURE_HIST_BYTES;
    const pages = Math.ceil((hist + initialSlots * histStrideBytes) / PAGE);
    if (pages > MAX_PAGES) throw new Error(`gbdt: ${nAll} rows x ${nFeatures} features do not fit the 4 GiB training memory`);
    const maxPages = Math.max(pages, Math.min(MAX_PAGES, Math.ceil((hist + maxSlots * histStrideBytes) / PAGE)));
    this.memory = createSharedMemory(pages, maxPages);
    this.layout = { nFeatures, gradQ, featureList, hist, histStrideBytes };
    this.at = { bins, binsA, binsB, perm, rowIdx, columns, grad, tmpIdx, tmpGrad, tmpQ, tmpPerm, out };
    this.current = bins;
    this.kernel = instantiateKernel(this.memory);
    const buf = this.memory.buffer;
    this.bins = new Uint8Array(buf, bins, nAll * nFeatures);
    this.rowIdx = new Int32Array(buf, rowIdx, nTrain);
    this.gradQ = new Int32Array(buf, gradQ, nTrain);
    this.perm = new Int32Array(buf, perm, nTrain);
    this.columns = new Uint8Array(buf, columns, nAll * nFeatures);
    this.gradOrd = new Float64Array(buf, grad, nTrain);
    this.out = new Float64Array(buf, out, 2);
    this.featureList = new Int32Array(buf, featureList, nFeatures);
    this.edgeTable = new Float32Array(buf, edgeTable, nFeatures * 256);
    this.scratch = new Float32Array(buf, scratch, BIN_BLOCK_ROWS * nFeatures);
    this.edgeTableAt = edgeTable;
    this.scratchAt = scratch;
    this.nAll = nAll;
    this.histStride = histStrideBytes / 4;
    this.hist = this.histView();
    for (let t = 1; t < threads; t++) {
      const worker = new Worker(new URL('./hist-worker.mjs', import.meta.url));
      worker.unref();
      worker.postMessage({ type: 'init', memory: this.memory, layout: this.layout });
      this.workers.push(worker);
    }
  }

  get slots(): number {
    return this.hist.length / this.histStride;
  }

  /** Makes sure slot indices below `slots` exist, keeping the contents. */
  ensureSlots(slots: number): void {
    if (slots <= this.slots) return;
    const want = this.layout.hist + Math.max(slots, Math.min(this.slots * 2, this.maxSlots)) * this.layout.histStrideBytes;
    const pages = Math.ceil(want / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) {
      try {
        this.memory.grow(pages);
      } catch {
        throw new Error(`gbdt: histogram memory for ${slots} tree nodes exceeds the 4 GiB training memory; lower max_depth or raise min_samples_leaf`);
      }
    }
    this.hist = this.histView();
  }

  /**
   * Puts the tree's root rows (rowIdx[0..n)) in order: the original bins when they are all rows
   * in order, else a gathered copy.
   */
  startTree(n: number, allRowsInOrder: boolean): void {
    if (allRowsInOrder) {
      this.current = this.at.bins;
      return;
    }
    this.kernel.gatherRows(this.at.bins, this.at.binsA, this.at.rowIdx, 0, n, this.layout.nFeatures);
    this.current = this.at.binsA;
  }

  /** After a level's partition: reorders the bins of the given segments (pairs start, end) by `perm`. */
  reorder(segments: number[]): void {
    const next = this.current === this.at.binsA ? this.at.binsB : this.at.binsA;
    for (let k = 0; k < segments.length; k += 2) {
      this.kernel.gatherRows(this.current, next, this.at.perm, segments[k], segments[k + 1], this.layout.nFeatures);
    }
    this.current = next;
  }

  /**
   * Stable partition of positions [start, end) by "feature's bin <= bin (missing: missingLeft)";
   * returns the first position of the right part and sets leftGrad / leftQ. With rowsOnly
   * (children are leaves) only the row ids move.
   */
  partition(feature: number, bin: number, missingLeft: boolean, start: number, end: number, rowsOnly: boolean): number {
    const a = this.at;
    const mid = this.kernel.partition(
      a.columns + feature * this.nAll, bin, missingLeft ? 1 : 0, start, end, rowsOnly ? 1 : 0,
      a.rowIdx, a.grad, this.layout.gradQ, a.perm, a.tmpIdx, a.tmpGrad, a.tmpQ, a.tmpPerm, a.out,
    );
    this.leftGrad = this.out[0];
    this.leftQ = this.out[1];
    return mid;
  }

  /** Histograms of the given nodes (triples slot, start, end) over `features`. */
  async build(features: Int32Array, nodes: Int32Array, nNodes: number): Promise<void> {
    for (let q = 0; q < nNodes; q++) this.rowsBuilt += nodes[3 * q + 2] - nodes[3 * q + 1];
    this.featureList.set(features);
    const parts = this.workers.length + 1;
    const nf = features.length;
    const pending: Promise<void>[] = [];
    for (let w = 0; w < this.workers.length; w++) {
      const from = Math.floor(((w + 1) * nf) / parts);
      const to = Math.floor(((w + 2) * nf) / parts);
      if (from === to) continue;
      const worker = this.workers[w];
      pending.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: { ok: boolean; error?: string }): void => {
            worker.off('error', onError);
            if (msg.ok) resolve();
            else reject(new Error(`gbdt histogram worker failed: ${msg.error}`));
          };
          const onError = (err: Error): void => {
            worker.off('message', onMessage);
            reject(err);
          };
          worker.once('message', onMessage);
          worker.once('error', onError);
        }),
      );
      worker.postMessage({ type: 'build', bins: this.current, features, from, to, nodes, nNodes });
    }
    buildHistograms(this.kernel, this.memory, this.layout, this.current, features, 0, Math.floor(nf / parts), nodes, nNodes);
    await Promise.all(pending);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  /**
   * Bins the row-major float32 matrix into `bins` (see binning.ts for the bin semantics),
   * streaming row blocks through a scratch area of the kernel memory.
   */
  binMatrix(values: Float32Array, upperEdges: Float32Array[]): void {
    const nf = this.layout.nFeatures;
    this.edgeTable.fill(Infinity);
    upperEdges.forEach((edges, f) => this.edgeTable.set(edges, f * 256));
    for (let r0 = 0; r0 < this.nAll; r0 += BIN_BLOCK_ROWS) {
      const r1 = Math.min(this.nAll, r0 + BIN_BLOCK_ROWS);
      this.scratch.set(values.subarray(r0 * nf, r1 * nf));
      this.kernel.binValues(this.scratchAt, (r1 - r0) * nf, nf, this.edgeTableAt, this.at.bins + r0 * nf);
    }
  }

  /** Slot `dst` -= slot `src` (sibling = parent - smaller child), exact in integers. */
  subtract(dst: number, src: number): void {
    const stride = this.layout.histStrideBytes;
    this.kernel.histSubtract(this.layout.hist + dst * stride, this.layout.hist + src * stride, stride / 8);
  }

  private histView(): Int32Array {
    const buf = this.memory.buffer;
    const slots = Math.floor((buf.byteLength - this.layout.hist) / this.layout.histStrideBytes);
    return new Int32Array(buf, this.layout.hist, slots * this.histStride);
  }
}
