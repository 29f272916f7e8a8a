-- Scoring (mlops score): one prediction per pipeline, entity, row time and model version.
-- `ts` is the time of the row the features describe (the prediction time); the time the
-- prediction is FOR is ts + the model's target.horizon_minutes (recorded in its feature spec).
-- `prediction` is NULL when the model returned NaN. Re-scoring a window with the same model
-- updates its rows in place (INSERT ... ON CONFLICT); a new model version adds its own rows.
-- Nothing wrote this table before this migration; should rows exist, the newest of each key stays.
UPDATE mlops.predictions SET entity = '' WHERE entity IS NULL;
UPDATE mlops.predictions SET model_version = 0 WHERE model_version IS NULL;
DELETE FROM mlops.predictions a USING mlops.predictions b
  WHERE a.pipeline = b.pipeline AND a.entity = b.entity AND a.ts = b.ts AND a.model_version = b.model_version AND a.id < b.id;
ALTER TABLE mlops.predictions ALTER COLUMN entity SET NOT NULL, ALTER COLUMN model_version SET NOT NULL;
CREATE UNIQUE INDEX predictions_one_per_row ON mlops.predictions (pipeline, entity, ts, model_version);
