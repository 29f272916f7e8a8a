import type { GateResult } from '../gates/gates.ts';
import type { QualityReport } from '../quality/checks.ts';
import { isClassificationMetrics, metricValue, type MetricName } from '../evaluate/metrics.ts';
import type { ModelScore, RetrainResult } from '../retrain/result.ts';
import type { LabelStats } from '../retrain/run-dir.ts';
import { fmtInt, fmtMetric, fmtTime } from './format.ts';

/** Markdown building blocks shared by the run report, the job summary and the promotion PR body. */

export function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

const pctChange = (from: number, to: number): string => {
  if (!Number.isFinite(from) || !Number.isFinite(to) || from === 0) return '';
  const p = ((to - from) / Math.abs(from)) * 100;
  return ` (${p >= 0 ? '+' : ''}${p.toFixed(1)}%)`;
};

/** The rows of a metric table: label and metric name, per task. */
const REGRESSION_ROWS: [string, string][] = [
  ['rmse', 'rmse'],
  ['mae', 'mae'],
  ['r2', 'r2'],
  ['bias', 'bias'],
  ['max abs error', 'max_abs_error'],
  ['NaN predictions', 'nan_predictions'],
];
const CLASSIFICATION_ROWS: [string, string][] = [
  ['f1', 'f1'],
  ['precision', 'precision'],
  ['recall', 'recall'],
  ['accuracy', 'accuracy'],
  ['roc auc', 'roc_auc'],
  ['pr auc', 'pr_auc'],
  ['brier', 'brier'],
  ['log loss', 'log_loss'],
  ['positive rate', 'positive_rate'],
  ['NaN predictions', 'nan_predictions'],
];
const COUNTS = new Set(['nan_predictions', 'rows', 'positives']);

/** champion | challenger | baseline, one row per metric; the challenger's primary metric in bold. */
export function metricTable(
  scores: { champion: ModelScore | null; challenger: ModelScore | null; baseline: ModelScore | null },
  primary: MetricName,
  holdoutRows: number | null,
): string {
  const cols = [scores.champion, scores.challenger, scores.baseline].filter((s): s is ModelScore => s !== null);
  const classification = cols.some((c) => isClassificationMetrics(c.metrics));
  const what = classification ? 'labelled holdout' : 'holdout';
  const header = [`metric (${what}${holdoutRows !== null ? `, ${fmtInt(holdoutRows)} rows` : ''})`, ...cols.map((c) => c.label)];
  const rows = classification ? CLASSIFICATION_ROWS : REGRESSION_ROWS;
  return table(
    header,
    rows.map(([label, key]) => [
      label,
      ...cols.map((c) => {
        const v = metricValue(c.metrics, key as MetricName);
        let cell = COUNTS.has(key) ? String(Number.isFinite(v) ? v : 0) : fmtMetric(v);
        if (c.role === 'challenger' && key === primary) {
          cell = `**${cell}**${scores.champion ? pctChange(metricValue(scores.champion.metrics, primary), v) : ''}`;
        }
        return cell;
      }),
    ]),
  );
}

/** Double evaluation: champion and challenger on the fixed reference set, with what the set is. */
export function referenceSection(r: NonNullable<RetrainResult['reference']>, primary: MetricName): string {
  const what = `${fmtTime(r.start)} -> ${fmtTime(r.end)}${r.from_run ? ` (the holdout of run \`${r.from_run}\`)` : ''}`;
  return `Both models on the fixed reference set, ${what}:\n\n${metricTable({ champion: r.champion, challenger: r.challenger, baseline: null }, primary, r.rows)}`;
}

/** The labels of a classification run in one line: coverage, labelled and positive rows, as of when. */
export function labelsLine(l: LabelStats, rows: number): string {
  return (
    `${(l.coverage * 100).toFixed(1)}% of ${fmtInt(rows)} rows have a label known at ${fmtTime(l.as_of)} ` +
    `(${fmtInt(l.labelled)} labelled, ${fmtInt(l.positives)} positive = ${l.labelled ? ((l.positives / l.labelled) * 100).toFixed(1) : '0'}%; from ${l.table})`
  );
}

export function gateRows(gates: GateResult[]): string[][] {
  return gates.map((g) => [g.label, g.threshold, g.value, g.passed ? '✅' : g.overridden ? '⚠️ forced' : '❌']);
}

/** The data checks a reviewer wants beside the gates: rows and days in the window. */
export function dataGateRows(q: QualityReport | null): string[][] {
  if (!q) return [];
  return q.checks
    .filter((c) => c.name === 'rows' || c.name === 'days_covered')
    .map((c) => [
      c.name === 'rows' ? 'rows in window' : 'days covered',
      `${c.op} ${fmtInt(c.threshold)}`,
      c.name === 'rows' ? fmtInt(c.value) : c.value.toFixed(1),
      c.passed ? '✅' : '❌',
    ]);
}

export function gateTable(gates: GateResult[], extraRows: string[][] = []): string {
  return table(['gate', 'threshold', 'value', ''], [...gateRows(gates), ...extraRows]);
}

export function qualityTable(q: QualityReport): string {
  return table(
    ['check', 'value', ''],
    q.checks.map((c) => [c.column ? `${c.name} (${c.column})` : c.name, c.message, c.passed ? '✅' : '❌']),
  );
}

export function qualitySummary(q: QualityReport): string {
  const nulls = q.checks.filter((c) => c.name === 'null_share');
  const worstNull = nulls.reduce((a, c) => Math.max(a, c.value), 0);
  const gaps = q.checks.find((c) => c.name === 'gaps');
  const ranges = q.checks.filter((c) => c.name === 'range');
  const outside = ranges.reduce((a, c) => a + Number((c.details?.outside as number | undefined) ?? 0), 0);
  const nullLimit = nulls[0]?.threshold;
  return (
    `nulls ${(worstNull * 100).toFixed(2)}%${nullLimit !== undefined ? ` (max ${(nullLimit * 100).toFixed(0)}%)` : ''}, ` +
    `${gaps ? gaps.value : 0} gaps > ${gaps?.message.match(/longer than (\d+)/)?.[1] ?? '?'} min, ${fmtInt(outside)} range violations` +
    (q.failed.length ? `; **${q.failed.length} failed check(s)**` : '')
  );
}
