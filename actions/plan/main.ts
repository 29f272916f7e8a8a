import { z } from 'zod';
import { validatePipelines } from '../lib/config/validate.ts';
import { isDue, nextOccurrence, scheduleWindow } from '../lib/config/schedule.ts';
import { annotateIssues, info, optionalText, optionalTime, readInputs, runAction, setOutputs, writeSummary } from '../lib/actions-io/index.ts';

/**
 * plan: pipelines/*.yaml -> a job matrix of pipelines, for the retrain (`for: retrain`), the daily
 * data quality (`quality`) or the daily drift and health (`drift`). Reads YAML only; no database. A
 * scheduled run (schedule: the workflow's cron that fired) keeps the pipelines whose
 * `schedule.<for>` is due in this tick (config/schedule.ts); any other run plans every pipeline (or
 * the one asked for).
 */
async function main(): Promise<void> {
  const inputs = readInputs({
    'pipelines-dir': z.string().trim().default('pipelines'),
    pipeline: optionalText(),
    schedule: optionalText(),
    for: z.enum(['retrain', 'quality', 'drift'], { message: 'expected retrain, quality or drift (the schedule: key the plan reads)' }).default('retrain'),
    now: optionalTime(),
  });
  const { pipelines, errors } = await validatePipelines(inputs.pipelinesDir);
  annotateIssues('error', errors);
  const key = inputs.for;
  const cronOf = (p: (typeof pipelines)[number]): string => p.config.schedule[key];

  const now = inputs.now ?? new Date();
  const window = inputs.schedule && !inputs.pipeline ? scheduleWindow(inputs.schedule, now) : null;
  const notDue = window ? pipelines.filter((p) => !isDue(cronOf(p), window)) : [];
  const chosen = inputs.pipeline ? pipelines.filter((p) => p.config.name === inputs.pipeline) : pipelines.filter((p) => !notDue.includes(p));
  if (inputs.pipeline && chosen.length === 0) {
    const bad = errors.some((e) => e.file.endsWith(`/${inputs.pipeline}.yaml`));
    throw new Error(
      bad
        ? `pipeline ${inputs.pipeline} has errors in its definition (see the annotations); fix them and run again`
        : `no pipeline named ${inputs.pipeline} in ${inputs.pipelinesDir}/ (valid pipelines: ${pipelines.map((p) => p.config.name).join(', ') || 'none'})`,
    );
  }
  if (chosen.length === 0 && errors.length > 0 && notDue.length === 0)
    throw new Error(`no valid pipeline in ${inputs.pipelinesDir}/: ${errors.length} problem(s), see the annotations`);

  const include = chosen.map((p) => ({ pipeline: p.config.name, file: p.file }));
  setOutputs({ matrix: JSON.stringify({ include }), pipelines: JSON.stringify(include.map((i) => i.pipeline)), count: include.length, errors: errors.length });
  info(`planned ${include.length} pipeline(s) for ${key}: ${include.map((i) => i.pipeline).join(', ') || 'none'}`);
  const tick = window ? `the tick of ${window.to.toISOString()} (after ${window.from.toISOString()})` : '';
  const waiting = notDue.map(
    (p) => `- \`${p.config.name}\`: not due (\`${cronOf(p)}\`, next ${nextOccurrence(cronOf(p), window!.to)?.toISOString() ?? 'never'})`,
  );
  if (window) info(`scheduled: ${tick}; not due: ${notDue.map((p) => p.config.name).join(', ') || 'none'}`);
  await writeSummary(
    [
      `### Plan (${key}): ${include.length} pipeline(s)`,
      '',
      ...(window ? [`Scheduled run, ${tick}: the pipelines whose \`schedule.${key}\` is due.`, ''] : []),
      ...include.map((i) => `- \`${i.pipeline}\` (${i.file})`),
      ...waiting,
      ...(errors.length ? ['', `⚠️ ${errors.length} problem(s) in pipeline definitions; those pipelines are left out (see the annotations).`] : []),
    ].join('\n'),
  );
}

await runAction(main);
