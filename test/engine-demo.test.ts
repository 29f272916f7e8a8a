import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../actions/lib/db/index.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { regressionPipelineSchema, type RegressionPipeline } from '../actions/lib/config/schema.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { featureSpecFromPipeline } from '../actions/lib/features/spec.ts';
import { buildTrainingSet, type TrainingSet } from '../actions/lib/features/training-set.ts';
import { predictNative, train } from '../actions/lib/train/index.ts';
import { baselinePredictions, targetMean } from '../actions/lib/train/baselines.ts';
import { scoreOnnx } from '../actions/lib/onnx/score.ts';
import { regressionMetrics } from '../actions/lib/evaluate/metrics.ts';
import type { Frame } from '../actions/lib/source/frame.ts';

/**
 * The engine on the demo pipelines themselves (not a synthetic matrix): what onnxruntime-node
 * serves equals the native model, and gbdt beats both the baseline and ridge on the holdout.
 */
const START = new Date('2026-10-01T00:00:00Z');
const AS_OF = new Date(START.getTime() + 35 * 86_400_000);

describe('the engine on the demo pipelines', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ ignoreEnv: true });
    await seedReadings(db, { days: 35, stations: 1, seed: 5, start: START });
  });
  afterAll(() => db.close());

  for (const file of ['pipelines/tank-level-forecast.yaml', 'pipelines/pump-efficiency.yaml']) {
    describe(file, () => {
      let p: RegressionPipeline;
      let frame: Frame;
      let set: TrainingSet;
      beforeAll(async () => {
        p = regressionPipelineSchema.parse({
          ...loadPipelineFile(file),
          trainer: { algorithm: 'gbdt', params: { trees: 120, max_depth: 6, learning_rate: 0.1, threads: 1 } },
        });
        frame = await extractFrame(db, p.source, AS_OF);
        set = buildTrainingSet(frame, featureSpecFromPipeline(p), p.split);
      });
      const meta = () => ({
        model_name: p.name,
        training_window: { start: frame.window.start.toISOString(), end: frame.window.end.toISOString() },
        data_fingerprint: 'sha256:' + '0'.repeat(64),
      });

      it('serves exactly the native model: ridge within 1e-5 relative, gbdt to float32 rounding on >= 99.99% of holdout rows', async () => {
        const h = set.holdout;
        let nanRows = 0;
        for (let i = 0; i < h.values.length; i++) if (Number.isNaN(h.values[i])) nanRows++;
        expect(nanRows).toBeGreaterThan(0); // rows with NaN features are part of the comparison

        const ridge = await train({ algorithm: 'ridge', params: { alpha: 1 } }, set.train, meta());
        const rNative = predictNative(ridge.model!, h.values, h.rows);
        const rOnnx = await scoreOnnx(ridge.onnx, h.values, h.rows, h.names.length);
        for (let i = 0; i < h.rows; i++) expect(Math.abs(rOnnx[i] - rNative[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(rNative[i])));

        const gbdt = await train(p.trainer, set.train, meta());
        const gNative = predictNative(gbdt.model!, h.values, h.rows);
        const gOnnx = await scoreOnnx(gbdt.onnx, h.values, h.rows, h.names.length);
        let equal = 0;
        for (let i = 0; i < h.rows; i++) {
          // float32 rounding: the runtime sums the trees in another order than the native model
          if (Math.abs(gOnnx[i] - gNative[i]) <= 4 * 2 ** -23 * Math.max(1, Math.abs(gNative[i]))) equal++;
        }
        expect(equal / h.rows).toBeGreaterThanOrEqual(0.9999);
      });

      it('gbdt beats the baseline and ridge on the holdout', async () => {
        const h = set.holdout;
        const gbdt = await train(p.trainer, set.train, meta());
        const ridge = await train({ algorithm: 'ridge', params: { alpha: 1 } }, set.train, meta());
        const g = regressionMetrics(h.target, await scoreOnnx(gbdt.onnx, h.values, h.rows, h.names.length));
        const r = regressionMetrics(h.target, await scoreOnnx(ridge.onnx, h.values, h.rows, h.names.length));
        const base = regressionMetrics(
          h.target,
          baselinePredictions(p.baseline.kind, frame, h, featureSpecFromPipeline(p), {
            trainTargetMean: targetMean(set.train),
            seasonMinutes: p.baseline.season_minutes,
          }),
        );
        expect(g.nan_predictions).toBe(0);
        expect(g.rmse).toBeLessThan(base.rmse);
        expect(g.rmse).toBeLessThan(r.rmse);
      });
    });
  }
});
