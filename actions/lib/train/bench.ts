import type { FeatureMatrix } from '../features/matrix.ts';
import type { GbdtParams } from './params.ts';
import { gbdtParamsSchema } from './params.ts';
import { createPrng } from './prng.ts';
import { trainGbdt } from './gbdt/trainer.ts';

export interface SyntheticRegression {
  names: string[];
  values: Float32Array;
  target: Float64Array;
  rows: number;
}

/**
 * A synthetic regression matrix: y = nonlinear f(x) with interactions + N(0, sigma).
 * Deterministic for a seed; `nanShare` of the feature values are set to NaN.
 */
export function syntheticRegression(rows: number, nFeatures: number, opts: { seed?: number; sigma?: number; nanShare?: number } = {}): SyntheticRegression {
  const rng = createPrng(opts.seed ?? 1);
  const sigma = opts.sigma ?? 0.5;
  const nanShare = opts.nanShare ?? 0;
  const values = new Float32Array(rows * nFeatures);
  const target = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * nFeatures;
    for (let f = 0; f < nFeatures; f++) values[o + f] = rng() * 2 - 1;
    const x0 = values[o];
    const x1 = values[o + 1 < o + nFeatures ? o + 1 : o];
    const x2 = values[o + Math.min(2, nFeatures - 1)];
    const x3 = values[o + Math.min(3, nFeatures - 1)];
    const noise = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    target[r] = 3 * Math.sin(2 * x0) + 2 * x1 * x2 + (x3 > 0 ? 1.5 : -1) + x0 * x0 + sigma * noise;
    for (let f = 0; f < nFeatures; f++) if (nanShare > 0 && rng() < nanShare) values[o + f] = NaN;
  }
  return { names: Array.from({ length: nFeatures }, (_, f) => `x${f}`), values, target, rows };
}

/** Times the GBDT trainer on the benchmark shape (default 420,000 x 94, 100 trees, depth 6). */
export async function benchGbdt(
  opts: { rows?: number; features?: number; params?: Partial<GbdtParams> } = {},
): Promise<{ rows: number; features: number; trees: number; wall_ms: number; threads: number; histogram_rows: number }> {
  const rows = opts.rows ?? 420_000;
  const features = opts.features ?? 94;
  const data = syntheticRegression(rows, features, { seed: 7, nanShare: 0.02 });
  const params = gbdtParamsSchema.parse({ trees: 100, max_depth: 6, learning_rate: 0.1, early_stopping_rounds: null, ...opts.params });
  const t0 = performance.now();
  const result = await trainGbdt(data, params);
  return {
    rows,
    features,
    trees: result.trees_used,
    wall_ms: Math.round(performance.now() - t0),
    threads: result.threads,
    histogram_rows: result.histogram_rows,
  };
}

/** The synthetic regression as a FeatureMatrix (one row per minute from 2024-01-01, one entity). */
export function syntheticMatrix(rows: number, nFeatures: number, opts: { seed?: number; sigma?: number; nanShare?: number } = {}): FeatureMatrix {
  const d = syntheticRegression(rows, nFeatures, opts);
  const t0 = Date.UTC(2024, 0, 1);
  return {
    rows,
    names: d.names,
    values: d.values,
    target: d.target,
    times: Float64Array.from({ length: rows }, (_, i) => t0 + i * 60_000),
    entities: new Int32Array(rows),
    entityIds: ['synthetic'],
  };
}
