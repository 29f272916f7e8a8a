-- The tracking store of the pipeline (DESIGN §5). Rows are appended and updated, never deleted.

CREATE TABLE mlops.model_artifacts (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes       bytea NOT NULL,
  size        integer NOT NULL,
  media_type  text NOT NULL DEFAULT 'application/x-onnx',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mlops.training_runs (
  run_id            text PRIMARY KEY,
  pipeline          text NOT NULL,
  status            text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  decision          text CHECK (decision IN ('promote', 'reject', 'skip')),
  reasons           jsonb NOT NULL DEFAULT '[]',
  trigger           text NOT NULL DEFAULT 'manual',
  trigger_reason    text,
  forced            boolean NOT NULL DEFAULT false,
  as_of             timestamptz NOT NULL,
  data_start        timestamptz,
  data_end          timestamptz,
  data_rows         integer,
  fingerprint       text,
  trainer           text,
  params            jsonb,
  feature_spec      jsonb,
  metrics           jsonb,
  stage_timings     jsonb NOT NULL DEFAULT '{}',
  artifact_sha256   text REFERENCES mlops.model_artifacts (sha256),
  code_sha          text,
  workflow_run_url  text,
  run_dir           text,
  error             text,
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz
);
CREATE INDEX training_runs_pipeline_started ON mlops.training_runs (pipeline, started_at DESC);

CREATE TABLE mlops.evaluations (
  run_id          text PRIMARY KEY REFERENCES mlops.training_runs (run_id),
  pipeline        text NOT NULL,
  decision        text NOT NULL CHECK (decision IN ('promote', 'reject', 'skip')),
  forced          boolean NOT NULL DEFAULT false,
  primary_metric  text NOT NULL,
  champion        jsonb,
  challenger      jsonb,
  baseline        jsonb,
  gates           jsonb NOT NULL DEFAULT '[]',
  holdout_rows    integer,
  holdout_start   timestamptz,
  holdout_end     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- The seed's performance history table, one row per run.
CREATE TABLE mlops.model_performance (
  id             bigserial PRIMARY KEY,
  run_id         text NOT NULL UNIQUE REFERENCES mlops.training_runs (run_id),
  model_type     text NOT NULL,
  model_name     text NOT NULL,
  rmse_val       double precision,
  mae_val        double precision,
  rmse_train     double precision,
  promoted       smallint NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1)),
  training_date  timestamptz NOT NULL,
  data_start     timestamptz,
  data_end       timestamptz
);
CREATE INDEX model_performance_model_date ON mlops.model_performance (model_name, training_date DESC);

CREATE TABLE mlops.deployments (
  id                bigserial PRIMARY KEY,
  model             text NOT NULL,
  version           integer NOT NULL,
  sha256            text NOT NULL,
  git_sha           text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('deploy', 'rollback', 'retire')),
  previous_version  integer,
  run_id            text,
  deployed_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model, git_sha)
);
CREATE INDEX deployments_model_time ON mlops.deployments (model, id DESC);

CREATE TABLE mlops.quality_checks (
  id            bigserial PRIMARY KEY,
  pipeline      text NOT NULL,
  run_id        text,
  check_name    text NOT NULL,
  column_name   text,
  value         double precision,
  threshold     double precision,
  passed        boolean NOT NULL,
  details       jsonb NOT NULL DEFAULT '{}',
  window_start  timestamptz,
  window_end    timestamptz,
  checked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quality_checks_pipeline_time ON mlops.quality_checks (pipeline, checked_at DESC);
-- A re-run of the same run id updates its checks in place instead of adding or deleting rows.
CREATE UNIQUE INDEX quality_checks_per_run ON mlops.quality_checks (run_id, check_name, (COALESCE(column_name, ''))) WHERE run_id IS NOT NULL;

CREATE TABLE mlops.drift_reports (
  id               bigserial PRIMARY KEY,
  pipeline         text NOT NULL,
  model_version    integer,
  reference_start  timestamptz,
  reference_end    timestamptz,
  current_start    timestamptz,
  current_end      timestamptz,
  drifted_share    double precision NOT NULL,
  dataset_drift    boolean NOT NULL,
  features         jsonb NOT NULL,
  prediction       jsonb,
  report_md        text,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mlops.alerts (
  id            bigserial PRIMARY KEY,
  alert_key     text NOT NULL,
  pipeline      text NOT NULL,
  rule          text NOT NULL,
  severity      text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
  status        text NOT NULL CHECK (status IN ('open', 'resolved')),
  message       text NOT NULL,
  details       jsonb NOT NULL DEFAULT '{}',
  issue_number  integer,
  occurrences   integer NOT NULL DEFAULT 1,
  first_seen    timestamptz NOT NULL DEFAULT now(),
  last_seen     timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz
);
-- At most one open alert per key: repeated runs update it instead of adding rows.
CREATE UNIQUE INDEX alerts_one_open_per_key ON mlops.alerts (alert_key) WHERE status = 'open';

CREATE TABLE mlops.predictions (
  id             bigserial PRIMARY KEY,
  pipeline       text NOT NULL,
  model_version  integer,
  sha256         text,
  entity         text,
  ts             timestamptz NOT NULL,
  prediction     double precision,
  scored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX predictions_pipeline_ts ON mlops.predictions (pipeline, ts);

-- Retrains dispatched by drift or health rules, for the cooldown.
CREATE TABLE mlops.retrain_dispatches (
  id             bigserial PRIMARY KEY,
  pipeline       text NOT NULL,
  reason         text NOT NULL,
  dispatched_at  timestamptz NOT NULL DEFAULT now(),
  delivered      boolean NOT NULL
);
