-- Online serving (issue #13): the model server logs every prediction it serves to mlops.predictions,
-- beside the batch scoring's rows, and counts its requests per minute for the 5-minute alert sweep.

-- Where a prediction came from: the batch scoring job (`mlops score`) or the model server. An online
-- row records the request (its id, the time the model took, a sha256 of the row's inputs) and the
-- class it answered at the model's threshold (classification). Online rows are a log, appended as
-- served: two requests for one entity and time, or one key asked twice, are two rows.
ALTER TABLE mlops.predictions
  ADD COLUMN origin text NOT NULL DEFAULT 'batch' CHECK (origin IN ('batch', 'online')),
  ADD COLUMN request_id text,
  ADD COLUMN latency_ms double precision,
  ADD COLUMN inputs_hash text,
  ADD COLUMN predicted_label smallint;

-- The batch scoring's upserts stay one row per (pipeline, entity, ts, version), or per (pipeline,
-- row_key, version) for keyed rows, among BATCH rows only, so online rows never collide with them.
DROP INDEX mlops.predictions_one_per_row;
DROP INDEX mlops.predictions_one_per_key;
CREATE UNIQUE INDEX predictions_one_per_row ON mlops.predictions (pipeline, entity, ts, model_version) WHERE row_key IS NULL AND origin = 'batch';
CREATE UNIQUE INDEX predictions_one_per_key ON mlops.predictions (pipeline, row_key, model_version) WHERE row_key IS NOT NULL AND origin = 'batch';
CREATE INDEX predictions_online_served ON mlops.predictions (pipeline, scored_at) WHERE origin = 'online';
CREATE INDEX predictions_row_key ON mlops.predictions (pipeline, row_key) WHERE row_key IS NOT NULL;

-- Requests the model server answered, per model, version and minute: successes, refused inputs
-- (4xx) and failures (5xx). The sweep computes error rates from it; one server adds to a minute's
-- row on every flush, several servers add to the same row.
CREATE TABLE mlops.serving_requests (
  pipeline       text NOT NULL,
  model_version  integer NOT NULL,
  minute         timestamptz NOT NULL,
  requests       bigint NOT NULL DEFAULT 0,
  client_errors  bigint NOT NULL DEFAULT 0,
  server_errors  bigint NOT NULL DEFAULT 0,
  rows_scored    bigint NOT NULL DEFAULT 0,
  latency_ms_sum double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (pipeline, model_version, minute)
);
