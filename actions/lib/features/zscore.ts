import type { FeatureMatrix } from './matrix.ts';
import { isOneHotName } from './categorical.ts';
import { isCalendarName, type ZScoreStats } from './spec.ts';

export type { ZScoreStats };

/*
 * Standardisation statistics (ZScoreStats, whose schema sits with the feature spec they are
 * recorded with), fitted on training rows only.
 *
 * Design: z-scoring replaces a feature's values in place and keeps its name, so the matrix the
 * model is trained on, the ONNX input (`names`) and the matrix rebuilt for serving (buildFeatures
 * with these stats) are the same columns. Calendar sin/cos features and one-hot
 * indicators are left as they are.
 */

/**
 * Mean and (population) std of every non-calendar feature over `rows` (all rows when absent),
 * NaNs skipped; Welford's update, so large offsets do not cost precision.
 */
export function fitZScore(matrix: FeatureMatrix, rows?: ArrayLike<number>): ZScoreStats {
  const nf = matrix.names.length;
  const cols = matrix.names.map((n, j) => [n, j] as const).filter(([n]) => !isCalendarName(n) && !isOneHotName(n));
  const count = new Float64Array(nf);
  const mean = new Float64Array(nf);
  const m2 = new Float64Array(nf);
  const k = rows ? rows.length : matrix.rows;
  for (let t = 0; t < k; t++) {
    const r = rows ? rows[t] : t;
    const base = r * nf;
    for (const [, j] of cols) {
      const x = matrix.values[base + j];
      if (x !== x) continue;
      const c = ++count[j];
      const d = x - mean[j];
      mean[j] += d / c;
      m2[j] += d * (x - mean[j]);
    }
  }
  const out: ZScoreStats = { version: 1, names: [], mean: [], std: [] };
  for (const [name, j] of cols) {
    const sd = count[j] > 0 ? Math.sqrt(m2[j] / count[j]) : 0;
    out.names.push(name);
    out.mean.push(count[j] > 0 ? mean[j] : 0);
    out.std.push(sd > 0 && Number.isFinite(sd) ? sd : 1);
  }
  return out;
}

/** Standardises the matrix's values IN PLACE with `stats` and returns it. Every stats name must be a feature. */
export function applyZScore(matrix: FeatureMatrix, stats: ZScoreStats): FeatureMatrix {
  const nf = matrix.names.length;
  const at = new Map(matrix.names.map((n, j) => [n, j]));
  const idx = stats.names.map((n) => {
    const j = at.get(n);
    if (j === undefined) throw new Error(`z-score stats name feature "${n}" that the matrix does not have`);
    return j;
  });
  for (let s = 0; s < idx.length; s++) {
    const j = idx[s];
    const mu = stats.mean[s];
    const inv = 1 / stats.std[s];
    for (let p = j; p < matrix.values.length; p += nf) matrix.values[p] = (matrix.values[p] - mu) * inv;
  }
  return matrix;
}
