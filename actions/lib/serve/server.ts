import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { predictedLabels, scoreSession } from '../onnx/score.ts';
import { describeRequestIssues } from '../score/request.ts';
import { PredictionLog, type ServedRow } from './log.ts';
import { listenForDeploys, type DeployListener } from './deploy-listener.ts';
import { ServeMetrics, type ReloadTrigger } from './metrics.ts';
import { ModelStore, type LoadedModel } from './models.ts';

/**
 * The model server (Fastify): the deployed champions behind a small HTTP API.
 *
 *   POST /v1/models/:name/predict   {"rows": [{...}, ...]} -> one prediction per row
 *   GET  /v1/models, /v1/models/:name   what serves: version, run, sha256, metrics, trained window
 *   GET  /health                     the process answers (liveness)
 *   GET  /ready                      every deployed model serves its deployed version (readiness)
 *   GET  /metrics                    Prometheus text format
 *
 * Bad input is a 400 naming the field (413 for a body over the limit, 404 for an unknown model),
 * never a 500. `X-Request-Id` is honoured (a safe value up to 128 characters) or generated, and
 * echoed on every response.
 *
 * How it learns of a deploy (deploy and rollback write a row in mlops.deployments, see ModelStore):
 * at once by LISTEN (recording a row NOTIFYs on commit: deploy-listener.ts), and by polling the
 * table every `pollMs` whatever happens to the listener; `refresh('signal')` is SIGHUP's (the
 * CLI's). Checks run one at a time; one asked for while another runs follows it, so a
 * notification that arrives during a check is never answered by a read older than its commit.
 * Those asked for while one is queued already are answered by it (and counted as coalesced).
 */

export interface ServeOptions {
  db: Db;
  /** a clone of the repository the deployments' commits are read from */
  repoDir: string;
  host?: string;
  /** 0: a free port */
  port?: number;
  /** how often mlops.deployments is polled for a new deploy or rollback (default 2000 ms), the fallback of LISTEN */
  pollMs?: number;
  /** LISTEN for deploys (default true); false: the poll (and refresh) alone */
  listen?: boolean;
  /** the largest request body, bytes (default 1 MiB) */
  bodyLimit?: number;
  /** the prediction log's flush interval (default 250 ms); null: predictions are not logged */
  logFlushMs?: number | null;
  /** run the alert sweep in this process every so often (null: never; the sweep workflow does it) */
  sweep?: { everyMs: number; run: () => Promise<void> } | null;
  log?: (line: string) => void;
}

export interface ModelServer {
  app: FastifyInstance;
  url: string;
  store: ModelStore;
  metrics: ServeMetrics;
  predictionLog: PredictionLog | null;
  /**
   * Checks the deployments table now (what the timer does every pollMs, a notification at once,
   * SIGHUP through the CLI), counted under `trigger` (default 'poll'); resolves when a check that
   * started after this call has finished.
   */
  refresh(trigger?: ReloadTrigger): Promise<void>;
  close(): Promise<void>;
}

const PREDICT_ROUTE = '/v1/models/:name/predict';
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

interface ErrorBody {
  error: string;
  message: string;
  issues?: string[];
  request_id: string;
}

function fail(reply: FastifyReply, request: FastifyRequest, status: number, error: string, message: string, issues?: string[]): FastifyReply {
  const body: ErrorBody = { error, message, ...(issues ? { issues } : {}), request_id: request.id };
  return reply.code(status).send(body);
}

/** What /v1/models says about one model. */
function describeModel(m: LoadedModel) {
  const e = m.entry;
  return {
    name: m.name,
    version: m.version,
    task: m.task,
    run_id: e.run_id,
    sha256: m.sha256,
    git_sha: m.gitSha,
    deployed_at: m.deployedAt,
    deployment: m.kind,
    loaded_at: m.loadedAt,
    decision_threshold: m.threshold,
    metrics: e.metrics,
    trained_window: { start: e.data.start, end: e.data.end, rows: e.data.rows },
    holdout: e.holdout,
    trainer: e.trainer.algorithm,
    promoted_at: m.promotedAt,
    pull_request: e.pull_request,
    inputs: m.encoder.fields,
    features: m.encoder.names,
  };
}

export async function startModelServer(options: ServeOptions): Promise<ModelServer> {
  const log = options.log ?? (() => undefined);
  const metrics = new ServeMetrics();
  const store = new ModelStore({ repoDir: options.repoDir, log });
  const predictionLog = options.logFlushMs === null ? null : new PredictionLog(options.db, metrics, { flushMs: options.logFlushMs ?? 250, log });

  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    logger: false,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });

  // Rows are JSON only: no text/plain body reaches a route as a string.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Every error becomes a JSON answer that says what is wrong; none is a bare 500.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const code = err.code ?? '';
    // A predict body refused before the route ran (not JSON, too large) counts as that model's refused request.
    const name = (request.params as { name?: unknown } | undefined)?.name;
    const model = request.routeOptions.url === PREDICT_ROUTE && typeof name === 'string' ? store.get(name) : undefined;
    if (model && !reply.sent) reply.raw.once('finish', () => countRequest(model, reply.statusCode, 0, 0));
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return fail(
        reply,
        request,
        413,
        'body_too_large',
        `the request body is over the limit of ${app.initialConfig.bodyLimit} bytes; send fewer rows per request`,
      );
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return fail(reply, request, 415, 'unsupported_media_type', 'send the rows as JSON (Content-Type: application/json)');
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return fail(reply, request, 400, 'invalid_json', 'the request body is empty; expected {"rows": [...]}');
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message)))
      return fail(reply, request, 400, 'invalid_json', `the request body is not valid JSON: ${err.message}`);
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return fail(reply, request, err.statusCode, 'bad_request', err.message);
    log(`serve: ${request.method} ${request.url} (request ${request.id}) failed: ${err.stack ?? err.message}`);
    return fail(reply, request, 500, 'internal', `the server failed on this request (request id ${request.id}); it is logged`);
  });
  app.setNotFoundHandler((request, reply) =>
    fail(reply, request, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}; see GET /v1/models`),
  );

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const r = store.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...(r.reason ? { reason: r.reason } : {}), models: r.models });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/v1/models', async () => ({ models: store.list().map(describeModel), problems: store.problemsList() }));

  app.get<{ Params: { name: string } }>('/v1/models/:name', async (request, reply) => {
    const m = store.get(request.params.name);
    if (!m) return unknownModel(reply, request, request.params.name);
    return describeModel(m);
  });

  /** One answered predict request in the metrics and the per-minute counts the sweep reads. */
  const countRequest = (model: LoadedModel, status: number, rows: number, ms: number): void => {
    const labels = { model: model.name, version: String(model.version) };
    metrics.requests.inc({ ...labels, status: String(status) });
    metrics.latency.observe(labels, ms / 1000);
    predictionLog?.count(model.name, model.version, status, rows, ms, Date.now());
  };

  const unknownModel = (reply: FastifyReply, request: FastifyRequest, name: string): FastifyReply => {
    const known = store.list().map((m) => m.name);
    return fail(reply, request, 404, 'unknown_model', `no deployed model "${name}" (serving: ${known.length ? known.join(', ') : 'none'})`);
  };

  app.post<{ Params: { name: string } }>(PREDICT_ROUTE, async (request, reply) => {
    const started = performance.now();
    const model = store.get(request.params.name); // taken once: a reload meanwhile does not change this request's model
    if (!model) return unknownModel(reply, request, request.params.name);
    const labels = { model: model.name, version: String(model.version) };
    const done = (status: number, rows: number): void => countRequest(model, status, rows, performance.now() - started);
    const parsed = model.encoder.bodySchema.safeParse(request.body);
    if (!parsed.success) {
      done(400, 0);
      const issues = describeRequestIssues(parsed.error);
      return fail(reply, request, 400, 'invalid_input', `${model.name} v${model.version}: ${issues[0]}`, issues);
    }
    const rows = parsed.data.rows;
    const now = Date.now();
    const X = model.encoder.encode(rows, now);
    let values: Float32Array;
    try {
      values = (await scoreSession(model.session, X.values, X.rows, model.encoder.names.length)).values;
    } catch (err) {
      done(500, 0);
      throw err;
    }
    const ms = performance.now() - started;
    const classes = model.threshold !== null ? predictedLabels(values, model.threshold) : null;
    const predictions = new Array(X.rows);
    const served: ServedRow[] = new Array(X.rows);
    for (let i = 0; i < X.rows; i++) {
      const v = values[i];
      const value = Number.isFinite(v) ? v : null;
      if (classes) {
        predictions[i] = { probability: value, label: value === null ? null : classes[i] };
        if (value !== null) metrics.probability.observe(labels, value);
      } else {
        predictions[i] = { prediction: value };
        if (value !== null) metrics.predictionValue.observe(labels, value);
      }
      served[i] = {
        pipeline: model.name,
        modelVersion: model.version,
        sha256: model.sha256,
        ts: X.times[i],
        entity: X.entities[i],
        rowKey: X.keys[i],
        prediction: v,
        label: classes && value !== null ? classes[i] : null,
        requestId: request.id,
        latencyMs: ms,
        inputs: rows[i],
        servedAt: now,
      };
    }
    metrics.rows.inc(labels, X.rows);
    predictionLog?.add(served);
    done(200, X.rows);
    return {
      model: model.name,
      version: model.version,
      task: model.task,
      request_id: request.id,
      ...(model.threshold !== null ? { decision_threshold: model.threshold } : {}),
      predictions,
    };
  });

  let polling: NodeJS.Timeout | null = null;
  let sweeping: NodeJS.Timeout | null = null;
  let lastPollError: string | null = null;
  const check = async (trigger: ReloadTrigger): Promise<void> => {
    try {
      const result = await store.refresh(options.db);
      metrics.reloadChecked(trigger, result.loaded.length + result.unloaded.length > 0);
      metrics.loadFailed(result.failed);
      metrics.setModels(store.list(), store.readiness().models);
      const alerts = await options.db.query<{ pipeline: string; severity: string; n: number }>(
        "SELECT pipeline, severity, count(*)::int AS n FROM mlops.alerts WHERE status = 'open' GROUP BY pipeline, severity",
      );
      metrics.setAlerts(alerts.rows);
      const drift = await options.db.query<{ pipeline: string; share: number }>(
        'SELECT DISTINCT ON (pipeline) pipeline, drifted_share AS share FROM mlops.drift_reports ORDER BY pipeline, current_end DESC, id DESC',
      );
      metrics.setDrift(drift.rows.map((r) => ({ pipeline: r.pipeline, share: Number(r.share) })));
      if (lastPollError) log('serve: the deployments table answers again');
      lastPollError = null;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== lastPollError) log(`serve: reading mlops.deployments failed (the loaded models keep serving): ${message}`);
      lastPollError = message;
    }
  };

  /** the check running, and the one asked for meanwhile (it runs next, once, for all who asked) */
  let running: Promise<void> | null = null;
  let queued: { trigger: ReloadTrigger; done: Promise<void> } | null = null;
  /** set when close() begins: no check starts after it (the database is about to close) */
  let closing = false;
  /** the check under way and the one queued behind it, if any: what close() waits for */
  const pending = (): Promise<void> => queued?.done ?? running ?? Promise.resolve();
  const refresh = (trigger: ReloadTrigger = 'poll'): Promise<void> => {
    if (closing) return pending();
    if (!running) {
      running = check(trigger).finally(() => (running = null));
      return running;
    }
    if (queued) {
      // answered by the check queued already (it starts after this call): counted, not run again
      metrics.reloadCoalesced(trigger);
      return queued.done;
    }
    const next: { trigger: ReloadTrigger; done: Promise<void> } = {
      trigger,
      done: running.then(() => {
        queued = null;
        return refresh(next.trigger);
      }),
    };
    queued = next;
    return next.done;
  };

  let listener: DeployListener | null = null;
  if (options.listen !== false) {
    listener = listenForDeploys(options.db, {
      onNotify: () => void refresh('notify'),
      onRestored: () => void refresh('reconnect'),
      onState: (up) => metrics.deployListener.set(up ? 1 : 0),
      log,
    });
    // Listening before the first read: a deploy committed in between is heard, not left to the poll.
    await listener.started;
  }

  await refresh('start');
  predictionLog?.start();
  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  } catch (err) {
    closing = true;
    await listener?.close();
    await pending(); // a check a notification started ends before the caller closes the database
    await predictionLog?.close();
    throw err;
  }
  const address = app.server.address();
  const url =
    typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  const schedule = (): void => {
    polling = setTimeout(() => void refresh('poll').finally(() => polling !== null && schedule()), options.pollMs ?? 2000);
  };
  schedule();
  if (options.sweep) {
    const { everyMs, run } = options.sweep;
    const tick = (): void => {
      sweeping = setTimeout(
        () =>
          void run()
            .catch((err: Error) => log(`serve: the alert sweep failed: ${err.message}`))
            .finally(() => sweeping !== null && tick()),
        everyMs,
      );
    };
    tick();
  }

  return {
    app,
    url,
    store,
    metrics,
    predictionLog,
    refresh,
    async close() {
      closing = true; // a SIGHUP or a notification from now on starts nothing
      if (polling) clearTimeout(polling);
      if (sweeping) clearTimeout(sweeping);
      polling = null;
      sweeping = null;
      await listener?.close();
      await pending(); // a check under way ends before the database may be closed
      await app.close(); // stops accepting, waits for requests in flight
      await predictionLog?.close();
    },
  };
}
