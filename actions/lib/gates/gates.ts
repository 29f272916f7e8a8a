import { z } from 'zod';
import type { GatesConfig } from '../config/schema.ts';
import { jsonNumber } from '../util/json-number.ts';
import { degenerateHoldoutGate, type HoldoutTarget } from './holdout.ts';
import { higherIsBetter } from '../evaluate/metrics.ts';

/** The holdout metrics a gate looks at (the evaluator's output). */
export interface GateMetrics {
  rmse: number;
  mae: number;
  r2: number;
  nan_predictions: number;
}

export const gateNameSchema = z.enum([
  'improvement',
  'nan_predictions',
  'beats_baseline',
  'training_time',
  'cooldown',
  'max_rmse',
  'min_r2',
  'degenerate_holdout',
  // classification (gates/classification.ts) and the fixed reference set (both tasks)
  'brier_increase',
  'recall_drop',
  'min_auc',
  'labelled_holdout',
  'label_coverage',
  'reference_set',
]);
export type GateName = z.infer<typeof gateNameSchema>;

export const gateResultSchema = z.object({
  name: gateNameSchema,
  label: z.string(),
  /** the rule as a person reads it, e.g. `>= 2%` */
  threshold: z.string(),
  /** the measured value as a person reads it, e.g. `8.0%` */
  value: z.string(),
  /** the raw number behind `value` (NaN when not applicable) */
  raw: jsonNumber,
  passed: z.boolean(),
  /** hard gates cannot be overridden by --force */
  hard: z.boolean(),
  /** true when this gate failed but --force let the promotion through */
  overridden: z.boolean(),
  reason: z.string(),
});
export type GateResult = z.output<typeof gateResultSchema>;

/** What a retrain decides; every module that names a decision uses this one union. */
export const decisionSchema = z.enum(['promote', 'reject', 'skip']);
export type Decision = z.infer<typeof decisionSchema>;

export interface GateDecision {
  decision: Exclude<Decision, 'skip'>;
  gates: GateResult[];
  reasons: string[];
  /** improvement of the primary metric over the champion in percent (null without a champion) */
  improvementPct: number | null;
}

export interface GateInput {
  config: GatesConfig;
  challenger: GateMetrics;
  /** null when the pipeline has no model in production yet */
  champion: GateMetrics | null;
  baseline: GateMetrics;
  trainingMs: number;
  lastPromotionAt: Date | null;
  asOf: Date;
  force: boolean;
  /** the holdout's target (evaluate keeps it): a flat one is refused (holdout.ts); absent for older runs */
  holdout?: HoldoutTarget;
  task?: 'regression' | 'classification';
  /** double evaluation on the fixed reference set, when the pipeline has one */
  reference?: ReferenceOutcome;
}

export const pct = (x: number): string => `${x.toFixed(1)}%`;
export const num = (x: number): string => (!Number.isFinite(x) ? 'n/a' : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));
const duration = (ms: number): string => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);

/**
 * No retrain within `days` of the last promotion. --force lifts it (the "unless forced"),
 * so a forced run can still replace a champion that turned out bad the day it was promoted.
 */
export function cooldownGate(days: number, lastPromotionAt: Date | null, asOf: Date): Omit<GateResult, 'overridden'> {
  const since = lastPromotionAt ? (asOf.getTime() - lastPromotionAt.getTime()) / 86_400_000 : Number.POSITIVE_INFINITY;
  const passed = since >= days;
  return {
    name: 'cooldown',
    label: 'days since last promotion',
    threshold: `>= ${days}`,
    value: Number.isFinite(since) ? since.toFixed(1) : 'never promoted',
    raw: since,
    passed,
    hard: false,
    reason: passed ? 'outside the promotion cooldown' : `last promotion ${since.toFixed(1)} days ago, cooldown is ${days} days`,
  };
}

export function nanGate(nanPredictions: number, max: number): Omit<GateResult, 'overridden'> {
  const passed = nanPredictions <= max;
  return {
    name: 'nan_predictions',
    label: 'NaN or infinite predictions',
    threshold: `<= ${max}`,
    value: String(nanPredictions),
    raw: nanPredictions,
    passed,
    hard: true,
    reason: passed ? 'no NaN or infinite predictions' : `challenger produced ${nanPredictions} NaN or infinite predictions on the holdout`,
  };
}

export function trainingTimeGate(trainingMs: number, maxMinutes: number): Omit<GateResult, 'overridden'> {
  const passed = trainingMs < maxMinutes * 60_000;
  return {
    name: 'training_time',
    label: 'training time',
    threshold: `< ${maxMinutes} min`,
    value: duration(trainingMs),
    raw: trainingMs,
    passed,
    hard: true,
    reason: passed ? 'trained within the time limit' : `training took ${duration(trainingMs)}, over ${maxMinutes} min`,
  };
}

/** What double evaluation measured on the fixed reference set: the gate metric of both models. */
export interface ReferenceOutcome {
  rows: number;
  challenger: number;
  /** null without a champion */
  champion: number | null;
  tolerancePct: number;
}

/**
 * Double evaluation: on the fixed reference set the challenger's gate metric may be at most
 * `tolerancePct` worse than the champion's (relative, in the metric's direction). Hard: winning on
 * recent data does not excuse forgetting what the champion knew.
 */
export function referenceGate(metric: string, r: ReferenceOutcome): Omit<GateResult, 'overridden'> {
  const base = { name: 'reference_set' as const, label: `${metric} on the reference set vs champion`, threshold: `<= ${r.tolerancePct}% worse`, hard: true };
  if (r.rows === 0)
    return {
      ...base,
      value: 'no rows',
      raw: Number.NaN,
      passed: false,
      reason: 'the reference set has no rows with a target: check reference_set against the source',
    };
  if (r.champion === null)
    return { ...base, value: num(r.challenger), raw: Number.NaN, passed: true, reason: 'no champion to compare with on the reference set' };
  const worse =
    r.champion === 0
      ? r.challenger === 0
        ? 0
        : Number.POSITIVE_INFINITY
      : ((higherIsBetter(metric) ? r.champion - r.challenger : r.challenger - r.champion) / Math.abs(r.champion)) * 100;
  const passed = worse <= r.tolerancePct;
  const shown = `${worse > 0 ? '' : '+'}${pct(-worse)}`;
  return {
    ...base,
    value: shown,
    raw: worse,
    passed,
    reason: passed
      ? `${metric} on the ${r.rows} reference rows ${num(r.champion)} -> ${num(r.challenger)} (${shown}), within ${r.tolerancePct}%`
      : `${metric} on the ${r.rows} reference rows ${num(r.champion)} -> ${num(r.challenger)}: ${pct(worse)} worse than the champion, over the ${r.tolerancePct}% tolerance`,
  };
}

/**
 * The decision over a list of gates: --force marks failed soft gates as overridden; promote when
 * nothing blocks, else reject with the blocking gates' reasons.
 */
export function decide(gates: GateResult[], force: boolean, improvement: number | null): GateDecision {
  if (force) {
    for (const g of gates) if (!g.passed && !g.hard) g.overridden = true;
  }
  // A flat holdout is why every other metric is meaningless: its reason comes first.
  const blocking = gates
    .filter((g) => !g.passed && !g.overridden)
    .sort((a, b) => Number(b.name === 'degenerate_holdout') - Number(a.name === 'degenerate_holdout'));
  const decision = blocking.length === 0 ? 'promote' : 'reject';
  const reasons =
    decision === 'promote'
      ? gates
          .filter((g) => g.overridden)
          .map((g) => `forced past: ${g.reason}`)
          .concat(gates[0].reason)
      : blocking.map((g) => g.reason);
  return { decision, gates, reasons, improvementPct: improvement };
}

/** Relative improvement of `better` over `reference` for a lower-is-better metric, in percent. */
export function improvementPct(reference: number, challenger: number): number {
  if (!Number.isFinite(reference) || !Number.isFinite(challenger)) return Number.NaN;
  if (reference === 0) return challenger === 0 ? 0 : Number.NEGATIVE_INFINITY;
  return ((reference - challenger) / reference) * 100;
}

/** Relative improvement of a metric (either direction) over a reference, in percent. */
export function metricImprovementPct(metric: string, reference: number, challenger: number): number {
  if (!higherIsBetter(metric)) return improvementPct(reference, challenger);
  if (!Number.isFinite(reference) || !Number.isFinite(challenger)) return Number.NaN;
  if (reference === 0) return challenger === 0 ? 0 : challenger > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return ((challenger - reference) / Math.abs(reference)) * 100;
}

/**
 * The improvement gate of either task: the challenger's gate metric over the champion's, in the
 * metric's direction; the first model of a pipeline (no champion) passes by definition.
 */
export function improvementGate(metric: string, label: string, champion: number | null, challenger: number, minPct: number): Omit<GateResult, 'overridden'> {
  const threshold = `>= ${minPct}%`;
  if (champion === null) {
    return {
      name: 'improvement',
      label,
      threshold,
      value: 'first model',
      raw: Number.NaN,
      passed: true,
      hard: false,
      reason: 'no champion in production: first model of this pipeline',
    };
  }
  const improvement = metricImprovementPct(metric, champion, challenger);
  const passed = improvement >= minPct;
  const shown = Number.isFinite(improvement) ? pct(improvement) : improvement > 0 ? '+inf' : 'n/a';
  const change = `(${num(champion)} -> ${num(challenger)})`;
  return {
    name: 'improvement',
    label,
    threshold,
    value: shown,
    raw: improvement,
    passed,
    hard: false,
    reason: passed
      ? `${metric} improves ${shown} on the champion ${change}`
      : `${metric} improves only ${shown} on the champion ${change}; ${minPct}% required`,
  };
}

/**
 * The baseline gate of either task: the challenger's `metric` at least `minPct` better than the
 * baseline's (the training mean for regression, the prior for classification). `shown` names the
 * metric in the reasons, `format` prints its values.
 */
export function beatsBaselineGate(
  gate: { metric: string; shown: string; label: string; baseline: string; format: (x: number) => string },
  baselineValue: number,
  challenger: number,
  minPct: number,
): Omit<GateResult, 'overridden'> {
  const over = metricImprovementPct(gate.metric, baselineValue, challenger);
  const passed = over >= minPct;
  return {
    name: 'beats_baseline',
    label: gate.label,
    threshold: `>= ${minPct}%`,
    value: Number.isFinite(over) ? pct(over) : 'n/a',
    raw: over,
    passed,
    hard: true,
    reason: passed
      ? `${gate.shown} ${pct(over)} better than ${gate.baseline}`
      : `${gate.shown} ${gate.format(challenger)} is not ${minPct}% better than ${gate.baseline}'s ${gate.format(baselineValue)}`,
  };
}

/**
 * The promotion decision: every configured gate with value, threshold and verdict. `--force` lifts
 * the improvement gate and the cooldown; data, NaN and absolute limits always hold. The first
 * model of a pipeline (no champion) passes the improvement gate by definition.
 */
export function evaluateGates(input: GateInput): GateDecision {
  const { config, challenger, champion, baseline } = input;
  const metric = config.metric;
  const gates: GateResult[] = [];
  const add = (g: Omit<GateResult, 'overridden'>): void => {
    gates.push({ ...g, overridden: false });
  };

  const improvementResult = improvementGate(
    metric,
    'improvement over champion',
    champion ? champion[metric] : null,
    challenger[metric],
    config.min_improvement_pct,
  );
  add(improvementResult);
  const improvement = champion ? improvementResult.raw : null;

  add(nanGate(challenger.nan_predictions, config.max_nan_predictions));

  add(
    beatsBaselineGate(
      { metric, shown: metric, label: 'beats baseline', baseline: 'the baseline', format: num },
      baseline[metric],
      challenger[metric],
      config.must_beat_baseline_pct,
    ),
  );

  add(trainingTimeGate(input.trainingMs, config.max_training_minutes));

  if (config.cooldown_days !== null) add(cooldownGate(config.cooldown_days, input.lastPromotionAt, input.asOf));
  if (input.reference) add(referenceGate(metric, input.reference));
  if (config.max_rmse !== null) {
    const passed = challenger.rmse <= config.max_rmse;
    add({
      name: 'max_rmse',
      label: 'rmse limit',
      threshold: `<= ${config.max_rmse}`,
      value: num(challenger.rmse),
      raw: challenger.rmse,
      passed,
      hard: true,
      reason: passed ? 'rmse within the absolute limit' : `rmse ${num(challenger.rmse)} above the limit ${config.max_rmse}`,
    });
  }
  if (config.min_r2 !== null) {
    const passed = challenger.r2 >= config.min_r2;
    add({
      name: 'min_r2',
      label: 'r2 limit',
      threshold: `>= ${config.min_r2}`,
      value: challenger.r2.toFixed(4),
      raw: challenger.r2,
      passed,
      hard: true,
      reason: passed ? 'r2 within the absolute limit' : `r2 ${challenger.r2.toFixed(4)} below the limit ${config.min_r2}`,
    });
  }

  if (input.holdout) add(degenerateHoldoutGate(input.holdout, input.task));
  return decide(gates, input.force, improvement);
}
