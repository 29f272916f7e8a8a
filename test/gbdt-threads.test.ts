import { describe, expect, it } from 'vitest';
import { syntheticMatrix } from '../actions/lib/train/bench.ts';
import { predictNative } from '../actions/lib/train/index.ts';
import { fitThreads } from '../actions/lib/train/gbdt/histogram.ts';
import { autoThreads, trainGbdt } from '../actions/lib/train/gbdt/trainer.ts';
import { gbdtParamsSchema } from '../actions/lib/train/params.ts';

// The trainer splits each level's work over feature groups claimed by the threads, one group of
// 24+ features per thread (histograms built from rows in pairs): the result must not depend on
// the thread count.
describe('gbdt trainer threads', () => {
  it('gives identical models for 1, 2 and 3 threads with wide groups, sampling and early stopping', async () => {
    // 90 features, 72 of them sampled per tree (colsample 0.8): 1, 2 or 3 groups of 24+ sampled features
    const m = syntheticMatrix(5000, 90, { seed: 21, nanShare: 0.03 });
    expect([1, 2, 3].map((t) => fitThreads(72, t))).toEqual([1, 2, 3]);
    expect([fitThreads(3, 5), fitThreads(11, 2), fitThreads(47, 2), fitThreads(48, 2), fitThreads(94, 8)]).toEqual([1, 1, 1, 2, 3]);
    // threads: 0 (auto) takes one per 50,000 training rows, at most one per core
    expect([autoThreads(34_282, 2), autoThreads(100_000, 2), autoThreads(417_448, 2), autoThreads(417_448, 16)]).toEqual([1, 2, 2, 8]);
    const params = { trees: 12, max_depth: 5, subsample: 0.9, colsample: 0.8, early_stopping_rounds: 3, validation_fraction: 0.2, seed: 5 };
    const input = { names: m.names, values: m.values, target: m.target, rows: m.rows };
    const runs = [];
    for (const threads of [1, 2, 3]) runs.push(await trainGbdt(input, gbdtParamsSchema.parse({ ...params, threads })));
    expect(runs.map((r) => r.threads)).toEqual([1, 2, 3]);
    const trees = runs[0].model.trees;
    expect(trees.length).toBeGreaterThan(0);
    for (const run of runs.slice(1)) {
      expect(run.model.trees).toEqual(trees);
      expect(run.trees_used).toBe(runs[0].trees_used);
      expect(predictNative(run.model, m.values, m.rows)).toEqual(predictNative(runs[0].model, m.values, m.rows));
    }
  });

  it('counts the features a tree samples: colsample below 1 takes fewer threads, so that groups stay 24 wide', async () => {
    const m = syntheticMatrix(3000, 60, { seed: 3 });
    const input = { names: m.names, values: m.values, target: m.target, rows: m.rows };
    const fit = (colsample: number) => trainGbdt(input, gbdtParamsSchema.parse({ trees: 2, max_depth: 3, colsample, threads: 2, early_stopping_rounds: null }));
    // 60 features: 2 groups of 30; 36 sampled (0.6): one group, as 2 would hold ~18 sampled each
    expect((await fit(1)).threads).toBe(2);
    expect((await fit(0.6)).threads).toBe(1);
    expect((await fit(0.8)).threads).toBe(2);
  });
});
