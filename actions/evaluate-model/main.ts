import { evaluateStage } from '../lib/retrain/stages.ts';
import { metricValue } from '../lib/evaluate/metrics.ts';
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

/** evaluate-model: champion, challenger and baseline scored on the same holdout rows. */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  const store = openRunStore(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const state = await runStage(db, 'evaluate-model', store, () => evaluateStage(store, db));
    const e = state.evaluate;
    const metric = state.config.gates.metric;
    setOutputs({
      skipped: !e,
      metric,
      challenger: e && metricValue(e.challenger.metrics, metric),
      champion: e?.champion ? metricValue(e.champion.metrics, metric) : undefined,
      baseline: e && metricValue(e.baseline.metrics, metric),
    });
    await writeSummary(stageSummary('evaluate', state, store.dir));
  });
}

await runAction(main);
