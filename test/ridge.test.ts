import { describe, expect, it } from 'vitest';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';
import { createPrng } from '../actions/lib/train/prng.ts';
import { predictRidge, trainRidge } from '../actions/lib/train/ridge.ts';
import { train, type OnnxMetadata } from '../actions/lib/train/index.ts';

const meta: OnnxMetadata = { model_name: 'm', training_window: { start: 'a', end: 'b' }, data_fingerprint: 'f' };

function linearData(rows: number): FeatureMatrix {
  const rng = createPrng(2);
  const n = 4;
  const values = new Float32Array(rows * n);
  const target = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const x0 = rng() * 10;
    const x1 = rng() * 2 - 1;
    const x3 = 100 + rng();
    values.set([x0, x1, 5, x3], r * n); // x2 is constant
    target[r] = 3 + 2 * Math.fround(x0) - 4 * Math.fround(x1) + 0.5 * Math.fround(x3);
  }
  return { rows, names: ['x0', 'x1', 'x2', 'x3'], values, target, times: new Float64Array(rows), entities: new Int32Array(rows), entityIds: ['e'] };
}

describe('ridge trainer', () => {
  it('recovers a linear map (alpha ~ 0), gives a constant column weight 0 and std 1', () => {
    const m = linearData(2000);
    const model = trainRidge(m, { alpha: 0 });
    expect(model.coef[2]).toBe(0);
    expect(model.stds[2]).toBe(1);
    // raw-unit slopes = coef / std
    expect(model.coef[0] / model.stds[0]).toBeCloseTo(2, 5);
    expect(model.coef[1] / model.stds[1]).toBeCloseTo(-4, 5);
    expect(model.coef[3] / model.stds[3]).toBeCloseTo(0.5, 4);
    const pred = predictRidge(model, m.values, m.rows);
    for (let r = 0; r < 50; r++) expect(pred[r]).toBeCloseTo(m.target[r], 3);
  });

  it('shrinks towards the mean as alpha grows and imputes NaN with the training mean', () => {
    const m = linearData(500);
    const loose = trainRidge(m, { alpha: 0.01 });
    const tight = trainRidge(m, { alpha: 1e6 });
    expect(Math.abs(tight.coef[0])).toBeLessThan(Math.abs(loose.coef[0]) / 100);
    const row = Float32Array.of(NaN, NaN, NaN, NaN);
    expect(predictRidge(loose, row, 1)[0]).toBeCloseTo(loose.intercept, 9);
  });

  it('rejects a negative alpha with the field in the message', async () => {
    await expect(train({ algorithm: 'ridge', params: { alpha: -1 } }, linearData(10), meta)).rejects.toThrow(
      'train: invalid trainer spec: params.alpha: Too small: expected number to be >=0',
    );
  });
});
