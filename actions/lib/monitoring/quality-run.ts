/**
 * The daily data-quality check of one pipeline: the last `since` of its source, judged by the
 * pipeline's quality rules without the training minimums (rows/days are about training windows):
 * freshness (age of the newest row), gaps longer than `max_gap_minutes`, completeness per entity
 * at the sampling interval, null share and range violations per column, duplicate timestamps.
 * One row per check in mlops.quality_checks (run_id NULL: not part of a retrain).
 */
import type { PipelineConfig } from '../config/schema.ts';
import type { Db } from '../db/index.ts';
import { checkQuality, type QualityReport } from '../quality/checks.ts';
import { recordQualityChecks } from '../quality/record.ts';
import { qualitySummary, qualityTable } from '../report/markdown.ts';
import { extractFrame } from '../source/extract.ts';
import type { RuleResult } from './alerts.ts';

export const DEFAULT_QUALITY_SINCE_MS = 24 * 3_600_000;

export interface QualityRun {
  pipeline: string;
  report: QualityReport;
  rule: RuleResult;
  markdown: string;
}

export async function runQuality(db: Db, config: PipelineConfig, options: { asOf: Date; sinceMs?: number }): Promise<QualityRun> {
  const { asOf } = options;
  const sinceMs = options.sinceMs ?? DEFAULT_QUALITY_SINCE_MS;
  const frame = await extractFrame(db, config.source, asOf, { start: new Date(asOf.getTime() - sinceMs), end: asOf });
  const report = checkQuality(frame, config.quality, {
    asOf,
    columns: config.source.columns,
    intervalMinutes: config.source.interval_minutes,
    trainingMinimums: false,
  });
  await recordQualityChecks(db, config.name, null, report);
  const hours = Math.round((sinceMs / 3_600_000) * 10) / 10;
  const failedTable = report.failed.length ? qualityTable({ ...report, checks: report.failed }) : '';
  const markdown = [
    `### Data quality — ${config.name} (last ${hours} h, as of ${asOf.toISOString()})`,
    '',
    `${report.passed ? '✅ passed' : `⚠️ ${report.failed.length} check(s) failed`}: ${qualitySummary(report)}`,
    ...(failedTable ? ['', '#### Failed checks', '', failedTable] : []),
    '',
    '<details><summary>All checks</summary>',
    '',
    qualityTable(report),
    '',
    '</details>',
    '',
  ].join('\n');
  const rule: RuleResult = {
    pipeline: config.name,
    rule: 'data-quality',
    status: report.passed ? 'ok' : 'firing',
    severity: report.failed.some((c) => c.name === 'staleness' || c.name === 'completeness') ? 'critical' : 'warning',
    message: report.passed
      ? `${config.name}: all ${report.checks.length} data-quality checks passed over the last ${hours} h`
      : `${config.name}: ${report.failed.map((c) => c.message).join('; ')}`,
    details: { window: report.window, failed: report.failed.map((c) => ({ check: c.name, column: c.column, value: c.value, threshold: c.threshold })) },
    evidence: failedTable || undefined,
  };
  return { pipeline: config.name, report, rule, markdown };
}
