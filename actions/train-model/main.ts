import { trainStage } from '../lib/retrain/stages.ts';
import { runStageAction, stageSummary } from '../lib/actions-io/index.ts';

/** train-model: the challenger, exported to ONNX (model.onnx) and stored by sha256. */
await runStageAction('train-model', trainStage, (state, store) => {
  const t = state.train;
  return {
    outputs: { skipped: !t, sha256: t?.sha256, bytes: t?.bytes, 'training-seconds': t ? (t.wall_ms / 1000).toFixed(1) : undefined },
    summary: stageSummary('train', state, store.dir),
  };
});
