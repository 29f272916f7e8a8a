import { renderRunReport } from '../lib/report/run-report.ts';
import { runFile } from '../lib/retrain/run-dir.ts';
import { gateStage } from '../lib/retrain/stages.ts';
import { annotate, runStageAction } from '../lib/actions-io/index.ts';

/** gate-promotion: the decision (promote | reject | skip), recorded with everything the run did. */
await runStageAction('gate-promotion', gateStage, (result, store) => {
  if (result.decision === 'skip')
    annotate('warning', `${result.pipeline}: retrain skipped: ${result.reasons.join('; ')}`, { title: 'retrain skipped (bad data)' });
  if (result.decision === 'reject')
    annotate('notice', `${result.pipeline}: challenger rejected, the champion stays: ${result.reasons.join('; ')}`, { title: 'challenger rejected' });
  return {
    outputs: {
      decision: result.decision,
      'improvement-pct': result.improvement_pct === null ? '' : result.improvement_pct.toFixed(2),
      'run-id': result.run_id,
      pipeline: result.pipeline,
      report: runFile(store.dir, 'reportMd'),
    },
    summary: renderRunReport(result),
  };
});
