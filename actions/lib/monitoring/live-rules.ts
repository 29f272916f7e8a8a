/**
 * The health rules of a classification pipeline's live accuracy (labels/live.ts computes it and
 * records it in mlops.model_performance):
 *
 *   live-metric-drop  the champion's live metric (health.live_metric, default gates.metric) on its
 *                     labelled predictions of the last health.live_window_days is more than
 *                     health.max_live_metric_drop_pct worse than its holdout metric at promotion
 *                     (the registry entry); unknown with fewer than health.min_live_labelled
 *                     labelled predictions
 *   label-coverage    fewer than health.min_label_coverage of the window's keyed predictions have a
 *                     known label: the labels feed has stopped or lags; unknown without predictions
 */
import type { ClassificationPipeline } from '../config/schema.ts';
import type { Db } from '../db/index.ts';
import { higherIsBetter, metricValue } from '../evaluate/metrics.ts';
import { livePerformance, recordLivePerformance, type LivePerformance } from '../labels/live.ts';
import type { RuleResult } from './alerts.ts';
import { fmtInt } from '../report/format.ts';

const num = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : '—');
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export interface LiveRules {
  /** null when it could not be computed (the rules say why) */
  live: LivePerformance | null;
  rules: RuleResult[];
}

/** Computes and records the champion's live performance, and judges it. */
export async function liveRules(db: Db, config: ClassificationPipeline, repoDir: string, asOf: Date): Promise<LiveRules> {
  let live: LivePerformance;
  try {
    live = await livePerformance(db, config, { repoDir, asOf });
  } catch (err) {
    // A labels table that is missing or holds bad labels must not stop the other pipelines' checks.
    const message = `${config.name}: the predictions could not be joined to their labels: ${(err as Error).message}`;
    const unknown = (rule: 'live-metric-drop' | 'label-coverage'): RuleResult => ({
      pipeline: config.name,
      rule,
      status: 'unknown',
      severity: 'warning',
      message,
      details: {},
    });
    return { live: null, rules: [unknown('live-metric-drop'), unknown('label-coverage')] };
  }
  await recordLivePerformance(db, live);
  return { live, rules: [metricDropRule(config, live), coverageRule(config, live)] };
}

export function coverageRule(config: ClassificationPipeline, live: LivePerformance): RuleResult {
  const h = config.health;
  const base = { pipeline: config.name, rule: 'label-coverage' as const, severity: 'warning' as const };
  const details = {
    window: live.window,
    predictions: live.predictions,
    labelled: live.labelled,
    label_coverage: live.label_coverage,
    min_label_coverage: h.min_label_coverage,
    labels_table: config.labels.table,
  };
  const days = `the last ${live.window.days} days`;
  if (live.predictions === 0) {
    return { ...base, status: 'unknown', details, message: `${config.name}: no keyed predictions in ${days}, so no label coverage to measure` };
  }
  const line = `${pct(live.label_coverage)} of the ${fmtInt(live.predictions)} predictions of ${days} have a label in ${config.labels.table} (${fmtInt(live.labelled)})`;
  const firing = live.label_coverage < h.min_label_coverage;
  return {
    ...base,
    status: firing ? 'firing' : 'ok',
    details,
    message: firing ? `${config.name}: only ${line}, below ${pct(h.min_label_coverage)}: have the labels stopped arriving?` : `${config.name}: ${line}`,
    ...(firing
      ? {
          evidence:
            `| window (UTC) | predictions | labelled | coverage | alert below |\n|---|---:|---:|---:|---:|\n` +
            `| ${live.window.start} → ${live.window.end} | ${fmtInt(live.predictions)} | ${fmtInt(live.labelled)} | ${pct(live.label_coverage)} | ${pct(h.min_label_coverage)} |`,
        }
      : {}),
  };
}

export function metricDropRule(config: ClassificationPipeline, live: LivePerformance): RuleResult {
  const h = config.health;
  const metric = h.live_metric ?? config.gates.metric;
  const base = { pipeline: config.name, rule: 'live-metric-drop' as const, severity: 'warning' as const };
  const c = live.champion;
  if (!c) return { ...base, status: 'unknown', details: { metric }, message: `${config.name}: no classification champion in the registry, no live metrics` };
  const days = `the last ${live.window.days} days`;
  const details: Record<string, unknown> = {
    metric,
    version: c.version,
    window: live.window,
    predictions: c.predictions,
    labelled: c.labelled,
    min_live_labelled: h.min_live_labelled,
    max_drop_pct: h.max_live_metric_drop_pct,
    live: c.metrics,
    holdout: c.holdout,
  };
  if (c.labelled < h.min_live_labelled || !c.metrics) {
    return {
      ...base,
      status: 'unknown',
      details,
      message: `${config.name}: ${fmtInt(c.labelled)} of v${c.version}'s ${fmtInt(c.predictions)} predictions of ${days} have a label (the live metrics need ${h.min_live_labelled})`,
    };
  }
  const liveValue = metricValue(c.metrics, metric);
  const holdoutValue = c.holdout ? metricValue(c.holdout, metric) : Number.NaN;
  if (!Number.isFinite(liveValue) || !Number.isFinite(holdoutValue) || holdoutValue === 0) {
    return {
      ...base,
      status: 'unknown',
      details,
      message: `${config.name}: ${metric} cannot be compared (live ${num(liveValue)}, holdout at promotion ${num(holdoutValue)})`,
    };
  }
  // Worse is lower for F1 and AUC, higher for Brier and log loss.
  const worsePct = ((higherIsBetter(metric) ? holdoutValue - liveValue : liveValue - holdoutValue) / Math.abs(holdoutValue)) * 100;
  details.worse_pct = worsePct;
  const firing = worsePct > h.max_live_metric_drop_pct;
  const line =
    `v${c.version}'s live ${metric} ${num(liveValue)} on ${fmtInt(c.labelled)} labelled predictions of ${days}, ` +
    `${num(holdoutValue)} on its holdout at promotion (${worsePct >= 0 ? `${worsePct.toFixed(1)}% worse` : `${(-worsePct).toFixed(1)}% better`})`;
  const row = (name: 'f1' | 'roc_auc' | 'brier'): string => `| ${name} | ${num(metricValue(c.holdout!, name))} | ${num(metricValue(c.metrics!, name))} |`;
  return {
    ...base,
    status: firing ? 'firing' : 'ok',
    details,
    message: firing ? `${config.name}: ${line}; alert above ${h.max_live_metric_drop_pct}% worse` : `${config.name}: ${line}`,
    evidence:
      `| metric | holdout at promotion | live (${live.window.start.slice(0, 10)} → ${live.window.end.slice(0, 10)}) |\n|---|---:|---:|\n` +
      [row('f1'), row('roc_auc'), row('brier')].join('\n') +
      `\n\n_Label coverage of the window: ${pct(live.label_coverage)}._`,
  };
}
