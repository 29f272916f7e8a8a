/**
 * The daily health rules of a pipeline, over the tracking tables and the registry:
 *
 *   metric-rise     the newest run's primary metric (holdout) is up more than
 *                   `health.metric_rise_alert_pct` on the newest run at least 6 days older
 *                   (the week before; weekly runs are not exactly 7 days apart)
 *   not-promoted    none of the last `health.not_promoted_alert_weeks` finished runs decided promote
 *   stale-champion  the champion was promoted more than `health.stale_after_days` ago and no model
 *                   was trained since (a finished run that decided promote or reject; a skip for
 *                   bad data trained nothing) -> dispatches a retrain
 *   retrain-failed  the newest run failed, or is still `running` (its process alive) long after it
 *                   should have ended (2 x gates.max_training_minutes + 30 min, by the wall clock)
 *   retrain-abandoned a run of the last 7 days (by as_of) was abandoned: its process died without
 *                   finishing (killed, out of memory, runner lost). Runs left `running` by a process
 *                   that is gone are marked abandoned first (tracking/lease.ts), so a dead run is
 *                   never reported as running.
 *   live-metric-drop, label-coverage  (classification) the deployed champion's live accuracy and
 *                   the share of its predictions with a label (live-rules.ts)
 */
import type { PipelineConfig } from '../config/schema.ts';
import type { Db, Queryable } from '../db/index.ts';
import { readRegistry } from '../registry/champion.ts';
import { promotionTime } from '../registry/promoted-at.ts';
import type { RuleResult } from './alerts.ts';
import { missingScoresRule } from './scores-rule.ts';
import { liveRules } from './live-rules.ts';
import type { LivePerformance } from '../labels/live.ts';
import type { Decision } from '../gates/gates.ts';
import { reapAbandonedRuns } from '../tracking/lease.ts';
import type { RunStatus } from '../tracking/runs.ts';
import { DAY_MS } from '../util/duration.ts';

export interface HealthOptions {
  repoDir: string;
  asOf: Date;
  /** the wall clock, for runs that never finished (default: now) */
  now?: Date;
}

export interface HealthReport {
  pipeline: string;
  rules: RuleResult[];
  /** set when the stale rule fires: the reason of the retrain to dispatch */
  retrainReason: string | null;
  /** classification: the champion's live performance (recorded in mlops.model_performance); null when it could not be computed */
  live?: LivePerformance | null;
}

interface PerfRow {
  run_id: string;
  training_date: Date;
  rmse_val: number | null;
  mae_val: number | null;
}

interface RunRow {
  run_id: string;
  status: RunStatus;
  decision: Decision | null;
  as_of: Date;
  started_at: Date;
  finished_at: Date | null;
  heartbeat_at: Date | null;
  error: string | null;
}

const RUN_COLUMNS = 'run_id, status, decision, as_of, started_at, finished_at, heartbeat_at, error';
/** how far back (by as_of) an abandoned run keeps its alert open */
const ABANDONED_WINDOW_DAYS = 7;

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
const day = (d: Date | string): string => new Date(d).toISOString().slice(0, 10);
const num = (x: number): string => String(Number(x.toPrecision(4)));

function result(
  config: PipelineConfig,
  rule: RuleResult['rule'],
  status: RuleResult['status'],
  severity: RuleResult['severity'],
  message: string,
  details: Record<string, unknown> = {},
  evidence?: string,
): RuleResult {
  return { pipeline: config.name, rule, status, severity, message, details, ...(evidence ? { evidence } : {}) };
}

export async function metricRiseRule(db: Queryable, config: PipelineConfig, asOf: Date): Promise<RuleResult> {
  const metric = config.gates.metric;
  const { rows } = await db.query<PerfRow>(
    `SELECT run_id, training_date, rmse_val, mae_val FROM mlops.model_performance
     WHERE model_name = $1 AND kind = 'holdout' AND training_date <= $2 AND ${metric === 'rmse' ? 'rmse_val' : 'mae_val'} IS NOT NULL
     ORDER BY training_date DESC, id DESC LIMIT 60`,
    [config.name, asOf],
  );
  const value = (r: PerfRow): number => (metric === 'rmse' ? r.rmse_val : r.mae_val)!;
  const newest = rows[0];
  const before = newest ? rows.find((r) => new Date(r.training_date).getTime() <= new Date(newest.training_date).getTime() - 6 * DAY_MS) : undefined;
  if (!newest || !before) return result(config, 'metric-rise', 'ok', 'warning', `${config.name}: fewer than two weekly runs with a ${metric} to compare`);
  const rise = value(before) > 0 ? ((value(newest) - value(before)) / value(before)) * 100 : 0;
  const details = {
    metric,
    newest: { run_id: newest.run_id, date: day(newest.training_date), value: value(newest) },
    week_before: { run_id: before.run_id, date: day(before.training_date), value: value(before) },
    rise_pct: rise,
    threshold_pct: config.health.metric_rise_alert_pct,
  };
  const line = `${metric} ${num(value(before))} (${day(before.training_date)}) -> ${num(value(newest))} (${day(newest.training_date)}), ${pct(rise)}`;
  const firing = rise > config.health.metric_rise_alert_pct;
  return result(
    config,
    'metric-rise',
    firing ? 'firing' : 'ok',
    'warning',
    firing ? `${config.name}: ${line} week over week (alert above +${config.health.metric_rise_alert_pct}%)` : `${config.name}: ${line}`,
    details,
    `| run | date | ${metric} |\n|---|---|---:|\n| ${before.run_id} | ${day(before.training_date)} | ${num(value(before))} |\n| ${newest.run_id} | ${day(newest.training_date)} | ${num(value(newest))} |`,
  );
}

async function finishedRuns(db: Queryable, pipeline: string, asOf: Date, limit: number): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM mlops.training_runs
     WHERE pipeline = $1 AND status = 'succeeded' AND decision IS NOT NULL AND as_of <= $2
     ORDER BY as_of DESC, started_at DESC LIMIT $3`,
    [pipeline, asOf, limit],
  );
  return rows;
}

export async function notPromotedRule(db: Queryable, config: PipelineConfig, asOf: Date): Promise<RuleResult> {
  const n = config.health.not_promoted_alert_weeks;
  const runs = await finishedRuns(db, config.name, asOf, n);
  const decisions = runs.map((r) => `${day(r.as_of)} ${r.decision}`);
  const firing = runs.length >= n && runs.every((r) => r.decision !== 'promote');
  const details = { runs: runs.map((r) => ({ run_id: r.run_id, as_of: day(r.as_of), decision: r.decision })), weeks: n };
  return result(
    config,
    'not-promoted',
    firing ? 'firing' : 'ok',
    'warning',
    firing
      ? `${config.name}: no promotion in the last ${n} runs (${decisions.join(', ')})`
      : `${config.name}: ${runs.length < n ? `only ${runs.length} finished run(s)` : 'a promotion'} in the last ${n} runs`,
    details,
    runs.length ? `| run | as of | decision |\n|---|---|---|\n${runs.map((r) => `| ${r.run_id} | ${day(r.as_of)} | ${r.decision} |`).join('\n')}` : undefined,
  );
}

export async function staleChampionRule(
  db: Queryable,
  config: PipelineConfig,
  repoDir: string,
  asOf: Date,
): Promise<{ rule: RuleResult; reason: string | null }> {
  const entry = readRegistry(repoDir).models[config.name];
  if (!entry) return { rule: result(config, 'stale-champion', 'unknown', 'warning', `${config.name}: no champion in the registry`), reason: null };
  // the merge that made it the champion, not the training (registry/promoted-at.ts)
  const when = await promotionTime(repoDir, config.name, entry, { db });
  const promoted = new Date(when.at);
  const ageDays = (asOf.getTime() - promoted.getTime()) / DAY_MS;
  const { rows } = await db.query<{ run_id: string; as_of: Date }>(
    `SELECT run_id, as_of FROM mlops.training_runs WHERE pipeline = $1 AND status = 'succeeded' AND decision IN ('promote', 'reject')
       AND as_of > $2 AND as_of <= $3 ORDER BY as_of DESC LIMIT 1`,
    [config.name, promoted, asOf],
  );
  const trainedSince = rows[0] ?? null;
  const details = {
    version: entry.version,
    promoted_at: when.at,
    promoted_at_source: when.source,
    age_days: ageDays,
    stale_after_days: config.health.stale_after_days,
    trained_since: trainedSince ? { run_id: trainedSince.run_id, as_of: new Date(trainedSince.as_of).toISOString() } : null,
  };
  const firing = ageDays > config.health.stale_after_days && !trainedSince;
  const age = `champion v${entry.version} is ${ageDays.toFixed(1)} days old (promoted ${day(promoted)})`;
  if (!firing) {
    const why = trainedSince ? `; a model was trained since (run ${trainedSince.run_id})` : '';
    return { rule: result(config, 'stale-champion', 'ok', 'warning', `${config.name}: ${age}${why}`, details), reason: null };
  }
  const reason = `stale champion: ${age}, stale after ${config.health.stale_after_days} days, no model trained since`;
  return { rule: result(config, 'stale-champion', 'firing', 'warning', `${config.name}: ${reason}; a retrain is dispatched`, details), reason };
}

export async function retrainFailedRule(db: Queryable, config: PipelineConfig, asOf: Date, now: Date): Promise<RuleResult> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM mlops.training_runs WHERE pipeline = $1 AND as_of <= $2
     ORDER BY as_of DESC, started_at DESC LIMIT 1`,
    [config.name, asOf],
  );
  const last = rows[0];
  if (!last) return result(config, 'retrain-failed', 'ok', 'critical', `${config.name}: no retrain yet`);
  const details = {
    run_id: last.run_id,
    status: last.status,
    as_of: new Date(last.as_of).toISOString(),
    started_at: new Date(last.started_at).toISOString(),
    error: last.error,
  };
  if (last.status === 'failed')
    return result(
      config,
      'retrain-failed',
      'firing',
      'critical',
      `${config.name}: the last retrain (run ${last.run_id}, as of ${day(last.as_of)}) failed: ${(last.error ?? 'no error recorded').slice(0, 300)}`,
      details,
    );
  if (last.status === 'abandoned')
    return result(
      config,
      'retrain-failed',
      'ok',
      'critical',
      `${config.name}: the last retrain (run ${last.run_id}) was abandoned (see retrain-abandoned)`,
      details,
    );
  const limitMin = 2 * config.gates.max_training_minutes + 30;
  const runningMin = (now.getTime() - new Date(last.started_at).getTime()) / 60_000;
  const heartbeat = last.heartbeat_at ? `, last heartbeat ${new Date(last.heartbeat_at).toISOString()}` : '';
  if (last.status === 'running' && runningMin > limitMin)
    return result(
      config,
      'retrain-failed',
      'firing',
      'critical',
      `${config.name}: the last retrain (run ${last.run_id}) started ${Math.round(runningMin)} min ago and is still running${heartbeat} (expected within ${limitMin} min)`,
      details,
    );
  return result(
    config,
    'retrain-failed',
    'ok',
    'critical',
    `${config.name}: the last retrain (run ${last.run_id}) is ${last.status}${last.status === 'running' ? heartbeat : ''}`,
    details,
  );
}

/** Runs abandoned in the last 7 days (by as_of): each one is a retrain whose process died unfinished. */
export async function retrainAbandonedRule(db: Queryable, config: PipelineConfig, asOf: Date): Promise<RuleResult> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM mlops.training_runs WHERE pipeline = $1 AND status = 'abandoned'
       AND as_of <= $2 AND as_of > $2 - $3 * interval '1 day' ORDER BY as_of DESC, started_at DESC`,
    [config.name, asOf, ABANDONED_WINDOW_DAYS],
  );
  const window = `in the ${ABANDONED_WINDOW_DAYS} days to ${day(asOf)}`;
  if (rows.length === 0) return result(config, 'retrain-abandoned', 'ok', 'critical', `${config.name}: no retrain abandoned ${window}`);
  const newest = rows[0];
  const details = {
    runs: rows.map((r) => ({
      run_id: r.run_id,
      as_of: new Date(r.as_of).toISOString(),
      started_at: new Date(r.started_at).toISOString(),
      found_at: r.finished_at ? new Date(r.finished_at).toISOString() : null,
      last_heartbeat: r.heartbeat_at ? new Date(r.heartbeat_at).toISOString() : null,
      why: r.error,
    })),
  };
  return result(
    config,
    'retrain-abandoned',
    'firing',
    'critical',
    `${config.name}: ${rows.length === 1 ? 'a retrain was' : `${rows.length} retrains were`} abandoned ${window}: run ${newest.run_id} (as of ${day(newest.as_of)}) ${(newest.error ?? 'abandoned').slice(0, 300)}`,
    details,
    `| run | as of | started | found abandoned | why |\n|---|---|---|---|---|\n${rows.map((r) => `| ${r.run_id} | ${day(r.as_of)} | ${new Date(r.started_at).toISOString()} | ${r.finished_at ? new Date(r.finished_at).toISOString() : '-'} | ${(r.error ?? '').replace(/\|/g, '\\|')} |`).join('\n')}`,
  );
}

/** Every health rule of one pipeline. */
export async function evaluateHealth(db: Db, config: PipelineConfig, options: HealthOptions): Promise<HealthReport> {
  const { asOf } = options;
  // A run whose process is gone is abandoned, never "running": find those first.
  await reapAbandonedRuns(db, { pipeline: config.name, by: 'the health check' });
  const stale = await staleChampionRule(db, config, options.repoDir, asOf);
  const rules = [
    await metricRiseRule(db, config, asOf),
    await notPromotedRule(db, config, asOf),
    stale.rule,
    await retrainFailedRule(db, config, asOf, options.now ?? new Date()),
    await retrainAbandonedRule(db, config, asOf),
    await missingScoresRule(db, config, asOf),
  ];
  if (config.task !== 'classification') return { pipeline: config.name, rules, retrainReason: stale.reason };
  const live = await liveRules(db, config, options.repoDir, asOf);
  return { pipeline: config.name, rules: [...rules, ...live.rules], retrainReason: stale.reason, live: live.live };
}
