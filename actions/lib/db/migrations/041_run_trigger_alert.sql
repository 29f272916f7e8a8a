-- The alert that dispatched a retrain (issue #11.11): its id in mlops.alerts and its issue's URL,
-- carried from the repository_dispatch through the run into the promotion pull request, so that
-- the deploy of that promotion can close the alert. NULL for runs no alert started.
ALTER TABLE mlops.training_runs
  ADD COLUMN trigger_alert_id bigint,
  ADD COLUMN trigger_alert_issue text;
-- and which alert a dispatch was sent for
ALTER TABLE mlops.retrain_dispatches
  ADD COLUMN alert_id bigint;
