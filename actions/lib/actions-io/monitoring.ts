import { z } from 'zod';
import { loadPipelineFile, loadPipelines, selectPipelines, type LoadedPipeline } from '../config/load.ts';
import { gitHubTarget, type GitHubTarget } from '../github/client.ts';
import { runDailyMonitoring, type DailyMonitoringOptions, type DailyMonitoringResult } from '../monitoring/index.ts';
import { databaseInputs, withDatabase } from './database.ts';
import { optionalText, optionalTime, type Inputs } from './inputs.ts';
import { info } from './log.ts';
import { maskSecret } from './secrets.ts';

/**
 * What the monitoring actions (check-data-quality, check-drift, check-health, sweep) and the score
 * action share: the pipeline selection inputs, the alert targets, and one call that runs the daily
 * checks.
 */

/** Which pipelines a step works on: every one in pipelines-dir, or the one named. */
export const pipelineInputs = {
  'pipelines-dir': z.string().trim().default('pipelines'),
  pipeline: optionalText(),
};

/** The pipelines the inputs select (a pipeline-file, when given, instead of the directory); unknown names are errors that list the valid ones. */
export function selectedPipelines(inputs: Inputs<typeof pipelineInputs>, pipelineFile?: string): LoadedPipeline[] {
  return selectPipelines(
    pipelineFile ? [{ file: pipelineFile, config: loadPipelineFile(pipelineFile) }] : loadPipelines(inputs.pipelinesDir),
    inputs.pipeline,
    pipelineFile ?? inputs.pipelinesDir,
  );
}

/** Where alerts go besides mlops.alerts: GitHub issues (with a token) and a webhook. */
export const alertInputs = {
  'github-token': optionalText(),
  'webhook-url': optionalText(),
};

/** The alert targets of the inputs, their secrets masked in the log; `noToken` is logged when there is no GitHub token. */
export function alertTargets(inputs: Inputs<typeof alertInputs>, noToken: string): { github: GitHubTarget | null; webhook: { url: string } | null } {
  maskSecret(inputs.githubToken);
  maskSecret(inputs.webhookUrl);
  const github = gitHubTarget({ token: inputs.githubToken, log: info, userAgent: 'gitops-mlops-monitoring' });
  if (!github) info(noToken);
  return { github, webhook: inputs.webhookUrl ? { url: inputs.webhookUrl } : null };
}

/** The inputs every daily monitoring action declares in its action.yml. */
export const monitoringInputs = {
  ...databaseInputs,
  ...pipelineInputs,
  'repo-dir': z.string().trim().default('.'),
  'as-of': optionalTime(),
  ...alertInputs,
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
  const pipelines = selectedPipelines(inputs, options.pipelineFile);
  const { github, webhook } = alertTargets(inputs, 'no GitHub token: alerts go to the log and mlops.alerts only, retrains are recorded, not dispatched');
  const result = await withDatabase(inputs, (db) =>
    runDailyMonitoring(db, {
      pipelines,
      repoDir: inputs.repoDir,
      asOf: inputs.asOf ?? new Date(),
      ...options,
      github,
      webhook,
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
