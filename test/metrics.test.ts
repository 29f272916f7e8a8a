import { describe, expect, it } from 'vitest';
import { regressionMetrics } from '../actions/lib/evaluate/metrics.ts';

describe('regressionMetrics', () => {
  it('computes rmse, mae, r2, bias and max error', () => {
    const m = regressionMetrics(Float64Array.of(1, 2, 3, 4), [2, 2, 3, 2]);
    expect(m.rows).toBe(4);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 4), 12);
    expect(m.mae).toBeCloseTo(3 / 4, 12);
    expect(m.bias).toBeCloseTo(-1 / 4, 12);
    expect(m.max_abs_error).toBe(2);
    expect(m.r2).toBeCloseTo(1 - 5 / 5, 12);
    expect(m.nan_predictions).toBe(0);
  });

  it('counts NaN/infinite predictions and leaves them out of the rest', () => {
    const m = regressionMetrics(Float64Array.of(1, 2, 3, 100), Float32Array.of(1, NaN, 3, Infinity));
    expect(m).toEqual({ rows: 2, rmse: 0, mae: 0, r2: 1, bias: 0, max_abs_error: 0, nan_predictions: 2 });
  });

  it('is all NaN when no prediction is finite, and says how many', () => {
    const m = regressionMetrics(Float64Array.of(1, 2), [NaN, -Infinity]);
    expect(m.rows).toBe(0);
    expect(m.nan_predictions).toBe(2);
    for (const k of ['rmse', 'mae', 'r2', 'bias', 'max_abs_error'] as const) expect(m[k]).toBeNaN();
  });

  it('rejects mismatched lengths', () => {
    expect(() => regressionMetrics(Float64Array.of(1), [1, 2])).toThrow('regressionMetrics: 1 true values but 2 predictions');
  });
});
