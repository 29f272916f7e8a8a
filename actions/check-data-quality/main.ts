import { qualityStage } from '../lib/retrain/stages.ts';
import {
  annotate,
  booleanInput,
  duration,
  openRunStore,
  optionalText,
  readInputs,
  runAction,
  runStage,
  setOutputs,
  stageSummary,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';
import { monitoringInputs, monitoringOutputs, runMonitoringAction } from '../lib/actions-io/monitoring.ts';
import { thresholdLocation } from '../lib/quality/locate.ts';
import type { QualityReport } from '../lib/quality/checks.ts';

/**
 * check-data-quality, in two modes:
 *  - with run-dir: the quality stage of a retrain; a failure makes the run a skip, not a failed job;
 *  - without: the daily monitoring check of every pipeline (or pipeline-file) over the last `since`,
 *    through the same monitoring code as `mlops quality`: recorded, and a data-quality alert
 *    (a GitHub issue with a token) opened, updated or closed.
 * Each failed check is a warning annotation on the line of its threshold in the pipeline file.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...monitoringInputs,
    'run-dir': optionalText(),
    'pipeline-file': optionalText(),
    since: duration('1d'),
    'fail-on-failure': booleanInput(false),
  });
  const store = inputs.runDir ? openRunStore(inputs.runDir) : null;
  let reports: { file: string; name: string; report: QualityReport }[];
  let monitoring: ReturnType<typeof monitoringOutputs> = { alerts: '[]', dispatched: '[]' };
  if (store) {
    reports = await withDatabase(inputs, async (db) => {
      const state = await runStage(db, 'check-data-quality', store, () => qualityStage(db, store));
      await writeSummary(stageSummary('quality', state, store.dir));
      return [{ file: state.pipeline_file, name: state.pipeline, report: state.quality! }];
    });
  } else {
    const { result, fileOf } = await runMonitoringAction(inputs, { checks: ['quality'], qualitySinceMs: inputs.since, pipelineFile: inputs.pipelineFile });
    await writeSummary(result.markdown);
    reports = result.quality.map((q) => ({ file: fileOf(q.pipeline), name: q.pipeline, report: q.report }));
    monitoring = monitoringOutputs(result);
  }

  const failed = reports.flatMap((r) => r.report.failed.map((c) => ({ ...r, check: c })));
  for (const f of failed) {
    const where = thresholdLocation(f.file, f.check) ?? { file: f.file };
    annotate('warning', `${f.name}: ${f.check.message}`, { ...where, title: `data quality: ${f.check.name}` });
  }
  setOutputs({
    passed: failed.length === 0,
    'failed-checks': failed.length,
    failed: JSON.stringify(failed.map((f) => ({ pipeline: f.name, check: f.check.name, column: f.check.column, message: f.check.message }))),
    alerts: monitoring.alerts,
  });
  if (failed.length > 0 && inputs.failOnFailure) throw new Error(`${failed.length} data-quality check(s) failed (see the annotations and the job summary)`);
}

await runAction(main);
