import * as core from '@actions/core';
import type { RetrainResult } from '../retrain/result.ts';
import { renderRunReport } from '../report/run-report.ts';
import { annotateIssues } from './annotations.ts';
import { scrub } from './secrets.ts';
import { failRunsOnSignal } from '../retrain/interrupt.ts';
import { writeSummary } from './summary.ts';

/** An error that carries the report of the run it ended (written to the job summary). */
export class RunFailure extends Error {
  readonly report: RetrainResult;

  constructor(message: string, report: RetrainResult) {
    super(message);
    this.report = report;
    this.name = 'RunFailure';
  }
}

interface LocatedIssues {
  issues: { file: string; line: number; col: number; path: string; message: string }[];
}

const hasIssues = (e: unknown): e is Error & LocatedIssues => e instanceof Error && Array.isArray((e as Partial<LocatedIssues>).issues);

/**
 * The end of every action entry: runs `main`; any error becomes annotations (located ones on their
 * file and line), the failed run's report in the job summary, and `core.setFailed` with a message
 * free of secrets.
 */
export async function runAction(main: () => Promise<void>): Promise<void> {
  // A cancelled job gets SIGINT, then SIGTERM: a run in progress is recorded as failed first.
  const removeSignalHandlers = failRunsOnSignal({ log: (line) => core.error(scrub(line)) });
  try {
    await main();
  } catch (err) {
    await reportFailure(err);
  } finally {
    removeSignalHandlers();
  }
}

async function reportFailure(err: unknown): Promise<void> {
  try {
    if (hasIssues(err)) {
      annotateIssues('error', err.issues);
      core.setFailed(scrub(`${err.issues.length} problem(s) in pipeline definitions (see the annotations):\n${err.message}`));
      return;
    }
    if (err instanceof RunFailure) {
      await writeSummary(renderRunReport(err.report));
    }
    core.setFailed(scrub(err instanceof Error ? err.message : String(err)));
  } catch (inner) {
    core.setFailed(scrub(`${err instanceof Error ? err.message : String(err)} (and reporting it failed: ${(inner as Error).message})`));
  }
}
