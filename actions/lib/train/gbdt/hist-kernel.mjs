// Binning, partition and histogram kernels shared by the main thread and the histogram workers. Plain
// JavaScript (typed by hist-kernel.d.mts) because worker_threads load it natively, without the
// TypeScript loader.
//
// The hot loops are WebAssembly (source, bin layout and how to assemble: hist-kernel.wat; the
// base64 below is its binary): measured ~2x faster than the same loops in JavaScript, which pays
// bounds checks on every typed-array access. All training buffers live in one shared
// WebAssembly.Memory so every thread's instance sees the same bins, partition and histograms.
//
// Work is split among threads in phases (runPhase), each described in a task area of the shared
// memory and started / joined with Atomics (no message round trips). Per tree level:
// - PHASE_PARTITION: whole nodes are partitioned, each by one thread.
// - PHASE_LEVEL: per feature group (a contiguous feature range whose row-major bins are kept in
//   their own matrices), one thread builds (reading each row's bins through the partition's row
//   ids), subtracts and searches the splits of its features for every node of the level.
// Per tree, over row chunks or leaves: PHASE_GRAD (gradients), PHASE_QUANT (quantisation),
// PHASE_UPDATE (predictions); once per run, PHASE_BIN (binning row blocks).
// Threads claim nodes / groups from a shared counter (one feature group per thread: see
// fitThreads in histogram.ts). Every feature's histogram is
// accumulated by exactly one thread, in integers, and the best splits of the groups are merged in
// feature order, so results do not depend on the thread count or on who did what.

const WASM_BASE64 = 'AGFzbQEAAAABXwlgCX9/f39/f39/fwBgCn9/f39/f39/f38AYAN/f38AYAV/f39/fwBgDX9/f39/f39/f39/f38Bf2AGf39/f39/AGADfHx8AXxgDH9/f39/fH98fH98fwBgBH9/f38AAhIBA2VudgZtZW1vcnkCAwGAgAQDDQwAAQABAgMEBQMGBwgHoQELDmhpc3RDb250aWd1b3VzAAAKaGlzdExpc3RlZAABE2hpc3RDb250aWd1b3VzUGFpcnMAAg9oaXN0TGlzdGVkUGFpcnMAAwxoaXN0U3VidHJhY3QABAliaW5WYWx1ZXMABQlwYXJ0aXRpb24ABghjb3B5Q29scwAHDXRyYW5zcG9zZVJvd3MACAlmaW5kU3BsaXQACglncmFtVXBwZXIACwqAHgyoAQMEfwF+An8gBCEJAkAgCSAFTg0AIAYgB04NAANAIAAgCAR/IAggCUECdGooAgAFIAkLIAFsaiEPIAIgCUECdGooAgCsQhiGQgGEIQ0gDyAGaiEKIA8gB2ohCyADIAZBC3RqIQwDQCAMIAotAABBA3RqIQ4gDiAOKQMAIA18NwMAIAxBgBBqIQwgCkEBaiEKIAogC0kNAAsgCUEBaiEJIAkgBUgNAAsLC6IBAwN/AX4CfyAEIQoCQCAKIAVODQAgByAITg0AA0AgACAJBH8gCSAKQQJ0aigCAAUgCgsgAWxqIQ8gAiAKQQJ0aigCAKxCGIZCAYQhDSAHIQsDQCAGIAtBAnRqKAIAIQwgAyAMQQt0aiAPIAxqLQAAQQN0aiEOIA4gDikDACANfDcDACALQQFqIQsgCyAISA0ACyAKQQFqIQogCiAFSA0ACwsLtAMHBH8BfgJ/AX4BfwJ+AX8gBCEJAkAgCSAFTg0AIAYgB04NAAJAIAlBAWogBU4NAANAIAAgCAR/IAggCUECdGooAgAFIAkLIAFsaiEPIAIgCUECdGooAgCsQhiGQgGEIQ0gACAIBH8gCCAJQQJ0aigCBAUgCUEBagsgAWxqIA9rIRQgAiAJQQJ0aigCBKxCGIZCAYQhECAPIAZqIQogDyAHaiELIAMgBkELdGohDANAIAwgCi0AAEEDdGohDiAMIAogFGotAABBA3RqIREgDikDACANfCESIBEpAwAhEyAOIBI3AwAgESASIBMgDiARRhsgEHw3AwAgDEGAEGohDCAKQQFqIQogCiALSQ0ACyAJQQJqIQkgCUEBaiAFSA0ACwsgCSAFTg0AA0AgACAIBH8gCCAJQQJ0aigCAAUgCQsgAWxqIQ8gAiAJQQJ0aigCAKxCGIZCAYQhDSAPIAZqIQogDyAHaiELIAMgBkELdGohDANAIAwgCi0AAEEDdGohDiAOIA4pAwAgDXw3AwAgDEGAEGohDCAKQQFqIQogCiALSQ0ACyAJQQFqIQkgCSAFSA0ACwsLrwMHA38BfgJ/AX4BfwJ+An8gBCEKAkAgCiAFTg0AIAcgCE4NAAJAIApBAWogBU4NAANAIAAgCQR/IAkgCkECdGooAgAFIAoLIAFsaiEPIAIgCkECdGooAgCsQhiGQgGEIQ0gACAJBH8gCSAKQQJ0aigCBAUgCkEBagsgAWxqIA9rIRQgAiAKQQJ0aigCBKxCGIZCAYQhECAHIQsDQCAGIAtBAnRqKAIAIQwgAyAMQQt0aiEVIBUgDyAMai0AAEEDdGohDiAVIA8gFGogDGotAABBA3RqIREgDikDACANfCESIBEpAwAhEyAOIBI3AwAgESASIBMgDiARRhsgEHw3AwAgC0EBaiELIAsgCEgNAAsgCkECaiEKIApBAWogBUgNAAsLIAogBU4NAANAIAAgCQR/IAkgCkECdGooAgAFIAoLIAFsaiEPIAIgCkECdGooAgCsQhiGQgGEIQ0gByELA0AgBiALQQJ0aigCACEMIAMgDEELdGogDyAMai0AAEEDdGohDiAOIA4pAwAgDXw3AwAgC0EBaiELIAsgCEgNAAsgCkEBaiEKIAogBUgNAAsLC0ABAX8gACACQQN0aiEDAkAgACADTw0AA0AgACAAKQMAIAEpAwB9NwMAIABBCGohACABQQhqIQEgACADSQ0ACwsLqAIDAn8BfQJ/AkAgAUEATA0AA0AgACAFQQJ0aioCACEHIAcgB1wEQCAEIAVqQQA6AAAFIAMgBkEKdGohCEGAAUEAIAgqAvwDIAddGyEJIAlBwABBACAIIAlBAnRqKgL8ASAHXRtqIQkgCUEgQQAgCCAJQQJ0aioCfCAHXRtqIQkgCUEQQQAgCCAJQQJ0aioCPCAHXRtqIQkgCUEIQQAgCCAJQQJ0aioCHCAHXRtqIQkgCUEEQQAgCCAJQQJ0aioCDCAHXRtqIQkgCUECQQAgCCAJQQJ0aioCBCAHXRtqIQkgCUEBQQAgCCAJQQJ0aioCACAHXRtqIQkgBCAFaiAJQQFqOgAACyAGQQFqIQYgBiACRgRAQQAhBgsgBUEBaiEFIAUgAUgNAAsLC7YCBQV/AXwBfwF8AX4gAyENIAMhDgJAIA0gBE4NAANAIAYgDUECdGooAgAhECAAIBBqLQAAIREgByANQQN0aisDACESIAggDUECdGooAgAhEyACIBEgAU0gEUUbBEAgBiAOQQJ0aiAQNgIAIAVFBEAgByAOQQN0aiASOQMAIAggDkECdGogEzYCAAsgFCASoCEUIBUgE6x8IRUgDkEBaiEOBSAJIA9BAnRqIBA2AgAgBUUEQCAKIA9BA3RqIBI5AwAgCyAPQQJ0aiATNgIACyAPQQFqIQ8LIA1BAWohDSANIARIDQALCyAGIA5BAnRqIAkgD0ECdPwKAAAgBUUEQCAHIA5BA3RqIAogD0EDdPwKAAAgCCAOQQJ0aiALIA9BAnT8CgAACyAMIBQ5AwAgDCAVuTkDCCAOC44BAQN/IARBeHEhCAJAIAVBAEwNAANAQQAhBwJAIAcgCE8NAANAIAIgB2ogACAHaikDADcDACAHQQhqIQcgByAISQ0ACwsCQCAHIARPDQADQCACIAdqIAAgB2otAAA6AAAgB0EBaiEHIAcgBEkNAAsLIAAgAWohACACIANqIQIgBkEBaiEGIAYgBUgNAAsLC2ABBH8CQCACQQBMDQAgAUEATA0AA0AgACAFaiEGIAMgBSAEbGohByAHIAJqIQgDQCAHIAYtAAA6AAAgBiABaiEGIAdBAWohByAHIAhJDQALIAVBAWohBSAFIAFIDQALCwtBAQF8IAAgAaMgAqAhAyADIAOZIAKgRAAAAAAAALA9oqEhAyADIAOhRAAAAAAAAAAAYQR8IAMFRAAAAAAAAPD/CwvWCQ8EfAh/AX4BfwF+AX8BfgJ/AX4BfwV8AX4CfwJ+EXtEAAAAAAAA4D8gByAHoqMhDCAFIAWiIAa3IAigoyENIAohDiAOIAwgDRAJIQ9BfyEQIAYgCUEBdGshEyAJ/REhLSAT/REhLiAI/RQhNyAGt/0UITggBf0UITkCQCADQQBMDQAgE0EASA0AA0AgBCACIBRBAnRqKAIAaiEVIAAgFUELdGohFiABIBVBAnRqKAIAQQFrIRcgFikDACEYIBinQf///wdxIRkgGEIYhyEa/QwAAAAAAAAAAAAAAAAAAAAAIBn9HAIgGf0cAyEsIBm3/RQhOiAauf0UITtBACEeQgAhH0EBIRsCQCAbIBdODQADQAJAAkAgG0EBaiAXTg0AIBYgG0EDdGopAwAhHCAWIBtBA3RqKQMIISYgHiAcp0H///8HcWohJyAnICanQf///wdxaiEoIB8gHEIYh3whKSApICZCGId8ISogJ/0RICj9HAEgJ/0cAiAo/RwDICz9rgEhKyArIC39sQEgLv0+IS8gK/3+ASExICm5/RQgKrn9IgEhMiAP/RQhMyAxIDf98AEhNCA4IDH98QEgN/3wASE1IDkgMv3xASE2IDIgMv3yASA1/fIBIDYgNv3yASA0/fIB/fABIDMgNP3yASA1/fIB/UwgL/3HAf1OITAgGQRAIDEgOv3wASExIDIgO/3wASEyIDEgN/3wASE0IDggMf3xASA3/fABITUgOSAy/fEBITYgMCAyIDL98gEgNf3yASA2IDb98gEgNP3yAf3wASAzIDT98gEgNf3yAf1MIC/9yAH9Tv1QITALIDD9Uw0AICghHiAqIR8gG0EBaiEbDAELIBYgG0EDdGopAwAhHCAcp0H///8HcSEdIB1FDQAgHiAdaiEeIB8gHEIYh3whHyAGIB5rISAgHiAJayATTQRAIB+5ISEgBSAhoSEiIB63IAigISMgILcgCKAhJCAhICGiICSiICIgIqIgI6KgIA8gI6IgJKJmBEAgDCAhICGiICOjICIgIqIgJKOgIA2hoiElICUgDmQEQCAlIQ4gDiAMIA0QCSEPIBUhECAbIREgHiAGIB5rTkEAIBlFGyESCwsLIBlFDQAgBiAeIBlqayEgIB4gGWogCWsgE00EQCAfIBp8uSEhIAUgIaEhIiAeIBlqtyAIoCEjICC3IAigISQgISAhoiAkoiAiICKiICOioCAPICOiICSiZgRAIAwgISAhoiAjoyAiICKiICSjoCANoaIhJSAlIA5kBEAgJSEOIA4gDCANEAkhDyAVIRAgGyERQQEhEgsLCwsgG0EBaiEbIBsgF0gNAAsLIBdBAU4gGUEAR3EEQCAXIRsgFiAbQQN0aikDACEcIB4gHKdB////B3FqIR4gHyAcQhiHfCEfIAYgHmshICAeIAlrIBNNBEAgH7khISAFICGhISIgHrcgCKAhIyAgtyAIoCEkICEgIaIgJKIgIiAioiAjoqAgDyAjoiAkomYEQCAMICEgIaIgI6MgIiAioiAko6AgDaGiISUgJSAOZARAICUhDiAOIAwgDRAJIQ8gFSEQIBshEUEAIRILCwsLIBRBAWohFCAUIANIDQALCyALIA45AwAgCyAQtzkDCCALIBG3OQMQIAsgErc5AxgLmgMCCH8IewJAIAJBAEwNACABQQBMDQADQCAAIAQgAWxqIQYgBiABaiEHIAQhBQNAIAAgBSABbGohCCAIIAFqIQn9DAAAAAAAAAAAAAAAAAAAAAAhDP0MAAAAAAAAAAAAAAAAAAAAACEN/QwAAAAAAAAAAAAAAAAAAAAAIQ79DAAAAAAAAAAAAAAAAAAAAAAhD0EAIQoDQCAGIApq/QAEACEQIAcgCmr9AAQAIREgCCAKav0ABAAhEiAJIApq/QAEACETIAwgECAS/fIB/fABIQwgDSAQIBP98gH98AEhDSAOIBEgEv3yAf3wASEOIA8gESAT/fIB/fABIQ8gCkEQaiEKIAogAUkNAAsgAyAEIAJsIAVqQQN0aiELIAsgCysDACAM/SEAIAz9IQGgoDkDACALIAsrAwggDf0hACAN/SEBoKA5AwggCyACQQN0aiELIAsgCysDACAO/SEAIA79IQGgoDkDACALIAsrAwggD/0hACAP/SEBoKA5AwggBUECaiEFIAUgAkgNAAsgBEECaiEEIAQgAkgNAAsLCw==';

let compiled;
function kernelModule() {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  return compiled;
}

/** A shared WebAssembly.Memory of `initial` pages (64 KiB) that can grow to `maximum`. */
export function createSharedMemory(initial, maximum) {
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}

/** The kernel's exports bound to a (shared) memory. */
export function instantiateKernel(memory) {
  return new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports;
}

/** Bytes of one feature's histogram: 256 bins x i64 ((quantised gradient sum << 24) + row count). */
export const FEATURE_HIST_BYTES = 2048;

/**
 * Features of a group from which histograms take rows in pairs (histContiguousPairs, see
 * hist-kernel.wat): measured faster from 32 features up, no gain at 8 or 16.
 */
export const PAIR_MIN_FEATURES = 24;

/** Row counts live in the low 24 bits of a bin. */
export const COUNT_BITS = 24;

export const PHASE_PARTITION = 1;
export const PHASE_LEVEL = 2;
export const PHASE_BIN = 3;
export const PHASE_GRAD = 4;
export const PHASE_QUANT = 5;
export const PHASE_UPDATE = 6;

/** Quantised gradients are round(gradient * scale) with |q| <= QUANT_MAX (see trainer.ts). */
export const QUANT_MAX = 2 ** 14 - 1;
const ROUND_MAGIC = 1.5 * 2 ** 52;

/** Control words (Int32 at config.at.ctl): generation, per-thread done generation, error. */
export const CTL_WORDS = 64;
export const CTL_GEN = 0;
/** next node / group to claim in the running phase */
export const CTL_CLAIM = 62;
export const CTL_ERROR = 63;
/** Bytes after the control words for a worker's error text. */
export const ERROR_BYTES = 4096;

/**
 * Word offsets of the task area for at most `w` nodes per level: `i32` into the Int32 task area,
 * `f64` into the Float64 one.
 * i32: head [phase, nPart, -, -, rowIds (0: positions are row ids, 1: rowIdx), -, nBuild, nSub, nSplit, nFeat],
 *   part (s, e, feature, bin, missingLeft, rowsOnly, next in claim order, -) x w,
 *   build (slot, s, e) x 2w, sub (dst, src) x 2w, split (slot, rows) x 2w,
 *   feat x nFeatures, local feature lists (group g's at groupStart[g]) x nFeatures.
 * f64: [scale], part results (leftGrad, leftQ, mid) x w, split Q x 2w,
 *   split results (gain, feature, bin, missingLeft) x 2w x groups.
 */
export function taskLayout(w, nFeatures, groups) {
  const part = 16;
  const build = part + 8 * w;
  const sub = build + 6 * w;
  const split = sub + 4 * w;
  const feat = split + 4 * w;
  const local = feat + nFeatures;
  const i32Words = local + nFeatures;
  const partRes = 8;
  const splitQ = partRes + 3 * w;
  const splitRes = splitQ + 2 * w;
  const f64Words = splitRes + 8 * w * groups;
  return { part, build, sub, split, feat, local, i32Words, partRes, splitQ, splitRes, f64Words };
}

/**
 * Per-thread state over the shared memory. config: nFeatures, nTrain, nAll, threads, groups,
 * groupStart (groups + 1 feature boundaries), w (nodes per level), histStrideBytes, l2,
 * minSamplesLeaf, minGain, at (byte addresses: orig, rowIdx, columns, grad, gradQ, tmpIdx, tmpGrad,
 * tmpQ, hist, task, taskF, ctl, binCount (i32 per feature), ...).
 */
export function createContext(memory, config) {
  return { memory, config, kernel: instantiateKernel(memory), lay: taskLayout(config.w, config.nFeatures, config.groups), views: null };
}

function views(ctx) {
  const buf = ctx.memory.buffer;
  if (ctx.views === null || ctx.views.bytes !== buf.byteLength) {
    const { at, nFeatures } = ctx.config;
    const lay = ctx.lay;
    ctx.views = {
      bytes: buf.byteLength,
      i32: new Int32Array(buf),
      task: new Int32Array(buf, at.task, lay.i32Words),
      taskF: new Float64Array(buf, at.taskF, lay.f64Words),
      hist: new Int32Array(buf, at.hist, (buf.byteLength - at.hist) >> 2),
      local: new Int32Array(buf, at.task + lay.local * 4, nFeatures),
      ctl: new Int32Array(buf, at.ctl, CTL_WORDS),
      rowIdx: new Int32Array(buf, at.rowIdx, ctx.config.nTrain),
      grad: new Float64Array(buf, at.grad, ctx.config.nTrain),
      gradQ: new Int32Array(buf, at.gradQ, ctx.config.nTrain),
      pred: new Float64Array(buf, at.pred, ctx.config.nTrain),
      target: new Float64Array(buf, at.target, ctx.config.nTrain),
      prob: new Float64Array(buf, at.prob, ctx.config.loss === 'logistic' ? ctx.config.nTrain : 0),
    };
  }
  return ctx.views;
}

/**
 * Runs the phase described in the task area on this thread, claiming nodes / groups until none
 * are left.
 */
export function runPhase(ctx) {
  const v = views(ctx);
  const phase = v.task[0];
  if (phase === PHASE_PARTITION) runPartition(ctx, v);
  else if (phase === PHASE_BIN) runBin(ctx, v);
  else if (phase === PHASE_GRAD) runGrad(ctx, v);
  else if (phase === PHASE_QUANT) runQuant(ctx, v);
  else if (phase === PHASE_UPDATE) runUpdate(ctx, v);
  else if (phase === PHASE_LEVEL) {
    for (let g = Atomics.add(v.ctl, CTL_CLAIM, 1); g < ctx.config.groups; g = Atomics.add(v.ctl, CTL_CLAIM, 1)) runLevel(ctx, v, g);
  } else throw new Error(`gbdt: unknown phase ${phase}`);
}

function runPartition(ctx, v) {
  const { kernel, lay } = ctx;
  const { at, nAll } = ctx.config;
  const task = v.task;
  const n = task[1];
  for (let c = Atomics.add(v.ctl, CTL_CLAIM, 1); c < n; c = Atomics.add(v.ctl, CTL_CLAIM, 1)) {
    // the c-th node in claim order (largest first)
    const k = task[lay.part + 8 * c + 6];
    const o = lay.part + 8 * k;
    const s = task[o];
    // Right-hand rows go through the tmp arrays at the node's own positions (nodes are disjoint).
    const mid = kernel.partition(
      at.columns + task[o + 2] * nAll, task[o + 3], task[o + 4], s, task[o + 1], task[o + 5],
      at.rowIdx, at.grad, at.gradQ,
      at.tmpIdx + 4 * s, at.tmpGrad + 8 * s, at.tmpQ + 4 * s,
      at.taskF + 8 * (lay.partRes + 3 * k),
    );
    v.taskF[lay.partRes + 3 * k + 2] = mid;
  }
}

/**
 * Bins blocks of rows: i32 task [PHASE_BIN, nBlocks, firstRow, endRow]; block c is rows
 * firstRow + c * binBlockRows.. as float32 at binValues + c * binBlockRows * nFeatures * 4. Each
 * block is binned into its scratch, then copied into the column-major bins and, for training
 * rows, the groups' original row-major bins.
 */
function runBin(ctx, v) {
  const { kernel, config } = ctx;
  const { at, nFeatures: nf, nAll, nTrain, groups, groupStart, binBlockRows } = config;
  const task = v.task;
  const n = task[1];
  for (let c = Atomics.add(v.ctl, CTL_CLAIM, 1); c < n; c = Atomics.add(v.ctl, CTL_CLAIM, 1)) {
    const r0 = task[2] + c * binBlockRows;
    const r1 = Math.min(task[3], r0 + binBlockRows);
    const bins = at.binBins + c * binBlockRows * nf;
    kernel.binValues(at.binValues + c * binBlockRows * nf * 4, (r1 - r0) * nf, nf, at.edgeTable, bins);
    kernel.transposeRows(bins, nf, r1 - r0, at.columns + r0, nAll);
    const rows = Math.min(r1, nTrain) - r0;
    for (let g = 0; g < groups && rows > 0; g++) {
      const width = groupStart[g + 1] - groupStart[g];
      kernel.copyCols(bins + groupStart[g], nf, at.orig + nTrain * groupStart[g] + r0 * width, width, width, rows);
    }
  }
}

/**
 * Row chunks: i32 task [phase, nChunks, n, chunkRows]; chunk c's result goes to f64
 * partRes + c. Each row's arithmetic is the serial one; a chunk's result is a max or an integer
 * sum, which do not depend on how the rows are chunked.
 */
function chunkEnd(task, s) {
  return Math.min(task[2], s + task[3]);
}

/**
 * All rows in the root, in order: rowIdx[r] = r, gradient = prediction - target (log loss:
 * w · (σ(prediction) − target), keeping σ(prediction) in prob[r]); result max |gradient|.
 */
function runGrad(ctx, v) {
  const { task, taskF, rowIdx, grad, pred, target, prob } = v;
  const res = ctx.lay.partRes;
  const logistic = ctx.config.loss === 'logistic';
  const [w0, w1] = ctx.config.classWeights;
  for (let c = Atomics.add(v.ctl, CTL_CLAIM, 1); c < task[1]; c = Atomics.add(v.ctl, CTL_CLAIM, 1)) {
    const s = c * task[3];
    const e = chunkEnd(task, s);
    let maxAbs = 0;
    for (let r = s; r < e; r++) {
      rowIdx[r] = r;
      const y = target[r];
      let g;
      if (logistic) {
        // log loss on log-odds: gradient σ(f) − y, weighted by the row's class
        const p = 1 / (1 + Math.exp(-pred[r]));
        prob[r] = p;
        g = (y === 1 ? w1 : w0) * (p - y);
      } else g = pred[r] - y;
      grad[r] = g;
      const a = Math.abs(g);
      if (a > maxAbs) maxAbs = a;
    }
    taskF[res + c] = maxAbs;
  }
}

/** Quantised gradients round(gradient * scale), scale at f64 0; result the sum of the chunk's. */
function runQuant(ctx, v) {
  const { task, taskF, grad, gradQ } = v;
  const res = ctx.lay.partRes;
  const scale = taskF[0];
  for (let c = Atomics.add(v.ctl, CTL_CLAIM, 1); c < task[1]; c = Atomics.add(v.ctl, CTL_CLAIM, 1)) {
    const s = c * task[3];
    const e = chunkEnd(task, s);
    let sum = 0;
    for (let i = s; i < e; i++) {
      // Math.round(x) for |x| <= QUANT_MAX, ~3x faster: adding and subtracting 1.5 * 2^52 rounds
      // to the nearest integer with ties to even; Math.round takes ties up.
      const x = grad[i] * scale;
      const even = x + ROUND_MAGIC - ROUND_MAGIC;
      const q = x - even === 0.5 ? even + 1 : even;
      gradQ[i] = q;
      sum += q;
    }
    taskF[res + c] = sum;
  }
}

/**
 * Leaves: i32 task [phase, nLeaves], leaf c's partition range (start, end) at part + 2c, its value
 * at f64 partRes + c: pred[rowIdx[i]] += value (each row is in one leaf).
 */
function runUpdate(ctx, v) {
  const { task, taskF, rowIdx, pred } = v;
  const { part, partRes } = ctx.lay;
  for (let c = Atomics.add(v.ctl, CTL_CLAIM, 1); c < task[1]; c = Atomics.add(v.ctl, CTL_CLAIM, 1)) {
    const value = taskF[partRes + c];
    const e = task[part + 2 * c + 1];
    for (let i = task[part + 2 * c]; i < e; i++) pred[rowIdx[i]] += value;
  }
}

/** Byte address of feature group g's bins ([nTrain, width], by row id). */
function groupBase(config, g) {
  return config.at.orig + config.nTrain * config.groupStart[g];
}

function runLevel(ctx, v, g) {
  const { kernel, lay, config } = ctx;
  const { at, groupStart, groups, histStrideBytes } = config;
  const task = v.task;
  const f0 = groupStart[g];
  const width = groupStart[g + 1] - f0;
  const nSplit = task[8];
  if (width === 0) {
    for (let k = 0; k < nSplit; k++) writeSplit(v.taskF, lay.splitRes + 4 * (k * groups + g), -Infinity, -1, 0, 0);
    return;
  }
  // Rows are read where they are, through the partition's row ids (ascending within a node):
  // task[4] = 1, or in order (the root of all rows): task[4] = 0.
  const rowIds = task[4] === 1 ? at.rowIdx : 0;
  // This group's features (the feature list is ascending).
  const nFeat = task[9];
  const local = v.local;
  const lo = f0;
  let nLocal = 0;
  for (let k = 0; k < nFeat; k++) {
    const f = task[lay.feat + k];
    if (f >= f0 && f < f0 + width) local[lo + nLocal++] = f - f0;
  }
  const histView = v.hist;
  const nBuild = task[6];
  if (nLocal > 0 && nBuild > 0) {
    const bins = groupBase(config, g);
    const contiguous = local[lo + nLocal - 1] - local[lo] === nLocal - 1;
    // Rows in pairs over many features (faster there on low-cardinality features), else one at a time.
    const pairs = nLocal >= PAIR_MIN_FEATURES;
    for (let q = 0; q < nBuild; q++) {
      const o = lay.build + 3 * q;
      const histAt = at.hist + task[o] * histStrideBytes + f0 * FEATURE_HIST_BYTES;
      const w0 = (histAt - at.hist) >> 2;
      if (contiguous) {
        // one fill over the features' adjacent histograms: a fill call per feature took ~2% of a 30-day fit
        const base = w0 + local[lo] * (FEATURE_HIST_BYTES >> 2);
        histView.fill(0, base, base + nLocal * (FEATURE_HIST_BYTES >> 2));
        (pairs ? kernel.histContiguousPairs : kernel.histContiguous)(bins, width, at.gradQ, histAt, task[o + 1], task[o + 2], local[lo], local[lo] + nLocal, rowIds);
      } else {
        for (let k = 0; k < nLocal; k++) {
          const base = w0 + local[lo + k] * (FEATURE_HIST_BYTES >> 2);
          histView.fill(0, base, base + (FEATURE_HIST_BYTES >> 2));
        }
        (pairs ? kernel.histListedPairs : kernel.histListed)(bins, width, at.gradQ, histAt, task[o + 1], task[o + 2], at.task + 4 * (lay.local + lo), 0, nLocal, rowIds);
      }
    }
  }
  // Siblings = parent - smaller child, in place.
  const nSub = task[7];
  for (let q = 0; q < nSub; q++) {
    const o = lay.sub + 2 * q;
    const off = at.hist + f0 * FEATURE_HIST_BYTES;
    kernel.histSubtract(off + task[o] * histStrideBytes, off + task[o + 1] * histStrideBytes, width * 256);
  }
  // Split search over this group's features (hist-kernel.wat's findSplit); results at split
  // result (k, g). Ties keep the first candidate, so the groups' results merged in group order
  // with `>` (histogram.ts) equal a single pass over all features.
  const scale = v.taskF[0];
  const { l2, minSamplesLeaf, minGain } = config;
  for (let k = 0; k < nSplit; k++) {
    const o = lay.split + 2 * k;
    kernel.findSplit(
      at.hist + task[o] * histStrideBytes, at.binCount, at.task + 4 * (lay.local + lo), nLocal, f0,
      v.taskF[lay.splitQ + k], task[o + 1], scale, l2, minSamplesLeaf, minGain,
      at.taskF + 8 * (lay.splitRes + 4 * (k * groups + g)),
    );
  }
}

function writeSplit(out, o, gain, feature, bin, missingLeft) {
  out[o] = gain;
  out[o + 1] = feature;
  out[o + 2] = bin;
  out[o + 3] = missingLeft;
}

/**
 * A worker's loop: waits for the generation word to change, runs its share, publishes the
 * generation as done. A negative generation stops the loop.
 */
export function serveWorker(memory, config, t) {
  const ctx = createContext(memory, config);
  const ctl = new Int32Array(memory.buffer, config.at.ctl, CTL_WORDS);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, CTL_GEN, seen);
    const gen = Atomics.load(ctl, CTL_GEN);
    if (gen === seen) continue;
    if (gen < 0) return;
    seen = gen;
    try {
      runPhase(ctx);
    } catch (err) {
      const text = new TextEncoder().encode(String(err && err.stack ? err.stack : err)).subarray(0, ERROR_BYTES);
      new Uint8Array(memory.buffer, config.at.ctl + CTL_WORDS * 4, ERROR_BYTES).set(text);
      Atomics.store(ctl, CTL_ERROR, text.length + 1);
    }
    Atomics.store(ctl, t, gen);
    Atomics.notify(ctl, t);
  }
}
