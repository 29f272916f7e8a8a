import type { RegressionMetrics } from '../evaluate/metrics.ts';
import type { GateResult } from '../gates/gates.ts';
import type { QualityReport } from '../quality/checks.ts';

/** Holdout metrics of one model (the evaluator's output). */
export type HoldoutMetrics = RegressionMetrics;

export interface ModelScore {
  role: 'champion' | 'challenger' | 'baseline';
  /** how a reader names it: `champion v3`, `challenger`, `persistence baseline` */
  label: string;
  version: number | null;
  sha256: string | null;
  metrics: HoldoutMetrics;
  scoring_ms: number;
}

/** The whole outcome of one retrain: what report.json holds and every report is rendered from. */
export interface RetrainResult {
  run_id: string;
  pipeline: string;
  status: 'succeeded' | 'failed';
  decision: 'promote' | 'reject' | 'skip' | null;
  reasons: string[];
  error: string | null;
  forced: boolean;
  trigger: string;
  trigger_reason: string | null;
  as_of: string;
  primary_metric: 'rmse' | 'mae';
  data: { start: string; end: string; rows: number; fingerprint: string; entities: string[] } | null;
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
