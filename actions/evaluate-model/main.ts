import { evaluateStage } from '../lib/retrain/stages.ts';
import { metricValue } from '../lib/evaluate/metrics.ts';
import { runStageAction, stageSummary } from '../lib/actions-io/index.ts';

/** evaluate-model: champion, challenger and baseline scored on the same holdout rows. */
await runStageAction(
  'evaluate-model',
  (db, store) => evaluateStage(store, db),
  (state, store) => {
    const e = state.evaluate;
    const metric = state.config.gates.metric;
    return {
      outputs: {
        skipped: !e,
        metric,
        challenger: e && metricValue(e.challenger.metrics, metric),
        champion: e?.champion ? metricValue(e.champion.metrics, metric) : undefined,
        baseline: e && metricValue(e.baseline.metrics, metric),
      },
      summary: stageSummary('evaluate', state, store.dir),
    };
  },
);
