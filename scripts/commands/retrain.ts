import { resolve } from 'node:path';
import { loadPipelines, selectPipelines } from '../../actions/lib/config/load.ts';
import { retrain } from '../../actions/lib/retrain/retrain.ts';
import { DEFAULT_RUNS_DIR } from '../../actions/lib/retrain/run-dir.ts';
import { fmtMetric } from '../../actions/lib/report/format.ts';
import { metricValue } from '../../actions/lib/evaluate/metrics.ts';
import { join } from 'node:path';
import { command, type Command, date, num, UsageError } from '../cli.ts';
import type { Decision } from '../../actions/lib/gates/gates.ts';
import { toJson } from '../../actions/lib/util/json.ts';

const DECISION_MARK: Record<Decision, string> = { promote: '✅ promote', reject: '❌ reject', skip: '⏭️ skip' };

export const retrainCommands: Record<string, Command> = {
  retrain: command({
    usage: '[--pipeline NAME] [--as-of TIME] [--force] [--json] [--run-id ID] [--repo DIR] [--runs-dir DIR] [--trigger KIND] [--reason TEXT]',
    options: {
      pipeline: { type: 'string' },
      'as-of': { type: 'string' },
      force: { type: 'boolean' },
      'run-id': { type: 'string' },
      repo: { type: 'string' },
      'runs-dir': { type: 'string' },
      dir: { type: 'string' },
      trigger: { type: 'string' },
      reason: { type: 'string' },
      'lock-timeout': { type: 'string' },
    },
    async run(ctx) {
      const name = ctx.values.pipeline;
      const dir = ctx.values.dir ?? 'pipelines';
      const selected = selectPipelines(loadPipelines(dir), name, dir);
      if (selected.length > 1 && ctx.values['run-id']) throw new UsageError('--run-id needs --pipeline: one run id names one run');
      const asOf = date(ctx.values, 'as-of') ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
      const db = await ctx.db();
      // Every pipeline gets its run even when another one fails; the exit code says if any did.
      const failures: string[] = [];
      for (const { file, config } of selected) {
        const result = await retrain(db, {
          pipeline: config,
          pipelineFile: file,
          asOf,
          force: Boolean(ctx.values.force),
          runId: ctx.values['run-id'],
          repoDir: resolve(ctx.values.repo ?? '.'),
          runsDir: ctx.values['runs-dir'] ?? DEFAULT_RUNS_DIR,
          trigger: ctx.values.trigger ?? 'manual',
          triggerReason: ctx.values.reason ?? null,
          lockTimeoutMs: num(ctx.values, 'lock-timeout', 1800, { min: 0 }) * 1000,
          onAbandoned: (runs) => {
            for (const r of runs)
              console.error(
                `${config.name}: ⚠️ run ${r.run_id} (started ${r.started_at.toISOString()}) was left running and is now marked abandoned: ${r.reason}`,
              );
          },
        }).catch((err: Error & { runId?: string; record?: string }) => {
          failures.push(config.name);
          console.error(`${config.name}: 💥 failed${err.runId ? ` (run ${err.runId}, ${err.record})` : ''}: ${err.message}`);
          if (/table "[^"]+" does not exist/.test(err.message)) {
            console.error(
              '  the source table is missing: point --database-url (or DATABASE_URL) at the database that holds it, or create demo data with: npm run mlops -- data seed --days 45',
            );
          }
          return null;
        });
        if (!result) continue;
        if (ctx.values.json)
          ctx.out(toJson(result)); // one line per pipeline
        else {
          const c = result.scores.challenger?.metrics;
          ctx.out(
            `${config.name}: ${DECISION_MARK[result.decision ?? 'skip']}${c ? `  ${result.primary_metric} ${fmtMetric(metricValue(c, result.primary_metric))}` : ''}  run ${result.run_id}`,
          );
          for (const r of result.reasons) ctx.out(`  - ${r}`);
          ctx.out(`  report: ${join(result.lineage.run_dir, 'report.md')}`);
        }
      }
      return failures.length ? 1 : 0;
    },
  }),
};
