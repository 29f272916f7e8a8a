import { formatIssue, validatePipelines } from '../../actions/lib/config/validate.ts';
import { tableColumns } from '../../actions/lib/source/columns.ts';
import { str, type Command } from '../cli.ts';

export const pipelineCommands: Record<string, Command> = {
  'pipelines validate': {
    summary: 'check every pipelines/*.yaml (schema, duplicate names, and the source columns against the database)',
    usage: '[--dir pipelines] [--no-db]',
    options: { dir: { type: 'string' }, 'no-db': { type: 'boolean' } },
    async run(ctx) {
      const dir = str(ctx.values, 'dir') ?? 'pipelines';
      const db = ctx.values['no-db'] ? null : await ctx.db();
      const { pipelines, errors } = await validatePipelines(dir, db ? { sourceColumns: (t) => tableColumns(db, t) } : {});
      if (ctx.values.json) ctx.json({ ok: errors.length === 0, pipelines: pipelines.map((p) => ({ file: p.file, name: p.config.name })), errors });
      else {
        for (const e of errors) console.error(formatIssue(e));
        for (const p of pipelines) ctx.out(`ok  ${p.file} (${p.config.name}: ${p.config.target.column}${p.config.target.horizon_minutes ? ` +${p.config.target.horizon_minutes} min` : ''}, ${p.config.trainer.algorithm})`);
        if (errors.length) ctx.out(`${errors.length} problem(s) found`);
      }
      return errors.length ? 1 : 0;
    },
  },
};
