import { z } from 'zod';
import { loadPipelines } from '../lib/config/load.ts';
import { gitHubTarget, runDailyMonitoring } from '../lib/monitoring/index.ts';
import {
  annotate, databaseInputs, info, maskSecret, optionalText, optionalTime, readInputs, runAction, setOutputs, withDatabase, writeSummary,
} from '../lib/actions-io/index.ts';

/**
 * check-health: the daily health rules of every pipeline (or one): primary metric rising week
 * over week, no promotion for several runs, a stale champion (dispatches a retrain, once per
 * cooldown), a failed or unfinished retrain. Alerts are opened, updated or closed; the rules
 * table goes to the job summary.
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'pipelines-dir': z.string().trim().default('pipelines'),
    pipeline: optionalText(),
    'repo-dir': z.string().trim().default('.'),
    'as-of': optionalTime(),
    'github-token': optionalText(),
    'webhook-url': optionalText(),
  });
  maskSecret(inputs.githubToken);
  maskSecret(inputs.webhookUrl);
  const pipelines = loadPipelines(inputs.pipelinesDir).filter((p) => !inputs.pipeline || p.config.name === inputs.pipeline);
  if (pipelines.length === 0) throw new Error(`no pipeline named "${inputs.pipeline}" in ${inputs.pipelinesDir}`);
  const github = gitHubTarget({ token: inputs.githubToken, log: info });
  if (!github) info('no GitHub token: alerts go to the log and mlops.alerts only, retrains are recorded, not dispatched');
  const result = await withDatabase(inputs, (db) => runDailyMonitoring(db, {
    pipelines, repoDir: inputs.repoDir, asOf: inputs.asOf ?? new Date(), checks: ['health'],
    github, webhook: inputs.webhookUrl ? { url: inputs.webhookUrl } : null, log: info,
  }));

  const firing = result.rules.filter((r) => r.status === 'firing');
  for (const r of firing) annotate('warning', r.message, { file: pipelines.find((p) => p.config.name === r.pipeline)!.file, title: `health: ${r.rule}` });
  await writeSummary(result.markdown);
  setOutputs({
    firing: firing.length,
    rules: JSON.stringify(firing.map((r) => ({ pipeline: r.pipeline, rule: r.rule, message: r.message }))),
    alerts: JSON.stringify(result.alerts.all.filter((a) => a.outcome !== 'unchanged').map((a) => ({ key: a.key, outcome: a.outcome, issue: a.issue?.number ?? null }))),
    dispatched: JSON.stringify(result.dispatches.map((d) => ({ pipeline: d.pipeline, outcome: d.outcome }))),
  });
}

await runAction(main);
