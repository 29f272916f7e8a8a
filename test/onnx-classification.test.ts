import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';
import { classificationMetrics } from '../actions/lib/evaluate/metrics.ts';
import { checkOnnxWithOfficialChecker, CHECKER_INSTALL_HINT, officialCheckerAvailable } from '../actions/lib/onnx/checker.ts';
import { readOnnxMetadata } from '../actions/lib/onnx/metadata.ts';
import { loadSession, predictedLabels, scoreModel } from '../actions/lib/onnx/score.ts';
import { syntheticMatrix } from '../actions/lib/train/bench.ts';
import { predictNative, train, type OnnxMetadata } from '../actions/lib/train/index.ts';
import type { TrainerSpecInput } from '../actions/lib/train/params.ts';

const meta: OnnxMetadata = {
  model_name: 'credit-default',
  training_window: { start: '2024-01-01T00:00:00.000Z', end: '2024-12-31T00:00:00.000Z' },
  data_fingerprint: 'sha256:abc123',
  classification: { decision_threshold: 0.35 },
};

/** A synthetic binary problem: the regression target above its 75th percentile is the positive class (~25%). */
function labelled(rows: number, seed: number): FeatureMatrix {
  const m = syntheticMatrix(rows, 6, { seed, nanShare: 0.04, sigma: 1.5 });
  const cut = Float64Array.from(m.target).sort()[Math.floor(rows * 0.75)];
  return { ...m, target: Float64Array.from(m.target, (y) => (y > cut ? 1 : 0)) };
}
const data = labelled(4000, 21);
const holdout = labelled(1500, 22);

async function outputs(onnx: Uint8Array, m: FeatureMatrix): Promise<{ label: BigInt64Array; probabilities: Float32Array; dims: readonly number[] }> {
  const session = await loadSession(onnx);
  const r = await session.run({ features: new ort.Tensor('float32', m.values, [m.rows, m.names.length]) });
  return { label: r.label.data as BigInt64Array, probabilities: r.probabilities.data as Float32Array, dims: r.probabilities.dims };
}

describe('classifiers exported to ONNX', () => {
  for (const spec of [
    { algorithm: 'logistic' as const, params: { C: 1 } },
    { algorithm: 'gbdt' as const, params: { trees: 40, max_depth: 4, learning_rate: 0.2, early_stopping_rounds: null, threads: 1 } },
  ]) {
    it(`${spec.algorithm}: onnxruntime gives the native probabilities, the label at the threshold, and beats the prior`, async () => {
      const art = await train(spec, data, meta);
      const info = readOnnxMetadata(art.onnx);
      expect(info.opsets).toEqual([
        { domain: '', version: 17 },
        { domain: 'ai.onnx.ml', version: 3 },
      ]);
      expect(info.inputs).toEqual([{ name: 'features', elem_type: 1, dims: ['N', 6] }]);
      expect(info.outputs).toEqual([
        { name: 'label', elem_type: 7, dims: ['N'] },
        { name: 'probabilities', elem_type: 1, dims: ['N', 2] },
      ]);
      expect(info.metadata).toMatchObject({ task: 'classification', decision_threshold: '0.35', trainer: spec.algorithm });

      const native = predictNative(art.model!, holdout.values, holdout.rows);
      const out = await outputs(art.onnx, holdout);
      expect(out.dims).toEqual([holdout.rows, 2]);
      const scored = await scoreModel(art.onnx, holdout.values, holdout.rows, 6);
      expect(scored.task).toBe('classification');
      for (let i = 0; i < holdout.rows; i++) {
        // float32 Sigmoid of float32 sums against float64: a few ulps
        expect(Math.abs(scored.values[i] - native[i])).toBeLessThan(2e-6);
        expect(out.probabilities[2 * i] + out.probabilities[2 * i + 1]).toBeCloseTo(1, 6);
        expect(out.probabilities[2 * i + 1]).toBe(scored.values[i]);
      }
      // The model's own label output is the probability at the decision threshold.
      const labels = predictedLabels(scored.values, 0.35);
      expect(Array.from(out.label, Number)).toEqual(Array.from(labels));

      const m = classificationMetrics(holdout.target, scored.values, 0.35);
      const baseRate = data.target.reduce((s, y) => s + y, 0) / data.rows;
      const prior = classificationMetrics(holdout.target, new Float64Array(holdout.rows).fill(baseRate), 0.35);
      expect(m.roc_auc).toBeGreaterThan(0.8);
      expect(m.brier).toBeLessThan(prior.brier);
      expect(m.log_loss).toBeLessThan(prior.log_loss);
      expect(art.train_metrics).toMatchObject({ task: 'classification', rows: data.rows });
    });
  }

  it('class_weight balanced raises recall on the rare class', async () => {
    const params = { trees: 30, max_depth: 3, learning_rate: 0.2, early_stopping_rounds: null, threads: 1 };
    const plain = await train({ algorithm: 'gbdt', params }, data, { ...meta, classification: { decision_threshold: 0.5 } });
    const balanced = await train({ algorithm: 'gbdt', params: { ...params, class_weight: 'balanced' } }, data, {
      ...meta,
      classification: { decision_threshold: 0.5 },
    });
    const recall = async (onnx: Uint8Array) =>
      classificationMetrics(holdout.target, (await scoreModel(onnx, holdout.values, holdout.rows, 6)).values, 0.5).recall;
    expect(await recall(balanced.onnx)).toBeGreaterThan((await recall(plain.onnx)) + 0.1);
    const logit = await train({ algorithm: 'logistic', params: { class_weight: 'balanced' } }, data, { ...meta, classification: { decision_threshold: 0.5 } });
    // At the optimum the intercept's condition is Σ w p = Σ w y, and balanced weights make Σ w y
    // half of Σ w: the weighted mean probability is exactly 0.5.
    const p = (await scoreModel(logit.onnx, data.values, data.rows, 6)).values;
    const positives = data.target.reduce((s, y) => s + y, 0);
    const w = [data.rows / (2 * (data.rows - positives)), data.rows / (2 * positives)];
    let num = 0;
    let den = 0;
    p.forEach((v, i) => ((num += w[data.target[i]] * v), (den += w[data.target[i]])));
    expect(num / den).toBeCloseTo(0.5, 5);
  });

  it('refuses the wrong trainer for the task and a single-class target', async () => {
    await expect(train({ algorithm: 'ridge', params: {} }, data, meta)).rejects.toThrow('ridge is a regression trainer');
    await expect(train({ algorithm: 'logistic', params: {} }, data, { ...meta, classification: undefined })).rejects.toThrow(
      'logistic is a classification trainer',
    );
    const oneClass = { ...data, target: new Float64Array(data.rows) };
    await expect(train({ algorithm: 'logistic', params: {} }, oneClass, meta)).rejects.toThrow(
      'every training row is negative (0): a classifier needs both classes',
    );
    await expect(train({ algorithm: 'gbdt', params: { trees: 2, threads: 1 } }, oneClass, meta)).rejects.toThrow('a classifier needs both classes');
  });

  const required = process.env.MLOPS_REQUIRE_ONNX_CHECKER === '1';
  it.skipIf(!required && !officialCheckerAvailable())(
    `pass the official ONNX checker${officialCheckerAvailable() ? '' : ` — skipped: install it with ${CHECKER_INSTALL_HINT}`}`,
    async () => {
      if (!officialCheckerAvailable()) {
        const why = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).stderr;
        throw new Error(`the official ONNX checker is missing (${why.trim()}); install it with: ${CHECKER_INSTALL_HINT}`);
      }
      const specs: TrainerSpecInput[] = [
        { algorithm: 'logistic', params: {} },
        { algorithm: 'gbdt', params: { trees: 5, early_stopping_rounds: null, threads: 1 } },
      ];
      for (const spec of specs) {
        const art = await train(spec, data, meta);
        expect(() => checkOnnxWithOfficialChecker(art.onnx), String(spec.algorithm)).not.toThrow();
      }
    },
  );
});
