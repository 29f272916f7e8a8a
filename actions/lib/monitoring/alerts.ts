/**
 * Alerts with a lifecycle. Every rule evaluation (firing | ok | unknown) of a pipeline has a
 * stable key, `<pipeline>/<rule>`:
 *  - firing: the key's open row in mlops.alerts is created (`opened`) or updated (`updated`:
 *    occurrences + 1, last_seen, message); its GitHub issue is opened or updated;
 *  - ok: the open row is resolved (`resolved`) and its issue closed with a comment; with nothing
 *    open it is `unchanged`;
 *  - unknown (the rule could not be evaluated, e.g. no champion): nothing changes.
 * The table is the source of truth and is written first (one statement per key, safe against a
 * concurrent run by the unique open-per-key index); GitHub and the webhook are deliveries whose
 * failure is reported on the alert, never lost silently and never fatal to the other alerts.
 * Without a token, alerts go to the terminal (`log`) and the table.
 */
import type { Queryable } from '../db/index.ts';
import { gitHubError, type GitHubTarget } from '../github/client.ts';
import { closeAlertIssue, openAlertIssues, upsertAlertIssue, type AlertIssue, type IssueOutcome } from './issues.ts';
import { postWebhook, type WebhookOptions, type WebhookResult } from './webhook.ts';

export type Severity = 'info' | 'warning' | 'critical';
export type AlertRule =
  | 'data-quality'
  | 'data-drift'
  | 'prediction-drift'
  | 'label-drift'
  | 'metric-rise'
  | 'not-promoted'
  | 'stale-champion'
  | 'retrain-failed'
  | 'retrain-abandoned'
  | 'missing-scores'
  | 'live-metric-drop'
  | 'label-coverage'
  | 'reading-flags'
  | 'serving-errors'
  | 'missing-predictions';

export const RULE_TITLES: Readonly<Record<AlertRule, string>> = {
  'data-quality': 'data quality checks failed',
  'data-drift': 'dataset drift',
  'prediction-drift': "the champion's predictions drifted",
  'label-drift': 'the share of positive labels drifted',
  'metric-rise': 'primary metric rising week over week',
  'not-promoted': 'no promotion for several weekly runs',
  'stale-champion': 'champion is stale',
  'retrain-failed': 'the last retrain failed or never finished',
  'retrain-abandoned': 'a retrain was abandoned (its process died unfinished)',
  'missing-scores': 'no recent predictions from the deployed model',
  'live-metric-drop': "the champion's live metric dropped below its holdout metric",
  'label-coverage': 'too few predictions have a label',
  'reading-flags': 'flagged readings in the newest data',
  'serving-errors': 'the model server refuses or fails too many requests',
  'missing-predictions': 'the model server has served no prediction recently',
};

export interface RuleResult {
  pipeline: string;
  rule: AlertRule;
  status: 'firing' | 'ok' | 'unknown';
  severity: Severity;
  /** one line a person can act on */
  message: string;
  details: Record<string, unknown>;
  /** the evidence, Markdown, for the issue body */
  evidence?: string;
}

export type AlertOutcome = 'opened' | 'updated' | 'resolved' | 'unchanged';

export interface AlertChange {
  /** the alert's row in mlops.alerts (null when the rule could not be evaluated or nothing was open) */
  id: number | null;
  key: string;
  pipeline: string;
  rule: AlertRule;
  severity: Severity;
  message: string;
  outcome: AlertOutcome;
  occurrences: number;
  firstSeen: string | null;
  issue: { number: number; url: string; outcome: IssueOutcome } | null;
  /** github: sent | no-token | failed | none (nothing to send); webhook: sent | off | failed | none */
  delivery: { github: 'sent' | 'no-token' | 'failed' | 'none'; webhook: 'sent' | 'off' | 'failed' | 'none'; errors: string[] };
}

export interface AlertSinks {
  /** the time of the evaluation (first_seen / last_seen / resolved_at) */
  asOf: Date;
  github?: GitHubTarget | null;
  webhook?: WebhookOptions | null;
  /** where alerts go without a token (and a line per change with one) */
  log?: (line: string) => void;
}

/** The rules the 5-minute sweep evaluates (monitoring/sweep.ts); the others are the daily monitoring's. */
const SWEEP_RULES: ReadonlySet<AlertRule> = new Set(['reading-flags', 'serving-errors', 'missing-predictions']);

export const alertKey = (pipeline: string, rule: AlertRule): string => `${pipeline}/${rule}`;

interface AlertRow {
  id: string | number;
  occurrences: number;
  first_seen: Date;
  issue_number: number | null;
  inserted: boolean;
}

const json = (v: unknown): string => JSON.stringify(v ?? {}, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x));

/** Raise: the key's open row, inserted or bumped in one statement. */
async function raise(db: Queryable, r: RuleResult, asOf: Date): Promise<AlertRow> {
  const { rows } = await db.query<AlertRow>(
    `INSERT INTO mlops.alerts (alert_key, pipeline, rule, severity, status, message, details, first_seen, last_seen)
     VALUES ($1, $2, $3, $4, 'open', $5, $6::jsonb, $7, $7)
     ON CONFLICT (alert_key) WHERE status = 'open' DO UPDATE SET occurrences = mlops.alerts.occurrences + 1,
       severity = EXCLUDED.severity, message = EXCLUDED.message, details = EXCLUDED.details, last_seen = EXCLUDED.last_seen
     RETURNING id, occurrences, first_seen, issue_number, (xmax = 0) AS inserted`,
    [alertKey(r.pipeline, r.rule), r.pipeline, r.rule, r.severity, r.message, json(r.details), asOf],
  );
  return rows[0];
}

/** Clear: the key's open row resolved, if there is one. */
async function clear(db: Queryable, r: RuleResult, asOf: Date): Promise<AlertRow | null> {
  const { rows } = await db.query<AlertRow>(
    `UPDATE mlops.alerts SET status = 'resolved', resolved_at = $2, last_seen = $2
     WHERE alert_key = $1 AND status = 'open'
     RETURNING id, occurrences, first_seen, issue_number, false AS inserted`,
    [alertKey(r.pipeline, r.rule), asOf],
  );
  return rows[0] ?? null;
}

export interface OpenAlert {
  key: string;
  pipeline: string;
  rule: string;
  severity: Severity;
  message: string;
  occurrences: number;
  first_seen: Date;
  last_seen: Date;
  issue_number: number | null;
}

export async function listOpenAlerts(db: Queryable, pipeline?: string): Promise<OpenAlert[]> {
  const { rows } = await db.query<OpenAlert>(
    `SELECT alert_key AS key, pipeline, rule, severity, message, occurrences, first_seen, last_seen, issue_number
     FROM mlops.alerts WHERE status = 'open' AND ($1::text IS NULL OR pipeline = $1) ORDER BY pipeline, rule`,
    [pipeline ?? null],
  );
  return rows;
}

const ICON: Record<Severity, string> = { info: 'ℹ️', warning: '⚠️', critical: '🚨' };

export function issueTitle(r: RuleResult): string {
  return `[mlops] ${r.pipeline}: ${RULE_TITLES[r.rule]}`;
}

/**
 * The issue body: what fires, since when, how often, and the evidence. Deterministic for a
 * given state, so an unchanged alert does not rewrite its issue.
 */
export function issueBody(r: RuleResult, row: { occurrences: number; first_seen: Date }, asOf: Date): string {
  return [
    `### ${ICON[r.severity]} ${r.pipeline}: ${RULE_TITLES[r.rule]}`,
    '',
    r.message,
    '',
    `| | |`,
    `|---|---|`,
    `| alert key | \`${alertKey(r.pipeline, r.rule)}\` |`,
    `| severity | ${r.severity} |`,
    `| first seen | ${new Date(row.first_seen).toISOString()} |`,
    `| last seen | ${asOf.toISOString()} |`,
    `| occurrences | ${row.occurrences} |`,
    ...(r.evidence ? ['', '<details open><summary>Evidence</summary>', '', r.evidence.trim(), '', '</details>'] : []),
    '',
    `_Opened and kept up to date by the ${SWEEP_RULES.has(r.rule) ? '5-minute alert sweep (`mlops sweep`)' : 'daily monitoring (`mlops drift` / `mlops health`)'}; it closes this issue itself when the condition clears._`,
    '',
  ].join('\n');
}

function webhookPayload(change: AlertChange, r: RuleResult, asOf: Date) {
  const verb = change.outcome === 'resolved' ? '✅ resolved' : `${ICON[r.severity]} ${r.severity}`;
  const link = change.issue ? ` (${change.issue.url})` : '';
  return {
    text: `[mlops] ${verb}: ${r.pipeline} — ${change.outcome === 'resolved' ? RULE_TITLES[r.rule] : r.message}${link}`,
    source: 'gitops-mlops',
    alert: {
      key: change.key,
      pipeline: r.pipeline,
      rule: r.rule,
      severity: r.severity,
      status: change.outcome === 'resolved' ? 'resolved' : 'open',
      outcome: change.outcome,
      message: r.message,
      occurrences: change.occurrences,
      at: asOf.toISOString(),
      issue_url: change.issue?.url ?? null,
    },
  };
}

/**
 * Applies rule results to the alert table, the alert issues and the webhook. Only the keys of
 * `results` are touched, so the drift check and the health check each manage their own alerts.
 */
export async function syncAlerts(db: Queryable, results: readonly RuleResult[], sinks: AlertSinks): Promise<AlertChange[]> {
  const { asOf, github, webhook } = sinks;
  const log = sinks.log ?? (() => undefined);
  let issues: Map<string, AlertIssue> | null = null;
  let listError: string | null = null;
  const relevant = results.filter((r) => r.status !== 'unknown');
  if (github && relevant.length > 0) {
    try {
      issues = await openAlertIssues(github);
    } catch (err) {
      listError = `listing alert issues: ${gitHubError(github, err)}`;
    }
  }
  const changes: AlertChange[] = [];
  for (const r of results) {
    const key = alertKey(r.pipeline, r.rule);
    const change: AlertChange = {
      id: null,
      key,
      pipeline: r.pipeline,
      rule: r.rule,
      severity: r.severity,
      message: r.message,
      outcome: 'unchanged',
      occurrences: 0,
      firstSeen: null,
      issue: null,
      delivery: { github: 'none', webhook: 'none', errors: [] },
    };
    changes.push(change);
    if (r.status === 'unknown') continue;
    const row = r.status === 'firing' ? await raise(db, r, asOf) : await clear(db, r, asOf);
    if (row) {
      change.id = Number(row.id);
      change.outcome = r.status === 'firing' ? (row.inserted ? 'opened' : 'updated') : 'resolved';
      change.occurrences = row.occurrences;
      change.firstSeen = new Date(row.first_seen).toISOString();
    }
    const existing = issues?.get(key);
    // A firing alert's issue is kept up to date; an ok rule closes a left-over open issue too.
    const wantsIssue = r.status === 'firing' || existing !== undefined;
    if (wantsIssue && !github) change.delivery.github = 'no-token';
    else if (wantsIssue && github && !issues) {
      change.delivery.github = 'failed';
      change.delivery.errors.push(listError ?? 'alert issues unavailable');
    } else if (wantsIssue && github && issues) {
      try {
        if (r.status === 'firing') {
          const { outcome, issue } = await upsertAlertIssue(github, existing, key, issueTitle(r), issueBody(r, row!, asOf));
          issues.set(key, issue);
          change.issue = { number: issue.number, url: issue.url, outcome };
          if (row!.issue_number !== issue.number) await db.query('UPDATE mlops.alerts SET issue_number = $2 WHERE id = $1', [row!.id, issue.number]);
        } else if (existing) {
          const since = change.firstSeen ? ` (open since ${change.firstSeen})` : '';
          const outcome = await closeAlertIssue(github, existing, `✅ Resolved at ${asOf.toISOString()}${since}: ${r.message}`);
          issues.delete(key);
          change.issue = { number: existing.number, url: existing.url, outcome };
          if (change.outcome === 'unchanged') change.outcome = 'resolved';
        }
        change.delivery.github = 'sent';
      } catch (err) {
        change.delivery.github = 'failed';
        change.delivery.errors.push(`GitHub: ${gitHubError(github, err)}`);
      }
    }
    if (change.outcome === 'opened' || change.outcome === 'resolved') {
      if (webhook) {
        const sent: WebhookResult = await postWebhook(webhook, webhookPayload(change, r, asOf));
        change.delivery.webhook = sent.outcome === 'delivered' ? 'sent' : 'failed';
        if (sent.error && sent.outcome === 'failed') change.delivery.errors.push(`webhook: ${sent.error}`);
      } else change.delivery.webhook = 'off';
    }
    if (change.outcome !== 'unchanged') {
      const issue = change.issue
        ? ` -> issue #${change.issue.number} ${change.issue.outcome}`
        : !github
          ? ' (no GitHub token: terminal and mlops.alerts only)'
          : '';
      log(`alert ${change.outcome}: [${r.severity}] ${key}: ${r.message}${issue}`);
    }
    for (const e of change.delivery.errors) log(`alert ${key}: delivery failed: ${e}`);
  }
  return changes;
}

/** A recorded deployment, as far as closing the alert behind it needs. */
export interface DeployedVersion {
  model: string;
  version: number;
  kind: string;
  run_id: string | null;
  pull_request: number | null;
}

export interface ClosedAlert {
  id: number;
  key: string | null;
  model: string;
  version: number;
  /** resolved: closed now; not-open: it had cleared already (or is unknown) */
  outcome: 'resolved' | 'not-open';
  issue: { number: number; outcome: 'closed' | 'no-token' | 'failed' } | null;
  error: string | null;
}

/**
 * The alerts whose dispatched retrain just deployed (#11.11): for each deployed version whose run
 * an alert started (mlops.training_runs.trigger_alert_id), the alert is resolved and its issue
 * closed with a comment naming the deploy. Rollbacks and retirements close nothing.
 */
export async function closeAlertsOfDeployment(
  db: Queryable,
  deployed: readonly DeployedVersion[],
  sinks: Pick<AlertSinks, 'asOf' | 'github' | 'log'>,
): Promise<ClosedAlert[]> {
  const log = sinks.log ?? (() => undefined);
  const runs = deployed.filter((d) => d.kind === 'deploy' && d.run_id);
  if (runs.length === 0) return [];
  const { rows } = await db.query<{ run_id: string; trigger_alert_id: string | number }>(
    'SELECT run_id, trigger_alert_id FROM mlops.training_runs WHERE run_id = ANY($1::text[]) AND trigger_alert_id IS NOT NULL',
    [runs.map((d) => d.run_id)],
  );
  const out: ClosedAlert[] = [];
  for (const r of rows) {
    const d = runs.find((x) => x.run_id === r.run_id)!;
    const id = Number(r.trigger_alert_id);
    const resolved = await db.query<{ alert_key: string; issue_number: number | null }>(
      `UPDATE mlops.alerts SET status = 'resolved', resolved_at = $2, last_seen = $2 WHERE id = $1 AND status = 'open' RETURNING alert_key, issue_number`,
      [id, sinks.asOf],
    );
    const row = resolved.rows[0];
    const closed: ClosedAlert = {
      id,
      key: row?.alert_key ?? null,
      model: d.model,
      version: d.version,
      outcome: row ? 'resolved' : 'not-open',
      issue: null,
      error: null,
    };
    out.push(closed);
    if (!row) continue;
    if (row.issue_number !== null) {
      const github = sinks.github ?? null;
      if (!github) closed.issue = { number: row.issue_number, outcome: 'no-token' };
      else {
        try {
          const pr = d.pull_request ? ` (pull request #${d.pull_request})` : '';
          await closeAlertIssue(
            github,
            { number: row.issue_number, url: '', title: '', body: '' },
            `✅ Resolved at ${sinks.asOf.toISOString()}: ${d.model} v${d.version}${pr}, the promotion of run \`${d.run_id}\` that this alert's retrain produced, is deployed.`,
          );
          closed.issue = { number: row.issue_number, outcome: 'closed' };
        } catch (err) {
          closed.issue = { number: row.issue_number, outcome: 'failed' };
          closed.error = gitHubError(github, err);
        }
      }
    }
    log(
      `alert ${id} (${row.alert_key}) resolved: ${d.model} v${d.version} is deployed${closed.issue ? `; issue #${closed.issue.number} ${closed.issue.outcome}` : ''}${closed.error ? `: ${closed.error}` : ''}`,
    );
  }
  return out;
}
