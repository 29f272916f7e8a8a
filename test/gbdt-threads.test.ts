import { describe, expect, it } from 'vitest';
import { syntheticMatrix } from '../actions/lib/train/bench.ts';
import { predictNative, train, type OnnxMetadata } from '../actions/lib/train/index.ts';
import type { GbdtModel } from '../actions/lib/train/gbdt/model.ts';
import { fitThreads } from '../actions/lib/train/gbdt/histogram.ts';
import { autoThreads } from '../actions/lib/train/gbdt/trainer.ts';

const meta: OnnxMetadata = { model_name: 'm', training_window: { start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00Z' }, data_fingerprint: 'f' };

// The trainer splits each level's work over feature groups claimed by the threads, one group of
// 24+ features per thread (histograms built from rows in pairs): the result must not depend on
// the thread count.
describe('gbdt trainer threads', () => {
  it('gives identical models for 1, 2 and 3 threads with wide groups, sampling and early stopping', async () => {
    const m = syntheticMatrix(5000, 72, { seed: 21, nanShare: 0.03 });
    // 72 features: one group per thread, 72, 36 or 24 wide
    expect([1, 2, 3].map((t) => fitThreads(72, t))).toEqual([1, 2, 3]);
    expect([fitThreads(3, 5), fitThreads(11, 2), fitThreads(47, 2), fitThreads(48, 2), fitThreads(94, 8)]).toEqual([1, 1, 1, 2, 3]);
    // threads: 0 (auto) takes one per 50,000 training rows, at most one per core
    expect([autoThreads(34_282, 2), autoThreads(100_000, 2), autoThreads(417_448, 2), autoThreads(417_448, 16)]).toEqual([1, 2, 2, 8]);
    const params = { trees: 12, max_depth: 5, subsample: 0.9, colsample: 0.8, early_stopping_rounds: 3, validation_fraction: 0.2, seed: 5 };
    const runs = [];
    for (const threads of [1, 2, 3]) runs.push(await train({ algorithm: 'gbdt', params: { ...params, threads } }, m, meta));
    const trees = (runs[0].model as GbdtModel).trees;
    expect(trees.length).toBeGreaterThan(0);
    for (const run of runs.slice(1)) {
      expect((run.model as GbdtModel).trees).toEqual(trees);
      expect(run.trees_used).toBe(runs[0].trees_used);
      expect(predictNative(run.model!, m.values, m.rows)).toEqual(predictNative(runs[0].model!, m.values, m.rows));
    }
  });
});
