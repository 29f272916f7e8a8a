-- Live performance of a deployed classifier (labels/live.ts, run by the daily health check): its
-- predictions of the last N days joined by key to the labels known so far. One row per model and
-- as-of (re-running a day's check updates it), beside the runs' holdout rows; a live row belongs
-- to no training run. `predictions` are the window's keyed predictions of the pipeline (any
-- version), `labelled` those with a known label (label_coverage = labelled / predictions); the
-- metrics (f1_val, roc_auc_val, brier_val, metrics) are the champion's, model_version's, on its
-- labelled predictions.
ALTER TABLE mlops.model_performance
  ALTER COLUMN run_id DROP NOT NULL,
  ADD COLUMN kind text NOT NULL DEFAULT 'holdout' CHECK (kind IN ('holdout', 'live')),
  ADD COLUMN model_version integer,
  ADD COLUMN predictions integer,
  ADD COLUMN labelled integer;
ALTER TABLE mlops.model_performance ADD CONSTRAINT model_performance_run_of_holdout CHECK ((kind = 'holdout') = (run_id IS NOT NULL));
CREATE UNIQUE INDEX model_performance_live_per_day ON mlops.model_performance (model_name, data_end) WHERE kind = 'live';

-- Drift of a classifier's labels (monitoring/drift-run.ts): the share of positives of the
-- champion's training labels against that of the recent labelled rows; NULL for regression.
ALTER TABLE mlops.drift_reports ADD COLUMN label_drift jsonb;
