import { trainStage } from '../lib/retrain/stages.ts';
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

/** train-model: the challenger, exported to ONNX (model.onnx) and stored by sha256. */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  const store = openRunStore(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const state = await runStage(db, 'train-model', store, () => trainStage(db, store));
    const t = state.train;
    setOutputs({ skipped: !t, sha256: t?.sha256, bytes: t?.bytes, 'training-seconds': t ? (t.wall_ms / 1000).toFixed(1) : undefined });
    await writeSummary(stageSummary('train', state, store.dir));
  });
}

await runAction(main);
