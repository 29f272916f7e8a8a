import { z } from 'zod';
import { modelMetricsSchema, type MetricName, type ModelMetrics } from '../evaluate/metrics.ts';
import type { Task } from '../config/schema.ts';
import type { LabelStats } from './run-dir.ts';
import type { Decision, GateResult } from '../gates/gates.ts';
import type { QualityReport } from '../quality/checks.ts';

/** Holdout metrics of one model (the evaluator's output): regression or classification metrics. */
export type HoldoutMetrics = ModelMetrics;

export const modelScoreSchema = z.object({
  role: z.enum(['champion', 'challenger', 'baseline']),
  /** how a reader names it: `champion v3`, `challenger`, `persistence baseline` */
  label: z.string(),
  version: z.number().int().nullable(),
  sha256: z.string().nullable(),
  metrics: modelMetricsSchema,
  scoring_ms: z.number(),
});
export type ModelScore = z.output<typeof modelScoreSchema>;

/** The whole outcome of one retrain: what report.json holds and every report is rendered from. */
export interface RetrainResult {
  run_id: string;
  pipeline: string;
  status: 'succeeded' | 'failed';
  decision: Decision | null;
  reasons: string[];
  error: string | null;
  forced: boolean;
  trigger: string;
  trigger_reason: string | null;
  /** the alert whose dispatch started this run (its id in mlops.alerts, its issue) */
  trigger_alert?: { id: number; issue_url: string | null } | null;
  as_of: string;
  /** regression (absent in reports written before classification existed) or classification */
  task?: Task;
  primary_metric: MetricName;
  data: { start: string; end: string; rows: number; fingerprint: string; entities: string[] } | null;
  /** classification: the labels known at as-of (coverage of the window's rows) */
  labels?: LabelStats | null;
  /** double evaluation: challenger and champion on the fixed reference set */
  reference?: { start: string; end: string; from_run: string | null; rows: number; challenger: ModelScore; champion: ModelScore | null } | null;
  quality: QualityReport | null;
  features: { names: string[]; rows: number; dropped: Record<string, number>; warnings: string[] } | null;
  train: { rows: number; start: string; end: string } | null;
  holdout: { rows: number; start: string; end: string } | null;
  trainer: { algorithm: string; params: unknown };
  scores: { champion: ModelScore | null; challenger: ModelScore | null; baseline: ModelScore | null };
  train_metrics: HoldoutMetrics | null;
  gates: GateResult[];
  improvement_pct: number | null;
  training_ms: number | null;
  stage_timings: Record<string, number>;
  artifact: { sha256: string; bytes: number; path: string } | null;
  champion: { version: number; sha256: string; run_id: string; promoted_at: string } | null;
  lineage: { code_sha: string | null; workflow_run_url: string | null; run_dir: string };
}
