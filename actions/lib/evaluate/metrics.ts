import { z } from 'zod';
import { jsonNumber } from '../util/json.ts';

/** Regression metrics of one set of predictions against the truth (NaN where undefined). */
export const regressionMetricsSchema = z.object({
  /** rows with a finite prediction (the rows the other metrics are computed on) */
  rows: z.number().int().min(0),
  rmse: jsonNumber,
  mae: jsonNumber,
  r2: jsonNumber,
  /** mean(prediction - truth): positive = over-forecast */
  bias: jsonNumber,
  max_abs_error: jsonNumber,
  /** predictions that were NaN or infinite; excluded from the metrics above */
  nan_predictions: z.number().int().min(0),
});
export type RegressionMetrics = z.output<typeof regressionMetricsSchema>;

/**
 * RMSE, MAE, R², bias and max error over the rows with a finite prediction. Non-finite
 * predictions are counted, not silently averaged in; when none is finite all metrics are NaN.
 * R² is NaN when the truth is constant over the counted rows.
 */
export function regressionMetrics(yTrue: Float64Array, yPred: ArrayLike<number>): RegressionMetrics {
  if (yTrue.length !== yPred.length) {
    throw new Error(`regressionMetrics: ${yTrue.length} true values but ${yPred.length} predictions`);
  }
  let n = 0;
  let nonFinite = 0;
  let sumY = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (Number.isFinite(yPred[i])) {
      n++;
      sumY += yTrue[i];
    } else {
      nonFinite++;
    }
  }
  if (n === 0) {
    return { rows: 0, rmse: NaN, mae: NaN, r2: NaN, bias: NaN, max_abs_error: NaN, nan_predictions: nonFinite };
  }
  const meanY = sumY / n;
  let sse = 0;
  let sae = 0;
  let sumErr = 0;
  let maxAbs = 0;
  let sst = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = yPred[i];
    if (!Number.isFinite(p)) continue;
    const e = p - yTrue[i];
    const a = Math.abs(e);
    sse += e * e;
    sae += a;
    sumErr += e;
    if (a > maxAbs) maxAbs = a;
    const d = yTrue[i] - meanY;
    sst += d * d;
  }
  return {
    rows: n,
    rmse: Math.sqrt(sse / n),
    mae: sae / n,
    r2: sst > 0 ? 1 - sse / sst : NaN,
    bias: sumErr / n,
    max_abs_error: maxAbs,
    nan_predictions: nonFinite,
  };
}
