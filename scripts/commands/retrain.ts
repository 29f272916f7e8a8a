import { resolve } from 'node:path';
import { loadPipelines } from '../../actions/lib/config/load.ts';
import { retrain } from '../../actions/lib/retrain/retrain.ts';
import { DEFAULT_RUNS_DIR } from '../../actions/lib/retrain/run-dir.ts';
import { getEvaluation, getRun, listRuns } from '../../actions/lib/tracking/runs.ts';
import { fmtMetric } from '../../actions/lib/report/markdown.ts';
import { metricValue } from '../../actions/lib/evaluate/metrics.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { date, num, str, UsageError, type Command } from '../cli.ts';
import type { Decision } from '../../actions/lib/gates/gates.ts';

const DECISION_MARK: Record<Decision, string> = { promote: '✅ promote', reject: '❌ reject', skip: '⏭️ skip' };

export const retrainCommands: Record<string, Command> = {
  retrain: {
    usage: '[--pipeline NAME] [--as-of TIME] [--force] [--json] [--run-id ID] [--repo DIR] [--runs-dir DIR] [--trigger KIND] [--reason TEXT]',
    options: {
      pipeline: { type: 'string' }, 'as-of': { type: 'string' }, force: { type: 'boolean' }, 'run-id': { type: 'string' },
      repo: { type: 'string' }, 'runs-dir': { type: 'string' }, dir: { type: 'string' }, trigger: { type: 'string' },
      reason: { type: 'string' }, 'lock-timeout': { type: 'string' },
    },
    async run(ctx) {
      const name = str(ctx.values, 'pipeline');
      const all = loadPipelines(str(ctx.values, 'dir') ?? 'pipelines');
      const selected = name ? all.filter((p) => p.config.name === name) : all;
      if (selected.length === 0) throw new UsageError(`no pipeline named "${name}" (have: ${all.map((p) => p.config.name).join(', ')})`);
      if (selected.length > 1 && str(ctx.values, 'run-id')) throw new UsageError('--run-id needs --pipeline: one run id names one run');
      const asOf = date(ctx.values, 'as-of') ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
      const db = await ctx.db();
      // Every pipeline gets its run even when another one fails; the exit code says if any did.
      const failures: string[] = [];
      for (const { file, config } of selected) {
        const result = await retrain(db, {
          pipeline: config, pipelineFile: file, asOf, force: Boolean(ctx.values.force), runId: str(ctx.values, 'run-id'),
          repoDir: resolve(str(ctx.values, 'repo') ?? '.'), runsDir: str(ctx.values, 'runs-dir') ?? DEFAULT_RUNS_DIR,
          trigger: str(ctx.values, 'trigger') ?? 'manual', triggerReason: str(ctx.values, 'reason') ?? null,
          lockTimeoutMs: num(ctx.values, 'lock-timeout', 1800, { min: 0 }) * 1000,
          onAbandoned: (runs) => {
            for (const r of runs) console.error(`${config.name}: ⚠️ run ${r.run_id} (started ${r.started_at.toISOString()}) was left running and is now marked abandoned: ${r.reason}`);
          },
        }).catch((err: Error & { runId?: string; record?: string }) => {
          failures.push(config.name);
          console.error(`${config.name}: 💥 failed${err.runId ? ` (run ${err.runId}, ${err.record})` : ''}: ${err.message}`);
          if (/table "[^"]+" does not exist/.test(err.message)) {
            console.error('  the source table is missing: point --database-url (or DATABASE_URL) at the database that holds it, or create demo data with: npm run mlops -- data seed --days 45');
          }
          return null;
        });
        if (!result) continue;
        if (ctx.values.json) ctx.out(JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
        else {
          const c = result.scores.challenger?.metrics;
          ctx.out(`${config.name}: ${DECISION_MARK[result.decision ?? 'skip']}${c ? `  ${result.primary_metric} ${fmtMetric(metricValue(c, result.primary_metric))}` : ''}  run ${result.run_id}`);
          for (const r of result.reasons) ctx.out(`  - ${r}`);
          ctx.out(`  report: ${join(result.lineage.run_dir, 'report.md')}`);
        }
      }
      return failures.length ? 1 : 0;
    },
  },
  'runs list': {
    usage: '[--pipeline P] [--limit N] [--json]',
    options: { pipeline: { type: 'string' }, limit: { type: 'string' } },
    async run(ctx) {
      const runs = await listRuns(await ctx.db(), { pipeline: str(ctx.values, 'pipeline'), limit: num(ctx.values, 'limit', 30, { integer: true, min: 1 }) });
      if (ctx.values.json) return void ctx.json(runs);
      if (runs.length === 0) return void ctx.out('no runs yet: npm run mlops -- retrain');
      const rows = runs.map((r) => {
        const holdout = (r.metrics?.holdout ?? null) as { rmse?: number | null } | null;
        const ended = r.status === 'failed' || r.status === 'abandoned';
        return [r.run_id, r.pipeline, r.started_at.toISOString().slice(0, 16).replace('T', ' '), r.status,
          r.decision ?? (ended ? r.status : '-'), holdout?.rmse != null ? fmtMetric(holdout.rmse) : '-', r.trainer ?? '-',
          (ended ? r.error ?? '' : r.status === 'running' ? `pid ${r.lease_pid ?? '-'} on ${r.lease_host ?? '?'}, heartbeat ${r.heartbeat_at?.toISOString().slice(11, 19) ?? '-'}` : r.reasons[0] ?? '').slice(0, 60)];
      });
      const header = ['run', 'pipeline', 'started (UTC)', 'status', 'decision', 'rmse', 'trainer', 'why'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      ctx.out(header.map((h, i) => h.padEnd(widths[i])).join('  '));
      for (const r of rows) ctx.out(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
    },
  },
  'runs show': {
    usage: 'RUN_ID [--json]',
    async run(ctx) {
      const runId = ctx.positionals[0];
      if (!runId) throw new UsageError('RUN_ID is required');
      const db = await ctx.db();
      const run = await getRun(db, runId);
      if (!run) throw new Error(`no run "${runId}" in ${db.location} (npm run mlops -- runs list)`);
      const evaluation = await getEvaluation(db, runId);
      if (ctx.values.json) return void ctx.json({ run, evaluation });
      // A finished run's report says it all; a running or abandoned one has none (or an older one): the database speaks.
      const md = run.run_dir ? join(run.run_dir, 'report.md') : null;
      if (md && existsSync(md) && (run.status === 'succeeded' || run.status === 'failed')) return void ctx.out(readFileSync(md, 'utf8'));
      ctx.out(`run ${run.run_id} (${run.pipeline}): ${run.status}${run.decision ? `, ${run.decision}` : ''}`);
      for (const r of run.reasons) ctx.out(`  - ${r}`);
      if (run.status === 'running') {
        ctx.out(`  worked on by pid ${run.lease_pid ?? '-'} on host ${run.lease_host ?? '?'}, started ${run.started_at.toISOString()}, last heartbeat ${run.heartbeat_at?.toISOString() ?? '-'}, lease until ${run.lease_expires_at?.toISOString() ?? '-'}`);
      }
      if (run.status === 'abandoned') ctx.out(`  found abandoned at ${run.finished_at?.toISOString() ?? '?'} (last heartbeat ${run.heartbeat_at?.toISOString() ?? '-'})`);
      if (run.error) ctx.out(`  ${run.status === 'abandoned' ? 'why' : 'error'}: ${run.error}`);
      ctx.out(`  as of ${run.as_of.toISOString()}, data ${run.data_start?.toISOString() ?? '?'} -> ${run.data_end?.toISOString() ?? '?'} (${run.data_rows ?? 0} rows), fingerprint ${run.fingerprint ?? '-'}`);
      ctx.out(`  metrics: ${JSON.stringify(run.metrics)}`);
      if (evaluation) ctx.out(`  gates: ${JSON.stringify(evaluation.gates)}`);
    },
  },
};
