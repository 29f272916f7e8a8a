-- Crash safety of runs (issue #10). A run is worked on by one process at a time, which holds its
-- lease: who (lease_owner: machine/pid/process start; lease_host and lease_pid for people), when it
-- last showed it is alive (heartbeat_at) and until when the lease holds without a new heartbeat
-- (lease_expires_at). A `running` run whose process is gone (its pid died on this machine, or its
-- lease expired) is marked `abandoned` by the next retrain or the health check: finished_at says
-- when that was found, error says why, heartbeat_at when the run last showed signs of life.
ALTER TABLE mlops.training_runs DROP CONSTRAINT training_runs_status_check;
ALTER TABLE mlops.training_runs ADD CONSTRAINT training_runs_status_check
  CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned'));

ALTER TABLE mlops.training_runs
  ADD COLUMN lease_owner text,
  ADD COLUMN lease_host text,
  ADD COLUMN lease_pid integer,
  ADD COLUMN heartbeat_at timestamptz,
  ADD COLUMN lease_expires_at timestamptz;

-- Runs left running before leases existed get one that ran out two hours after they started.
UPDATE mlops.training_runs SET heartbeat_at = started_at, lease_expires_at = started_at + interval '2 hours'
  WHERE status = 'running';

CREATE INDEX training_runs_running ON mlops.training_runs (pipeline) WHERE status = 'running';
