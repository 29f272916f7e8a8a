import { z } from 'zod';
import {
  annotate,
  databaseInputs,
  duration,
  info,
  optionalTime,
  readInputs,
  runAction,
  setOutputs,
  withDatabase,
  writeSummary,
} from '../lib/actions-io/index.ts';
import { pipelineInputs, selectedPipelines } from '../lib/actions-io/monitoring.ts';
import { ScoreFailure, scorePipelines, scoreSummaryMarkdown, type ScoreResult } from '../lib/score/index.ts';

/**
 * score: the hourly scoring. Each pipeline's champion (registry/production.json in repo-dir,
 * sha256-verified) scores [as-of - since, as-of) into mlops.predictions; a table per pipeline
 * goes to the job summary. A pipeline that fails (e.g. a tampered artifact) fails the step after
 * the others were scored.
 */
const spec = {
  ...databaseInputs,
  ...pipelineInputs,
  since: duration('1h'),
  'as-of': optionalTime(),
  'repo-dir': z.string().trim().default('.'),
};

function report(results: ScoreResult[]): void {
  for (const r of results) {
    info(r.message);
    for (const w of r.warnings) annotate('warning', `${r.pipeline}: ${w}`, { title: 'score' });
  }
  setOutputs({
    scored: results.reduce((n, r) => n + r.scored, 0),
    results: JSON.stringify(
      results.map((r) => ({
        pipeline: r.pipeline,
        outcome: r.outcome,
        model_version: r.model_version,
        sha256: r.sha256,
        window: r.window,
        rows: r.rows,
        scored: r.scored,
        nan: r.nan,
      })),
    ),
  });
}

async function main(): Promise<void> {
  const inputs = readInputs(spec);
  const pipelines = selectedPipelines(inputs);
  const asOf = inputs.asOf ?? new Date(Math.floor(Date.now() / 60_000) * 60_000);
  try {
    const results = await withDatabase(inputs, (db) =>
      scorePipelines(
        db,
        pipelines.map((p) => p.config),
        { repoDir: inputs.repoDir, asOf, sinceMs: inputs.since },
      ),
    );
    report(results);
    await writeSummary(scoreSummaryMarkdown(results));
  } catch (err) {
    if (err instanceof ScoreFailure) {
      report(err.results);
      await writeSummary(scoreSummaryMarkdown(err.results) + `\n**Failed:**\n${err.failures.map((f) => `- ${f.pipeline}: ${f.error}`).join('\n')}\n`);
    }
    throw err;
  }
}

await runAction(main);
