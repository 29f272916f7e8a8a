import { featuresStage } from '../lib/retrain/stages.ts';
import { runStageAction, stageSummary } from '../lib/actions-io/index.ts';

/** build-features: the feature matrix and the temporal split of a run (train.arrow, holdout.arrow). */
await runStageAction(
  'build-features',
  (_db, store) => featuresStage(store),
  (state, store) => {
    const f = state.features;
    return {
      outputs: { skipped: !f, features: f?.names.length, 'train-rows': f?.train.rows, 'holdout-rows': f?.holdout.rows },
      summary: stageSummary('features', state, store.dir),
    };
  },
);
