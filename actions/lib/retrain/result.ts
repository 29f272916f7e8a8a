import { z } from 'zod';
import { regressionMetricsSchema, type RegressionMetrics } from '../evaluate/metrics.ts';
import type { Decision, GateResult } from '../gates/gates.ts';
import type { QualityReport } from '../quality/checks.ts';

/** Holdout metrics of one model (the evaluator's output). */
export type HoldoutMetrics = RegressionMetrics;

export const modelScoreSchema = z.object({
  role: z.enum(['champion', 'challenger', 'baseline']),
  /** how a reader names it: `champion v3`, `challenger`, `persistence baseline` */
  label: z.string(),
  version: z.number().int().nullable(),
  sha256: z.string().nullable(),
  metrics: regressionMetricsSchema,
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
