// Binning, partition and histogram kernels shared by the main thread and the histogram workers. Plain
// JavaScript (typed by hist-kernel.d.mts) because worker_threads load it natively, without the
// TypeScript loader.
//
// The hot loops are WebAssembly (source, bin layout and how to assemble: hist-kernel.wat; the
// base64 below is its binary): measured ~2x faster than the same loops in JavaScript, which pays
// bounds checks on every typed-array access. All training buffers live in one shared
// WebAssembly.Memory so every thread's instance sees the same bins, partition and histograms.
// Every feature's histogram is accumulated by exactly one thread, in integers, so results do not
// depend on the number of threads.

const WASM_BASE64 = 'AGFzbQEAAAABQgZgCH9/f39/f39/AGAJf39/f39/f39/AGADf39/AGAFf39/f38AYAZ/f39/f38AYA9/f39/f39/f39/f39/f38BfwISAQNlbnYGbWVtb3J5AgMBgIAEAwcGAAECAwQFB1MGDmhpc3RDb250aWd1b3VzAAAKaGlzdExpc3RlZAABDGhpc3RTdWJ0cmFjdAACCWJpblZhbHVlcwADCmdhdGhlclJvd3MABAlwYXJ0aXRpb24ABQqgCQaXAQMEfwF+An8gBCEIAkAgCCAFTg0AIAYgB04NAANAIAAgCCABbGohDiACIAhBAnRqKAIArEIYhkIBhCEMIA4gBmohCSAOIAdqIQogAyAGQQt0aiELA0AgCyAJLQAAQQN0aiENIA0gDSkDACAMfDcDACALQYAQaiELIAlBAWohCSAJIApJDQALIAhBAWohCCAIIAVIDQALCwuRAQMDfwF+An8gBCEJAkAgCSAFTg0AIAcgCE4NAANAIAAgCSABbGohDiACIAlBAnRqKAIArEIYhkIBhCEMIAchCgNAIAYgCkECdGooAgAhCyADIAtBC3RqIA4gC2otAABBA3RqIQ0gDSANKQMAIAx8NwMAIApBAWohCiAKIAhIDQALIAlBAWohCSAJIAVIDQALCwtAAQF/IAAgAkEDdGohAwJAIAAgA08NAANAIAAgACkDACABKQMAfTcDACAAQQhqIQAgAUEIaiEBIAAgA0kNAAsLC6gCAwJ/AX0CfwJAIAFBAEwNAANAIAAgBUECdGoqAgAhByAHIAdcBEAgBCAFakEAOgAABSADIAZBCnRqIQhBgAFBACAIKgL8AyAHXRshCSAJQcAAQQAgCCAJQQJ0aioC/AEgB10baiEJIAlBIEEAIAggCUECdGoqAnwgB10baiEJIAlBEEEAIAggCUECdGoqAjwgB10baiEJIAlBCEEAIAggCUECdGoqAhwgB10baiEJIAlBBEEAIAggCUECdGoqAgwgB10baiEJIAlBAkEAIAggCUECdGoqAgQgB10baiEJIAlBAUEAIAggCUECdGoqAgAgB10baiEJIAQgBWogCUEBajoAAAsgBkEBaiEGIAYgAkYEQEEAIQYLIAVBAWohBSAFIAFIDQALCwuhAQEFfyAFQXhxIQogAyEGAkAgBiAETg0AA0AgASAGIAVsaiEHIAAgAiAGQQJ0aigCACAFbGohCEEAIQkCQCAJIApPDQADQCAHIAlqIAggCWopAwA3AwAgCUEIaiEJIAkgCkkNAAsLAkAgCSAFTw0AA0AgByAJaiAIIAlqLQAAOgAAIAlBAWohCSAJIAVJDQALCyAGQQFqIQYgBiAESA0ACwsL4wIFBX8BfAF/AXwBfiADIQ8gAyEQAkAgDyAETg0AA0AgBiAPQQJ0aigCACESIAAgEmotAAAhEyAHIA9BA3RqKwMAIRQgCCAPQQJ0aigCACEVIAIgEyABTSATRRsEQCAGIBBBAnRqIBI2AgAgBUUEQCAHIBBBA3RqIBQ5AwAgCCAQQQJ0aiAVNgIAIAkgEEECdGogDzYCAAsgFiAUoCEWIBcgFax8IRcgEEEBaiEQBSAKIBFBAnRqIBI2AgAgBUUEQCALIBFBA3RqIBQ5AwAgDCARQQJ0aiAVNgIAIA0gEUECdGogDzYCAAsgEUEBaiERCyAPQQFqIQ8gDyAESA0ACwsgBiAQQQJ0aiAKIBFBAnT8CgAAIAVFBEAgByAQQQN0aiALIBFBA3T8CgAAIAggEEECdGogDCARQQJ0/AoAACAJIBBBAnRqIA0gEUECdPwKAAALIA4gFjkDACAOIBe5OQMIIBAL';

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

/** Row counts live in the low 24 bits of a bin. */
export const COUNT_BITS = 24;

/**
 * Gradient/count histograms for several tree nodes over features[from..to).
 * bins: byte address of the partition-ordered row-major bins; layout: byte addresses of gradQ,
 * hist and featureList + nFeatures and histStrideBytes (bytes per node slot).
 * nodes: triples (slot, start, end) of partition positions. features: the list also stored at
 * layout.featureList.
 */
export function buildHistograms(kernel, memory, layout, bins, features, from, to, nodes, nNodes) {
  if (to <= from) return;
  const h = new Int32Array(memory.buffer);
  // Contiguous feature lists (no column sampling) skip the indirection in the hot loop.
  const contiguous = features[to - 1] - features[from] === to - 1 - from;
  for (let q = 0; q < nNodes; q++) {
    const slot = nodes[3 * q];
    const start = nodes[3 * q + 1];
    const end = nodes[3 * q + 2];
    const nodeByte = layout.hist + slot * layout.histStrideBytes;
    for (let k = from; k < to; k++) {
      const base = (nodeByte + features[k] * FEATURE_HIST_BYTES) / 4;
      h.fill(0, base, base + FEATURE_HIST_BYTES / 4);
    }
    if (contiguous) {
      kernel.histContiguous(bins, layout.nFeatures, layout.gradQ, nodeByte, start, end, features[from], features[from] + (to - from));
    } else {
      kernel.histListed(bins, layout.nFeatures, layout.gradQ, nodeByte, start, end, layout.featureList, from, to);
    }
  }
}
