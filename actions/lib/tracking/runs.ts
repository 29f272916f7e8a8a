import { sha256Hex } from '../util/sha256.ts';
import type { Db, Queryable } from '../db/index.ts';
import type { Decision } from '../gates/gates.ts';
import { leaseColumns, leaseSettings } from './lease.ts';

/** What is known when a run starts. */
export interface RunStart {
  runId: string;
  pipeline: string;
  asOf: Date;
  trigger: string;
  triggerReason: string | null;
  /** the alert whose dispatch started the run */
  triggerAlert?: { id: number; issueUrl: string | null } | null;
  forced: boolean;
  codeSha: string | null;
  workflowRunUrl: string | null;
  runDir: string | null;
}

export interface RunMetrics {
  rmse: number;
  mae: number;
  r2?: number;
  bias?: number;
  max_abs_error?: number;
  nan_predictions?: number;
  rows?: number;
}

/** Everything a finished (succeeded) run records, whatever its decision. */
export interface RunFinish {
  runId: string;
  pipeline: string;
  decision: Decision;
  reasons: string[];
  data: { start: Date; end: Date; rows: number; fingerprint: string } | null;
  trainer: string | null;
  params: unknown;
  featureSpec: unknown;
  metrics: Record<string, unknown>;
  stageTimings: Record<string, number>;
  artifactSha256: string | null;
  evaluation: {
    primaryMetric: string;
    champion: unknown;
    challenger: unknown;
    baseline: unknown;
    gates: unknown;
    holdout: { rows: number; start: Date; end: Date } | null;
  } | null;
  /** the seed's model_performance row; null for a run that never trained (skip) */
  performance: {
    modelType: string;
    task?: 'regression' | 'classification';
    rmseVal: number | null;
    maeVal: number | null;
    rmseTrain: number | null;
    /** classification: the challenger's holdout F1, ROC AUC, Brier and the label coverage */
    f1Val?: number | null;
    rocAucVal?: number | null;
    brierVal?: number | null;
    labelCoverage?: number | null;
    /** the challenger's whole holdout metrics */
    metrics?: unknown;
    promoted: boolean;
    trainingDate: Date;
  } | null;
}

/** `abandoned`: its process died without finishing; finished_at says when that was found, error why. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

export interface RunRow {
  run_id: string;
  pipeline: string;
  status: RunStatus;
  decision: Decision | null;
  reasons: string[];
  trigger: string;
  trigger_reason: string | null;
  forced: boolean;
  as_of: Date;
  data_start: Date | null;
  data_end: Date | null;
  data_rows: number | null;
  fingerprint: string | null;
  trainer: string | null;
  params: unknown;
  feature_spec: unknown;
  metrics: Record<string, unknown> | null;
  stage_timings: Record<string, number>;
  artifact_sha256: string | null;
  code_sha: string | null;
  workflow_run_url: string | null;
  run_dir: string | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  lease_owner: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  heartbeat_at: Date | null;
  lease_expires_at: Date | null;
}

const json = (v: unknown): string => JSON.stringify(v ?? null, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x));

/** A run id that is already taken: run ids are unique and a run's record is immutable. */
export class RunIdTakenError extends Error {}

const day = (d: Date | string | null): string => (d ? new Date(d).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '?');

/**
 * Opens a run: its `running` row, with this process holding its lease (tracking/lease.ts). A run
 * id names one run for good: an id that is taken (by a finished run, a running one, or another
 * pipeline's) is refused with what holds it, and nothing of that run is touched.
 */
export async function startRun(db: Queryable, s: RunStart): Promise<void> {
  const lease = leaseColumns();
  const { leaseMs } = leaseSettings();
  const { rows } = await db.query<{ run_id: string }>(
    `INSERT INTO mlops.training_runs (run_id, pipeline, status, trigger, trigger_reason, forced, as_of, code_sha, workflow_run_url, run_dir,
       lease_owner, lease_host, lease_pid, heartbeat_at, lease_expires_at, trigger_alert_id, trigger_alert_issue)
     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), now() + $13 * interval '1 millisecond', $14, $15)
     ON CONFLICT (run_id) DO NOTHING RETURNING run_id`,
    [
      s.runId,
      s.pipeline,
      s.trigger,
      s.triggerReason,
      s.forced,
      s.asOf,
      s.codeSha,
      s.workflowRunUrl,
      s.runDir,
      lease.owner,
      lease.host,
      lease.pid,
      leaseMs,
      s.triggerAlert?.id ?? null,
      s.triggerAlert?.issueUrl ?? null,
    ],
  );
  if (rows.length > 0) return;
  const existing = await getRun(db, s.runId);
  const fresh = 'omit --run-id (or the run-id input) to get a new one';
  if (!existing) throw new RunIdTakenError(`run id "${s.runId}" could not be used; ${fresh}`);
  if (existing.pipeline !== s.pipeline) {
    throw new RunIdTakenError(
      `run id "${s.runId}" is taken by a run of another pipeline, "${existing.pipeline}" (started ${day(existing.started_at)}, ${existing.status}); run ids are unique across pipelines: ${fresh}`,
    );
  }
  const outcome = existing.status === 'succeeded' ? `succeeded with decision ${existing.decision}` : existing.status;
  const when = existing.status === 'running' ? `started ${day(existing.started_at)}` : `finished ${day(existing.finished_at)}`;
  throw new RunIdTakenError(
    `run id "${s.runId}" is taken: run ${s.runId} of ${s.pipeline} ${existing.status === 'running' ? 'is still running' : `already ${outcome}`} (${when}); a run's record is never overwritten: ${fresh}`,
  );
}

/** Stores a model content-addressed by its sha256; storing the same bytes twice is a no-op. */
export async function storeArtifact(db: Queryable, bytes: Uint8Array): Promise<string> {
  const sha = sha256Hex(bytes);
  await db.query('INSERT INTO mlops.model_artifacts (sha256, bytes, size) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [sha, bytes, bytes.byteLength]);
  return sha;
}

export async function loadArtifact(db: Queryable, sha256: string): Promise<Uint8Array | null> {
  const { rows } = await db.query<{ bytes: Uint8Array }>('SELECT bytes FROM mlops.model_artifacts WHERE sha256 = $1', [sha256]);
  return rows[0]?.bytes ?? null;
}

/** The run is not this process's to record (finished, abandoned, or another process holds it). */
export class RunNotRecordedError extends Error {}

async function notRunning(db: Queryable, runId: string): Promise<RunNotRecordedError> {
  const run = await getRun(db, runId);
  if (!run) return new RunNotRecordedError(`run ${runId} is not in the database`);
  if (run.status === 'running')
    return new RunNotRecordedError(
      `run ${runId} is held by another process (pid ${run.lease_pid ?? '-'} on host ${run.lease_host ?? '?'}); its result was not recorded`,
    );
  return new RunNotRecordedError(`run ${runId} is already ${run.status}${run.error ? ` (${run.error})` : ''}; its result was not recorded`);
}

/**
 * Records the outcome of a run, its evaluation and its performance row in one transaction, once:
 * only while the run is `running` and this process holds its lease. `guard` runs first in the same
 * transaction (the retrain checks that it still holds the pipeline's advisory lock).
 */
export async function finishRun(db: Db, f: RunFinish, guard?: (tx: Queryable) => Promise<void>): Promise<void> {
  await db.transaction(async (tx) => {
    await guard?.(tx);
    const updated = await tx.query(
      `UPDATE mlops.training_runs SET status = 'succeeded', decision = $2, reasons = $3::jsonb, data_start = $4, data_end = $5,
         data_rows = $6, fingerprint = $7, trainer = $8, params = $9::jsonb, feature_spec = $10::jsonb, metrics = $11::jsonb,
         stage_timings = $12::jsonb, artifact_sha256 = $13, error = NULL, finished_at = now(), lease_pid = NULL
       WHERE run_id = $1 AND status = 'running' AND lease_owner = $14`,
      [
        f.runId,
        f.decision,
        json(f.reasons),
        f.data?.start ?? null,
        f.data?.end ?? null,
        f.data?.rows ?? null,
        f.data?.fingerprint ?? null,
        f.trainer,
        json(f.params),
        json(f.featureSpec),
        json(f.metrics),
        json(f.stageTimings),
        f.artifactSha256,
        leaseColumns().owner,
      ],
    );
    if (updated.rowCount === 0) throw await notRunning(tx, f.runId);
    if (f.evaluation) {
      const e = f.evaluation;
      await tx.query(
        `INSERT INTO mlops.evaluations (run_id, pipeline, decision, forced, primary_metric, champion, challenger, baseline, gates,
           holdout_rows, holdout_start, holdout_end)
         SELECT $1, $2, $3, forced, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11 FROM mlops.training_runs WHERE run_id = $1
         ON CONFLICT (run_id) DO UPDATE SET decision = EXCLUDED.decision, forced = EXCLUDED.forced, primary_metric = EXCLUDED.primary_metric,
           champion = EXCLUDED.champion, challenger = EXCLUDED.challenger, baseline = EXCLUDED.baseline, gates = EXCLUDED.gates,
           holdout_rows = EXCLUDED.holdout_rows, holdout_start = EXCLUDED.holdout_start, holdout_end = EXCLUDED.holdout_end, created_at = now()`,
        [
          f.runId,
          f.pipeline,
          f.decision,
          e.primaryMetric,
          json(e.champion),
          json(e.challenger),
          json(e.baseline),
          json(e.gates),
          e.holdout?.rows ?? null,
          e.holdout?.start ?? null,
          e.holdout?.end ?? null,
        ],
      );
    }
    if (f.performance) {
      const p = f.performance;
      await tx.query(
        `INSERT INTO mlops.model_performance (run_id, model_type, model_name, rmse_val, mae_val, rmse_train, promoted, training_date, data_start, data_end,
           task, f1_val, roc_auc_val, brier_val, label_coverage, metrics)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb)
         ON CONFLICT (run_id) DO UPDATE SET model_type = EXCLUDED.model_type, rmse_val = EXCLUDED.rmse_val, mae_val = EXCLUDED.mae_val,
           rmse_train = EXCLUDED.rmse_train, promoted = EXCLUDED.promoted, training_date = EXCLUDED.training_date,
           data_start = EXCLUDED.data_start, data_end = EXCLUDED.data_end, task = EXCLUDED.task, f1_val = EXCLUDED.f1_val,
           roc_auc_val = EXCLUDED.roc_auc_val, brier_val = EXCLUDED.brier_val, label_coverage = EXCLUDED.label_coverage, metrics = EXCLUDED.metrics`,
        [
          f.runId,
          p.modelType,
          f.pipeline,
          finite(p.rmseVal),
          finite(p.maeVal),
          finite(p.rmseTrain),
          p.promoted ? 1 : 0,
          p.trainingDate,
          f.data?.start ?? null,
          f.data?.end ?? null,
          p.task ?? 'regression',
          finite(p.f1Val ?? null),
          finite(p.rocAucVal ?? null),
          finite(p.brierVal ?? null),
          finite(p.labelCoverage ?? null),
          p.metrics === undefined ? null : json(p.metrics),
        ],
      );
    }
  });
}

const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

/**
 * A run that crashed, was refused or was interrupted stays on record as failed, with its error and
 * timings so far. Only a running run of this process's is marked: false when it was not (it was
 * found abandoned meanwhile, say), and its record stays as it is.
 */
export async function failRun(db: Queryable, runId: string, error: string, stageTimings: Record<string, number>): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE mlops.training_runs SET status = 'failed', error = $2, stage_timings = $3::jsonb, finished_at = now(), lease_pid = NULL
     WHERE run_id = $1 AND status = 'running' AND lease_owner = $4`,
    [runId, error, json(stageTimings), leaseColumns().owner],
  );
  return rowCount > 0;
}

export async function getRun(db: Queryable, runId: string): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>('SELECT * FROM mlops.training_runs WHERE run_id = $1', [runId]);
  return rows[0] ?? null;
}

export async function listRuns(db: Queryable, options: { pipeline?: string; limit?: number } = {}): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM mlops.training_runs WHERE ($1::text IS NULL OR pipeline = $1) ORDER BY started_at DESC, run_id DESC LIMIT $2`,
    [options.pipeline ?? null, options.limit ?? 50],
  );
  return rows;
}

export interface EvaluationRow {
  run_id: string;
  decision: string;
  primary_metric: string;
  champion: unknown;
  challenger: unknown;
  baseline: unknown;
  gates: unknown;
  holdout_rows: number | null;
  holdout_start: Date | null;
  holdout_end: Date | null;
}

export async function getEvaluation(db: Queryable, runId: string): Promise<EvaluationRow | null> {
  const { rows } = await db.query<EvaluationRow>('SELECT * FROM mlops.evaluations WHERE run_id = $1', [runId]);
  return rows[0] ?? null;
}

export interface PerformancePoint {
  run_id: string;
  training_date: Date;
  rmse_val: number | null;
  mae_val: number | null;
  f1_val: number | null;
  roc_auc_val: number | null;
  brier_val: number | null;
  /** the run's whole holdout metrics (null for runs recorded before they were kept) */
  metrics: Record<string, number | null> | null;
  promoted: number;
}

/** A named metric of a performance row: its own column, else the recorded metrics; null when neither has it. */
export function performanceValue(p: PerformancePoint, metric: string): number | null {
  const column: Record<string, number | null> = { rmse: p.rmse_val, mae: p.mae_val, f1: p.f1_val, roc_auc: p.roc_auc_val, brier: p.brier_val };
  const v = column[metric] ?? p.metrics?.[metric] ?? null;
  return v !== null && Number.isFinite(v) ? v : null;
}

/** The primary metric over the last `n` runs of a model, oldest first (for the PR chart). */
export async function performanceHistory(db: Queryable, model: string, n = 12): Promise<PerformancePoint[]> {
  const { rows } = await db.query<PerformancePoint>(
    `SELECT run_id, training_date, rmse_val, mae_val, f1_val, roc_auc_val, brier_val, metrics, promoted FROM mlops.model_performance
     WHERE model_name = $1 AND kind = 'holdout' ORDER BY training_date DESC, id DESC LIMIT $2`,
    [model, n],
  );
  return rows.reverse();
}
