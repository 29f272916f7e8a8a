import { renderRunReport } from '../lib/report/run-report.ts';
import { runFile } from '../lib/retrain/run-dir.ts';
import { gateStage } from '../lib/retrain/stages.ts';
import {
  annotate,
  databaseInputs,
  openRunStore,
  readInputs,
  runAction,
  runDirInput,
  runStage,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';

/** gate-promotion: the decision (promote | reject | skip), recorded with everything the run did. */
async function main(): Promise<void> {
  const inputs = readInputs({ ...databaseInputs, ...runDirInput });
  const store = openRunStore(inputs.runDir);
  await withDatabase(inputs, async (db) => {
    const result = await runStage(db, 'gate-promotion', store, () => gateStage(db, store));
    setOutputs({
      decision: result.decision,
      'improvement-pct': result.improvement_pct === null ? '' : result.improvement_pct.toFixed(2),
      'run-id': result.run_id,
      pipeline: result.pipeline,
      report: runFile(store.dir, 'reportMd'),
    });
    if (result.decision === 'skip')
      annotate('warning', `${result.pipeline}: retrain skipped: ${result.reasons.join('; ')}`, { title: 'retrain skipped (bad data)' });
    if (result.decision === 'reject')
      annotate('notice', `${result.pipeline}: challenger rejected, the champion stays: ${result.reasons.join('; ')}`, { title: 'challenger rejected' });
    await writeSummary(renderRunReport(result));
  });
}

await runAction(main);
