import { resolve } from 'node:path';
import { loadPipelines, selectPipelines } from '../../actions/lib/config/load.ts';
import { DAY_MS } from '../../actions/lib/util/duration.ts';
import { githubOf, githubOptions } from './github-options.ts';
import { runDailyMonitoring, runSweep, sweepMarkdown, type DailyMonitoringResult, type MonitoringCheck } from '../../actions/lib/monitoring/index.ts';
import { command, type Command, type Context, date, duration, num, type Options } from '../cli.ts';
import { fmtInt } from '../../actions/lib/report/format.ts';

/**
 * `mlops quality`, `mlops drift`, `mlops health`: the daily monitoring, one check at a time (the
 * same runDailyMonitoring the actions and the demo call). Alerts go to GitHub issues with
 * --github-token (or GITHUB_TOKEN) and GITHUB_REPOSITORY, else to the terminal and mlops.alerts.
 */

const shared = {
  pipeline: { type: 'string' },
  dir: { type: 'string' },
  repo: { type: 'string' },
  'as-of': { type: 'string' },
  ...githubOptions,
  webhook: { type: 'string' },
  'webhook-timeout': { type: 'string' },
} as const satisfies Options;
const sharedUsage = '[--pipeline P] [--as-of TIME] [--repo DIR] [--github-token T] [--repository OWNER/NAME] [--api-url URL] [--webhook URL] [--json]';

async function monitor(ctx: Context<typeof shared>, check: MonitoringCheck, extra: { qualitySinceMs?: number; currentDays?: number }): Promise<number> {
  const name = ctx.values.pipeline;
  const dir = ctx.values.dir ?? 'pipelines';
  const selected = selectPipelines(loadPipelines(dir), name, dir);
  const asOf = date(ctx.values, 'as-of') ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const github = githubOf(ctx.values);
  const hook = ctx.values.webhook ?? (process.env.MLOPS_WEBHOOK_URL || undefined);
  const lines: string[] = [];
  const result = await runDailyMonitoring(await ctx.db(), {
    pipelines: selected,
    repoDir: resolve(ctx.values.repo ?? '.'),
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

function print(ctx: Context<typeof shared>, check: MonitoringCheck, r: DailyMonitoringResult): void {
  if (check === 'quality') {
    for (const q of r.quality) {
      ctx.out(
        `${q.pipeline}: data quality ${q.report.passed ? 'passed' : 'FAILED'} (${fmtInt(q.report.rows)} rows, ${q.report.window.start} -> ${q.report.window.end})`,
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
async function sweep(ctx: Context<typeof shared>): Promise<number> {
  const name = ctx.values.pipeline;
  const dir = ctx.values.dir ?? 'pipelines';
  const selected = selectPipelines(loadPipelines(dir), name, dir);
  const asOf = date(ctx.values, 'as-of') ?? new Date();
  const github = githubOf(ctx.values);
  const hook = ctx.values.webhook ?? (process.env.MLOPS_WEBHOOK_URL || undefined);
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
  sweep: command({
    usage: '[--pipeline P] [--as-of TIME] [--github-token T] [--repository OWNER/NAME] [--api-url URL] [--webhook URL] [--json]',
    options: shared,
    run: sweep,
  }),
  quality: command({
    usage: `[--since 24h] ${sharedUsage}`,
    options: { ...shared, since: { type: 'string' } },
    run: (ctx) => monitor(ctx, 'quality', { qualitySinceMs: duration(ctx.values, 'since', DAY_MS, 'h') }),
  }),
  drift: command({
    usage: `[--current-days N] ${sharedUsage}`,
    options: { ...shared, 'current-days': { type: 'string' } },
    run(ctx) {
      const days = ctx.values['current-days'] === undefined ? undefined : num(ctx.values, 'current-days', 7, { above: 0 });
      return monitor(ctx, 'drift', { currentDays: days });
    },
  }),
  health: command({
    usage: sharedUsage,
    options: shared,
    run: (ctx) => monitor(ctx, 'health', {}),
  }),
};
