import { resolve } from 'node:path';
import { loadPipelines, selectPipelines } from '../../actions/lib/config/load.ts';
import { parseDuration } from '../../actions/lib/util/duration.ts';
import { gitHubTarget } from '../../actions/lib/github/client.ts';
import { runDailyMonitoring, runSweep, sweepMarkdown, type DailyMonitoringResult, type MonitoringCheck } from '../../actions/lib/monitoring/index.ts';
import { date, num, str, UsageError, type Command, type Context, type Options } from '../cli.ts';

/**
 * `mlops quality`, `mlops drift`, `mlops health`: the daily monitoring, one check at a time (the
 * same runDailyMonitoring the actions and the demo call). Alerts go to GitHub issues with
 * --github-token (or GITHUB_TOKEN) and GITHUB_REPOSITORY, else to the terminal and mlops.alerts.
 */

const shared: Options = {
  pipeline: { type: 'string' },
  dir: { type: 'string' },
  repo: { type: 'string' },
  'as-of': { type: 'string' },
  'github-token': { type: 'string' },
  repository: { type: 'string' },
  'api-url': { type: 'string' },
  webhook: { type: 'string' },
  'webhook-timeout': { type: 'string' },
};
const sharedUsage = '[--pipeline P] [--as-of TIME] [--repo DIR] [--github-token T] [--repository OWNER/NAME] [--api-url URL] [--webhook URL] [--json]';

/** `24h`, `90m`, `2d` or a number of hours. */
function duration(values: Context['values'], name: string, fallbackMs: number): number {
  const v = str(values, name);
  if (v === undefined) return fallbackMs;
  const ms = parseDuration(v, 'h');
  if (ms === null || ms <= 0) throw new UsageError(`--${name}: expected a duration such as 24h, 90m or 2d, got "${v}"`);
  return ms;
}

async function monitor(ctx: Context, check: MonitoringCheck, extra: { qualitySinceMs?: number; currentDays?: number }): Promise<number> {
  const name = str(ctx.values, 'pipeline');
  const dir = str(ctx.values, 'dir') ?? 'pipelines';
  const selected = selectPipelines(loadPipelines(dir), name, dir);
  const asOf = date(ctx.values, 'as-of') ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const github = gitHubTarget({
    token: str(ctx.values, 'github-token'),
    repository: str(ctx.values, 'repository'),
    apiUrl: str(ctx.values, 'api-url'),
    log: (m) => console.error(m),
  });
  const hook = str(ctx.values, 'webhook') ?? (process.env.MLOPS_WEBHOOK_URL || undefined);
  const lines: string[] = [];
  const result = await runDailyMonitoring(await ctx.db(), {
    pipelines: selected,
    repoDir: resolve(str(ctx.values, 'repo') ?? '.'),
    asOf,
    checks: [check],
    github,
    webhook: hook ? { url: hook, timeoutMs: num(ctx.values, 'webhook-timeout', 5, { above: 0 }) * 1000 } : null,
    ...extra,
    log: (l) => (ctx.values.json ? lines.push(l) : ctx.out(l)),
  });
  if (ctx.values.json) {
    ctx.json({ ...result, log: lines });
  } else print(ctx, check, result);
  // Exit 0 with findings: a finding is an alert, not a failure of the command.
  return 0;
}

function print(ctx: Context, check: MonitoringCheck, r: DailyMonitoringResult): void {
  if (check === 'quality') {
    for (const q of r.quality) {
      ctx.out(
        `${q.pipeline}: data quality ${q.report.passed ? 'passed' : 'FAILED'} (${q.report.rows.toLocaleString('en-US')} rows, ${q.report.window.start} -> ${q.report.window.end})`,
      );
      for (const c of q.report.checks) ctx.out(`  ${c.passed ? 'ok  ' : 'FAIL'} ${c.name}${c.column ? ` ${c.column}` : ''}: ${c.message}`);
    }
  }
  if (check === 'drift') for (const d of r.drift) ctx.out(d.outcome === 'reported' ? d.markdown : `${d.message}\n`);
  if (check === 'health') {
    for (const rule of r.rules)
      ctx.out(`${rule.status === 'firing' ? 'FIRING ' : rule.status === 'ok' ? 'ok     ' : 'unknown'} ${rule.pipeline}/${rule.rule}: ${rule.message}`);
  }
  const changed = r.alerts.all.filter((a) => a.outcome !== 'unchanged');
  ctx.out(changed.length ? `alerts: ${changed.map((a) => `${a.key} ${a.outcome}`).join(', ')}` : 'alerts: no change');
}

/** `mlops sweep`: the 5-minute alert sweep (reading flags, serving error rate, missing online predictions). */
async function sweep(ctx: Context): Promise<number> {
  const name = str(ctx.values, 'pipeline');
  const dir = str(ctx.values, 'dir') ?? 'pipelines';
  const selected = selectPipelines(loadPipelines(dir), name, dir);
  const asOf = date(ctx.values, 'as-of') ?? new Date();
  const github = gitHubTarget({
    token: str(ctx.values, 'github-token'),
    repository: str(ctx.values, 'repository'),
    apiUrl: str(ctx.values, 'api-url'),
    log: (m) => console.error(m),
  });
  const hook = str(ctx.values, 'webhook') ?? (process.env.MLOPS_WEBHOOK_URL || undefined);
  const lines: string[] = [];
  const result = await runSweep(
    await ctx.db(),
    selected.map((p) => p.config),
    {
      asOf,
      github,
      webhook: hook ? { url: hook, timeoutMs: num(ctx.values, 'webhook-timeout', 5, { above: 0 }) * 1000 } : null,
      log: (l) => (ctx.values.json ? lines.push(l) : ctx.out(l)),
    },
  );
  if (ctx.values.json) ctx.json({ ...result, log: lines });
  else ctx.out(sweepMarkdown(result).trimEnd());
  return 0; // a firing rule is an alert, not a failure of the command
}

export const monitoringCommands: Record<string, Command> = {
  sweep: {
    usage: '[--pipeline P] [--as-of TIME] [--github-token T] [--repository OWNER/NAME] [--api-url URL] [--webhook URL] [--json]',
    options: shared,
    run: sweep,
  },
  quality: {
    usage: `[--since 24h] ${sharedUsage}`,
    options: { ...shared, since: { type: 'string' } },
    run: (ctx) => monitor(ctx, 'quality', { qualitySinceMs: duration(ctx.values, 'since', 24 * 3_600_000) }),
  },
  drift: {
    usage: `[--current-days N] ${sharedUsage}`,
    options: { ...shared, 'current-days': { type: 'string' } },
    run(ctx) {
      const days = str(ctx.values, 'current-days') === undefined ? undefined : num(ctx.values, 'current-days', 7, { above: 0 });
      return monitor(ctx, 'drift', { currentDays: days });
    },
  },
  health: {
    usage: sharedUsage,
    options: shared,
    run: (ctx) => monitor(ctx, 'health', {}),
  },
};
