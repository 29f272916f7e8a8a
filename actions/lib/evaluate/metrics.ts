import { z } from 'zod';
import { jsonNumber } from '../util/json-number.ts';

/** Regression metrics of one set of predictions against the truth (NaN where undefined). */
export const regressionMetricsSchema = z.object({
  /** absent in regression metrics recorded before classification existed */
  task: z.literal('regression').optional(),
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

/**
 * Binary classification metrics of predicted positive-class probabilities against 0/1 labels, by
 * scikit-learn's definitions (test/metrics-sklearn.test.ts checks them against values scikit-learn
 * computed): precision, recall, F1 and accuracy of `probability >= threshold` (0 where the
 * denominator is 0, sklearn's zero_division), ROC AUC by the trapezoid rule with tied scores as one
 * step (roc_auc_score), PR AUC as average precision (Σ (R_k − R_{k−1}) P_k over distinct scores,
 * average_precision_score), Brier score and log loss (probabilities clipped to [ε, 1 − ε], ε the
 * float64 machine epsilon). ROC AUC is NaN with one class only, PR AUC NaN without positives.
 */
export const classificationMetricsSchema = z.object({
  task: z.literal('classification'),
  /** labelled rows with a finite probability (the rows the other metrics are computed on) */
  rows: z.number().int().min(0),
  positives: z.number().int().min(0),
  /** positives / rows: the base rate of the rows scored */
  positive_rate: jsonNumber,
  /** the decision threshold the threshold metrics used */
  threshold: z.number(),
  accuracy: jsonNumber,
  precision: jsonNumber,
  recall: jsonNumber,
  f1: jsonNumber,
  roc_auc: jsonNumber,
  pr_auc: jsonNumber,
  brier: jsonNumber,
  log_loss: jsonNumber,
  /** confusion matrix at the threshold */
  tp: z.number().int().min(0),
  fp: z.number().int().min(0),
  tn: z.number().int().min(0),
  fn: z.number().int().min(0),
  /** probabilities that were NaN or infinite; excluded from the metrics above */
  nan_predictions: z.number().int().min(0),
});
export type ClassificationMetrics = z.output<typeof classificationMetricsSchema>;

/** One model's metrics on a holdout, either task: classification ones carry `task`, regression ones need not. */
export const modelMetricsSchema = z.union([classificationMetricsSchema, regressionMetricsSchema]);

/** What one model's scores on a holdout are, whatever the task. */
export type ModelMetrics = RegressionMetrics | ClassificationMetrics;

export function isClassificationMetrics(m: ModelMetrics): m is ClassificationMetrics {
  return (m as { task?: string }).task === 'classification';
}

const EPS = 2.220446049250313e-16;

export function classificationMetrics(labels: ArrayLike<number>, probabilities: ArrayLike<number>, threshold = 0.5): ClassificationMetrics {
  if (labels.length !== probabilities.length) {
    throw new Error(`classificationMetrics: ${labels.length} labels but ${probabilities.length} probabilities`);
  }
  if (!(threshold > 0 && threshold < 1)) throw new Error(`classificationMetrics: threshold must be in (0, 1), got ${threshold}`);
  const n0 = labels.length;
  const idx = new Uint32Array(n0);
  let n = 0;
  let nonFinite = 0;
  let tp = 0,
    fp = 0,
    tn = 0,
    fn = 0;
  let brier = 0;
  let logLoss = 0;
  for (let i = 0; i < n0; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new Error(`classificationMetrics: label ${i} is ${y}, expected 0 or 1`);
    const p = probabilities[i];
    if (!Number.isFinite(p)) {
      nonFinite++;
      continue;
    }
    idx[n++] = i;
    const predicted = p >= threshold;
    if (y === 1) predicted ? tp++ : fn++;
    else predicted ? fp++ : tn++;
    brier += (p - y) * (p - y);
    const c = Math.min(1 - EPS, Math.max(EPS, p));
    logLoss -= y === 1 ? Math.log(c) : Math.log(1 - c);
  }
  const positives = tp + fn;
  const negatives = fp + tn;
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  if (n === 0) {
    return {
      task: 'classification',
      rows: 0,
      positives: 0,
      positive_rate: NaN,
      threshold,
      accuracy: NaN,
      precision: NaN,
      recall: NaN,
      f1: NaN,
      roc_auc: NaN,
      pr_auc: NaN,
      brier: NaN,
      log_loss: NaN,
      tp: 0,
      fp: 0,
      tn: 0,
      fn: 0,
      nan_predictions: nonFinite,
    };
  }
  const { rocAuc, averagePrecision } = rankingMetrics(labels, probabilities, idx.subarray(0, n), positives, negatives);
  return {
    task: 'classification',
    rows: n,
    positives,
    positive_rate: positives / n,
    threshold,
    accuracy: (tp + tn) / n,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, positives),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    roc_auc: rocAuc,
    pr_auc: averagePrecision,
    brier: brier / n,
    log_loss: logLoss / n,
    tp,
    fp,
    tn,
    fn,
    nan_predictions: nonFinite,
  };
}

/**
 * ROC AUC and average precision in one pass over the rows sorted by score, highest first; rows
 * with equal scores form one threshold (one step of the curves), as scikit-learn's _binary_clf_curve.
 *
 * Only each score's count of positives and negatives matters, not the order of rows within a
 * score, so the positives' and the negatives' scores are sorted apart (the typed arrays' own
 * numeric sort, no comparator: this runs on every training set and holdout) and merged.
 */
function rankingMetrics(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  rows: Uint32Array,
  positives: number,
  negatives: number,
): { rocAuc: number; averagePrecision: number } {
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let np = 0;
  let nn = 0;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    if (labels[i] === 1) pos[np++] = scores[i];
    else neg[nn++] = scores[i];
  }
  pos.sort();
  neg.sort();
  // Ascending arrays walked from their ends: the highest score first.
  let a = np - 1;
  let b = nn - 1;
  let tp = 0;
  let fp = 0;
  let area = 0;
  let ap = 0;
  while (a >= 0 || b >= 0) {
    const s = a < 0 ? neg[b] : b < 0 ? pos[a] : Math.max(pos[a], neg[b]);
    let dtp = 0;
    let dfp = 0;
    for (; a >= 0 && pos[a] === s; a--) dtp++;
    for (; b >= 0 && neg[b] === s; b--) dfp++;
    // Trapezoid of this step: its false positives times the average true-positive count over it.
    area += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
    if (dtp > 0) ap += (dtp / positives) * (tp / (tp + fp));
  }
  return {
    rocAuc: positives > 0 && negatives > 0 ? area / (positives * negatives) : NaN,
    averagePrecision: positives > 0 ? ap : NaN,
  };
}

/** Whether a larger value of this metric is better (the direction of a gate's comparison). */
export function higherIsBetter(metric: string): boolean {
  return (
    metric === 'f1' || metric === 'roc_auc' || metric === 'pr_auc' || metric === 'accuracy' || metric === 'precision' || metric === 'recall' || metric === 'r2'
  );
}

/** The metrics a gate or a report can name: regression's and classification's. */
export type MetricName = 'rmse' | 'mae' | 'f1' | 'roc_auc' | 'pr_auc' | 'brier' | 'log_loss';

/** A named metric of either kind of metrics; NaN when that kind has no such metric (or JSON turned NaN into null). */
export function metricValue(m: ModelMetrics, name: MetricName): number {
  const v = (m as unknown as Record<string, number | null | undefined>)[name];
  return typeof v === 'number' ? v : Number.NaN;
}
