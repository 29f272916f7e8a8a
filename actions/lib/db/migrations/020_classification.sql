-- Classification with delayed labels (issue #12).

-- The key a prediction's label joins on (the source's key_column, e.g. an application id); NULL
-- when the pipeline's source has no key column. For a classification model, `prediction` holds
-- the positive-class probability.
ALTER TABLE mlops.predictions ADD COLUMN row_key text;
-- A keyed row (an application) is one prediction per key and model version, whatever its time
-- (events share timestamps); rows without a key stay one per entity, time and model version.
DROP INDEX mlops.predictions_one_per_row;
CREATE UNIQUE INDEX predictions_one_per_row ON mlops.predictions (pipeline, entity, ts, model_version) WHERE row_key IS NULL;
CREATE UNIQUE INDEX predictions_one_per_key ON mlops.predictions (pipeline, row_key, model_version) WHERE row_key IS NOT NULL;

-- A run's performance row for either task. Regression keeps rmse_val / mae_val; classification
-- fills f1_val, roc_auc_val, brier_val and the share of the window's rows that had a label known
-- at the run's as-of. `metrics` holds the whole holdout metrics of the challenger.
ALTER TABLE mlops.model_performance
  ADD COLUMN task text NOT NULL DEFAULT 'regression' CHECK (task IN ('regression', 'classification')),
  ADD COLUMN f1_val double precision,
  ADD COLUMN roc_auc_val double precision,
  ADD COLUMN brier_val double precision,
  ADD COLUMN label_coverage double precision,
  ADD COLUMN metrics jsonb;
