import { z } from 'zod';
import { loadPipelineFile, loadPipelines, type LoadedPipeline } from '../lib/config/load.ts';
import type { Db } from '../lib/db/index.ts';
import { checkQuality, type QualityReport } from '../lib/quality/checks.ts';
import { recordQualityChecks } from '../lib/quality/record.ts';
import { extractFrame } from '../lib/source/extract.ts';
import { qualitySummary, qualityTable } from '../lib/report/markdown.ts';
import { qualityStage } from '../lib/retrain/stages.ts';
import {
  annotate, booleanInput, databaseInputs, duration, openRunStore, optionalText, optionalTime, readInputs, runAction, runStage, setOutputs, stageSummary, withDatabase, writeSummary,
} from '../lib/actions-io/index.ts';
import { thresholdLocation } from '../lib/quality/locate.ts';

/**
 * check-data-quality, in two modes:
 *  - with run-dir: the quality stage of a retrain; a failure makes the run a skip, not a failed job;
 *  - without: the daily monitoring check of every pipeline (or pipeline-file) over the last `since`.
 * Each failed check is a warning annotation on the line of its threshold in the pipeline file.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'run-dir': optionalText(),
    'pipeline-file': optionalText(),
    'pipelines-dir': z.string().trim().default('pipelines'),
    since: duration('1d'),
    'as-of': optionalTime(),
    'fail-on-failure': booleanInput(false),
  });
  const store = inputs.runDir ? openRunStore(inputs.runDir) : null;
  const reports = await withDatabase(inputs, async (db) => {
    if (store) {
      const state = await runStage(db, 'check-data-quality', store, () => qualityStage(db, store));
      await writeSummary(stageSummary('quality', state, store.dir));
      return [{ file: state.pipeline_file, name: state.pipeline, report: state.quality! }];
    }
    const pipelines: LoadedPipeline[] = inputs.pipelineFile
      ? [{ file: inputs.pipelineFile, config: loadPipelineFile(inputs.pipelineFile) }]
      : loadPipelines(inputs.pipelinesDir);
    return monitor(db, pipelines, inputs.asOf ?? new Date(), inputs.since);
  });

  const failed = reports.flatMap((r) => r.report.failed.map((c) => ({ ...r, check: c })));
  for (const f of failed) {
    const where = thresholdLocation(f.file, f.check) ?? { file: f.file };
    annotate('warning', `${f.name}: ${f.check.message}`, { ...where, title: `data quality: ${f.check.name}` });
  }
  setOutputs({
    passed: failed.length === 0,
    'failed-checks': failed.length,
    failed: JSON.stringify(failed.map((f) => ({ pipeline: f.name, check: f.check.name, column: f.check.column, message: f.check.message }))),
  });
  if (failed.length > 0 && inputs.failOnFailure) throw new Error(`${failed.length} data-quality check(s) failed (see the annotations and the job summary)`);
}

/** The monitoring check: the recent window of each pipeline, judged without the training minimums and recorded. */
async function monitor(db: Db, pipelines: LoadedPipeline[], asOf: Date, sinceMs: number) {
  const out: { file: string; name: string; report: QualityReport }[] = [];
  const lines: string[] = [`### Data quality of the last ${Math.round(sinceMs / 3_600_000)} h (as of ${asOf.toISOString()})`];
  for (const { file, config } of pipelines) {
    const frame = await extractFrame(db, config.source, asOf, { start: new Date(asOf.getTime() - sinceMs), end: asOf });
    const report = checkQuality(frame, config.quality, {
      asOf, columns: config.source.columns, intervalMinutes: config.source.interval_minutes, trainingMinimums: false,
    });
    await recordQualityChecks(db, config.name, null, report);
    out.push({ file, name: config.name, report });
    lines.push('', `#### ${config.name}: ${report.passed ? 'passed' : 'failed'}`, '', qualitySummary(report));
    if (report.failed.length) lines.push('', '##### Failed checks', '', qualityTable({ ...report, checks: report.failed }));
    lines.push('', '<details><summary>All checks</summary>', '', qualityTable(report), '', '</details>');
  }
  await writeSummary(lines.join('\n'));
  return out;
}

await runAction(main);
