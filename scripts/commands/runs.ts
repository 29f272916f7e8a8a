import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getEvaluation, getRun, listRuns } from '../../actions/lib/tracking/runs.ts';
import { fmtMetric } from '../../actions/lib/report/format.ts';
import { command, type Command, num, UsageError } from '../cli.ts';

/** The experiment history: a module of its own, so that reading it does not load the retrain's library. */
export const runsCommands: Record<string, Command> = {
  'runs list': command({
    usage: '[--pipeline P] [--limit N] [--json]',
    options: { pipeline: { type: 'string' }, limit: { type: 'string' } },
    async run(ctx) {
      const runs = await listRuns(await ctx.db(), { pipeline: ctx.values.pipeline, limit: num(ctx.values, 'limit', 30, { integer: true, min: 1 }) });
      if (ctx.values.json) return void ctx.json(runs);
      if (runs.length === 0) return void ctx.out('no runs yet: npm run mlops -- retrain');
      const rows = runs.map((r) => {
        const holdout = (r.metrics?.holdout ?? null) as { rmse?: number | null } | null;
        const ended = r.status === 'failed' || r.status === 'abandoned';
        return [
          r.run_id,
          r.pipeline,
          r.started_at.toISOString().slice(0, 16).replace('T', ' '),
          r.status,
          r.decision ?? (ended ? r.status : '-'),
          holdout?.rmse != null ? fmtMetric(holdout.rmse) : '-',
          r.trainer ?? '-',
          (ended
            ? (r.error ?? '')
            : r.status === 'running'
              ? `pid ${r.lease_pid ?? '-'} on ${r.lease_host ?? '?'}, heartbeat ${r.heartbeat_at?.toISOString().slice(11, 19) ?? '-'}`
              : (r.reasons[0] ?? '')
          ).slice(0, 60),
        ];
      });
      const header = ['run', 'pipeline', 'started (UTC)', 'status', 'decision', 'rmse', 'trainer', 'why'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      ctx.out(header.map((h, i) => h.padEnd(widths[i])).join('  '));
      for (const r of rows)
        ctx.out(
          r
            .map((c, i) => c.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        );
    },
  }),
  'runs show': command({
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
        ctx.out(
          `  worked on by pid ${run.lease_pid ?? '-'} on host ${run.lease_host ?? '?'}, started ${run.started_at.toISOString()}, last heartbeat ${run.heartbeat_at?.toISOString() ?? '-'}, lease until ${run.lease_expires_at?.toISOString() ?? '-'}`,
        );
      }
      if (run.status === 'abandoned')
        ctx.out(`  found abandoned at ${run.finished_at?.toISOString() ?? '?'} (last heartbeat ${run.heartbeat_at?.toISOString() ?? '-'})`);
      if (run.error) ctx.out(`  ${run.status === 'abandoned' ? 'why' : 'error'}: ${run.error}`);
      ctx.out(
        `  as of ${run.as_of.toISOString()}, data ${run.data_start?.toISOString() ?? '?'} -> ${run.data_end?.toISOString() ?? '?'} (${run.data_rows ?? 0} rows), fingerprint ${run.fingerprint ?? '-'}`,
      );
      ctx.out(`  metrics: ${JSON.stringify(run.metrics)}`);
      if (evaluation) ctx.out(`  gates: ${JSON.stringify(evaluation.gates)}`);
    },
  }),
};
