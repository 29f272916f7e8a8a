import { z } from 'zod';
import { annotate, booleanInput, readInputs, runAction, setOutputs, writeSummary } from '../lib/actions-io/index.ts';
import { monitoringInputs, monitoringOutputs, runMonitoringAction } from '../lib/actions-io/monitoring.ts';

/**
 * check-drift: the daily drift of every pipeline (or one), its input columns and the champion's
 * predictions against the champion's training window; recorded in mlops.drift_reports, the
 * report in the job summary, data-drift / prediction-drift alerts opened, updated or closed, and
 * on severe drift a `retrain` repository dispatch (once per cooldown).
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...monitoringInputs,
    'current-days': z.coerce.number().gt(0, 'expected a number of days > 0').optional(),
    'fail-on-drift': booleanInput(false),
  });
  const { result, fileOf } = await runMonitoringAction(inputs, { checks: ['drift'], currentDays: inputs.currentDays });

  const drifted = result.drift.filter((d) => d.result?.datasetDrift);
  for (const d of drifted) annotate('warning', d.message, { file: fileOf(d.pipeline), title: `data drift: ${d.pipeline}` });
  await writeSummary(result.markdown);
  const { alerts, dispatched } = monitoringOutputs(result);
  setOutputs({
    'dataset-drift': drifted.length > 0,
    'drifted-pipelines': JSON.stringify(drifted.map((d) => d.pipeline)),
    'report-ids': JSON.stringify(result.drift.filter((d) => d.reportId !== null).map((d) => d.reportId)),
    alerts,
    dispatched,
  });
  if (drifted.length > 0 && inputs.failOnDrift) throw new Error(`dataset drift in ${drifted.map((d) => d.pipeline).join(', ')} (see the job summary)`);
}

await runAction(main);
