import { z } from 'zod';
import { loadPipelines, selectPipelines } from '../lib/config/load.ts';
import { gitHubTarget } from '../lib/github/client.ts';
import {
  annotate,
  databaseInputs,
  info,
  maskSecret,
  optionalText,
  optionalTime,
  readInputs,
  runAction,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';
import { runSweep, sweepMarkdown } from '../lib/monitoring/sweep.ts';

/**
 * sweep: the 5-minute alert sweep of every pipeline (or one): flagged readings, the model server's
 * error rate and missing online predictions, each pipeline's `sweep:` settings. Alerts are opened,
 * updated or closed like the daily ones; the rules table goes to the job summary.
 */
const spec = {
  ...databaseInputs,
  'pipelines-dir': z.string().trim().default('pipelines'),
  pipeline: optionalText(),
  'as-of': optionalTime(),
  'github-token': optionalText(),
  'webhook-url': optionalText(),
};

async function main(): Promise<void> {
  const inputs = readInputs(spec);
  maskSecret(inputs.githubToken);
  maskSecret(inputs.webhookUrl);
  const pipelines = selectPipelines(loadPipelines(inputs.pipelinesDir), inputs.pipeline, inputs.pipelinesDir);
  const github = gitHubTarget({ token: inputs.githubToken, log: info, userAgent: 'gitops-mlops-monitoring' });
  if (!github) info('no GitHub token: alerts go to the log and mlops.alerts only');
  const result = await withDatabase(inputs, (db) =>
    runSweep(
      db,
      pipelines.map((p) => p.config),
      {
        asOf: inputs.asOf ?? new Date(),
        github,
        webhook: inputs.webhookUrl ? { url: inputs.webhookUrl } : null,
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
