import { z } from 'zod';
import { loadPipelines } from '../lib/config/load.ts';
import { gitHubTarget, runDailyMonitoring } from '../lib/monitoring/index.ts';
import {
  annotate, booleanInput, databaseInputs, info, maskSecret, optionalText, optionalTime, readInputs, runAction, setOutputs, withDatabase, writeSummary,
} from '../lib/actions-io/index.ts';

/**
 * check-drift: the daily drift of every pipeline (or one), its input columns and the champion's
 * predictions against the champion's training window; recorded in mlops.drift_reports, the
 * report in the job summary, data-drift / prediction-drift alerts opened, updated or closed, and
 * on severe drift a `retrain` repository dispatch (once per cooldown).
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'pipelines-dir': z.string().trim().default('pipelines'),
    pipeline: optionalText(),
    'repo-dir': z.string().trim().default('.'),
    'current-days': z.coerce.number().gt(0, 'expected a number of days > 0').optional(),
    'as-of': optionalTime(),
    'github-token': optionalText(),
    'webhook-url': optionalText(),
    'fail-on-drift': booleanInput(false),
  });
  maskSecret(inputs.githubToken);
  maskSecret(inputs.webhookUrl);
  const pipelines = loadPipelines(inputs.pipelinesDir).filter((p) => !inputs.pipeline || p.config.name === inputs.pipeline);
  if (pipelines.length === 0) throw new Error(`no pipeline named "${inputs.pipeline}" in ${inputs.pipelinesDir}`);
  const github = gitHubTarget({ token: inputs.githubToken, log: info });
  if (!github) info('no GitHub token: alerts go to the log and mlops.alerts only, retrains are recorded, not dispatched');
  const result = await withDatabase(inputs, (db) => runDailyMonitoring(db, {
    pipelines, repoDir: inputs.repoDir, asOf: inputs.asOf ?? new Date(), checks: ['drift'], currentDays: inputs.currentDays,
    github, webhook: inputs.webhookUrl ? { url: inputs.webhookUrl } : null, log: info,
  }));

  const drifted = result.drift.filter((d) => d.result?.datasetDrift);
  for (const d of drifted) annotate('warning', d.message, { file: pipelines.find((p) => p.config.name === d.pipeline)!.file, title: `data drift: ${d.pipeline}` });
  await writeSummary(result.markdown);
  setOutputs({
    'dataset-drift': drifted.length > 0,
    'drifted-pipelines': JSON.stringify(drifted.map((d) => d.pipeline)),
    'report-ids': JSON.stringify(result.drift.filter((d) => d.reportId !== null).map((d) => d.reportId)),
    alerts: JSON.stringify(result.alerts.all.filter((a) => a.outcome !== 'unchanged').map((a) => ({ key: a.key, outcome: a.outcome, issue: a.issue?.number ?? null }))),
    dispatched: JSON.stringify(result.dispatches.map((d) => ({ pipeline: d.pipeline, outcome: d.outcome }))),
  });
  if (drifted.length > 0 && inputs.failOnDrift) throw new Error(`dataset drift in ${drifted.map((d) => d.pipeline).join(', ')} (see the job summary)`);
}

await runAction(main);
