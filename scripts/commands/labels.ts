import { loadPipelines, selectPipelines } from '../../actions/lib/config/load.ts';
import { importLabels, UNKNOWN_KEY_POLICIES, type LabelsImportResult, type UnknownKeyPolicy } from '../../actions/lib/labels/import.ts';
import { command, type Command, UsageError } from '../cli.ts';
import { fmtInt } from '../../actions/lib/report/format.ts';

/** `mlops labels import`: outcomes (a CSV) into a classification pipeline's labels table, all or nothing. */
export const labelsCommands: Record<string, Command> = {
  'labels import': command({
    usage: '--csv FILE --pipeline P [--unknown-keys error|skip|keep] [--dir pipelines]',
    options: { csv: { type: 'string' }, pipeline: { type: 'string' }, 'unknown-keys': { type: 'string' }, dir: { type: 'string' } },
    async run(ctx) {
      const file = ctx.values.csv;
      if (!file) throw new UsageError('--csv FILE is required');
      const name = ctx.values.pipeline;
      if (!name) throw new UsageError('--pipeline P is required (its labels section names the table and columns)');
      const policy = ctx.values['unknown-keys'] ?? 'error';
      if (!(UNKNOWN_KEY_POLICIES as readonly string[]).includes(policy))
        throw new UsageError(`--unknown-keys: expected ${UNKNOWN_KEY_POLICIES.join(', ')}, got "${policy}"`);
      const dir = ctx.values.dir ?? 'pipelines';
      const [{ config: pipeline }] = selectPipelines(loadPipelines(dir), name, dir);
      if (pipeline.task !== 'classification') throw new UsageError(`${name} is a ${pipeline.task} pipeline; labels belong to classification pipelines`);
      const r = await importLabels(await ctx.db(), file, pipeline, { unknownKeys: policy as UnknownKeyPolicy });
      if (ctx.values.json) return void ctx.json(r);
      ctx.out(labelsImportLine(r));
    },
  }),
};

/** What an import did, in one line (the command's output; the demo prints it too). */
export function labelsImportLine(r: LabelsImportResult): string {
  return (
    `${fmtInt(r.inserted)} new label(s) from ${r.file} into ${r.table} for ${r.pipeline} (${fmtInt(r.rows)} in the file: ${fmtInt(r.unchanged)} already there` +
    `${r.skipped ? `, ${fmtInt(r.skipped)} left out for keys not in the source` : ''}${r.unknown_keys ? `, ${fmtInt(r.unknown_keys)} with keys not in the source yet` : ''}; ${fmtInt(r.positives)} positive)`
  );
}
