import { annotate, databaseInputs, info, optionalTime, readInputs, runAction, setOutputs, withDatabase, writeSummary } from '../lib/actions-io/index.ts';
import { alertInputs, alertTargets, pipelineInputs, selectedPipelines } from '../lib/actions-io/monitoring.ts';
import { runSweep, sweepMarkdown } from '../lib/monitoring/sweep.ts';

/**
 * sweep: the 5-minute alert sweep of every pipeline (or one): flagged readings, the model server's
 * error rate and missing online predictions, each pipeline's `sweep:` settings. Alerts are opened,
 * updated or closed like the daily ones; the rules table goes to the job summary.
 */
const spec = { ...databaseInputs, ...pipelineInputs, 'as-of': optionalTime(), ...alertInputs };

async function main(): Promise<void> {
  const inputs = readInputs(spec);
  const pipelines = selectedPipelines(inputs);
  const { github, webhook } = alertTargets(inputs, 'no GitHub token: alerts go to the log and mlops.alerts only');
  const result = await withDatabase(inputs, (db) =>
    runSweep(
      db,
      pipelines.map((p) => p.config),
      {
        asOf: inputs.asOf ?? new Date(),
        github,
        webhook,
        log: info,
      },
    ),
  );
  const firing = result.rules.filter((r) => r.status === 'firing');
  for (const r of firing) annotate('warning', r.message, { file: pipelines.find((p) => p.config.name === r.pipeline)?.file, title: `sweep: ${r.rule}` });
  await writeSummary(sweepMarkdown(result));
  setOutputs({
    firing: firing.length,
    alerts: JSON.stringify(
      result.alerts.filter((a) => a.outcome !== 'unchanged').map((a) => ({ key: a.key, outcome: a.outcome, issue: a.issue?.number ?? null })),
    ),
  });
}

await runAction(main);
