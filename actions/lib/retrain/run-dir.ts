import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { pipelineSchema } from '../config/schema.ts';
import { qualityReportSchema } from '../quality/checks.ts';
import { featureSpecSchema, zscoreStatsSchema } from '../features/spec.ts';
import { modelMetricsSchema } from '../evaluate/metrics.ts';
import { preflightSchema } from '../gates/preflight.ts';
import { decisionSchema, gateResultSchema } from '../gates/gates.ts';
import { holdoutTargetSchema } from '../gates/holdout.ts';
import { toJson } from '../util/json.ts';
import { jsonNumber } from '../util/json-number.ts';
import { modelScoreSchema } from './result.ts';

/**
 * The run directory `.mlops/runs/<run_id>/` (DESIGN §4): how workflow steps hand a run to each
 * other. `run.json` holds the state; the data sits beside it as Arrow IPC and ONNX files.
 */
export const RUN_FILES = {
  state: 'run.json',
  frame: 'frame.arrow',
  /** double evaluation: the fixed reference set's rows (with the history its features look back on) */
  reference: 'reference.arrow',
  train: 'train.arrow',
  holdout: 'holdout.arrow',
  model: 'model.onnx',
  reportJson: 'report.json',
  reportMd: 'report.md',
} as const;

export const DEFAULT_RUNS_DIR = '.mlops/runs';

const span = z.object({ rows: z.number().int().min(0), start: z.string(), end: z.string() });

/** The labels of a classification run's window: those known at the run's as-of. */
export const labelStatsSchema = z.object({
  table: z.string(),
  as_of: z.string(),
  /** rows of the window with a label */
  labelled: z.number().int().min(0),
  /** labelled / rows of the window */
  coverage: jsonNumber,
  /** labelled rows that are positive */
  positives: z.number().int().min(0),
});
export type LabelStats = z.output<typeof labelStatsSchema>;

/** The fixed reference set of double evaluation: its rows with a target in [start, end). */
export const referenceSpanSchema = z.object({
  start: z.string(),
  end: z.string(),
  /** the run whose holdout it is, when it came from one */
  from_run: z.string().nullable(),
  rows: z.number().int().min(0),
});

/**
 * run.json: the state of one run as the stages leave it. Each stage adds its part; every reader
 * gets it through this schema, so a hand-edited or truncated file is an error that names the
 * field, and numbers written as null (NaN) come back as NaN. Streams that add to the run add here.
 */
export const runStateSchema = z.object({
  run_id: z.string(),
  pipeline: z.string(),
  pipeline_file: z.string(),
  /** the pipeline as it was when the run began: later steps never re-read a changed YAML */
  config: pipelineSchema,
  as_of: z.string(),
  trigger: z.string(),
  trigger_reason: z.string().nullable(),
  /** the alert whose dispatch started this run (absent in runs written before it was recorded) */
  trigger_alert: z.object({ id: z.number().int(), issue_url: z.string().nullable() }).nullable().optional(),
  forced: z.boolean(),
  /** the checkout whose registry/production.json names the champion */
  repo_dir: z.string(),
  code_sha: z.string().nullable(),
  workflow_run_url: z.string().nullable(),
  started_at: z.string(),
  stage_timings: z.record(z.string(), jsonNumber),
  extract: z
    .object({
      rows: z.number().int().min(0),
      start: z.string(),
      end: z.string(),
      fingerprint: z.string(),
      entities: z.array(z.string()),
      /** classification: the labels joined in, known at `as_of` */
      labels: labelStatsSchema.optional(),
      /** double evaluation: the fixed reference set extracted beside the window (reference.arrow) */
      reference: referenceSpanSchema.extend({ fingerprint: z.string() }).optional(),
    })
    .optional(),
  quality: qualityReportSchema.optional(),
  /** the gates that can rule a run out before training (cooldown; classification: labels) */
  preflight: preflightSchema.optional(),
  features: z
    .object({
      spec: featureSpecSchema,
      zscore_stats: zscoreStatsSchema.nullable(),
      names: z.array(z.string()),
      rows: z.number().int().min(0),
      dropped: z.record(z.string(), z.number()),
      warnings: z.array(z.string()),
      train: span,
      holdout: span,
      gap_rows: z.number().int().min(0),
    })
    .optional(),
  train: z
    .object({
      algorithm: z.string(),
      params: z.record(z.string(), z.unknown()),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: z.number().int().min(0),
      wall_ms: z.number(),
      train_metrics: modelMetricsSchema.nullable(),
      trees_used: z.number().int().optional(),
    })
    .optional(),
  evaluate: z
    .object({
      challenger: modelScoreSchema,
      champion: modelScoreSchema.nullable(),
      baseline: modelScoreSchema,
      champion_info: z
        .object({ version: z.number().int(), sha256: z.string(), run_id: z.string(), promoted_at: z.string(), rebuilt_features: z.boolean() })
        .nullable(),
      holdout: span.extend({ target: holdoutTargetSchema.optional() }),
      /** double evaluation: both models on the fixed reference set */
      reference: referenceSpanSchema.extend({ challenger: modelScoreSchema, champion: modelScoreSchema.nullable() }).optional(),
    })
    .optional(),
  gate: z
    .object({ decision: decisionSchema, reasons: z.array(z.string()), gates: z.array(gateResultSchema), improvement_pct: z.number().nullable() })
    .optional(),
});
export type RunState = z.output<typeof runStateSchema>;

/** A run id that sorts by time and is unique enough: `20261122T0200-4f2c9e1a`. */
export function newRunId(asOf: Date): string {
  const stamp = asOf.toISOString().replace(/[-:]/g, '').slice(0, 13);
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export function validateRunId(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) {
    throw new Error(`run id "${runId}" is not valid: use letters, digits, dot, dash and underscore (it names a directory)`);
  }
  return runId;
}

export function runDirFor(runsDir: string, runId: string): string {
  return resolve(runsDir, validateRunId(runId));
}

export function runFile(runDir: string, name: keyof typeof RUN_FILES): string {
  return join(runDir, RUN_FILES[name]);
}

/** run.json of `runDir`, checked against the run-state schema. */
export function readRunState(runDir: string): RunState {
  const file = runFile(runDir, 'state');
  if (!existsSync(file)) throw new Error(`${runDir} is not a run directory (no ${RUN_FILES.state}); run the extract step first`);
  return parseRunState(readFileSync(file, 'utf8'), file);
}

/** A run state from its JSON text; `where` names the file in errors. */
export function parseRunState(text: string, where: string): RunState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not valid JSON (${(err as Error).message}); the run directory is damaged`, { cause: err });
  }
  const parsed = runStateSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${where} is not a valid run state: ${issues.join('; ')}${parsed.error.issues.length > 5 ? '; ...' : ''}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Written to a temporary file and renamed, so a crash never leaves half a run.json. */
export function writeRunState(runDir: string, state: RunState): void {
  mkdirSync(runDir, { recursive: true });
  const file = runFile(runDir, 'state');
  writeFileSync(file + '.tmp', toJson(state, 2) + '\n');
  renameSync(file + '.tmp', file);
}
