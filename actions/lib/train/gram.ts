import { createSharedMemory, instantiateKernel, type HistKernel } from './gbdt/hist-kernel.mjs';

/**
 * Z'Z of the linear models (ridge's normal equations, logistic's Newton Hessian), accumulated block
 * by block in the training kernel's SIMD loop (gramUpper in gbdt/hist-kernel.wat). The caller
 * writes up to BLOCK_ROWS rows of its k columns into `block`, column-major (column a, row i at
 * a * stride + i), then calls add(rows); `upperInto` copies the accumulated upper triangle out.
 */
export class GramAccumulator {
  static readonly BLOCK_ROWS = 256;
  /** the block, column-major: column a starts at a * stride */
  readonly block: Float64Array;
  readonly stride: number;
  private readonly kernel: HistKernel;
  private readonly kp: number;
  private readonly gram: Float64Array;
  private readonly at: { z: number; g: number };
  /** the number of columns */
  readonly k: number;

  constructor(k: number) {
    this.k = k;
    this.kp = k + (k & 1); // whole 2 x 2 tiles: a zero padding column when k is odd
    this.stride = Math.ceil(GramAccumulator.BLOCK_ROWS / 2) * 2; // whole f64x2 lanes
    const zBytes = this.kp * this.stride * 8;
    const pages = Math.max(1, Math.ceil((zBytes + this.kp * this.kp * 8) / 65_536));
    const memory = createSharedMemory(pages, pages);
    this.kernel = instantiateKernel(memory);
    this.at = { z: 0, g: zBytes };
    this.block = new Float64Array(memory.buffer, this.at.z, this.kp * this.stride);
    this.gram = new Float64Array(memory.buffer, this.at.g, this.kp * this.kp);
  }

  /** Adds the Z'Z of the block's first `rows` rows (the rest of each column is cleared first). */
  add(rows: number): void {
    if (rows < this.stride) for (let a = 0; a < this.k; a++) this.block.fill(0, a * this.stride + rows, (a + 1) * this.stride);
    this.kernel.gramUpper(this.at.z, this.stride * 8, this.kp, this.at.g);
  }

  /** Starts again from zero. */
  reset(): void {
    this.gram.fill(0);
  }

  /** Copies the upper triangle (c >= a) into `out`, row-major with row length `d` (>= k). */
  upperInto(out: Float64Array, d = this.k): void {
    for (let a = 0; a < this.k; a++) for (let c = a; c < this.k; c++) out[a * d + c] = this.gram[a * this.kp + c];
  }
}
