import type { Command, CommandEntry } from '../cli.ts';

/**
 * Every command's name and summary, and the module that holds it, loaded only when the command runs:
 * `--help` and a typo read this table alone, and a command loads its own group, not the whole
 * library (start-up was ~1.3 s when every module was imported up front).
 */
type Group = () => Promise<Record<string, Command>>;

const db: Group = () => import('./db.ts').then((m) => m.dbCommands);
const data: Group = () => import('./data.ts').then((m) => m.dataCommands);
const labels: Group = () => import('./labels.ts').then((m) => m.labelsCommands);
const pipelines: Group = () => import('./pipelines.ts').then((m) => m.pipelineCommands);
const registry: Group = () => import('./registry.ts').then((m) => m.registryCommands);
const retrain: Group = () => import('./retrain.ts').then((m) => m.retrainCommands);
const runs: Group = () => import('./runs.ts').then((m) => m.runsCommands);
const gitops: Group = () => import('./gitops.ts').then((m) => m.gitopsCommands);
const monitoring: Group = () => import('./monitoring.ts').then((m) => m.monitoringCommands);
const score: Group = () => import('./score.ts').then((m) => m.scoreCommands);
const serve: Group = () => import('./serve.ts').then((m) => m.serveCommands);

export const commands: Record<string, CommandEntry> = {
  'db migrate': { summary: 'create or upgrade schema mlops (idempotent, one transaction)', group: db },
  'data seed': {
    summary: 'write realistic demo data: 1-minute pump-station readings (readings_wide), or --dataset credit: applications and outcomes',
    group: data,
  },
  'data import': { summary: 'load a CSV with a header into readings_wide (or --table), all or nothing', group: data },
  'labels import': {
    summary: "load a CSV of labels (key, label, label time) into a classification pipeline's labels table, all or nothing; re-importing adds only what is new",
    group: labels,
  },
  'pipelines validate': {
    summary: 'check every pipelines/*.yaml: schema, duplicate names, and the source (table, columns, derive expressions) as the retrain checks it',
    group: pipelines,
  },
  'registry schema': { summary: 'regenerate registry/production.schema.json from the zod schema', group: registry },
  retrain: { summary: 'the weekly retrain: extract, quality, features, train, evaluate against the champion, gates, record', group: retrain },
  'runs list': { summary: 'the experiment history, newest first, with decision and primary metric', group: runs },
  'runs show': { summary: 'one run in full: its report, or what the database holds of it', group: runs },
  promote: { summary: 'open (or update) the promotion pull request of a run whose gate said promote; without a token, in a scratch clone', group: gitops },
  deploy: {
    summary: 'verify every entry of registry/production.json at a commit of the default branch and record what changed (deploy or rollback)',
    group: gitops,
  },
  rollback: { summary: 'prepare the rollback of one model to an earlier version (a branch and PR, or --push onto the base)', group: gitops },
  'registry show': { summary: 'the models in production as registry/production.json says, and what was deployed', group: gitops },
  'registry history': { summary: 'promotions and rollbacks as git recorded them: when (the merge), what, who merged and approved, why', group: gitops },
  'registry verify': { summary: 'verify registry/production.json at a commit as deploy does, without recording anything', group: gitops },
  quality: {
    summary: 'daily data quality of the recent window: freshness, gaps, completeness, nulls, ranges, duplicates (mlops.quality_checks)',
    group: monitoring,
  },
  drift: {
    summary: "drift of the model's input columns and predictions: the champion's training window against the last N days (mlops.drift_reports)",
    group: monitoring,
  },
  health: {
    summary: 'health rules: metric rise, no promotion, stale champion (dispatches a retrain), failed retrain; alerts opened and closed',
    group: monitoring,
  },
  score: {
    summary: 'score the recent window with each deployed champion (sha256-verified ONNX, its own recorded features) into mlops.predictions',
    group: score,
  },
  sweep: { summary: "the 5-minute alert sweep: flagged readings, the model server's error rate, missing online predictions (mlops.alerts)", group: monitoring },
  serve: {
    summary: 'serve the deployed champions over HTTP (predict, models, health, ready, Prometheus metrics), logging every prediction to mlops.predictions',
    group: serve,
  },
};
