import { annotate, readInputs, runAction, setOutputs, writeSummary } from '../lib/actions-io/index.ts';
import { monitoringInputs, monitoringOutputs, runMonitoringAction } from '../lib/actions-io/monitoring.ts';

/**
 * check-health: the daily health rules of every pipeline (or one): primary metric rising week
 * over week, no promotion for several runs, a stale champion (dispatches a retrain, once per
 * cooldown), a failed or unfinished retrain; for a classifier, its live accuracy and label
 * coverage. Alerts are opened, updated or closed; the rules table goes to the job summary.
 */
async function main(): Promise<void> {
  const inputs = readInputs(monitoringInputs);
  const { result, fileOf } = await runMonitoringAction(inputs, { checks: ['health'] });

  const firing = result.rules.filter((r) => r.status === 'firing');
  for (const r of firing) annotate('warning', r.message, { file: fileOf(r.pipeline), title: `health: ${r.rule}` });
  await writeSummary(result.markdown);
  const { alerts, dispatched } = monitoringOutputs(result);
  setOutputs({
    firing: firing.length,
    rules: JSON.stringify(firing.map((r) => ({ pipeline: r.pipeline, rule: r.rule, message: r.message }))),
    alerts,
    dispatched,
  });
}

await runAction(main);
