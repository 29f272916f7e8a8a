import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PipelineConfig } from '../config/schema.ts';
import type { QualityReport } from '../quality/checks.ts';
import type { FeatureSpec } from '../features/spec.ts';
import type { ZScoreStats } from '../features/zscore.ts';
import type { GateResult } from '../gates/gates.ts';
import type { HoldoutMetrics, ModelScore } from './result.ts';

/**
 * The run directory `.mlops/runs/<run_id>/` (DESIGN §4): how workflow steps hand a run to each
 * other. `run.json` holds the state; the data sits beside it as Arrow IPC and ONNX files.
 */
export const RUN_FILES = {
  state: 'run.json',
  frame: 'frame.arrow',
  train: 'train.arrow',
  holdout: 'holdout.arrow',
  model: 'model.onnx',
  reportJson: 'report.json',
  reportMd: 'report.md',
} as const;

export const DEFAULT_RUNS_DIR = '.mlops/runs';

export interface RunState {
  run_id: string;
  pipeline: string;
  pipeline_file: string;
  /** the pipeline as it was when the run began: later steps never re-read a changed YAML */
  config: PipelineConfig;
  as_of: string;
  trigger: string;
  trigger_reason: string | null;
  forced: boolean;
  /** the checkout whose registry/production.json names the champion */
  repo_dir: string;
  code_sha: string | null;
  workflow_run_url: string | null;
  started_at: string;
  stage_timings: Record<string, number>;
  extract?: { rows: number; start: string; end: string; fingerprint: string; entities: string[] };
  quality?: QualityReport;
  features?: {
    spec: FeatureSpec;
    zscore_stats: ZScoreStats | null;
    names: string[];
    rows: number;
    dropped: Record<string, number>;
    warnings: string[];
    train: { rows: number; start: string; end: string };
    holdout: { rows: number; start: string; end: string };
    gap_rows: number;
  };
  train?: {
    algorithm: string;
    params: Record<string, unknown>;
    sha256: string;
    bytes: number;
    wall_ms: number;
    train_metrics: HoldoutMetrics | null;
    trees_used?: number;
  };
  evaluate?: {
    challenger: ModelScore;
    champion: ModelScore | null;
    baseline: ModelScore;
    champion_info: { version: number; sha256: string; run_id: string; promoted_at: string; rebuilt_features: boolean } | null;
    holdout: { rows: number; start: string; end: string };
  };
  gate?: { decision: 'promote' | 'reject' | 'skip'; reasons: string[]; gates: GateResult[]; improvement_pct: number | null };
}

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

export function readRunState(runDir: string): RunState {
  const file = runFile(runDir, 'state');
  if (!existsSync(file)) throw new Error(`${runDir} is not a run directory (no ${RUN_FILES.state}); run the extract step first`);
  return JSON.parse(readFileSync(file, 'utf8')) as RunState;
}

/** Written to a temporary file and renamed, so a crash never leaves half a run.json. */
export function writeRunState(runDir: string, state: RunState): void {
  mkdirSync(runDir, { recursive: true });
  const file = runFile(runDir, 'state');
  writeFileSync(file + '.tmp', JSON.stringify(state, jsonSafe, 2) + '\n');
  renameSync(file + '.tmp', file);
}

/** JSON has no NaN or Infinity: write them as null rather than failing or lying. */
export function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
