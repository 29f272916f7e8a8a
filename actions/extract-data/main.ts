import { resolve } from 'node:path';
import { z } from 'zod';
import { PipelineConfigError } from '../lib/config/load.ts';
import { validatePipelineFile } from '../lib/config/validate.ts';
import { checkSource } from '../lib/source/check.ts';
import { DEFAULT_RUNS_DIR } from '../lib/retrain/run-dir.ts';
import { beginRun, extractStage } from '../lib/retrain/stages.ts';
import {
  booleanInput,
  databaseInputs,
  optionalText,
  optionalTime,
  readInputs,
  requiredText,
  runAction,
  runStage,
  setOutputs,
  stageSummary,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';

/** extract-data: checks the pipeline against the database, begins the run and extracts its window. */
async function main(): Promise<void> {
  const inputs = readInputs({
    ...databaseInputs,
    'pipeline-file': requiredText('the pipeline YAML (matrix.file from the plan job)'),
    'as-of': optionalTime(),
    force: booleanInput(false),
    trigger: z.string().trim().default('manual'),
    reason: optionalText(),
    'alert-id': z
      .string()
      .trim()
      .regex(/^(\d+)?$/, "expected the alert's id in mlops.alerts (a whole number) or nothing")
      .optional(),
    'alert-issue': z
      .string()
      .trim()
      .regex(/^(https?:\/\/\S+)?$/, "expected the alert issue's URL or nothing")
      .optional(),
    'runs-dir': z.string().trim().default(DEFAULT_RUNS_DIR),
    'run-id': optionalText(),
    'repo-dir': z.string().trim().default('.'),
  });
  await withDatabase(inputs, async (db) => {
    const { config, errors } = await validatePipelineFile(inputs.pipelineFile, { checkSource: (s) => checkSource(db, s) });
    if (!config) throw new PipelineConfigError(errors);
    const { runDir, store } = await beginRun(db, {
      pipeline: config,
      pipelineFile: inputs.pipelineFile,
      asOf: inputs.asOf ?? new Date(),
      runsDir: inputs.runsDir,
      repoDir: resolve(inputs.repoDir),
      runId: inputs.runId,
      trigger: inputs.trigger,
      triggerReason: inputs.reason ?? null,
      triggerAlert: inputs.alertId ? { id: Number(inputs.alertId), issueUrl: inputs.alertIssue || null } : null,
      force: inputs.force,
    });
    const state = await runStage(db, 'extract-data', store, () => extractStage(db, store));
    setOutputs({
      'run-id': state.run_id,
      'run-dir': runDir,
      pipeline: state.pipeline,
      rows: state.extract!.rows,
      'window-start': state.extract!.start,
      'window-end': state.extract!.end,
      fingerprint: state.extract!.fingerprint,
    });
    await writeSummary(stageSummary('extract', state, runDir));
  });
}

await runAction(main);
