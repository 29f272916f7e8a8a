import { evaluateStage } from '../lib/retrain/stages.ts';
import { databaseInputs, openRun, readInputs, runAction, runDirInput, runStage, setOutputs, stageSummary, withDatabase, writeSummary } from '../lib/actions-io/index.ts';

/** evaluate-model: champion, challenger and baseline scored on the same holdout rows. */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  openRun(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const state = await runStage(db, 'evaluate-model', inputs.runDir, () => evaluateStage(inputs.runDir));
    const e = state.evaluate;
    const metric = state.config.gates.metric;
    setOutputs({
      skipped: !e, metric, challenger: e?.challenger.metrics[metric], champion: e?.champion?.metrics[metric], baseline: e?.baseline.metrics[metric],
    });
    await writeSummary(stageSummary('evaluate', state, inputs.runDir));
  });
}

await runAction(main);
