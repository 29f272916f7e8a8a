import { z } from 'zod';
import { loadPipelineFile, loadPipelines, selectPipelines } from '../config/load.ts';
import { gitHubTarget } from '../github/client.ts';
import { runDailyMonitoring, type DailyMonitoringOptions, type DailyMonitoringResult } from '../monitoring/index.ts';
import { databaseInputs, withDatabase } from './database.ts';
import { optionalText, optionalTime, type Inputs } from './inputs.ts';
import { info } from './log.ts';
import { maskSecret } from './secrets.ts';

/**
 * What the daily monitoring actions (check-drift, check-health) share: their common inputs, and
 * one call that masks the secrets, selects the pipelines, connects GitHub and runs the checks.
 */

/** The inputs every monitoring action declares in its action.yml. */
export const monitoringInputs = {
  ...databaseInputs,
  'pipelines-dir': z.string().trim().default('pipelines'),
  pipeline: optionalText(),
  'repo-dir': z.string().trim().default('.'),
  'as-of': optionalTime(),
  'github-token': optionalText(),
  'webhook-url': optionalText(),
};

export type MonitoringInputs = Inputs<typeof monitoringInputs>;

export interface MonitoringActionRun {
  result: DailyMonitoringResult;
  /** the pipeline file of a pipeline (by name), for annotations */
  fileOf(pipeline: string): string;
}

/**
 * Runs the daily monitoring's `checks` for the pipelines the inputs select (all, or the one named),
 * alerts to GitHub issues when there is a token (else to the log and mlops.alerts only).
 */
export async function runMonitoringAction(
  inputs: MonitoringInputs,
  options: Pick<DailyMonitoringOptions, 'checks' | 'currentDays' | 'qualitySinceMs'> & { pipelineFile?: string },
): Promise<MonitoringActionRun> {
  maskSecret(inputs.githubToken);
  maskSecret(inputs.webhookUrl);
  const pipelines = selectPipelines(
    options.pipelineFile ? [{ file: options.pipelineFile, config: loadPipelineFile(options.pipelineFile) }] : loadPipelines(inputs.pipelinesDir),
    inputs.pipeline,
    options.pipelineFile ?? inputs.pipelinesDir,
  );
  const github = gitHubTarget({ token: inputs.githubToken, log: info, userAgent: 'gitops-mlops-monitoring' });
  if (!github) info('no GitHub token: alerts go to the log and mlops.alerts only, retrains are recorded, not dispatched');
  const result = await withDatabase(inputs, (db) =>
    runDailyMonitoring(db, {
      pipelines,
      repoDir: inputs.repoDir,
      asOf: inputs.asOf ?? new Date(),
      ...options,
      github,
      webhook: inputs.webhookUrl ? { url: inputs.webhookUrl } : null,
      log: info,
    }),
  );
  return { result, fileOf: (name) => pipelines.find((p) => p.config.name === name)!.file };
}

/** The `alerts` (those that changed) and `dispatched` (the retrain dispatches) outputs of every monitoring action, as JSON. */
export function monitoringOutputs(result: DailyMonitoringResult): { alerts: string; dispatched: string } {
  return {
    alerts: JSON.stringify(
      result.alerts.all.filter((a) => a.outcome !== 'unchanged').map((a) => ({ key: a.key, outcome: a.outcome, issue: a.issue?.number ?? null })),
    ),
    dispatched: JSON.stringify(result.dispatches.map((d) => ({ pipeline: d.pipeline, outcome: d.outcome }))),
  };
}
