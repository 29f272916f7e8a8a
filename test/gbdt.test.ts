import { metricValue } from '../actions/lib/evaluate/metrics.ts';
import { describe, expect, it } from 'vitest';
import { sliceRows, type FeatureMatrix } from '../actions/lib/features/matrix.ts';
import { regressionMetrics } from '../actions/lib/evaluate/metrics.ts';
import { syntheticMatrix } from '../actions/lib/train/bench.ts';
import { predictNative, train, type OnnxMetadata } from '../actions/lib/train/index.ts';
import { predictGbdt, type GbdtModel } from '../actions/lib/train/gbdt/model.ts';
import { trainGbdt } from '../actions/lib/train/gbdt/trainer.ts';
import { gbdtParamsSchema } from '../actions/lib/train/params.ts';
import { scoreOnnx } from '../actions/lib/onnx/score.ts';

const meta: OnnxMetadata = { model_name: 'm', training_window: { start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00Z' }, data_fingerprint: 'f' };

function withColumn(m: FeatureMatrix, f: number, value: (r: number) => number): FeatureMatrix {
  const values = m.values.slice();
  for (let r = 0; r < m.rows; r++) values[r * m.names.length + f] = value(r);
  return { ...m, values };
}

describe('gbdt trainer', () => {
  it('fits a nonlinear target with interactions to within 10% of the noise and beats ridge', async () => {
    const sigma = 0.5;
    const m = syntheticMatrix(20_000, 10, { seed: 3, sigma });
    const trainSet = sliceRows(m, 0, 16_000);
    const holdout = sliceRows(m, 16_000, 20_000);
    const gbdt = await train(
      { algorithm: 'gbdt', params: { trees: 500, max_depth: 4, learning_rate: 0.1, early_stopping_rounds: 30, threads: 1 } },
      trainSet,
      meta,
    );
    const ridge = await train({ algorithm: 'ridge', params: { alpha: 1 } }, trainSet, meta);
    const gbdtRmse = regressionMetrics(holdout.target, predictNative(gbdt.model!, holdout.values, holdout.rows)).rmse;
    const ridgeRmse = regressionMetrics(holdout.target, predictNative(ridge.model!, holdout.values, holdout.rows)).rmse;
    expect(gbdtRmse).toBeLessThan(sigma * 1.1);
    expect(gbdtRmse).toBeLessThan(ridgeRmse * 0.6);
    // early stopping kept fewer trees than the cap and said so
    expect(gbdt.trees_used).toBeGreaterThan(50);
    expect(gbdt.trees_used).toBeLessThan(500);
    expect((gbdt.model as GbdtModel).trees.length).toBe(gbdt.trees_used);
  });

  it('gives identical trees and predictions for threads=1 and threads=2', async () => {
    // 2 threads need 48 features (fitThreads: groups of 24 or more)
    const m = syntheticMatrix(6000, 50, { seed: 9, nanShare: 0.05 });
    const params = { trees: 15, max_depth: 5, subsample: 0.8, colsample: 0.7, early_stopping_rounds: null, seed: 3 };
    const one = await train({ algorithm: 'gbdt', params: { ...params, threads: 1 } }, m, meta);
    const two = await train({ algorithm: 'gbdt', params: { ...params, threads: 2 } }, m, meta);
    expect((two.model as GbdtModel).trees).toEqual((one.model as GbdtModel).trees);
    expect(predictNative(two.model!, m.values, m.rows)).toEqual(predictNative(one.model!, m.values, m.rows));
  });

  it('grows deep trees past the initial histogram memory, identically on 1 and 2 threads', async () => {
    const m = syntheticMatrix(6000, 48, { seed: 13, nanShare: 0.05 });
    const params = { trees: 3, max_depth: 12, min_samples_leaf: 2, early_stopping_rounds: null };
    const one = await train({ algorithm: 'gbdt', params: { ...params, threads: 1 } }, m, meta);
    const two = await train({ algorithm: 'gbdt', params: { ...params, threads: 2 } }, m, meta);
    const trees = (one.model as GbdtModel).trees;
    expect(Math.max(...trees.map((t) => t.feature.length))).toBeGreaterThan(500);
    expect((two.model as GbdtModel).trees).toEqual(trees);
    const native = predictNative(one.model!, m.values, m.rows);
    const onnx = await scoreOnnx(one.onnx, m.values, m.rows, m.names.length);
    let off = 0;
    for (let r = 0; r < m.rows; r++) if (Math.abs(onnx[r] - native[r]) > 1e-5 * Math.max(1, Math.abs(native[r]))) off++;
    expect(off).toBe(0);
  });

  it("takes its training scores from the boosting's running sums: the kept model's predictions, also after early stopping and subsampling", async () => {
    const m = syntheticMatrix(5000, 8, { seed: 21, nanShare: 0.05 });
    const cases = [
      { trees: 400, max_depth: 4, learning_rate: 0.3, early_stopping_rounds: 5, subsample: 0.7 },
      { trees: 20, max_depth: 5, early_stopping_rounds: null },
    ];
    for (const params of cases) {
      const result = await trainGbdt(m, gbdtParamsSchema.parse({ ...params, threads: 1 }));
      // Early stopping must have dropped trees for the first case to mean anything.
      if (params.early_stopping_rounds !== null) expect(result.trees_used).toBeLessThan(params.trees);
      const native = predictGbdt(result.model, m.values, m.rows);
      expect(result.train_scores).toHaveLength(m.rows);
      for (let r = 0; r < m.rows; r++) expect(result.train_scores[r]).toBeCloseTo(native[r], 4);
    }
  });

  it('never splits a constant feature and still trains', async () => {
    const m = withColumn(syntheticMatrix(3000, 5, { seed: 4 }), 2, () => 7);
    const art = await train({ algorithm: 'gbdt', params: { trees: 10, early_stopping_rounds: null, threads: 1 } }, m, meta);
    const used = new Set((art.model as GbdtModel).trees.flatMap((t) => Array.from(t.feature)));
    expect(used.has(2)).toBe(false);
    expect(Number.isFinite(metricValue(art.train_metrics, 'rmse'))).toBe(true);
  });

  it('trains, exports and scores single-leaf trees when every feature is constant', async () => {
    const m = withColumn(
      withColumn(syntheticMatrix(100, 2, { seed: 4 }), 0, () => 3),
      1,
      () => -1,
    );
    const art = await train({ algorithm: 'gbdt', params: { trees: 3, early_stopping_rounds: null, threads: 1 } }, m, meta);
    const model = art.model as GbdtModel;
    expect(model.trees.map((t) => Array.from(t.feature))).toEqual([[-1], [-1], [-1]]);
    let mean = 0;
    for (const y of m.target) mean += y / m.rows;
    const onnx = await scoreOnnx(art.onnx, m.values, m.rows, 2);
    expect(onnx[0]).toBeCloseTo(mean, 4);
    expect(predictNative(model, m.values, m.rows)[0]).toBe(onnx[0]);
  });

  it('rejects bad input with a message naming the problem', async () => {
    const m = syntheticMatrix(200, 3, { seed: 1 });
    const gbdt = { algorithm: 'gbdt' as const, params: { trees: 3, threads: 1 } };
    await expect(train(gbdt, sliceRows(m, 0, 0), meta)).rejects.toThrow('train: the training matrix has zero rows');
    await expect(
      train(
        gbdt,
        withColumn(m, 1, () => NaN),
        meta,
      ),
    ).rejects.toThrow('train: feature "x1" is NaN in every training row');
    const badTarget = { ...m, target: m.target.slice() };
    badTarget.target[17] = NaN;
    badTarget.target[40] = Infinity;
    await expect(train(gbdt, badTarget, meta)).rejects.toThrow('train: the target has 2 NaN or infinite values (first at row 17)');
    await expect(train({ algorithm: 'gbdt', params: { max_depth: 40 } }, m, meta)).rejects.toThrow(
      'train: invalid trainer spec: params.max_depth: Too big: expected number to be <=16',
    );
    await expect(train({ algorithm: 'gbdt', params: { learning_rate: 0 } }, m, meta)).rejects.toThrow(
      'train: invalid trainer spec: params.learning_rate: Too small: expected number to be >0',
    );
    await expect(train({ algorithm: 'gbdt', params: { trees: 3, validation_fraction: 0.1 } }, sliceRows(m, 0, 9), meta)).rejects.toThrow(
      'train: gbdt needs at least 10 rows for the early-stopping validation slice (validation_fraction=0.1), got 9; add rows or set early_stopping_rounds: null',
    );
    // the same 9 rows train fine without early stopping
    const small = await train(
      { algorithm: 'gbdt', params: { trees: 3, early_stopping_rounds: null, min_samples_leaf: 1, threads: 1 } },
      sliceRows(m, 0, 9),
      meta,
    );
    expect(small.trees_used).toBe(3);
  });
});
