import { featuresStage } from '../lib/retrain/stages.ts';
import {
  databaseInputs,
  openRunStore,
  readInputs,
  runAction,
  runDirInput,
  runStage,
  setOutputs,
  stageSummary,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';

/** build-features: the feature matrix and the temporal split of a run (train.arrow, holdout.arrow). */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  const store = openRunStore(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const state = await runStage(db, 'build-features', store, () => featuresStage(store));
    const f = state.features;
    setOutputs({ skipped: !f, features: f?.names.length, 'train-rows': f?.train.rows, 'holdout-rows': f?.holdout.rows });
    await writeSummary(stageSummary('features', state, store.dir));
  });
}

await runAction(main);
