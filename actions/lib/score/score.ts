/**
 * Scoring (DESIGN §4, after deploy): the champion that registry/production.json names scores a
 * window of the pipeline's source, and its predictions go to mlops.predictions.
 *
 *  - the champion's artifact is read and checked against its recorded sha256 (a changed file is
 *    refused, naming both hashes) and run by onnxruntime-node, as in evaluation and deploy;
 *  - its features are rebuilt from its OWN recorded spec and z-score stats (not the pipeline
 *    YAML's, which may have moved on), from a frame that starts `historyMinutes(spec)` before the
 *    window so that lags and rolling windows of the first rows are complete;
 *  - one prediction per row of [start, end) that has at least one model input; `ts` is the row's
 *    time (when the prediction is made); the prediction is for ts + target.horizon_minutes;
 *  - written in one transaction, upserted on (pipeline, entity, ts, model_version): re-scoring a
 *    window is idempotent.
 */
import type { PipelineConfig } from '../config/schema.ts';
import type { Db } from '../db/index.ts';
import { currentDeployments } from '../tracking/deployments.ts';
import { scoreOnnx } from '../onnx/score.ts';
import { loadChampion } from '../registry/champion.ts';
import { extractFrame } from '../source/extract.ts';
import { historyMinutes, servingMatrix } from './features.ts';
import { splitRecordedSpec } from '../features/spec.ts';
import { writePredictions } from './write.ts';
import { MINUTE_MS } from '../util/duration.ts';

export type ScoreOutcome = 'scored' | 'no-champion' | 'no-data';

export interface ScoreWindowOptions {
  /** the checkout holding registry/production.json (the champions) */
  repoDir: string;
  /** window start (inclusive) */
  start: Date;
  /** window end (exclusive) */
  end: Date;
  /** rows per INSERT (default 5000) */
  batchSize?: number;
}

export interface ScoreResult {
  pipeline: string;
  outcome: ScoreOutcome;
  model_version: number | null;
  sha256: string | null;
  /** [start, end) scored, ISO 8601 */
  window: { start: string; end: string };
  /** the minutes of history extracted before `start` for lags and rolling windows */
  history_minutes: number;
  /** a prediction at ts is for ts + horizon_minutes */
  horizon_minutes: number | null;
  /** source rows in the window */
  rows: number;
  /** predictions written (one per row with features) */
  scored: number;
  /** predictions that were NaN (stored as NULL) */
  nan: number;
  /** rows in the window without any model input (not scored) */
  skipped: number;
  /** the deployed version of this model in mlops.deployments (null: never deployed) */
  deployed_version: number | null;
  warnings: string[];
  message: string;
}

/** Scores [start, end) of one pipeline with its champion and records the predictions. */
export async function scoreWindow(db: Db, pipeline: PipelineConfig, options: ScoreWindowOptions): Promise<ScoreResult> {
  const { start, end } = options;
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error('score: window start/end is not a valid date');
  if (!(start.getTime() < end.getTime())) throw new Error(`score: window start ${start.toISOString()} is not before its end ${end.toISOString()}`);
  const window = { start: start.toISOString(), end: end.toISOString() };
  const name = pipeline.name;
  const base = { pipeline: name, window, rows: 0, scored: 0, nan: 0, skipped: 0, warnings: [] as string[] };

  const champion = loadChampion(options.repoDir, name); // throws ArtifactIntegrityError on a sha256 mismatch
  if (!champion) {
    return {
      ...base,
      outcome: 'no-champion',
      model_version: null,
      sha256: null,
      history_minutes: 0,
      horizon_minutes: null,
      deployed_version: null,
      message: `${name}: no champion in the registry, nothing to score`,
    };
  }
  const { entry } = champion;
  const label = `${name} v${entry.version}`;
  const { spec, stats } = splitRecordedSpec(entry.features.spec, label);
  const history = historyMinutes(spec);
  const deployed = (await currentDeployments(db)).find((d) => d.model === name) ?? null;
  const warnings: string[] = [];
  if (!deployed) warnings.push(`${label} is not recorded as deployed in mlops.deployments (run deploy for this commit)`);
  else if (deployed.version !== entry.version || deployed.sha256 !== entry.artifact.sha256)
    warnings.push(`the registry names ${label} but mlops.deployments records v${deployed.version} as deployed: is this checkout main?`);
  const model = {
    model_version: entry.version,
    sha256: entry.artifact.sha256,
    history_minutes: history,
    horizon_minutes: spec.target.horizon_minutes,
    deployed_version: deployed?.version ?? null,
    warnings,
  };

  const frame = await extractFrame(db, pipeline.source, end, { start: new Date(start.getTime() - history * MINUTE_MS), end });
  let rows = 0;
  for (let i = 0; i < frame.rows; i++) if (frame.times[i] >= start.getTime()) rows++;
  if (rows === 0) {
    return { ...base, ...model, outcome: 'no-data', message: `${name}: no rows in ${window.start} -> ${window.end}, nothing scored by ${label}` };
  }
  const X = servingMatrix(frame, spec, stats, start.getTime(), end.getTime(), entry.features.names);
  const predictions = await scoreOnnx(champion.onnx, X.values, X.rows, X.names.length, champion.label);
  let nan = 0;
  for (let i = 0; i < predictions.length; i++) if (!Number.isFinite(predictions[i])) nan++;
  const scored = await writePredictions(
    db,
    {
      pipeline: name,
      modelVersion: entry.version,
      sha256: entry.artifact.sha256,
      rows: X.rows,
      times: X.times,
      entities: X.entities,
      entityIds: X.entityIds,
      keys: X.keys,
      predictions,
    },
    options.batchSize,
  );
  if (X.rows === 0) {
    return {
      ...base,
      ...model,
      rows,
      skipped: rows,
      outcome: 'no-data',
      message: `${name}: none of the ${rows} rows in ${window.start} -> ${window.end} has a model input, nothing scored`,
    };
  }
  if (nan > 0) warnings.push(`${nan} of ${X.rows} predictions are NaN (stored as NULL)`);
  return {
    ...base,
    ...model,
    outcome: 'scored',
    rows,
    scored,
    nan,
    skipped: rows - X.rows,
    message:
      `${name}: ${label} scored ${scored} rows of ${window.start} -> ${window.end}` +
      (spec.target.horizon_minutes ? ` (each for ts + ${spec.target.horizon_minutes} min)` : '') +
      (nan ? `, ${nan} NaN` : ''),
  };
}

export interface ScorePipelinesOptions {
  repoDir: string;
  /** end of the window (exclusive) */
  asOf: Date;
  /** length of the window */
  sinceMs: number;
  batchSize?: number;
}

/** Some pipelines could not be scored (e.g. a tampered artifact); the others were. */
export class ScoreFailure extends Error {
  readonly results: ScoreResult[];
  readonly failures: { pipeline: string; error: string }[];

  constructor(results: ScoreResult[], failures: { pipeline: string; error: string }[]) {
    super(`scoring failed for ${failures.length} pipeline(s):\n${failures.map((f) => `  - ${f.pipeline}: ${f.error}`).join('\n')}`);
    this.results = results;
    this.failures = failures;
    this.name = 'ScoreFailure';
  }
}

/**
 * Scores [asOf - since, asOf) of each pipeline, one after the other. A pipeline that fails does
 * not keep the others from being scored; the failures are thrown together at the end
 * (ScoreFailure, carrying the results of the others).
 */
export async function scorePipelines(db: Db, pipelines: readonly PipelineConfig[], options: ScorePipelinesOptions): Promise<ScoreResult[]> {
  if (!(options.sinceMs > 0)) throw new Error(`score: the window length must be > 0, got ${options.sinceMs} ms`);
  const start = new Date(options.asOf.getTime() - options.sinceMs);
  const out: ScoreResult[] = [];
  const failures: { pipeline: string; error: string }[] = [];
  for (const p of pipelines) {
    try {
      out.push(await scoreWindow(db, p, { repoDir: options.repoDir, start, end: options.asOf, batchSize: options.batchSize }));
    } catch (err) {
      failures.push({ pipeline: p.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  if (failures.length) throw new ScoreFailure(out, failures);
  return out;
}

const minute = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

/** The job summary / terminal table: one row per pipeline. */
export function scoreSummaryMarkdown(results: readonly ScoreResult[]): string {
  const lines = [
    '### Scoring',
    '',
    '| pipeline | outcome | model | window (UTC) | rows | scored | NaN | prediction for |',
    '|---|---|---|---|---:|---:|---:|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.pipeline} | ${r.outcome} | ${r.model_version === null ? '—' : `v${r.model_version} \`${r.sha256!.slice(0, 12)}\``} | ` +
        `${minute(r.window.start)} → ${minute(r.window.end)} | ${r.rows} | ${r.scored} | ${r.nan} | ` +
        `${r.horizon_minutes === null ? '—' : r.horizon_minutes === 0 ? 'ts' : `ts + ${r.horizon_minutes} min`} |`,
    );
  }
  const warnings = results.flatMap((r) => r.warnings.map((w) => `- ${r.pipeline}: ${w}`));
  if (warnings.length) lines.push('', ...warnings);
  return lines.join('\n') + '\n';
}
