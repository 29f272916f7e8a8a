import { createPrng } from '../../actions/lib/train/prng.ts';

/**
 * `n` seeded normals (Box–Muller over the pipeline's mulberry32 PRNG, both values of each pair
 * used): the same seed gives the same sample on every platform.
 */
export function normals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  const u = createPrng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    out[i] = mean + sd * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + sd * r * Math.sin(th);
  }
  return out;
}
