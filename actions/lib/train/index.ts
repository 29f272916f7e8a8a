import type { FeatureMatrix } from '../features/matrix.ts';
import { classificationMetrics, regressionMetrics, type ModelMetrics } from '../evaluate/metrics.ts';
import { exportGbdtOnnx } from '../onnx/export-gbdt.ts';
import { exportLogisticOnnx, exportRidgeOnnx } from '../onnx/export-ridge.ts';
import type { OnnxMetadata } from '../onnx/proto.ts';
import { scoreModel } from '../onnx/score.ts';
import { trainCommand } from './command.ts';
import { predictGbdt, type GbdtModel } from './gbdt/model.ts';
import { minRowsForValidation, trainGbdt } from './gbdt/trainer.ts';
import { predictLogistic, sigmoid, trainLogistic, type LogisticModel } from './logistic.ts';
import {
  trainerSchema,
  type CommandParams,
  type GbdtParams,
  type LogisticParams,
  type RidgeParams,
  type TrainerSpec,
  type TrainerSpecInput,
} from './params.ts';
import { predictRidge, trainRidge, type RidgeModel } from './ridge.ts';

export type { GbdtModel, GbdtTree } from './gbdt/model.ts';
export type { RidgeModel } from './ridge.ts';
export type { LogisticModel } from './logistic.ts';
export type { OnnxMetadata } from '../onnx/proto.ts';
export { predictGbdt } from './gbdt/model.ts';
export { predictRidge } from './ridge.ts';
export { predictLogistic } from './logistic.ts';

export type NativeModel = RidgeModel | GbdtModel | LogisticModel;

export interface TrainedArtifact {
  /** plain-data model; null for the command trainer (its ONNX is the model) */
  model: NativeModel | null;
  onnx: Uint8Array;
  algorithm: TrainerSpec['algorithm'];
  /** validated params, defaults filled in */
  params: RidgeParams | GbdtParams | LogisticParams | CommandParams;
  /** metrics of the model on its own training rows (classification metrics for a classifier) */
  train_metrics: ModelMetrics;
  wall_ms: number;
  /** gbdt: trees kept after early stopping */
  trees_used?: number;
}

/**
 * Trains one model on the training matrix and exports it to ONNX with the lineage metadata.
 * With `meta.classification` the task is binary classification: the target is 0/1, gbdt boosts
 * log loss, logistic fits log loss, and the ONNX model outputs `label` and `probabilities`
 * (ridge is refused). Bad input fails with an Error naming the problem, before any training.
 */
export async function train(spec: TrainerSpec | TrainerSpecInput, trainSet: FeatureMatrix, meta: OnnxMetadata): Promise<TrainedArtifact> {
  const t0 = performance.now();
  const parsed = trainerSchema.safeParse(spec);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`train: invalid trainer spec: ${issues}`);
  }
  const valid = parsed.data;
  validateMatrix(trainSet);
  const metaFor = (params: object): OnnxMetadata => ({ ...meta, trainer: meta.trainer ?? valid.algorithm, params: meta.params ?? { ...params } });
  const classification = meta.classification;
  if (classification && valid.algorithm === 'ridge')
    throw new Error('train: ridge is a regression trainer; use logistic (its classification counterpart), gbdt or command');
  if (!classification && valid.algorithm === 'logistic')
    throw new Error('train: logistic is a classification trainer (it needs classification.decision_threshold in the metadata)');
  // Metrics on the model's own training rows, as the evaluator computes them on the holdout.
  const metricsOf = (predictions: ArrayLike<number>): ModelMetrics =>
    classification ? classificationMetrics(trainSet.target, predictions, classification.decision_threshold) : regressionMetrics(trainSet.target, predictions);

  switch (valid.algorithm) {
    case 'logistic': {
      const model = trainLogistic(trainSet, valid.params);
      const onnx = exportLogisticOnnx(model, metaFor(valid.params));
      const train_metrics = metricsOf(predictLogistic(model, trainSet.values, trainSet.rows));
      return { model, onnx, algorithm: 'logistic', params: valid.params, train_metrics, wall_ms: performance.now() - t0 };
    }
    case 'ridge': {
      const model = trainRidge(trainSet, valid.params);
      const onnx = exportRidgeOnnx(model, metaFor(valid.params));
      const train_metrics = regressionMetrics(trainSet.target, predictRidge(model, trainSet.values, trainSet.rows));
      return { model, onnx, algorithm: 'ridge', params: valid.params, train_metrics, wall_ms: performance.now() - t0 };
    }
    case 'gbdt': {
      const p = valid.params;
      if (p.early_stopping_rounds !== null && Math.floor(trainSet.rows * p.validation_fraction) < 1) {
        throw new Error(
          `train: gbdt needs at least ${minRowsForValidation(p.validation_fraction)} rows for the early-stopping validation slice ` +
            `(validation_fraction=${p.validation_fraction}), got ${trainSet.rows}; add rows or set early_stopping_rounds: null`,
        );
      }
      const result = await trainGbdt(trainSet, p, classification ? 'logistic' : 'squared');
      const onnx = exportGbdtOnnx(result.model, metaFor(p));
      // The boosting's own running sums (not a second walk of every tree over every row).
      const scores = result.train_scores;
      if (result.model.objective === 'logistic') for (let i = 0; i < scores.length; i++) scores[i] = sigmoid(scores[i]);
      const train_metrics = metricsOf(scores);
      return { model: result.model, onnx, algorithm: 'gbdt', params: p, train_metrics, wall_ms: performance.now() - t0, trees_used: result.trees_used };
    }
    case 'command': {
      const result = await trainCommand(trainSet, valid.params, classification ? 'classification' : 'regression');
      const scores = await scoreModel(result.onnx, trainSet.values, trainSet.rows, trainSet.names.length);
      const train_metrics = metricsOf(scores.values);
      return { model: null, onnx: result.onnx, algorithm: 'command', params: valid.params, train_metrics, wall_ms: performance.now() - t0 };
    }
  }
}

/**
 * Native predictions of a plain-data model on row-major float32 features: the prediction, or the
 * positive-class probability of a classifier (as the ONNX model's `probabilities` column 1).
 */
export function predictNative(model: NativeModel, X: Float32Array, rows: number): Float64Array {
  switch (model.kind) {
    case 'ridge':
      return predictRidge(model, X, rows);
    case 'logistic':
      return predictLogistic(model, X, rows);
    case 'gbdt': {
      const out = predictGbdt(model, X, rows);
      if (model.objective === 'logistic') for (let i = 0; i < rows; i++) out[i] = sigmoid(out[i]);
      return out;
    }
  }
}

/** The checks every trainer relies on; each message names the problem. */
export function validateMatrix(m: FeatureMatrix): void {
  const n = m.names.length;
  if (m.rows === 0) throw new Error('train: the training matrix has zero rows');
  if (n === 0) throw new Error('train: the training matrix has no feature columns');
  if (m.values.length !== m.rows * n) {
    throw new Error(`train: values has ${m.values.length} entries, expected ${m.rows} rows x ${n} features = ${m.rows * n}`);
  }
  if (m.target.length !== m.rows) throw new Error(`train: target has ${m.target.length} values for ${m.rows} rows`);
  let badTargets = 0;
  let firstBad = -1;
  for (let r = 0; r < m.rows; r++) {
    if (!Number.isFinite(m.target[r])) {
      if (badTargets++ === 0) firstBad = r;
    }
  }
  if (badTargets > 0) {
    throw new Error(`train: the target has ${badTargets} NaN or infinite value${badTargets === 1 ? '' : 's'} (first at row ${firstBad})`);
  }
  // A column is all-NaN until one observed value is found; most columns settle in the first row.
  const seen = new Uint8Array(n);
  let pending = n;
  for (let r = 0; r < m.rows && pending > 0; r++) {
    const o = r * n;
    for (let f = 0; f < n; f++) {
      if (seen[f] === 0 && m.values[o + f] === m.values[o + f]) {
        seen[f] = 1;
        pending--;
      }
    }
  }
  if (pending > 0) {
    const names = m.names.filter((_, f) => seen[f] === 0);
    throw new Error(`train: feature ${names.map((s) => `"${s}"`).join(', ')} ${names.length === 1 ? 'is' : 'are'} NaN in every training row`);
  }
}
