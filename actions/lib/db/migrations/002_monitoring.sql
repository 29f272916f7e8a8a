-- Monitoring (drift, health rules, alerts, triggered retrains). Rows are appended and updated, never deleted.

-- One drift report per pipeline and compared window: re-running a day's check (same --as-of)
-- updates its report instead of adding a second one.
CREATE UNIQUE INDEX drift_reports_per_window ON mlops.drift_reports (pipeline, current_start, current_end);
CREATE INDEX drift_reports_pipeline_time ON mlops.drift_reports (pipeline, current_end DESC);

-- A dispatch is claimed (pending) under a lock, then dispatched, printed (no-token) or failed.
-- The cooldown counts every outcome but a failed delivery, so a transient error is retried next run.
ALTER TABLE mlops.retrain_dispatches
  ADD COLUMN outcome text NOT NULL DEFAULT 'dispatched' CHECK (outcome IN ('pending', 'dispatched', 'no-token', 'failed')),
  ADD COLUMN trigger text,
  ADD COLUMN error text;
UPDATE mlops.retrain_dispatches SET outcome = CASE WHEN delivered THEN 'dispatched' ELSE 'no-token' END;
CREATE INDEX retrain_dispatches_pipeline_time ON mlops.retrain_dispatches (pipeline, dispatched_at DESC);

CREATE INDEX alerts_pipeline_rule ON mlops.alerts (pipeline, rule, last_seen DESC);
