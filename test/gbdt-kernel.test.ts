import { describe, expect, it } from 'vitest';
import { computeBins } from '../actions/lib/train/gbdt/binning.ts';
import { createSharedMemory, instantiateKernel, QUANT_MAX } from '../actions/lib/train/gbdt/hist-kernel.mjs';
import { HistogramBuilder, type Split } from '../actions/lib/train/gbdt/histogram.ts';
import { createPrng } from '../actions/lib/train/prng.ts';
import { assembleKernel, committedKernel } from '../scripts/build-wasm.ts';

/**
 * The gbdt kernel piece by piece: the committed binary is its source's, and binning, histogram
 * building and split finding agree with plain, independent recomputations (not the kernel's loops)
 * on 1 and 2 threads (2 threads need 48 features: fitThreads).
 */

const SPLIT = { l2: 1, minSamplesLeaf: 5, minGain: 0 };

/** rows x features: a few distinct values, a continuous one, one with 10% missing, a constant. */
function matrix(rows: number, seed: number): { X: Float32Array; y: Float64Array; nf: number } {
  const rand = createPrng(seed);
  const nf = 4;
  const X = new Float32Array(rows * nf);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = Math.floor(rand() * 5);
    const b = rand() * 100 - 50;
    const c = rand() < 0.1 ? Number.NaN : rand() * 3;
    X.set([a, b, c, 7], r * nf);
    y[r] = (a === 2 ? 3 : 0) + (b > 10 ? 1.5 : -0.5) + (c !== c ? 2 : c) + rand() * 0.2;
  }
  return { X, y, nf };
}

/** The matrix's columns side by side `copies` times (wide rows, or feature groups on 2 threads: fitThreads needs 24 features a thread). */
function widen(m: { X: Float32Array; y: Float64Array; nf: number }, copies: number): { X: Float32Array; y: Float64Array; nf: number } {
  const rows = m.y.length;
  const nf = m.nf * copies;
  const X = new Float32Array(rows * nf);
  for (let r = 0; r < rows; r++) for (let c = 0; c < copies; c++) X.set(m.X.subarray(r * m.nf, (r + 1) * m.nf), r * nf + c * m.nf);
  return { X, y: m.y, nf };
}

/** The value bin of v by the definition in binning.ts: the first j with v <= upperEdges[j-1]; 0 for NaN. */
function binOf(v: number, edges: Float32Array): number {
  if (v !== v) return 0;
  let j = 1;
  while (!(v <= edges[j - 1])) j++;
  return j;
}

interface Root {
  builder: HistogramBuilder;
  bins: ReturnType<typeof computeBins>;
  split: Split | null;
  scale: number;
  quantSum: number;
}

/** Bins the matrix, takes the root's gradients (prediction 0) and finds the root's best split. */
async function root(X: Float32Array, y: Float64Array, nf: number, threads: number): Promise<Root> {
  const n = y.length;
  const builder = new HistogramBuilder(n, nf, n, threads, 4, 4, SPLIT);
  await builder.ready();
  const bins = computeBins(X, n, nf, 16);
  builder.binMatrix(X, bins.upperEdges, bins.binCount);
  builder.pred.fill(0);
  builder.target.set(y);
  const scale = QUANT_MAX / builder.gradients(n);
  const quantSum = builder.quantise(n, scale);
  builder.startTree(true);
  const [split] = builder.level({
    builds: [0, 0, n],
    subtractions: [],
    splitSlots: [0],
    splitRows: [n],
    splitQ: [quantSum],
    features: Int32Array.from({ length: nf }, (_, f) => f),
    scale,
  });
  return { builder, bins, split, scale, quantSum };
}

describe('gbdt kernel', () => {
  it('the binary in hist-kernel.mjs is hist-kernel.wat assembled by wabt (npm run build:wasm)', async () => {
    expect(Buffer.from(committedKernel()).equals(Buffer.from(await assembleKernel()))).toBe(true);
  });

  it('the four histogram kernels read rows through row ids, or by position, as a plain recount does', () => {
    const n = 3001;
    const nf = 30;
    const rand = createPrng(17);
    const memory = createSharedMemory(64, 64);
    const kernel = instantiateKernel(memory);
    const binsAt = 0;
    const gqAt = 128 * 1024;
    const idxAt = gqAt + 4 * n;
    const featsAt = idxAt + 4 * n;
    const histAt = 256 * 1024;
    const bins = new Uint8Array(memory.buffer, binsAt, n * nf);
    // low-cardinality features (2 or 3 values: runs of rows in one bin) beside wide ones
    for (let r = 0; r < n; r++) for (let f = 0; f < nf; f++) bins[r * nf + f] = f % 3 === 0 ? 1 + Math.floor(rand() * 2) : 1 + Math.floor(rand() * 200);
    const gq = new Int32Array(memory.buffer, gqAt, n);
    for (let i = 0; i < n; i++) gq[i] = Math.round((rand() * 2 - 1) * QUANT_MAX);
    // a node's row ids: an ascending subset, as a stable partition leaves them
    const ids: number[] = [];
    for (let r = 0; r < n; r++) if (rand() < 0.4) ids.push(r);
    new Int32Array(memory.buffer, idxAt, ids.length).set(ids);
    const listed = [1, 2, 5, 9, 10, 11, 20, 29];
    new Int32Array(memory.buffer, featsAt, listed.length).set(listed);
    const hist = new BigInt64Array(memory.buffer, histAt, nf * 256);
    // [start, end) of positions, odd length (a pair kernel's last row alone)
    const start = 3;
    const end = ids.length - 2 - ((ids.length - 5) % 2 === 0 ? 1 : 0);
    const recount = (rowOf: (i: number) => number, features: number[]): BigInt64Array => {
      const want = new BigInt64Array(nf * 256);
      for (let i = start; i < end; i++) for (const f of features) want[f * 256 + bins[rowOf(i) * nf + f]] += (BigInt(gq[i]) << 24n) + 1n;
      return want;
    };
    const contiguous = Array.from({ length: 22 }, (_, k) => k + 4);
    for (const [rowIds, rowOf] of [
      [idxAt, (i: number) => ids[i]],
      [0, (i: number) => i],
    ] as const) {
      for (const run of [kernel.histContiguous, kernel.histContiguousPairs]) {
        hist.fill(0n);
        run(binsAt, nf, gqAt, histAt, start, end, 4, 26, rowIds);
        expect(hist).toEqual(recount(rowOf, contiguous));
      }
      for (const run of [kernel.histListed, kernel.histListedPairs]) {
        hist.fill(0n);
        run(binsAt, nf, gqAt, histAt, start, end, featsAt, 0, listed.length, rowIds);
        expect(hist).toEqual(recount(rowOf, listed));
      }
    }
  });

  it('bins: one bin per value when there are few, quantile edges taken from the data otherwise, NaN in bin 0', async () => {
    const { X, y, nf } = matrix(3000, 1);
    const { builder, bins } = await root(X, y, nf, 1);
    try {
      // five distinct values: five bins with the values as edges (the last one open)
      expect(Array.from(bins.upperEdges[0])).toEqual([0, 1, 2, 3, Infinity]);
      expect(bins.binCount[0]).toBe(6);
      // the constant: a single value bin, so it can never split
      expect(bins.binCount[3]).toBe(2);
      // continuous: at most 16 value bins, increasing edges that are values of the column
      const edges = bins.upperEdges[1];
      expect(edges.length).toBeLessThanOrEqual(16);
      const column = new Set(Array.from({ length: y.length }, (_, r) => X[r * nf + 1]));
      for (let j = 0; j < edges.length - 1; j++) {
        expect(column.has(edges[j])).toBe(true);
        expect(edges[j + 1]).toBeGreaterThan(edges[j]);
      }
      // and roughly equal counts per bin (quantiles), missing values only in bin 0
      const counts = new Array<number>(bins.binCount[1]).fill(0);
      for (let r = 0; r < y.length; r++) counts[builder.columns[1 * y.length + r]]++;
      expect(counts[0]).toBe(0);
      for (let j = 1; j < counts.length; j++) expect(Math.abs(counts[j] - y.length / edges.length)).toBeLessThan(y.length / edges.length / 2);
      // every row's bin (column-major) is the bin its value falls in
      for (let f = 0; f < nf; f++) {
        for (let r = 0; r < y.length; r++) expect(builder.columns[f * y.length + r]).toBe(binOf(X[r * nf + f], bins.upperEdges[f]));
      }
    } finally {
      await builder.close();
    }
  });

  it('bin edges come from the values in value order: negatives, zeros of both signs, subnormals, infinities and missing values', () => {
    const special = [-Infinity, -3e38, -2, -1e-40, -0, 0, 1e-45, 1e-40, 0.5, 3.4e38, Infinity, Number.NaN];
    const rand = createPrng(7);
    const rows = 5000;
    // column 0: the specials shuffled with copies of themselves (few distinct: each its own bin);
    // column 1: continuous values of both signs and every magnitude (quantile edges)
    const X = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      X[r * 2] = special[Math.floor(rand() * special.length)];
      X[r * 2 + 1] = (rand() - 0.5) * 10 ** Math.floor(rand() * 60 - 30);
    }
    const bins = computeBins(X, rows, 2, 32);
    // as Math's order has it (-0 and 0 are one value, -0 first as the smaller bit pattern's float), NaN left out
    const distinct = [-Infinity, -3e38, -2, -1e-40, -0, 1e-45, 1e-40, 0.5, 3.4e38].map(Math.fround);
    expect(Array.from(bins.upperEdges[0])).toEqual([...distinct, Infinity]);
    const column = Array.from({ length: rows }, (_, r) => X[r * 2 + 1]).sort((a, b) => a - b);
    const expected: number[] = [];
    for (let j = 1; j <= 32; j++) {
      const v = column[Math.min(rows - 1, Math.ceil((j * rows) / 32) - 1)];
      if (expected.length === 0 || v > expected[expected.length - 1]) expected.push(v);
    }
    expected[expected.length - 1] = Infinity;
    expect(Array.from(bins.upperEdges[1])).toEqual(expected);
  });

  it('histograms: per feature and bin, the row count and the sum of quantised gradients, exactly (narrow and wide rows, even and odd row counts)', async () => {
    // 4 features: one row at a time; 28 (the 4 columns 7 times): rows in pairs, the last one alone
    // when the count is odd; 48 on 2 threads: two groups of 24, each at its own offset
    for (const [rowCount, copies, threads] of [
      [2000, 1, 1],
      [2000, 7, 1],
      [1999, 7, 1],
      [2000, 12, 2],
    ]) {
      const { X, y, nf } = widen(matrix(rowCount, 2), copies);
      const { builder, bins } = await root(X, y, nf, threads);
      try {
        const n = y.length;
        for (let f = 0; f < nf; f++) {
          const count = new Array<number>(bins.binCount[f]).fill(0);
          const sum = new Array<number>(bins.binCount[f]).fill(0);
          for (let r = 0; r < n; r++) {
            const b = binOf(X[r * nf + f], bins.upperEdges[f]);
            count[b]++;
            sum[b] += builder.gradQ[r];
          }
          const off = f * 512;
          for (let j = 0; j < bins.binCount[f]; j++) {
            const lo = builder.hist[off + 2 * j];
            expect(lo & 0xffffff, `feature ${f} bin ${j} count`).toBe(count[j]);
            expect(builder.hist[off + 2 * j + 1] * 256 + (lo >>> 24), `feature ${f} bin ${j} gradient sum`).toBe(sum[j]);
          }
        }
      } finally {
        await builder.close();
      }
    }
  });

  it('split finding: the best gain over every boundary and both sides for missing values, the same on 1 and 2 threads', async () => {
    // the 4 columns 12 times: 2 threads take two groups of 24, whose equal gains the first group wins
    const narrow = matrix(2500, 3);
    const { X, y, nf } = widen(narrow, 12);
    const one = await root(X, y, nf, 1);
    const two = await root(X, y, nf, 2);
    try {
      const n = y.length;
      const { bins, scale, quantSum: Q } = one;
      const gq = one.builder.gradQ;
      // Every candidate, by brute force over rows: left = value bins <= t, missing on `missingLeft`'s side.
      const gainOf = (f: number, t: number, missingLeft: boolean): number | null => {
        let hL = 0;
        let qL = 0;
        for (let r = 0; r < n; r++) {
          const b = binOf(X[r * nf + f], bins.upperEdges[f]);
          if (b === 0 ? missingLeft : b <= t) {
            hL++;
            qL += gq[r];
          }
        }
        const hR = n - hL;
        if (hL < SPLIT.minSamplesLeaf || hR < SPLIT.minSamplesLeaf) return null;
        const qR = Q - qL;
        const l = SPLIT.l2;
        return (0.5 / (scale * scale)) * ((qL * qL) / (hL + l) + (qR * qR) / (hR + l) - (Q * Q) / (n + l));
      };
      let best = -Infinity;
      for (let f = 0; f < nf; f++) {
        for (let t = 1; t < bins.binCount[f]; t++) {
          for (const missingLeft of [false, true]) {
            const g = gainOf(f, t, missingLeft);
            if (g !== null && g > best) best = g;
          }
        }
      }
      expect(best).toBeGreaterThan(0);
      const split = one.split!;
      expect(split.gain).toBeCloseTo(best, 6);
      // the split it names has that gain (missing values on the side it says, when the feature has any)
      expect(gainOf(split.feature, split.bin, split.missingLeft)).toBeCloseTo(split.gain, 6);
      expect(one.split!.feature).toBeLessThan(narrow.nf);
      expect(two.split).toEqual(one.split);
      expect(Array.from(two.builder.hist.subarray(0, nf * 512))).toEqual(Array.from(one.builder.hist.subarray(0, nf * 512)));
    } finally {
      await one.builder.close();
      await two.builder.close();
    }
  });
});

/** A node's rows for findSplit: per feature a bin (0 = missing, 1..binCount - 1) and a quantised gradient. */
interface NodeRows {
  bins: Uint8Array[];
  q: Int32Array;
  binCount: number[];
}

interface SplitQuery {
  l2: number;
  msl: number;
  minGain: number;
  scale: number;
}

interface FoundSplit {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
}

/**
 * findSplit on a node's histograms built here (plain loops into i64 bins: (q sum << 24) + count),
 * over features `features` of f0 = 0.
 */
function kernelFindSplit(rows: NodeRows, query: SplitQuery, features: number[]): FoundSplit {
  const nf = rows.bins.length;
  const histBytes = nf * 2048;
  const memory = createSharedMemory(Math.ceil((histBytes + 8 * nf + 64) / 65536), 64);
  const kernel = instantiateKernel(memory);
  const hist = new BigInt64Array(memory.buffer, 0, nf * 256);
  const n = rows.q.length;
  for (let f = 0; f < nf; f++) {
    for (let r = 0; r < n; r++) hist[f * 256 + rows.bins[f][r]] += (BigInt(rows.q[r]) << 24n) + 1n;
  }
  const binCountAt = histBytes;
  const localAt = binCountAt + 4 * nf;
  const outAt = Math.ceil((localAt + 4 * nf) / 8) * 8;
  new Int32Array(memory.buffer, binCountAt, nf).set(rows.binCount);
  new Int32Array(memory.buffer, localAt, features.length).set(features);
  let Q = 0;
  for (let r = 0; r < n; r++) Q += rows.q[r];
  kernel.findSplit(0, binCountAt, localAt, features.length, 0, Q, n, query.scale, query.l2, query.msl, query.minGain, outAt);
  const out = new Float64Array(memory.buffer, outAt, 4);
  return { gain: out[0], feature: out[1], bin: out[2], missingLeft: out[3] === 1 };
}

/**
 * The same by brute force over the rows, candidate by candidate in the documented order: features
 * as listed, boundaries t = 1.. (values in bins <= t left), missing values right then left (left
 * only when the node has missing values and t is not the last bin); a boundary after an empty bin
 * (but the last) is skipped; the first candidate with the largest gain > minGain wins.
 */
function bruteFindSplit(rows: NodeRows, query: SplitQuery, features: number[]): FoundSplit {
  const n = rows.q.length;
  let Q = 0;
  for (let r = 0; r < n; r++) Q += rows.q[r];
  const { l2, msl, scale } = query;
  let best: FoundSplit = { gain: query.minGain, feature: -1, bin: 0, missingLeft: false };
  for (const f of features) {
    const bins = rows.bins[f];
    const nv = rows.binCount[f] - 1;
    const count = (pred: (b: number) => boolean): number => bins.filter(pred).length;
    const missing = count((b) => b === 0);
    for (let t = 1; t <= nv; t++) {
      if (t < nv && count((b) => b === t) === 0) continue;
      for (const missingLeft of [false, true]) {
        if (missingLeft && (missing === 0 || t === nv)) continue;
        let hL = 0;
        let qL = 0;
        for (let r = 0; r < n; r++) {
          if (bins[r] === 0 ? missingLeft : bins[r] <= t) {
            hL++;
            qL += rows.q[r];
          }
        }
        const hR = n - hL;
        if (hL < msl || hR < msl) continue;
        const qR = Q - qL;
        const gain = (0.5 / (scale * scale)) * ((qL * qL) / (hL + l2) + (qR * qR) / (hR + l2) - (Q * Q) / (n + l2));
        if (gain > best.gain) {
          const valuesLeft = count((b) => b >= 1 && b <= t);
          best = { gain, feature: f, bin: t, missingLeft: missing === 0 ? valuesLeft >= n - valuesLeft : missingLeft };
        }
      }
    }
  }
  return best;
}

/**
 * Node rows: feature 0 continuous-like (15 value bins, a few empty), 1 with 20% missing, 2
 * constant (one value bin, no missing), 3 a copy of 0 (ties go to the earlier feature), 4 one
 * value bin plus missing values, 5 with bin 1 and the bins above 6 empty and missing values.
 */
function nodeRows(n: number, seed: number): NodeRows {
  const rand = createPrng(seed);
  const nf = 6;
  const bins = Array.from({ length: nf }, () => new Uint8Array(n));
  const q = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const b0 = 1 + Math.floor(rand() * 15);
    bins[0][r] = b0 === 7 || b0 === 1 ? 8 : b0;
    bins[1][r] = rand() < 0.2 ? 0 : 1 + Math.floor(rand() * 6);
    bins[2][r] = 1;
    bins[3][r] = bins[0][r];
    bins[4][r] = rand() < 0.3 ? 0 : 1;
    bins[5][r] = rand() < 0.25 ? 0 : 2 + Math.floor(rand() * 5);
    const signal = (bins[0][r] > 9 ? 3000 : -2000) + (bins[1][r] === 0 ? 4000 : 0) + (bins[5][r] === 0 ? -2500 : 0);
    q[r] = Math.max(-QUANT_MAX, Math.min(QUANT_MAX, Math.round(signal + (rand() - 0.5) * 12000)));
  }
  return { bins, q, binCount: [16, 7, 2, 16, 2, 12] };
}

describe('gbdt split search kernel (findSplit)', () => {
  const base: SplitQuery = { l2: 1, msl: 5, minGain: 0, scale: 0.37 };
  const all = [0, 1, 2, 3, 4, 5];

  it('finds the best candidate of a brute-force pass over the rows, with its exact gain, for any feature subset', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rows = nodeRows(40 + seed * 7, seed);
      for (const features of [all, [1, 2, 5], [2], [4], [0, 3]]) {
        for (const l2 of [0, 1, 25]) {
          const query = { ...base, l2 };
          expect(kernelFindSplit(rows, query, features)).toEqual(bruteFindSplit(rows, query, features));
        }
      }
    }
  });

  it('agrees with the brute-force pass on random nodes: up to 255 bins, any share missing, min_samples_leaf at a boundary', () => {
    // findSplit takes boundaries two at a time through a vector filter and only some through the
    // scalar path: random bin counts, missing shares and gradients put winners at either bin of a
    // pair and on either side for missing values, and min_samples_leaf set to a candidate's own
    // smaller child puts that candidate exactly at the limit.
    const rand = createPrng(2024);
    let limitWins = 0;
    for (let node = 0; node < 160; node++) {
      const n = 30 + Math.floor(rand() * 300);
      const nf = 3;
      const binCount: number[] = [];
      const bins: Uint8Array[] = [];
      for (let f = 0; f < nf; f++) {
        const nv = 1 + Math.floor(rand() * (rand() < 0.3 ? 255 : 24));
        const missingShare = [0, 0, 0.05, 0.3, 0.45][Math.floor(rand() * 5)];
        binCount.push(nv + 1);
        bins.push(Uint8Array.from({ length: n }, () => (rand() < missingShare ? 0 : 1 + Math.floor(rand() * nv))));
      }
      // gradients: a step at a random bin of a random feature, a shift for missing values, noise
      const sf = Math.floor(rand() * nf);
      const at = 1 + Math.floor(rand() * (binCount[sf] - 1));
      const missingShift = (rand() - 0.5) * 16000;
      const q = Int32Array.from({ length: n }, (_, r) => {
        const b = bins[sf][r];
        const signal = b === 0 ? missingShift : b <= at ? -3000 : 3000;
        return Math.max(-QUANT_MAX, Math.min(QUANT_MAX, Math.round(signal + (rand() - 0.5) * 9000)));
      });
      const rows: NodeRows = { bins, q, binCount };
      // min_samples_leaf: small, large, and the smaller child of a random candidate (that candidate at the limit)
      const f = Math.floor(rand() * nf);
      const t = 1 + Math.floor(rand() * (binCount[f] - 1));
      const missingLeft = rand() < 0.5;
      let hL = 0;
      for (const b of bins[f]) if (b === 0 ? missingLeft : b <= t) hL++;
      for (const msl of [1, 3, Math.floor(n / 4), Math.floor(n / 2), Math.max(1, Math.min(hL, n - hL))]) {
        for (const l2 of [0, 1]) {
          const query = { ...base, l2, msl };
          const expected = bruteFindSplit(rows, query, [0, 1, 2]);
          expect(kernelFindSplit(rows, query, [0, 1, 2])).toEqual(expected);
          if (expected.feature >= 0) {
            let left = 0;
            for (const b of bins[expected.feature]) if (b === 0 ? expected.missingLeft : b <= expected.bin) left++;
            if (Math.min(left, n - left) === msl) limitWins++;
          }
        }
      }
    }
    // the sweep did put winners exactly at min_samples_leaf
    expect(limitWins).toBeGreaterThan(20);
  });

  it('a constant feature never splits; one value bin with missing values splits missing from the rest', () => {
    const rows = nodeRows(300, 5);
    expect(kernelFindSplit(rows, base, [2])).toEqual({ gain: 0, feature: -1, bin: 0, missingLeft: false });
    const onlyMissing = kernelFindSplit(rows, base, [4]);
    // all values left (bin 1), missing values right
    expect(onlyMissing).toMatchObject({ feature: 4, bin: 1, missingLeft: false });
    expect(onlyMissing.gain).toBeGreaterThan(0);
    expect(onlyMissing).toEqual(bruteFindSplit(rows, base, [4]));
  });

  it('ties keep the earlier feature (a copied column never wins over its original)', () => {
    const rows = nodeRows(400, 9);
    const found = kernelFindSplit(rows, base, [0, 3]);
    expect(found.feature).toBe(0);
    expect(kernelFindSplit(rows, base, [3]).gain).toBe(found.gain);
  });

  it('min_samples_leaf bounds both children; none when the node has fewer than twice as many rows', () => {
    const rows = nodeRows(200, 11);
    for (const msl of [1, 20, 60, 90, 100]) {
      const query = { ...base, msl };
      const found = kernelFindSplit(rows, query, all);
      expect(found).toEqual(bruteFindSplit(rows, query, all));
      if (found.feature >= 0) {
        const bins = rows.bins[found.feature];
        let hL = 0;
        for (const b of bins) if (b === 0 ? found.missingLeft : b <= found.bin) hL++;
        expect(Math.min(hL, 200 - hL)).toBeGreaterThanOrEqual(msl);
      }
    }
    expect(kernelFindSplit(rows, { ...base, msl: 101 }, all).feature).toBe(-1);
  });

  it('min_gain: a split must beat it strictly', () => {
    const rows = nodeRows(250, 13);
    const best = kernelFindSplit(rows, base, all);
    expect(best.feature).toBeGreaterThanOrEqual(0);
    const below = kernelFindSplit(rows, { ...base, minGain: best.gain * (1 - 1e-9) }, all);
    expect(below).toEqual(best);
    expect(kernelFindSplit(rows, { ...base, minGain: best.gain }, all)).toEqual({ gain: best.gain, feature: -1, bin: 0, missingLeft: false });
  });
});

describe("ridge's Gram kernel", () => {
  it("gramUpper adds Z'Z of a column-major block into the upper triangle and diagonal tiles, equal to a plain recomputation", () => {
    const rand = createPrng(11);
    const kp = 6; // 5 columns and the zero padding column
    const rows = 7; // an odd block: lanes past it are zero
    const stride = 64; // bytes per column: 8 rows, a multiple of 16
    const memory = createSharedMemory(1, 1);
    const kernel = instantiateKernel(memory);
    const z = new Float64Array(memory.buffer, 0, kp * (stride / 8));
    const g = new Float64Array(memory.buffer, kp * stride, kp * kp);
    const cols = Array.from({ length: kp }, (_, a) => Float64Array.from({ length: rows }, () => (a < 5 ? rand() * 4 - 2 : 0)));
    for (let a = 0; a < kp; a++) z.set(cols[a], a * (stride / 8));
    g.fill(0.5); // it adds to what is there
    kernel.gramUpper(0, stride, kp, kp * stride);
    kernel.gramUpper(0, stride, kp, kp * stride); // twice: a second block with the same rows
    for (let a = 0; a < kp; a++)
      for (let c = 0; c < kp; c++) {
        const upper = c >= a || (a % 2 === 1 && c === a - 1); // the tile of (a, c) has a <= c by tiles
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += cols[a][i] * cols[c][i];
        if (upper) expect(g[a * kp + c]).toBeCloseTo(0.5 + 2 * dot, 12);
        else expect(g[a * kp + c]).toBe(0.5);
      }
  });
});
