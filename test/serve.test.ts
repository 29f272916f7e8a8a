import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDbPgliteWorker, freshDatabase } from './helpers/db.ts';
import { classifierMetrics, linearModel, ScratchRepo } from './helpers/onnx-models.ts';
import { startMlops, waitUntil } from './helpers/cli.ts';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { startModelServer, type ModelServer } from '../actions/lib/serve/index.ts';
import { writePredictions } from '../actions/lib/score/write.ts';
import { train } from '../actions/lib/train/index.ts';
import { predictLogistic, type LogisticModel } from '../actions/lib/train/logistic.ts';
import { pipelineSchema, type PipelineConfig } from '../actions/lib/config/schema.ts';
import { runSweep } from '../actions/lib/monitoring/sweep.ts';
import { DatabaseBusyError, openDb, openMigratedDb, type Db } from '../actions/lib/db/index.ts';
import { DEPLOYMENTS_CHANNEL } from '../actions/lib/tracking/deployments.ts';
import type { RegressionEntry } from '../actions/lib/registry/schema.ts';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';

/**
 * The model server for real: a scratch repository with promotions merged the GitOps way, deploys
 * recorded in the database, the server on a free port reading the deployed commits from its own
 * clone, and plain HTTP requests against it.
 */

const PUMP = 'pump-efficiency';
const PUMP_V1_MERGED = '2026-11-29T10:15:00.000Z';
const CREDIT = 'credit-default';

// Pump: raw flow and speed (z-scored with recorded statistics) and the hour of the day.
const PUMP_NAMES = ['inflow_m3h', 'pump_speed_rpm', 'hour_sin', 'hour_cos'];
const PUMP_STATS = { version: 1, names: ['inflow_m3h', 'pump_speed_rpm'], mean: [400, 1500], std: [50, 200] };
const PUMP_SPEC = {
  version: 1,
  time_column: 'ts',
  entity_column: 'station_id',
  interval_minutes: 1,
  columns: ['inflow_m3h', 'pump_speed_rpm'],
  raw: true,
  lags: [],
  rolling: { windows: [], stats: [] },
  zscore: true,
  calendar: ['hour_of_day'],
  target: { column: 'efficiency', horizon_minutes: 0, valid_range: null },
  zscore_stats: PUMP_STATS,
};
const pumpWeights = (version: number): number[] => [0.1 * version, -0.05, 0.02, 0.03];
const pumpBias = (version: number): number => 0.5 + version;

/** What the pump model of `version` says for a row, computed here from its weights. */
function pumpExpected(version: number, inflow: number, speed: number, ts: string): number {
  const w = pumpWeights(version);
  const t = Date.parse(ts);
  const phase = 2 * Math.PI * ((t % 86_400_000) / 86_400_000);
  return (w[0] * (inflow - 400)) / 50 + (w[1] * (speed - 1500)) / 200 + w[2] * Math.sin(phase) + w[3] * Math.cos(phase) + pumpBias(version);
}

function pumpEntry(version: number): { onnx: Uint8Array; entry: Partial<RegressionEntry> } {
  const onnx = linearModel({ weights: pumpWeights(version), bias: pumpBias(version), featureNames: PUMP_NAMES });
  return { onnx, entry: { features: { names: PUMP_NAMES, spec: PUMP_SPEC }, pipeline: `pipelines/${PUMP}.yaml` } };
}

// Credit: income and a one-hot region, a logistic regression trained here on a small sample.
const REGIONS = ['north', 'south'];
const CREDIT_NAMES = ['income', 'region=north', 'region=south'];
const CREDIT_SPEC = {
  version: 1,
  time_column: 'applied_at',
  entity_column: null,
  interval_minutes: 1,
  columns: ['income'],
  raw: true,
  lags: [],
  rolling: { windows: [], stats: [] },
  zscore: false,
  calendar: [],
  target: { column: 'defaulted', horizon_minutes: 0, valid_range: null },
  task: 'classification',
  decision_threshold: 0.3,
  categorical: [{ column: 'region', categories: REGIONS, max_categories: 20, min_frequency: 1 }],
  zscore_stats: null,
};

async function creditModel(): Promise<{ onnx: Uint8Array; model: LogisticModel }> {
  const rows = 400;
  const values = new Float32Array(rows * 3);
  const target = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const income = 1 + (i % 20) / 4;
    const north = i % 3 === 0 ? 1 : 0;
    values.set([income, north, 1 - north], i * 3);
    target[i] = income < 2.5 + north ? 1 : 0;
  }
  const m: FeatureMatrix = {
    rows,
    names: CREDIT_NAMES,
    values,
    target,
    times: Float64Array.from({ length: rows }, (_, i) => i * 60_000),
    entities: new Int32Array(rows),
    entityIds: [''],
  };
  const art = await train({ algorithm: 'logistic', params: {} }, m, {
    model_name: CREDIT,
    training_window: { start: '2026-01-01T00:00:00Z', end: '2026-06-01T00:00:00Z' },
    data_fingerprint: `sha256:${'d'.repeat(64)}`,
    classification: { decision_threshold: 0.3 },
  });
  return { onnx: art.onnx, model: art.model as LogisticModel };
}

function creditEntry(): Record<string, unknown> {
  return {
    task: 'classification',
    decision_threshold: 0.3,
    ...classifierMetrics(),
    labels: { table: 'loan_outcomes', labelled_rows: 1800, coverage: 0.9 },
    trainer: { algorithm: 'logistic', params: {} },
    features: { names: CREDIT_NAMES, spec: CREDIT_SPEC },
    pipeline: `pipelines/${CREDIT}.yaml`,
  };
}

const CREDIT_YAML = 'name: credit-default\nsource:\n  table: loan_applications\n  time_column: applied_at\n  key_column: application_id\n';

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

// PGlite on a worker thread, as `mlops serve` runs it.
describeDbPgliteWorker('the model server', ({ db, backend, fresh }) => {
  let repo: ScratchRepo;
  let serverClone: string;
  let server: ModelServer;
  let credit: { onnx: Uint8Array; model: LogisticModel };
  let pumpV1Merge = '';
  let served200 = 0;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(server.url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* Prometheus text */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const predict = async (model: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const a = await call('POST', `/v1/models/${model}/predict`, body, headers);
    if (a.status === 200) served200++;
    return a;
  };
  const waitFor = async (what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    repo = ScratchRepo.create('mlops-serve-');
    credit = await creditModel();
    repo.commitToMain({ [`pipelines/${CREDIT}.yaml`]: CREDIT_YAML }, 'Add the credit pipeline');
    // merged at a time of its own, days after the run's as-of that the entry's promoted_at carries
    pumpV1Merge = repo.promote(PUMP, 1, 1, { ...pumpEntry(1), mergedAt: PUMP_V1_MERGED });
    repo.promote(CREDIT, 1, 2, { onnx: credit.onnx, entry: creditEntry() as Partial<RegressionEntry> });
    await deploy(db(), repo.work);
    // The server reads from a clone of its own: later deploys' commits reach it by fetching origin.
    serverClone = join(repo.root, 'server-clone');
    execFileSync('git', ['clone', '--quiet', repo.origin, serverClone]);
    server = await startModelServer({ db: db(), repoDir: serverClone, port: 0, pollMs: 100, logFlushMs: 50, bodyLimit: 64 * 1024 });
  });
  afterAll(async () => {
    await server?.close();
    repo?.cleanup();
  });

  it('answers /health and /ready, and honours or generates the request id', async () => {
    const health = await call('GET', '/health', undefined, { 'x-request-id': 'req-health-1' });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    expect(health.headers.get('x-request-id')).toBe('req-health-1');
    const ready = await call('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.models).toEqual([
      { model: CREDIT, deployed: 1, serving: 1, problem: null },
      { model: PUMP, deployed: 1, serving: 1, problem: null },
    ]);
    expect(ready.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // An unsafe id (spaces, too long) is replaced, never echoed.
    const unsafe = await call('GET', '/health', undefined, { 'x-request-id': 'x'.repeat(200) });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lists the deployed models with version, run, sha256, metrics and trained window', async () => {
    const list = await call('GET', '/v1/models');
    expect(list.status).toBe(200);
    expect(list.body.models.map((m: { name: string; version: number }) => `${m.name} v${m.version}`)).toEqual([`${CREDIT} v1`, `${PUMP} v1`]);
    const reg = repo.registry();
    const pump = await call('GET', `/v1/models/${PUMP}`);
    expect(pump.body).toMatchObject({
      name: PUMP,
      version: 1,
      task: 'regression',
      run_id: reg.models[PUMP].run_id,
      sha256: reg.models[PUMP].artifact.sha256,
      deployment: 'deploy',
      metrics: reg.models[PUMP].metrics,
      trained_window: { start: reg.models[PUMP].data.start, end: reg.models[PUMP].data.end, rows: reg.models[PUMP].data.rows },
      // promoted = the merge (the deploy's record), not the entry's training-time promoted_at
      promoted_at: PUMP_V1_MERGED,
      features: PUMP_NAMES,
      inputs: { numeric: ['inflow_m3h', 'pump_speed_rpm'], time: 'ts', timeRequired: true, entity: 'station_id' },
    });
    const c = await call('GET', `/v1/models/${CREDIT}`);
    expect(c.body).toMatchObject({
      task: 'classification',
      decision_threshold: 0.3,
      inputs: { categorical: ['region'], key: 'application_id', timeRequired: false },
    });
    const unknown = await call('GET', '/v1/models/no-such-model');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'unknown_model', message: `no deployed model "no-such-model" (serving: ${CREDIT}, ${PUMP})` });
  });

  it('predicts one or many regression rows with the recorded z-score statistics and calendar features', async () => {
    const rows = [
      { ts: '2026-11-30T06:00:00Z', station_id: 'S1', inflow_m3h: 420, pump_speed_rpm: 1450 },
      { ts: '2026-11-30T18:30:00Z', station_id: 'S2', inflow_m3h: 380.5, pump_speed_rpm: 1620, unused_column: 'ignored' },
      { ts: Date.parse('2026-12-01T00:15:00Z'), station_id: 'S1', inflow_m3h: 410, pump_speed_rpm: null },
    ];
    const one = await predict(PUMP, { rows: [rows[0]] }, { 'x-request-id': 'req-pump-1' });
    expect(one.status).toBe(200);
    expect(one.headers.get('x-request-id')).toBe('req-pump-1');
    expect(one.body).toMatchObject({ model: PUMP, version: 1, task: 'regression', request_id: 'req-pump-1' });
    expect(one.body.predictions[0].prediction).toBeCloseTo(pumpExpected(1, 420, 1450, '2026-11-30T06:00:00Z'), 5);

    const many = await predict(PUMP, { rows });
    expect(many.status).toBe(200);
    expect(many.body.predictions).toHaveLength(3);
    expect(many.body.predictions[0].prediction).toBeCloseTo(pumpExpected(1, 420, 1450, '2026-11-30T06:00:00Z'), 5);
    expect(many.body.predictions[1].prediction).toBeCloseTo(pumpExpected(1, 380.5, 1620, '2026-11-30T18:30:00Z'), 5);
    // A missing reading (null) is NaN for the model, as in training: a linear model answers NaN -> null.
    expect(many.body.predictions[2]).toEqual({ prediction: null });
  });

  it("predicts a classifier's positive-class probability and its label at the threshold, one-hot encoding the category", async () => {
    const rows = [
      { application_id: 'A-1', income: 1.2, region: 'north' },
      { application_id: 'A-2', income: 5.5, region: 'south' },
      { application_id: 'A-3', income: 2.0, region: 'atlantis' }, // unseen in training: all zeros
      { row_key: 'A-4', income: 3.0, region: null }, // missing: NaN
    ];
    const res = await predict(CREDIT, { rows });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: CREDIT, task: 'classification', decision_threshold: 0.3 });
    const X = new Float32Array([1.2, 1, 0, 5.5, 0, 1, 2.0, 0, 0, 3.0, Number.NaN, Number.NaN]);
    const native = predictLogistic(credit.model, X, 4);
    for (let i = 0; i < 3; i++) {
      expect(res.body.predictions[i].probability).toBeCloseTo(native[i], 5);
      expect(res.body.predictions[i].label).toBe(native[i] >= 0.3 ? 1 : 0);
    }
    expect(new Set(res.body.predictions.slice(0, 2).map((p: { label: number }) => p.label))).toEqual(new Set([0, 1]));
  });

  it('refuses bad input with 400 naming the field (413 for an oversized body), never 500', async () => {
    const good = { ts: '2026-11-30T06:00:00Z', inflow_m3h: 420, pump_speed_rpm: 1450 };
    const cases: [string, () => Promise<Answer>, number, string, RegExp][] = [
      ['malformed JSON', () => predict(PUMP, '{"rows": [ {"inflow_m3h": 1,,}'), 400, 'invalid_json', /not valid JSON/],
      ['empty body', () => predict(PUMP, ''), 400, 'invalid_json', /empty/],
      ['not an object', () => predict(PUMP, '[1, 2]'), 400, 'invalid_input', /expected a JSON object/],
      ['no rows', () => predict(PUMP, { rows: [] }), 400, 'invalid_input', /rows: expected at least one row/],
      [
        'wrong type',
        () => predict(PUMP, { rows: [good, { ...good, inflow_m3h: '420' }] }),
        400,
        'invalid_input',
        /rows\[1\]\.inflow_m3h: expected a number or null/,
      ],
      [
        'missing feature',
        () => predict(PUMP, { rows: [{ ts: good.ts, inflow_m3h: 1 }] }),
        400,
        'invalid_input',
        /rows\[0\]\.pump_speed_rpm: missing model input/,
      ],
      ['missing time for calendar features', () => predict(PUMP, { rows: [{ inflow_m3h: 1, pump_speed_rpm: 2 }] }), 400, 'invalid_input', /rows\[0\]\.ts: /],
      ['bad time', () => predict(PUMP, { rows: [{ ...good, ts: 'yesterday' }] }), 400, 'invalid_input', /rows\[0\]\.ts: expected an ISO 8601 time/],
      [
        'category as a number',
        () => predict(CREDIT, { rows: [{ income: 1, region: 7 }] }),
        400,
        'invalid_input',
        /rows\[0\]\.region: expected a string or null/,
      ],
      ['oversized body', () => predict(PUMP, { rows: Array.from({ length: 2000 }, () => good) }), 413, 'body_too_large', /over the limit of 65536 bytes/],
      ['unknown model', () => predict('no-such-model', { rows: [good] }), 404, 'unknown_model', /no deployed model "no-such-model"/],
      [
        'not JSON',
        () => call('POST', `/v1/models/${PUMP}/predict`, 'inflow=1', { 'content-type': 'text/plain' }),
        415,
        'unsupported_media_type',
        /application\/json/,
      ],
      ['unknown route', () => call('GET', '/v2/nothing'), 404, 'not_found', /no route GET \/v2\/nothing/],
    ];
    for (const [what, send, status, error, message] of cases) {
      const res = await send();
      expect({ what, status: res.status, error: res.body.error }).toEqual({ what, status, error });
      expect(res.body.message, what).toMatch(message);
      expect(res.body.request_id, what).toBe(res.headers.get('x-request-id'));
    }
  });

  it("logs every served prediction to mlops.predictions off the request path, beside batch scoring's upserts", async () => {
    await predict(
      CREDIT,
      { rows: [{ application_id: 'A-9', income: 2.2, region: 'south', applied_at: '2026-11-30T10:00:00Z' }] },
      { 'x-request-id': 'req-credit-9' },
    );
    await server.predictionLog!.flush();
    const { rows } = await db().query<{
      pipeline: string;
      model_version: number;
      row_key: string | null;
      entity: string;
      ts: Date;
      prediction: number;
      predicted_label: number;
      request_id: string;
      latency_ms: number;
      inputs_hash: string;
      origin: string;
      sha256: string;
    }>("SELECT * FROM mlops.predictions WHERE request_id = 'req-credit-9'");
    expect(rows).toHaveLength(1);
    const reg = repo.registry();
    expect(rows[0]).toMatchObject({
      pipeline: CREDIT,
      model_version: 1,
      row_key: 'A-9',
      entity: '',
      origin: 'online',
      sha256: reg.models[CREDIT].artifact.sha256,
    });
    expect(new Date(rows[0].ts).toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(rows[0].latency_ms).toBeGreaterThan(0);
    expect(rows[0].inputs_hash).toMatch(/^[0-9a-f]{64}$/);
    expect([0, 1]).toContain(Number(rows[0].predicted_label));

    const counts = await db().query<{ online: number; requests: number }>(
      "SELECT (SELECT count(*)::int FROM mlops.predictions WHERE origin = 'online') AS online, (SELECT sum(requests)::int FROM mlops.serving_requests) AS requests",
    );
    expect(counts.rows[0].online).toBe(1 + 3 + 4 + 1); // every row of every successful predict so far

    // Batch scoring of the same keyed row and model version upserts its own row: online rows never collide with it.
    const batch = {
      pipeline: CREDIT,
      modelVersion: 1,
      sha256: reg.models[CREDIT].artifact.sha256,
      rows: 1,
      times: new Float64Array([Date.parse('2026-11-30T10:00:00Z')]),
      entities: new Int32Array([0]),
      entityIds: [''],
      keys: ['A-9'],
      predictions: new Float32Array([0.25]),
    };
    expect(await writePredictions(db(), batch)).toBe(1);
    expect(await writePredictions(db(), { ...batch, predictions: new Float32Array([0.5]) })).toBe(1);
    const keyed = await db().query<{ origin: string; prediction: number }>(
      "SELECT origin, prediction FROM mlops.predictions WHERE row_key = 'A-9' ORDER BY origin",
    );
    expect(keyed.rows.map((r) => [r.origin, Number(r.prediction.toFixed(4))])).toEqual([
      ['batch', 0.5],
      ['online', Number(rows[0].prediction.toFixed(4))],
    ]);
    // Two online requests for the same entity and time are two rows of the log.
    const same = { rows: [{ ts: '2026-11-30T06:00:00Z', station_id: 'S1', inflow_m3h: 420, pump_speed_rpm: 1450 }] };
    await predict(PUMP, same);
    await predict(PUMP, same);
    await server.predictionLog!.flush();
    const dup = await db().query<{ n: number }>(
      "SELECT count(*)::int AS n FROM mlops.predictions WHERE pipeline = $1 AND entity = 'S1' AND ts = '2026-11-30T06:00:00Z' AND origin = 'online'",
      [PUMP],
    );
    expect(dup.rows[0].n).toBe(4);
  });

  it('serves Prometheus metrics that the reference parser (prometheus_client) reads', async () => {
    await server.refresh();
    const res = await call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const parsed = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out, fams = [], {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    fams[fam.name] = fam.type
    for s in fam.samples:
        out.append([fam.name, fam.type, s.name, s.labels, s.value])
print(json.dumps({"families": fams, "samples": out}))
`,
      ],
      { input: res.body as string, encoding: 'utf8' },
    );
    expect(parsed.stderr).toBe('');
    const { families, samples } = JSON.parse(parsed.stdout) as {
      families: Record<string, string>;
      samples: [string, string, string, Record<string, string>, number][];
    };
    const value = (name: string, labels: Record<string, string>): number | undefined =>
      samples.find(([, , n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v))?.[4];
    const types = new Map(Object.entries(families));
    expect(types.get('mlops_serve_requests')).toBe('counter');
    expect(types.get('mlops_serve_request_duration_seconds')).toBe('histogram');
    expect(types.get('mlops_serve_prediction_probability')).toBe('histogram');
    const ok = samples.filter(([, , n, l]) => n === 'mlops_serve_requests_total' && l.status === '200').reduce((s, x) => s + x[4], 0);
    expect(ok).toBe(served200);
    expect(value('mlops_serve_requests_total', { model: PUMP, version: '1', status: '400' })).toBe(8);
    expect(value('mlops_serve_requests_total', { model: PUMP, version: '1', status: '413' })).toBe(1);
    expect(value('mlops_serve_requests_total', { model: PUMP, version: '1', status: '415' })).toBe(1);
    expect(value('mlops_serve_request_duration_seconds_count', { model: PUMP, version: '1' })).toBeGreaterThan(0);
    expect(value('mlops_serve_prediction_probability_count', { model: CREDIT, version: '1' })).toBe(4 + 1);
    expect(value('mlops_model_info', { model: PUMP, version: '1', sha256: repo.registry().models[PUMP].artifact.sha256, task: 'regression' })).toBe(1);
    expect(value('mlops_model_deployed_timestamp_seconds', { model: CREDIT })).toBeGreaterThan(1.7e9);
    expect(value('mlops_serve_model_ready', { model: PUMP })).toBe(1);
    expect(value('mlops_prediction_log_written_total', {})).toBeGreaterThan(0);
    expect(types.get('mlops_alerts_open')).toBe('gauge');
  });

  it('the sweep raises serving-errors from the refused requests and missing-predictions for a silent model, with the alert lifecycle', async () => {
    const config = (name: string, sweep: object): PipelineConfig =>
      pipelineSchema.parse({
        name,
        source: { table: 'readings_wide', columns: ['inflow_m3h'] },
        target: { column: 'inflow_m3h', horizon_minutes: 60 },
        trainer: { algorithm: 'ridge' },
        sweep,
      });
    const now = new Date(Date.now() + 60_000);
    const pipelines = [config(PUMP, { min_requests: 5, max_error_rate: 0.2 }), config(CREDIT, { min_requests: 1000, max_silence_minutes: 5 })];
    const first = await runSweep(db(), pipelines, { asOf: now });
    const byKey = new Map(first.rules.map((r) => [`${r.pipeline}/${r.rule}`, r]));
    expect(byKey.get(`${PUMP}/serving-errors`)).toMatchObject({ status: 'firing', severity: 'warning', details: { client_errors: 10, server_errors: 0 } });
    expect(byKey.get(`${CREDIT}/serving-errors`)?.status).toBe('ok'); // too few requests to judge
    expect(byKey.get(`${CREDIT}/missing-predictions`)?.status).toBe('ok');
    expect(first.alerts.filter((a) => a.outcome !== 'unchanged').map((a) => `${a.key}:${a.outcome}`)).toEqual([`${PUMP}/serving-errors:opened`]);
    // Ten minutes later nothing was served: the errors are out of the window, the credit model is silent.
    const later = await runSweep(db(), pipelines, { asOf: new Date(now.getTime() + 10 * 60_000) });
    expect(
      later.alerts
        .filter((a) => a.outcome !== 'unchanged')
        .map((a) => `${a.key}:${a.outcome}`)
        .sort(),
    ).toEqual([`${CREDIT}/missing-predictions:opened`, `${PUMP}/serving-errors:resolved`]);
    const open = await db().query<{ alert_key: string }>("SELECT alert_key FROM mlops.alerts WHERE status = 'open' ORDER BY alert_key");
    expect(open.rows.map((r) => r.alert_key)).toEqual([`${CREDIT}/missing-predictions`]);
  });

  it('swaps to a newly deployed version under load with zero failed requests, and follows a rollback by git revert', async () => {
    const body = { rows: [{ ts: '2026-11-30T06:00:00Z', station_id: 'S1', inflow_m3h: 420, pump_speed_rpm: 1450 }] };
    const seen = new Map<number, number>();
    const failures: string[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const res = await fetch(`${server.url}/v1/models/${PUMP}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const json = (await res.json()) as { version: number; predictions: { prediction: number }[] };
        if (res.status !== 200) failures.push(`${res.status} ${JSON.stringify(json)}`);
        else {
          seen.set(json.version, (seen.get(json.version) ?? 0) + 1);
          // each answer is exactly its version's prediction: never a mix of two versions
          if (Math.abs(json.predictions[0].prediction - pumpExpected(json.version, 420, 1450, body.rows[0].ts)) > 1e-4)
            failures.push(`v${json.version} answered ${json.predictions[0].prediction}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 3 }, worker));
    try {
      await waitFor('requests under load', async () => (seen.get(1) ?? 0) > 10);
      const v2Merge = repo.promote(PUMP, 2, 3, pumpEntry(2));
      await deploy(db(), repo.work);
      await waitFor('v2 to serve', async () => (seen.get(2) ?? 0) > 10);
      // Roll back: revert the promotion's merge on main, deploy (recorded as a rollback).
      repo.revertMerge(v2Merge);
      const rolled = await deploy(db(), repo.work);
      expect(rolled.recorded).toMatchObject([{ model: PUMP, kind: 'rollback', version: 1, previous_version: 2 }]);
      const before = seen.get(1)!;
      await waitFor('v1 to serve again', async () => (seen.get(1) ?? 0) > before + 10);
    } finally {
      stop = true;
      await load;
    }
    expect(failures).toEqual([]);
    const now = await call('GET', `/v1/models/${PUMP}`);
    expect(now.body).toMatchObject({ version: 1, deployment: 'rollback' });
    expect(repo.git('show', '-s', '--format=%s', pumpV1Merge)).toContain('Merge pull request #1');
  });

  it('is not ready while no model is deployed, and says what to do', async () => {
    // an empty database of this suite's backend (on PostgreSQL, no PGlite booted in the process)
    const emptyDb = await freshDatabase(backend, { worker: true });
    const empty = await emptyDb.openMigrated();
    const idle = await startModelServer({ db: empty, repoDir: serverClone, port: 0, pollMs: 100, logFlushMs: 50 });
    try {
      const res = await fetch(`${idle.url}/ready`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        status: 'not ready',
        reason: 'no model is deployed yet: merge a promotion pull request and deploy it (the deploy workflow, or npm run mlops -- deploy)',
        models: [],
      });
      expect((await fetch(`${idle.url}/health`)).status).toBe(200);
    } finally {
      await idle.close();
      await empty.close();
      await emptyDb.drop();
    }
  });

  // On each backend: on PGlite (a directory) the process runs the database on a worker thread, which stops with it.
  it('npm run mlops -- serve starts, answers and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlops-serve-cli-'));
    try {
      let target: string[];
      if (backend === 'postgres') target = ['--database-url', fresh().url!];
      else {
        const { db: pg } = await openMigratedDb({ dataDir: join(dir, 'db'), ignoreEnv: true });
        await deploy(pg, repo.work);
        await pg.close();
        target = ['--data-dir', join(dir, 'db')];
      }
      const cli = startMlops(['serve', '--port', '0', '--repo', serverClone, '--poll-seconds', '0.2', ...target]);
      const started = Date.now();
      while (!/listening on (http:\/\/\S+)/.test(cli.stdout)) {
        if (cli.child.exitCode !== null || Date.now() - started > 60_000) throw new Error(`serve did not start: ${cli.stdout}${cli.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /listening on (http:\/\/\S+?)[ ;(]/.exec(cli.stdout)![1];
      expect(cli.stdout).toContain(`serving ${CREDIT} v1, ${PUMP} v1`);
      const res = await fetch(`${url}/v1/models/${CREDIT}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: [{ income: 2, region: 'north', application_id: 'cli-1' }] }),
      });
      expect(res.status).toBe(200);
      cli.child.kill('SIGTERM');
      const done = await cli.exited;
      expect(done.code).toBe(0);
      expect(done.stdout).toContain('mlops serve: stopped');
      // the prediction log was written before the process left
      const after = backend === 'postgres' ? db() : await openDb({ dataDir: join(dir, 'db'), ignoreEnv: true });
      const logged = await after.query<{ n: number }>("SELECT count(*)::int AS n FROM mlops.predictions WHERE row_key = 'cli-1' AND origin = 'online'");
      if (backend !== 'postgres') await after.close();
      expect(logged.rows[0].n).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never loads a version that fails verification: the old one keeps serving and /ready says why', async () => {
    // A registry commit on main whose v3 artifact is not the bytes its entry records (deploy itself
    // refuses it, so its deployment row is written as a deploy of another registry would write it).
    const v3 = pumpEntry(3);
    const reg = repo.registry();
    const entry = { ...reg.models[PUMP], ...v3.entry, version: 3, artifact: { ...reg.models[PUMP].artifact, path: `registry/models/${PUMP}/3/model.onnx` } };
    reg.models[PUMP] = entry as (typeof reg.models)[string];
    const { serializeRegistry } = await import('../actions/lib/registry/schema.ts');
    const sha = repo.commitToMain({ 'registry/production.json': serializeRegistry(reg), [`registry/models/${PUMP}/3/model.onnx`]: v3.onnx }, 'Tampered v3');
    await db().query("INSERT INTO mlops.deployments (model, version, sha256, git_sha, kind, previous_version) VALUES ($1, 3, $2, $3, 'deploy', 1)", [
      PUMP,
      entry.artifact.sha256,
      sha,
    ]);
    await waitFor('the failed load to show', async () => (await call('GET', '/ready')).status === 503);
    const ready = await call('GET', '/ready');
    const pump = ready.body.models.find((m: { model: string }) => m.model === PUMP);
    expect(pump).toMatchObject({ deployed: 3, serving: 1 });
    expect(pump.problem).toMatch(
      new RegExp(`${PUMP} v3: artifact registry/models/${PUMP}/3/model.onnx has sha256 [0-9a-f]{64} but the registry records ${entry.artifact.sha256}`),
    );
    const res = await predict(PUMP, { rows: [{ ts: '2026-11-30T06:00:00Z', inflow_m3h: 420, pump_speed_rpm: 1450 }] });
    expect(res.body.version).toBe(1);
    expect((await call('GET', '/metrics')).body).toMatch(new RegExp(`mlops_serve_model_load_failures_total\\{model="${PUMP}"\\} [1-9]`));
  });
});

/** A sample of a server's /metrics (Prometheus text), NaN when it has none. */
async function sample(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const prefix = `${name}${labels ? `{${labels}}` : ''} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : Number.NaN;
}

/** The version of the pump model a server answers with (undefined: it serves none). */
async function pumpVersion(url: string): Promise<number | undefined> {
  const res = await fetch(`${url}/v1/models/${PUMP}`);
  return res.status === 200 ? ((await res.json()) as { version: number }).version : undefined;
}

/**
 * A reload check held under way: a connection of its own (to `url`) holds mlops.alerts (a check
 * reads mlops.deployments, then the open alerts), and a signal check starts and is seen waiting on
 * that lock through `observer`. `end()` lets it go and closes that connection.
 */
async function heldCheck(server: ModelServer, url: string, observer: Db): Promise<{ first: Promise<unknown>; release: () => void; end: () => Promise<void> }> {
  const locker = await openDb({ url });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holding = locker.transaction(async (tx) => {
    await tx.query('LOCK TABLE mlops.alerts IN ACCESS EXCLUSIVE MODE');
    locked();
    await released;
  });
  const end = async (): Promise<void> => {
    release();
    await holding.catch(() => undefined);
    await locker.close();
  };
  try {
    await isLocked;
    const first = server.refresh('signal');
    await waitUntil('the check to wait on the lock', async () => {
      const r = await observer.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%mlops.alerts%'",
      );
      return r.rows[0].n > 0;
    });
    return { first, release, end };
  } catch (err) {
    await end();
    throw err;
  }
}

// With the poll ten minutes away, whatever loads a new version within the test is the NOTIFY (or SIGHUP).
describeDbPgliteWorker('the model server hears of a deploy at once', ({ db, backend, fresh }) => {
  let repo: ScratchRepo;
  let clone: string;
  const POLL_MS = 600_000;

  beforeAll(async () => {
    repo = ScratchRepo.create('mlops-serve-notify-');
    repo.promote(PUMP, 1, 1, pumpEntry(1));
    await deploy(db(), repo.work);
    clone = join(repo.root, 'server-clone');
    execFileSync('git', ['clone', '--quiet', repo.origin, clone]);
  });
  afterAll(() => repo?.cleanup());

  it('by NOTIFY when a deploy or a rollback by git revert commits (on PostgreSQL from a connection of its own)', async () => {
    const server = await startModelServer({ db: db(), repoDir: clone, port: 0, pollMs: POLL_MS, logFlushMs: null });
    // On PostgreSQL the deploy job's own connection; PGlite has one instance, this process's (see the SIGHUP test).
    const other = backend === 'postgres' ? await openDb({ url: fresh().url }) : db();
    try {
      expect(await pumpVersion(server.url)).toBe(1);
      expect(await sample(server.url, 'mlops_serve_deploy_listener_up')).toBe(1);
      const v2Merge = repo.promote(PUMP, 2, 2, pumpEntry(2));
      await deploy(other, repo.work);
      const committed = performance.now();
      await waitUntil('v2 to serve', async () => (await pumpVersion(server.url)) === 2);
      // a figure for people (fetch, verify, load included), not a bound: speed is measured by the bench
      console.info(`[${backend}] deploy committed -> v2 answering (NOTIFY): ${(performance.now() - committed).toFixed(0)} ms`);
      repo.revertMerge(v2Merge);
      expect((await deploy(other, repo.work)).recorded).toMatchObject([{ model: PUMP, kind: 'rollback', version: 1 }]);
      await waitUntil('v1 to serve again', async () => (await pumpVersion(server.url)) === 1);
      expect(await sample(server.url, 'mlops_serve_reloads_total', 'trigger="notify"')).toBe(2);
      expect(await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="poll"')).toBe(0);
      expect(await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="start"')).toBe(1);
    } finally {
      if (other !== db()) await other.close();
      await server.close();
    }
  });

  if (backend === 'postgres') {
    it('LISTENs again when pg_terminate_backend ends its connection, checks what it missed, and hears the next deploy', async () => {
      const lines: string[] = [];
      const server = await startModelServer({ db: db(), repoDir: clone, port: 0, pollMs: POLL_MS, logFlushMs: null, log: (l) => lines.push(l) });
      const other = await openDb({ url: fresh().url });
      const listening = async (): Promise<number[]> =>
        (
          await other.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND query = $1",
            [`LISTEN "${DEPLOYMENTS_CHANNEL}"`],
          )
        ).rows.map((r) => r.pid);
      try {
        const [first, ...more] = await listening();
        expect(more).toEqual([]);
        await other.query('SELECT pg_terminate_backend($1)', [first]);
        await waitUntil('the listener to connect again', async () => {
          const now = await listening();
          return now.length === 1 && now[0] !== first;
        });
        await waitUntil('the check after reconnecting', async () => (await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="reconnect"')) === 1);
        expect(await sample(server.url, 'mlops_serve_deploy_listener_up')).toBe(1);
        expect(lines.join('\n')).toMatch(
          /the deploy listener lost its connection \(the database connection was lost \(terminating connection due to administrator command\)\)/,
        );
        expect(lines.join('\n')).toContain(`listening for deploys (NOTIFY ${DEPLOYMENTS_CHANNEL}) again`);
        repo.promote(PUMP, 3, 3, pumpEntry(3));
        await deploy(other, repo.work);
        await waitUntil('v3 to serve', async () => (await pumpVersion(server.url)) === 3);
        expect(await sample(server.url, 'mlops_serve_reloads_total', 'trigger="notify"')).toBe(1);
        expect(await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="poll"')).toBe(0);
      } finally {
        await other.close();
        await server.close();
      }
    });

    it('a deploy announced while a check is under way gets a check of its own after it, never that older read', async () => {
      const server = await startModelServer({ db: db(), repoDir: clone, port: 0, pollMs: POLL_MS, logFlushMs: null });
      const deployer = await openDb({ url: fresh().url });
      const watcher = await openDb({ url: fresh().url });
      let held: Awaited<ReturnType<typeof heldCheck>> | undefined;
      try {
        const version = 5; // past the versions the other tests of this suite promote
        expect(await pumpVersion(server.url)).not.toBe(version);
        held = await heldCheck(server, fresh().url!, deployer);
        repo.promote(PUMP, version, version, pumpEntry(version));
        // Our own LISTEN hears the commit as the server's does; then the server has had time to ask for its check.
        let hear!: () => void;
        const heard = new Promise<void>((r) => (hear = r));
        await watcher.listen(DEPLOYMENTS_CHANNEL, () => hear()); // listening before the deploy commits
        await deploy(deployer, repo.work); // commits and NOTIFYs while the check holds its older read
        await heard;
        await new Promise((r) => setTimeout(r, 300));
        held.release();
        await held.first;
        // The check under way read the deployments before the deploy: only a check after it serves v5.
        await waitUntil(`v${version} to serve`, async () => (await pumpVersion(server.url)) === version, 15_000);
        expect(await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="notify"')).toBe(1);
        expect(await sample(server.url, 'mlops_serve_reload_checks_total', 'trigger="poll"')).toBe(0);
      } finally {
        await held?.end();
        await deployer.close();
        await watcher.close();
        await server.close();
      }
    });

    it('counts every trigger: those folded into the check queued behind a held one are counted as coalesced', async () => {
      const server = await startModelServer({ db: db(), repoDir: clone, port: 0, pollMs: POLL_MS, logFlushMs: null });
      const notifier = await openDb({ url: fresh().url });
      let held: Awaited<ReturnType<typeof heldCheck>> | undefined;
      try {
        held = await heldCheck(server, fresh().url!, notifier);
        // The first NOTIFY queues a check behind the held one; the next two and a poll fold into it.
        for (let i = 0; i < 3; i++) await notifier.query('SELECT pg_notify($1, $2)', [DEPLOYMENTS_CHANNEL, `probe ${i}`]);
        await waitUntil(
          'the NOTIFYs to be folded',
          async () => (await sample(server.url, 'mlops_serve_reload_checks_coalesced_total', 'trigger="notify"')) === 2,
        );
        const poll = server.refresh('poll');
        expect(await sample(server.url, 'mlops_serve_reload_checks_coalesced_total', 'trigger="poll"')).toBe(1);
        held.release();
        await Promise.all([held.first, poll]);
        const checks = Object.fromEntries(
          await Promise.all(
            ['start', 'signal', 'notify', 'poll'].map(async (t) => [t, await sample(server.url, 'mlops_serve_reload_checks_total', `trigger="${t}"`)]),
          ),
        );
        expect(checks).toEqual({ start: 1, signal: 1, notify: 1, poll: 0 });
        expect(await sample(server.url, 'mlops_serve_reload_checks_coalesced_total', 'trigger="notify"')).toBe(2);
        expect(await sample(server.url, 'mlops_serve_reload_checks_coalesced_total', 'trigger="signal"')).toBe(0);
      } finally {
        await held?.end();
        await notifier.close();
        await server.close();
      }
    });
  }

  if (backend === 'pglite') {
    it('mlops serve checks mlops.deployments on SIGHUP: on PGlite, where no other process can open the database to NOTIFY it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mlops-serve-hup-'));
      try {
        // The server's clone fetches from a mirror that has not got the deployed commit yet.
        const mirror = join(dir, 'mirror.git');
        execFileSync('git', ['clone', '--quiet', '--bare', repo.origin, mirror]);
        const mirrorClone = join(dir, 'clone');
        execFileSync('git', ['clone', '--quiet', mirror, mirrorClone]);
        repo.promote(PUMP, 3, 3, pumpEntry(3));
        const dataDir = join(dir, 'db');
        const { db: file } = await openMigratedDb({ dataDir, ignoreEnv: true });
        await deploy(file, repo.work);
        await file.close();

        const cli = startMlops(['serve', '--port', '0', '--repo', mirrorClone, '--poll-seconds', String(POLL_MS / 1000), '--data-dir', dataDir]);
        try {
          await waitUntil('serve to start', async () => {
            if (cli.child.exitCode !== null) throw new Error(`serve exited: ${cli.stdout}${cli.stderr}`);
            return /listening on http:\/\/\S+?[ ;(]/.test(cli.stdout);
          });
          const url = /listening on (http:\/\/\S+?)[ ;(]/.exec(cli.stdout)![1];
          expect(cli.stdout).toContain(`SIGHUP (pid ${cli.child.pid})`);
          expect(await pumpVersion(url)).toBeUndefined(); // v3's commit is not in its clone
          expect((await fetch(`${url}/ready`)).status).toBe(503);
          // No other process can write (or NOTIFY) this database while the server holds it.
          const busy = await openDb({ dataDir, ignoreEnv: true, waitMs: 0 }).catch((e: Error) => e);
          expect(busy).toBeInstanceOf(DatabaseBusyError);
          expect((busy as Error).message).toContain(`pid ${cli.child.pid} `);
          execFileSync('git', ['-C', repo.work, 'push', '--quiet', mirror, 'main']);
          cli.child.kill('SIGHUP');
          await waitUntil('v3 to serve', async () => (await pumpVersion(url)) === 3);
          expect((await fetch(`${url}/ready`)).status).toBe(200);
          expect(await sample(url, 'mlops_serve_reloads_total', 'trigger="signal"')).toBe(1);
          expect(await sample(url, 'mlops_serve_reload_checks_total', 'trigger="poll"')).toBe(0);
          expect(cli.stderr).toContain('mlops serve: SIGHUP: checking mlops.deployments now');
        } finally {
          cli.child.kill('SIGTERM');
        }
        const done = await cli.exited;
        expect(done.code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
