import { formatIssue, validatePipelines } from '../../actions/lib/config/validate.ts';
import { checkSource, sourceIssues } from '../../actions/lib/source/check.ts';
import { command, type Command } from '../cli.ts';

export const pipelineCommands: Record<string, Command> = {
  'pipelines validate': command({
    usage: '[--dir pipelines] [--no-db]',
    options: { dir: { type: 'string' }, 'no-db': { type: 'boolean' } },
    async run(ctx) {
      const dir = ctx.values.dir ?? 'pipelines';
      const db = ctx.values['no-db'] ? null : await ctx.db();
      // The retrain's own source checks (one function): against the database, or only the derive screen without one.
      const { pipelines, errors } = await validatePipelines(dir, { checkSource: (s) => (db ? checkSource(db, s) : sourceIssues(null, s)) });
      if (ctx.values.json) ctx.json({ ok: errors.length === 0, pipelines: pipelines.map((p) => ({ file: p.file, name: p.config.name })), errors });
      else {
        for (const e of errors) console.error(formatIssue(e));
        for (const { file, config: c } of pipelines) {
          const what =
            c.task === 'classification'
              ? `classification of ${c.labels.table}.${c.labels.label_column} by ${c.source.key_column}`
              : `${c.target.column}${c.target.horizon_minutes ? ` +${c.target.horizon_minutes} min` : ''}`;
          ctx.out(`ok  ${file} (${c.name}: ${what}, ${c.trainer.algorithm})`);
        }
        if (errors.length) ctx.out(`${errors.length} problem(s) found`);
      }
      return errors.length ? 1 : 0;
    },
  }),
};
