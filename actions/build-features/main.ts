import { featuresStage } from '../lib/retrain/stages.ts';
import { databaseInputs, openRun, readInputs, runAction, runDirInput, runStage, setOutputs, stageSummary, withDatabase, writeSummary } from '../lib/actions-io/index.ts';

/** build-features: the feature matrix and the temporal split of a run (train.arrow, holdout.arrow). */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  openRun(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const state = await runStage(db, 'build-features', inputs.runDir, () => featuresStage(inputs.runDir));
    const f = state.features;
    setOutputs({ skipped: !f, features: f?.names.length, 'train-rows': f?.train.rows, 'holdout-rows': f?.holdout.rows });
    await writeSummary(stageSummary('features', state, inputs.runDir));
  });
}

await runAction(main);
