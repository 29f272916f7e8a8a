import type { RetrainResult } from '../retrain/result.ts';
import { higherIsBetter, metricValue } from '../evaluate/metrics.ts';
import { performanceValue, type PerformancePoint } from '../tracking/runs.ts';
import { fmtInt, fmtMetric, fmtTime } from './format.ts';
import { dataGateRows, gateTable, labelsLine, metricTable, qualitySummary, referenceSection } from './markdown.ts';

/** GitHub refuses pull request bodies over 65,536 characters; stay well under it. */
export const PR_BODY_LIMIT = 65_536;

export interface PrBodyInput {
  result: RetrainResult;
  version: number;
  previousVersion: number | null;
  artifact: { path: string; sha256: string; bytes: number };
  /** the primary metric over recent runs, oldest first (model_performance) */
  history: PerformancePoint[];
  /** the hidden marker that identifies this pull request on re-runs */
  marker: string;
  model: string;
  /** whether GitHub's auto-merge is turned on for it, and why */
  autoMerge?: { enable: boolean; why: string };
}

export function promotionTitle(model: string, version: number, r: RetrainResult): string {
  const m = r.primary_metric;
  const challenger = r.scores.challenger ? metricValue(r.scores.challenger.metrics, m) : undefined;
  const champion = r.scores.champion ? metricValue(r.scores.champion.metrics, m) : undefined;
  if (champion !== undefined && challenger !== undefined && Number.isFinite(champion) && champion !== 0) {
    const pct = ((challenger - champion) / champion) * 100;
    return `Promote ${model} v${version}: ${m} ${fmtMetric(champion)} -> ${fmtMetric(challenger)} (${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%)`;
  }
  return `Promote ${model} v${version}: ${m} ${fmtMetric(challenger)} (first model)`;
}

/** The primary metric of the last runs against the champion's value, as a chart GitHub renders. */
export function metricChart(r: RetrainResult, history: PerformancePoint[]): string | null {
  const m = r.primary_metric;
  const points = history
    .map((p) => ({ date: p.training_date, value: performanceValue(p, m) }))
    .filter((p): p is { date: Date; value: number } => p.value !== null)
    .slice(-12);
  if (points.length < 2) return null;
  const champion = r.scores.champion ? metricValue(r.scores.champion.metrics, m) : undefined;
  const values = points.map((p) => p.value);
  const all = champion !== undefined && Number.isFinite(champion) ? [...values, champion] : values;
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
  const round = (x: number): string => Number(x.toPrecision(4)).toString();
  const labels = points.map((p) => `"${new Date(p.date).toISOString().slice(5, 10)}"`);
  const lines = [
    '```mermaid',
    'xychart-beta',
    `  title "${m} on holdout, last ${points.length} runs (${higherIsBetter(m) ? 'higher' : 'lower'} is better)"`,
    `  x-axis [${labels.join(', ')}]`,
    `  y-axis "${m}" ${round(Math.max(0, lo - pad))} --> ${round(hi + pad)}`,
    `  line [${values.map(round).join(', ')}]`,
  ];
  if (champion !== undefined && Number.isFinite(champion)) lines.push(`  line [${values.map(() => round(champion)).join(', ')}]`);
  lines.push('```');
  return lines.join('\n');
}

/** The promotion pull request's body (see shared/examples/promotion-pr.md). */
export function promotionBody(input: PrBodyInput): string {
  const { result: r, version, previousVersion, model } = input;
  const out: string[] = [input.marker];
  out.push(`### ${model} v${version} is ready for review`);
  const trigger = r.trigger_reason ? `${r.trigger}: ${r.trigger_reason}` : r.trigger;
  out.push(
    `Retrain of ${fmtTime(r.as_of)} (${trigger}). Merging this pull request deploys v${version}` +
      (previousVersion ? `; reverting the merge rolls back to v${previousVersion}.` : '; it is the first model of this pipeline.'),
  );
  if (r.trigger_alert) {
    const a = r.trigger_alert;
    out.push('', `This retrain answers alert ${a.id} of \`mlops.alerts\`${a.issue_url ? ` (${a.issue_url})` : ''}; deploying this promotion closes it.`);
  }
  // What an approval covers (branch protection dismisses stale approvals; deploy checks it again).
  out.push(
    '',
    `Approving this pull request approves run \`${r.run_id}\` (artifact sha256 \`${input.artifact.sha256.slice(0, 12)}\`). A later retrain that updates this branch replaces the run: review it again.`,
  );
  if (r.forced) out.push('', '> ⚠️ This promotion was **forced** past the improvement gate.');
  if (input.autoMerge?.enable) out.push('', `> Auto-merge is on: ${input.autoMerge.why}.`);
  out.push('', metricTable(r.scores, r.primary_metric, r.holdout?.rows ?? null));
  if (r.reference) out.push('', referenceSection(r.reference, r.primary_metric));
  out.push('', gateTable(r.gates, dataGateRows(r.quality)));
  const chart = metricChart(r, input.history);
  if (chart) out.push('', chart);
  out.push('', '<details><summary>Data, lineage and trainer</summary>', '');
  if (r.data) {
    out.push(
      `- Window: ${fmtTime(r.data.start)} -> ${fmtTime(r.data.end)}, ${fmtInt(r.data.rows)} rows, ${r.data.entities.join(', ')}; fingerprint \`${r.data.fingerprint}\``,
    );
  }
  if (r.labels && r.data) out.push(`- Labels: ${labelsLine(r.labels, r.data.rows)}; only labels known then were trained and scored on`);
  if (r.holdout)
    out.push(
      `- Holdout: ${fmtInt(r.holdout.rows)} ${r.labels ? 'labelled ' : ''}rows, ${fmtTime(r.holdout.start)} -> ${fmtTime(r.holdout.end)}; training rows ${fmtInt(r.train?.rows ?? 0)}`,
    );
  if (r.quality) out.push(`- Quality: ${qualitySummary(r.quality)}`);
  out.push(
    `- Trainer: ${r.trainer.algorithm} \`${JSON.stringify(r.trainer.params)}\`; ${r.features?.names.length ?? 0} features; trained in ${((r.training_ms ?? 0) / 1000).toFixed(1)} s`,
  );
  out.push(
    `- Run \`${r.run_id}\`, code \`${r.lineage.code_sha?.slice(0, 7) ?? 'unknown'}\`${r.lineage.workflow_run_url ? `, [workflow run](${r.lineage.workflow_run_url})` : ''}`,
  );
  out.push(`- Artifact \`${input.artifact.path}\`, sha256 \`${input.artifact.sha256}\`, ${fmtInt(Math.round(input.artifact.bytes / 1024))} KB`);
  out.push('', '</details>', '');
  out.push(`**Roll back after merging:** \`git revert -m 1 <merge commit>\` and push, or \`npm run mlops -- rollback --model ${model}\`.`);
  let body = out.join('\n') + '\n';
  if (body.length > PR_BODY_LIMIT - 1000) body = body.slice(0, PR_BODY_LIMIT - 1000) + '\n\n…(truncated; the full report is in the run artifact)\n';
  return body;
}

/**
 * What a reviewer sees of a promotion body before its collapsed details: the title and what
 * approving covers, the metric and gate tables, the chart (the demo prints this). The whole body
 * when it has no details.
 */
export function bodyPreview(body: string): string {
  const lines = body.split('\n');
  const details = lines.findIndex((l) => l.startsWith('<details>'));
  return (details === -1 ? lines : lines.slice(0, details)).join('\n').trimEnd();
}
