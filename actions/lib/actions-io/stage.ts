import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Db } from '../db/index.ts';
import { RUN_FILES, runFile, type RunState } from '../retrain/run-dir.ts';
import { failStage, resultOf } from '../retrain/stages.ts';
import { FileRunStore, type RunStore } from '../retrain/store.ts';
import { fmtInt, fmtTime } from '../report/format.ts';
import { gateTable, labelsLine, metricTable, qualitySummary, qualityTable } from '../report/markdown.ts';
import { readInputs, requiredText } from './inputs.ts';
import { RunFailure, runAction } from './run.ts';
import { databaseInputs, withDatabase } from './database.ts';
import { setOutputs, type OutputValue } from './outputs.ts';
import { writeSummary } from './summary.ts';
import { claimRunLease, handOffRunLease, holdRunLease } from '../tracking/lease.ts';
import { trackActiveRun } from '../retrain/interrupt.ts';

/**
 * What the retrain's step actions share: the run directory input, the check that it is one, a
 * stage call that records a throw as a failed run, and each stage's part of the job summary (the
 * same tables as the run report; the gate step writes the whole report).
 */

export const runDirInput = {
  'run-dir': requiredText('the run directory from the extract-data step (steps.extract.outputs.run-dir)'),
};

/** The run's store with its state read and checked, or an error that says which step makes one. */
export function openRunStore(runDir: string): FileRunStore {
  const dir = resolve(runDir);
  if (!existsSync(runFile(dir, 'state'))) {
    throw new Error(`run-dir ${runDir} is not a run directory (no ${RUN_FILES.state}); run the extract-data step first and pass its run-dir output`);
  }
  const store = new FileRunStore(dir);
  store.load();
  return store;
}

/** The run's state (see openRunStore). */
export function openRun(runDir: string): RunState {
  return openRunStore(runDir).load();
}

/**
 * Runs one stage as a workflow step: the step takes over the run's lease (tracking/lease.ts) and
 * renews it while it works, hands it on to the next step when it ends, and a SIGTERM/SIGINT (a
 * cancelled job) records the run as failed. When the stage throws, the run is recorded as failed
 * (failStage) and a RunFailure carries its report.
 */
export async function runStage<T>(db: Db, step: string, store: RunStore, stage: () => Promise<T>): Promise<T> {
  const { run_id: runId, pipeline } = store.load();
  await claimRunLease(db, runId);
  const lease = holdRunLease(db, runId);
  const untrack = trackActiveRun({ runId, pipeline, stage: () => step, fail: async (m) => (await failStage(db, store, new Error(m))).recorded });
  try {
    const out = await stage();
    lease.check();
    return out;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const report = await failStage(db, store, err);
    const record = report.recorded ? 'The run is recorded as failed.' : 'Its record was already closed by another process.';
    throw new RunFailure(`${step} failed for run ${report.run_id} (${report.pipeline}): ${message}. ${record}`, report);
  } finally {
    lease.stop();
    untrack();
    await handOffRunLease(db, runId).catch(() => undefined);
  }
}

/** What a step action reports of its stage: the step's outputs and its job summary. */
export interface StageReport {
  outputs: Record<string, OutputValue>;
  summary: string;
}

/**
 * The whole entry of a retrain step action that works on an existing run directory: read the
 * database and run-dir inputs, run `stage` on the run (runStage), then set what `report` makes of
 * its result as outputs and job summary. The step's own file says only which stage and what it
 * reports.
 */
export function runStageAction<T>(
  step: string,
  stage: (db: Db, store: FileRunStore) => Promise<T>,
  report: (result: T, store: FileRunStore) => StageReport,
): Promise<void> {
  return runAction(async () => {
    const inputs = readInputs({ ...databaseInputs, ...runDirInput });
    const store = openRunStore(inputs.runDir);
    await withDatabase(inputs, async (db) => {
      const { outputs, summary } = report(await runStage(db, step, store, () => stage(db, store)), store);
      setOutputs(outputs);
      await writeSummary(summary);
    });
  });
}

const skippedLine = (s: RunState): string =>
  s.quality && !s.quality.passed
    ? `⏭️ skipped: the data failed its quality checks (${s.quality.failed.length} failed); the gate step records the run as skip.`
    : `⏭️ skipped before training: ${(s.preflight?.reasons ?? []).map((r) => r.replace(/^before training: /, '')).join('; ')}; the gate step records the run as skip.`;

/** The job summary of one stage of a run, from its state after the stage. */
export function stageSummary(step: 'extract' | 'quality' | 'features' | 'train' | 'evaluate', state: RunState, runDir: string): string {
  const head = `### ${state.pipeline}: ${step} (run \`${state.run_id}\`)\n\n`;
  const skipped = (state.quality !== undefined && !state.quality.passed) || (state.preflight !== undefined && !state.preflight.passed);
  const r = resultOf(state, runDir);
  switch (step) {
    case 'extract': {
      const d = state.extract!;
      return (
        head +
        [
          `- Window: ${fmtTime(d.start)} -> ${fmtTime(d.end)}, ${fmtInt(d.rows)} rows, ${d.entities.join(', ') || 'no entities'}`,
          `- Fingerprint: \`${d.fingerprint}\``,
          ...(d.labels ? [`- Labels: ${labelsLine(d.labels, d.rows)}`] : []),
          `- Trigger: ${state.trigger}${state.trigger_reason ? `: ${state.trigger_reason}` : ''}${state.forced ? ' (forced)' : ''}`,
        ].join('\n') +
        '\n'
      );
    }
    case 'quality': {
      const q = state.quality!;
      const failed = q.failed.length ? `\n\n#### Failed checks\n\n${qualityTable({ ...q, checks: q.failed })}` : '';
      const pre = state.preflight?.gates.length
        ? `\n\n#### Before training\n\n${gateTable(state.preflight.gates)}${state.preflight.passed ? '' : `\n\n${skippedLine(state)}`}`
        : '';
      return head + `Data quality: **${q.passed ? 'passed' : 'failed'}**: ${qualitySummary(q)}${failed}${pre}\n\n#### All checks\n\n${qualityTable(q)}\n`;
    }
    case 'features': {
      if (skipped) return head + skippedLine(state) + '\n';
      const f = state.features!;
      const dropped = Object.entries(f.dropped)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${fmtInt(n)} ${k.replace(/_/g, ' ')}`);
      return (
        head +
        [
          `- Features: ${f.names.length}${dropped.length ? `; rows dropped: ${dropped.join(', ')}` : ''}`,
          `- Training rows: ${fmtInt(f.train.rows)} (${fmtTime(f.train.start)} -> ${fmtTime(f.train.end)})`,
          `- Holdout rows: ${fmtInt(f.holdout.rows)} (${fmtTime(f.holdout.start)} -> ${fmtTime(f.holdout.end)})`,
          ...f.warnings.map((w) => `- ⚠️ ${w}`),
        ].join('\n') +
        '\n'
      );
    }
    case 'train': {
      if (skipped) return head + skippedLine(state) + '\n';
      const t = state.train!;
      return (
        head +
        [
          `- Trainer: ${t.algorithm} ${JSON.stringify(t.params)}`,
          `- Training time: ${(t.wall_ms / 1000).toFixed(1)} s`,
          `- Artifact: sha256 \`${t.sha256}\`, ${fmtInt(t.bytes)} bytes`,
        ].join('\n') +
        '\n'
      );
    }
    case 'evaluate': {
      if (skipped) return head + skippedLine(state) + '\n';
      return head + metricTable(r.scores, r.primary_metric, r.holdout?.rows ?? null) + '\n';
    }
  }
}
