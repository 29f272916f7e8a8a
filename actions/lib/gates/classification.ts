import type { ClassificationGatesConfig } from '../config/schema.ts';
import { metricValue, type ClassificationMetrics } from '../evaluate/metrics.ts';
import { degenerateHoldoutGate, type HoldoutTarget } from './holdout.ts';
import {
  beatsBaselineGate,
  cooldownGate,
  decide,
  improvementGate,
  nanGate,
  pct,
  referenceGate,
  trainingTimeGate,
  type GateDecision,
  type GateResult,
  type ReferenceOutcome,
} from './gates.ts';
import { fmtInt } from '../report/format.ts';

/** What the labels of a run offer: the share of the window's rows with a label known at as-of, and the labelled holdout rows. */
export interface LabelFacts {
  coverage: number;
  labelledHoldout: number;
}

export interface ClassificationGateInput {
  config: ClassificationGatesConfig;
  challenger: ClassificationMetrics;
  /** null when the pipeline has no model in production yet */
  champion: ClassificationMetrics | null;
  /** the prior baseline */
  baseline: ClassificationMetrics;
  labels: LabelFacts;
  trainingMs: number;
  lastPromotionAt: Date | null;
  asOf: Date;
  force: boolean;
  /** the holdout's labels, for the degenerate-holdout gate (a single-class holdout) */
  holdout?: HoldoutTarget;
  task?: 'classification' | 'regression';
  /** double evaluation on the fixed reference set, when the pipeline has one */
  reference?: ReferenceOutcome;
}

const fixed = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
type Gate = Omit<GateResult, 'overridden'>;

export function labelledHoldoutGate(rows: number, min: number, expected = false): Gate {
  const passed = rows >= min;
  const what = expected ? 'the holdout would have' : 'the holdout has';
  return {
    name: 'labelled_holdout',
    label: 'labelled holdout rows',
    threshold: `>= ${min}`,
    value: fmtInt(rows),
    raw: rows,
    passed,
    hard: true,
    reason: passed ? `${what} ${rows} labelled rows` : `${what} only ${rows} labelled rows; ${min} needed for its metrics to mean anything`,
  };
}

export function labelCoverageGate(coverage: number, min: number): Gate {
  const passed = coverage >= min;
  return {
    name: 'label_coverage',
    label: 'label coverage',
    threshold: `>= ${pct(min * 100)}`,
    value: pct(coverage * 100),
    raw: coverage,
    passed,
    hard: true,
    reason: passed
      ? `${pct(coverage * 100)} of the window's rows have a label known at as-of`
      : `only ${pct(coverage * 100)} of the window's rows have a label known at as-of; ${pct(min * 100)} required (are labels still arriving?)`,
  };
}

/**
 * The promotion decision of a classifier, every gate with value, threshold and verdict:
 * improvement of the gate metric (F1 by default) over the champion, Brier and recall no worse
 * than the champion's within their tolerances, an absolute ROC AUC floor, enough labelled holdout
 * rows and label coverage, no NaN probabilities, a Brier score better than the prior baseline's,
 * the training-time limit, the cooldown and (double evaluation) the fixed reference set. --force
 * lifts the improvement gate and the cooldown.
 */
export function evaluateClassificationGates(input: ClassificationGateInput): GateDecision {
  const { config, challenger, champion, baseline } = input;
  const gates: GateResult[] = [];
  const add = (g: Gate): void => {
    gates.push({ ...g, overridden: false });
  };
  const metric = config.metric;
  const c = metricValue(challenger, metric);

  const improvementResult = improvementGate(
    metric,
    `${metric} improvement over champion`,
    champion ? metricValue(champion, metric) : null,
    c,
    config.min_improvement_pct,
  );
  add(improvementResult);
  const improvement = champion ? improvementResult.raw : null;
  if (champion) {
    if (config.max_brier_increase !== null) {
      const limit = champion.brier + config.max_brier_increase;
      const ok = challenger.brier <= limit;
      add({
        name: 'brier_increase',
        label: 'Brier score vs champion',
        threshold: `<= ${fixed(champion.brier, 4)} + ${config.max_brier_increase}`,
        value: fixed(challenger.brier, 4),
        raw: challenger.brier,
        passed: ok,
        hard: true,
        reason: ok
          ? `Brier ${fixed(challenger.brier, 4)} within ${config.max_brier_increase} of the champion's ${fixed(champion.brier, 4)}`
          : `Brier ${fixed(challenger.brier, 4)} is worse than the champion's ${fixed(champion.brier, 4)} by more than ${config.max_brier_increase}`,
      });
    }
    if (config.max_recall_drop !== null) {
      const floor = champion.recall - config.max_recall_drop;
      const ok = challenger.recall >= floor;
      add({
        name: 'recall_drop',
        label: 'recall vs champion',
        threshold: `>= ${fixed(champion.recall)} - ${config.max_recall_drop}`,
        value: fixed(challenger.recall),
        raw: challenger.recall,
        passed: ok,
        hard: true,
        reason: ok
          ? `recall ${fixed(challenger.recall)} within ${config.max_recall_drop} of the champion's ${fixed(champion.recall)}`
          : `recall ${fixed(challenger.recall)} drops more than ${config.max_recall_drop} below the champion's ${fixed(champion.recall)}`,
      });
    }
  }
  if (config.min_auc !== null) {
    const ok = challenger.roc_auc >= config.min_auc;
    add({
      name: 'min_auc',
      label: 'ROC AUC',
      threshold: `>= ${config.min_auc}`,
      value: fixed(challenger.roc_auc),
      raw: challenger.roc_auc,
      passed: ok,
      hard: true,
      reason: ok ? `ROC AUC ${fixed(challenger.roc_auc)} above the floor` : `ROC AUC ${fixed(challenger.roc_auc)} below the floor ${config.min_auc}`,
    });
  }
  add(labelledHoldoutGate(input.labels.labelledHoldout, config.min_labelled_holdout));
  add(labelCoverageGate(input.labels.coverage, config.min_label_coverage));
  add(nanGate(challenger.nan_predictions, config.max_nan_predictions));
  add(
    beatsBaselineGate(
      { metric: 'brier', shown: 'Brier', label: 'Brier better than prior', baseline: 'the prior baseline', format: (x) => fixed(x, 4) },
      baseline.brier,
      challenger.brier,
      config.must_beat_baseline_pct,
    ),
  );
  add(trainingTimeGate(input.trainingMs, config.max_training_minutes));
  if (config.cooldown_days !== null) add(cooldownGate(config.cooldown_days, input.lastPromotionAt, input.asOf));
  if (input.reference) add(referenceGate(metric, input.reference));
  if (input.holdout) add(degenerateHoldoutGate(input.holdout, 'classification'));
  return decide(gates, input.force, improvement);
}
