import { resolve } from 'node:path';
import { loadPipelines, selectPipelines } from '../../actions/lib/config/load.ts';
import { HOUR_MS } from '../../actions/lib/util/duration.ts';
import { ScoreFailure, scorePipelines, scoreSummaryMarkdown, type ScoreResult } from '../../actions/lib/score/index.ts';
import { command, type Command, date, duration } from '../cli.ts';

/**
 * `mlops score`: the champion of each pipeline (as registry/production.json in --repo names it,
 * sha256-verified) scores [as-of - since, as-of) of the source; predictions go to mlops.predictions
 * (idempotent per pipeline, entity, row time and model version). The same scorePipelines the
 * score action calls.
 */

export const scoreCommands: Record<string, Command> = {
  score: command({
    usage: '[--pipeline P] [--since 1h|24h|7d] [--as-of TIME] [--repo DIR] [--dir pipelines] [--json]',
    options: { pipeline: { type: 'string' }, since: { type: 'string' }, 'as-of': { type: 'string' }, repo: { type: 'string' }, dir: { type: 'string' } },
    async run(ctx) {
      const name = ctx.values.pipeline;
      const dir = ctx.values.dir ?? 'pipelines';
      const selected = selectPipelines(loadPipelines(dir), name, dir);
      const since = duration(ctx.values, 'since', HOUR_MS);
      const asOf = date(ctx.values, 'as-of') ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
      const print = (results: ScoreResult[]): void => {
        if (ctx.values.json) return ctx.json(results);
        for (const r of results) ctx.out(r.message);
        ctx.out();
        ctx.out(scoreSummaryMarkdown(results).trimEnd());
      };
      try {
        print(
          await scorePipelines(
            await ctx.db(),
            selected.map((p) => p.config),
            { repoDir: resolve(ctx.values.repo ?? '.'), asOf, sinceMs: since },
          ),
        );
      } catch (err) {
        // the pipelines that were scored are shown; the failures make the command fail
        if (err instanceof ScoreFailure && err.results.length) print(err.results);
        throw err;
      }
      return 0;
    },
  }),
};
