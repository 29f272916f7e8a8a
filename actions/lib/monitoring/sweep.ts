/**
 * The alert sweep, every 5 minutes (`mlops sweep`, the sweep workflow, or `serve --sweep-minutes`):
 * fast rules over the newest minutes, each pipeline's settings in its `sweep:` section.
 *  - reading-flags: rows of the source in the window whose flag column is above / below / equal to
 *    a value (a fault bit, an alarm level), at least `min_rows` of them;
 *  - serving-errors: refused (4xx) and failed (5xx) predict requests over all requests the model
 *    server answered in the window (mlops.serving_requests), above `max_error_rate`, once there are
 *    `min_requests`;
 *  - missing-predictions: a deployed model with no online prediction in `max_silence_minutes`
 *    (only for pipelines that set it: those served online).
 * The results go through the daily alerts' own lifecycle (syncAlerts): open, update, resolve, issue.
 */
import type { PipelineConfig, SweepConfig } from '../config/schema.ts';
import { quoteIdent, type Queryable, type Db } from '../db/index.ts';
import { currentDeployments } from '../tracking/deployments.ts';
import { syncAlerts, type AlertChange, type AlertSinks, type RuleResult, type Severity } from './alerts.ts';
import { MINUTE_MS } from '../util/duration.ts';

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface SweepResult {
  asOf: string;
  rules: RuleResult[];
  alerts: AlertChange[];
}

type Flag = SweepConfig['flags'][number];

function condition(f: Flag, column: string, params: unknown[]): string {
  const parts: string[] = [];
  const add = (op: string, v: number | undefined): void => {
    if (v === undefined) return;
    params.push(v);
    parts.push(`${column} ${op} $${params.length}`);
  };
  add('>', f.above);
  add('<', f.below);
  add('=', f.equals);
  return parts.join(' OR ');
}

const describeFlag = (f: Flag): string =>
  [f.above !== undefined ? `> ${f.above}` : null, f.below !== undefined ? `< ${f.below}` : null, f.equals !== undefined ? `= ${f.equals}` : null]
    .filter(Boolean)
    .map((c) => `${f.column} ${c}`)
    .join(' or ');

/** reading-flags: the configured flags counted over the source rows of [asOf - window, asOf). */
export async function readingFlagsRule(db: Db, p: PipelineConfig, asOf: Date): Promise<RuleResult | null> {
  const flags = p.sweep.flags;
  if (flags.length === 0) return null;
  const from = new Date(asOf.getTime() - p.sweep.window_minutes * MINUTE_MS);
  const time = quoteIdent(p.source.time_column);
  const entity = p.source.entity_column ? quoteIdent(p.source.entity_column) : null;
  const counts = await db.readSource(async (tx) => {
    const out: { flag: Flag; rows: number; entities: string[] }[] = [];
    for (const f of flags) {
      const params: unknown[] = [from, asOf];
      const where = condition(f, quoteIdent(f.column), params);
      const { rows } = await tx.query<{ n: number; entities: string[] | null }>(
        `SELECT count(*)::int AS n, ${entity ? `array_agg(DISTINCT ${entity}::text)` : 'NULL::text[]'} AS entities
         FROM ${quoteIdent(p.source.table)} WHERE ${time} >= $1 AND ${time} < $2 AND (${where})`,
        params as (Date | number)[],
      );
      out.push({ flag: f, rows: Number(rows[0]?.n ?? 0), entities: (rows[0]?.entities ?? []).filter((e) => e !== null).slice(0, 20) });
    }
    return out;
  });
  const firing = counts.filter((c) => c.rows >= c.flag.min_rows);
  const window = `${from.toISOString()} -> ${asOf.toISOString()}`;
  const details = {
    window: { start: from.toISOString(), end: asOf.toISOString() },
    flags: counts.map((c) => ({ flag: describeFlag(c.flag), rows: c.rows, min_rows: c.flag.min_rows, entities: c.entities })),
  };
  const base = { pipeline: p.name, rule: 'reading-flags' as const, details };
  if (firing.length === 0) return { ...base, status: 'ok', severity: 'info', message: `${p.name}: no flagged readings in ${window}` };
  const severity = firing.reduce<Severity>((s, c) => (RANK[c.flag.severity] > RANK[s] ? c.flag.severity : s), 'info');
  const what = firing
    .map(
      (c) =>
        `${c.rows} row${c.rows === 1 ? '' : 's'} with ${describeFlag(c.flag)}${c.flag.description ? ` (${c.flag.description})` : ''}` +
        (c.entities.length ? ` at ${c.entities.join(', ')}` : ''),
    )
    .join('; ');
  return {
    ...base,
    status: 'firing',
    severity,
    message: `${p.name}: ${what} in the last ${p.sweep.window_minutes} min`,
    evidence:
      `| flag | rows | fires at | entities |\n|---|---:|---:|---|\n` +
      counts.map((c) => `| ${describeFlag(c.flag)} | ${c.rows} | ${c.flag.min_rows} | ${c.entities.join(', ') || '—'} |`).join('\n'),
  };
}

/** serving-errors: the model server's refused and failed requests over all it answered in the window. */
export async function servingErrorsRule(db: Queryable, p: PipelineConfig, asOf: Date): Promise<RuleResult> {
  const from = new Date(asOf.getTime() - p.sweep.window_minutes * MINUTE_MS);
  // Minutes are counted whole: those that started in [from, asOf).
  const { rows } = await db.query<{ requests: string | number | null; client: string | number | null; server: string | number | null }>(
    `SELECT sum(requests) AS requests, sum(client_errors) AS client, sum(server_errors) AS server
     FROM mlops.serving_requests WHERE pipeline = $1 AND minute >= $2 AND minute < $3`,
    [p.name, from, asOf],
  );
  const requests = Number(rows[0]?.requests ?? 0);
  const client = Number(rows[0]?.client ?? 0);
  const server = Number(rows[0]?.server ?? 0);
  const rate = requests > 0 ? (client + server) / requests : 0;
  const { max_error_rate: max, min_requests: min } = p.sweep;
  const details = {
    requests,
    client_errors: client,
    server_errors: server,
    error_rate: rate,
    max_error_rate: max,
    min_requests: min,
    window_minutes: p.sweep.window_minutes,
  };
  const base = { pipeline: p.name, rule: 'serving-errors' as const, details };
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  if (requests < min)
    return {
      ...base,
      status: 'ok',
      severity: 'info',
      message: `${p.name}: ${requests} predict request(s) in the last ${p.sweep.window_minutes} min (fewer than ${min}: the error rate is not judged)`,
    };
  if (rate <= max)
    return {
      ...base,
      status: 'ok',
      severity: 'info',
      message: `${p.name}: ${pct(rate)} of ${requests} predict requests failed or were refused (at most ${pct(max)})`,
    };
  return {
    ...base,
    status: 'firing',
    severity: server > 0 ? 'critical' : 'warning',
    message: `${p.name}: ${pct(rate)} of ${requests} predict requests in the last ${p.sweep.window_minutes} min were refused (${client}, bad input) or failed (${server}); at most ${pct(max)} is allowed`,
    evidence: `| requests | refused (4xx) | failed (5xx) | error rate | allowed |\n|---:|---:|---:|---:|---:|\n| ${requests} | ${client} | ${server} | ${pct(rate)} | ${pct(max)} |`,
  };
}

/** missing-predictions: a deployed model that the server has not answered with for max_silence_minutes. */
export async function missingPredictionsRule(db: Queryable, p: PipelineConfig, asOf: Date): Promise<RuleResult | null> {
  const silence = p.sweep.max_silence_minutes;
  if (silence === null) return null;
  const base = { pipeline: p.name, rule: 'missing-predictions' as const };
  const deployed = (await currentDeployments(db)).find((d) => d.model === p.name);
  if (!deployed)
    return { ...base, status: 'ok', severity: 'info', message: `${p.name}: no deployed model, no predictions expected`, details: { deployed: null } };
  const since = new Date(asOf.getTime() - silence * MINUTE_MS);
  const { rows } = await db.query<{ n: number; newest: Date | string | null }>(
    `SELECT count(*)::int AS n, (SELECT max(scored_at) FROM mlops.predictions WHERE pipeline = $1 AND origin = 'online' AND scored_at <= $3) AS newest
     FROM mlops.predictions WHERE pipeline = $1 AND origin = 'online' AND scored_at > $2 AND scored_at <= $3`,
    [p.name, since, asOf],
  );
  const n = Number(rows[0]?.n ?? 0);
  const newest = rows[0]?.newest ? new Date(rows[0].newest).toISOString() : null;
  const details = { deployed: { version: deployed.version, deployed_at: deployed.deployed_at }, online_predictions: n, newest, max_silence_minutes: silence };
  if (n > 0) return { ...base, status: 'ok', severity: 'info', details, message: `${p.name}: ${n} online predictions in the last ${silence} min` };
  return {
    ...base,
    status: 'firing',
    severity: 'warning',
    details,
    message: `${p.name}: v${deployed.version} is deployed but the model server has served no prediction in the last ${silence} min (${newest ? `the newest at ${newest}` : 'never'}); is the server running and reachable?`,
  };
}

/** Evaluates the sweep's rules of every pipeline at `asOf` and applies them to the alerts. */
export async function runSweep(db: Db, pipelines: readonly PipelineConfig[], sinks: AlertSinks): Promise<SweepResult> {
  const rules: RuleResult[] = [];
  for (const p of pipelines) {
    const flags = await readingFlagsRule(db, p, sinks.asOf).catch(
      (err: Error): RuleResult => ({
        pipeline: p.name,
        rule: 'reading-flags',
        status: 'unknown',
        severity: 'warning',
        message: `${p.name}: the flags could not be read: ${err.message}`,
        details: {},
      }),
    );
    if (flags) rules.push(flags);
    rules.push(await servingErrorsRule(db, p, sinks.asOf));
    const missing = await missingPredictionsRule(db, p, sinks.asOf);
    if (missing) rules.push(missing);
  }
  const alerts = await syncAlerts(db, rules, sinks);
  return { asOf: sinks.asOf.toISOString(), rules, alerts };
}

/** The sweep as a Markdown table for the job summary and the terminal. */
export function sweepMarkdown(r: SweepResult): string {
  const lines = ['### Alert sweep', '', `as of ${r.asOf}`, '', '| pipeline | rule | status | message |', '|---|---|---|---|'];
  for (const rule of r.rules)
    lines.push(
      `| ${rule.pipeline} | ${rule.rule} | ${rule.status === 'firing' ? `**firing** (${rule.severity})` : rule.status} | ${rule.message.replace(/\|/g, '\\|')} |`,
    );
  const changed = r.alerts.filter((a) => a.outcome !== 'unchanged');
  lines.push('', changed.length ? `Alerts: ${changed.map((a) => `\`${a.key}\` ${a.outcome}`).join(', ')}` : 'Alerts: no change');
  return lines.join('\n') + '\n';
}
