import { loadSession, readOnnxMetadata, scoreOnnx, type OnnxModelInfo } from '../onnx/index.ts';
import { createPrng } from '../train/prng.ts';

/**
 * The deploy stage's last check of a model: it loads in onnxruntime-node and scores a smoke sample
 * (rows of zeros and rows of small deterministic pseudo-random values) with every output finite.
 * A model that cannot do this on trivial input must not reach production.
 */

export const SMOKE_ROWS = 16;

export interface SmokeResult {
  outcome: 'passed' | 'failed';
  /** why it failed: names the stage (load, shape, score) and the cause */
  problem?: string;
  nFeatures?: number;
  rows?: number;
}

/** `feature_names` from the model's metadata_props, or null when absent or unreadable. */
function featureNames(info: OnnxModelInfo): string[] | null {
  const text = info.metadata.feature_names;
  if (!text) return null;
  try {
    const names: unknown = JSON.parse(text);
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? (names as string[]) : null;
  } catch {
    return null;
  }
}

/** The number of features: the input's static second dimension, else feature_names, else the registry's list. */
function featureCount(info: OnnxModelInfo, registryFeatures: number | undefined): { n: number } | { problem: string } {
  const input = info.inputs[0];
  if (!input) return { problem: 'the model has no input' };
  if (info.inputs.length !== 1) return { problem: `the model has ${info.inputs.length} inputs; expected one ("features")` };
  const dim = input.dims?.[1];
  const staticDim = typeof dim === 'number' && dim > 0 ? dim : undefined;
  const names = featureNames(info);
  if (staticDim !== undefined && names && names.length !== staticDim)
    return { problem: `input "${input.name}" takes ${staticDim} features but the model's feature_names lists ${names.length}` };
  const n = staticDim ?? names?.length ?? registryFeatures;
  if (n === undefined || n < 1) return { problem: 'cannot tell how many features the model takes (no static input shape, no feature_names metadata)' };
  if (registryFeatures !== undefined && registryFeatures !== n)
    return { problem: `the model takes ${n} features but the registry entry lists ${registryFeatures} (features.names)` };
  return { n };
}

export function smokeSample(nFeatures: number, rows = SMOKE_ROWS): Float32Array {
  const x = new Float32Array(2 * rows * nFeatures); // first half zeros
  const rand = createPrng(0x5eed);
  for (let i = rows * nFeatures; i < x.length; i++) x[i] = (rand() - 0.5) * 2; // in [-1, 1)
  return x;
}

/**
 * Loads `bytes` in onnxruntime-node and scores the smoke sample. `registryFeatures` is the length
 * of the registry entry's features.names (checked against the model when both are known).
 */
export async function smokeScore(bytes: Uint8Array, registryFeatures?: number): Promise<SmokeResult> {
  let info: OnnxModelInfo;
  try {
    info = readOnnxMetadata(bytes);
    await loadSession(bytes);
  } catch (e) {
    return { outcome: 'failed', problem: `does not load in onnxruntime-node: ${firstLine(e)}` };
  }
  const count = featureCount(info, registryFeatures);
  if ('problem' in count) return { outcome: 'failed', problem: count.problem };
  const n = count.n;
  const rows = 2 * SMOKE_ROWS;
  let data: Float32Array;
  try {
    data = await scoreOnnx(bytes, smokeSample(n), rows, n);
  } catch (e) {
    return { outcome: 'failed', nFeatures: n, problem: `scoring the smoke sample failed: ${firstLine(e)}` };
  }
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad > 0)
    return {
      outcome: 'failed',
      nFeatures: n,
      rows,
      problem: `smoke score: ${bad} of ${data.length} predictions are not finite (first: ${String(data[firstBad])} at row ${firstBad}; rows 0-${SMOKE_ROWS - 1} are zeros, the rest small random values)`,
    };
  return { outcome: 'passed', nFeatures: n, rows };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
