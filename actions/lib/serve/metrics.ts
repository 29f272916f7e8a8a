import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LoadedModel, ModelProblem } from './models.ts';

/**
 * The server's Prometheus metrics (prom-client, text format at GET /metrics), one registry per
 * server. Request-path metrics are updated in memory per request; the database-backed gauges (open
 * alerts, drift share) are refreshed by each check of the deployments table (poll, NOTIFY, SIGHUP),
 * never at scrape time, so a scrape never waits on the database.
 */

/** Request latency buckets, seconds: sub-millisecond single rows to a slow batch. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** A classifier's positive-class probability. */
const PROBABILITY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1];
/** A regression model's prediction: any scale, so signed powers of ten and their halves. */
const VALUE_BUCKETS = [-1000, -100, -10, -1, -0.1, 0, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 10000];

/**
 * What made the server read mlops.deployments: its start, the poll timer, a NOTIFY from a deploy,
 * SIGHUP, or the deploy listener connected again after a loss (what was announced meanwhile).
 */
export const RELOAD_TRIGGERS = ['start', 'poll', 'notify', 'signal', 'reconnect'] as const;
export type ReloadTrigger = (typeof RELOAD_TRIGGERS)[number];

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'model' | 'version' | 'status'>;
  readonly latency: Histogram<'model' | 'version'>;
  readonly rows: Counter<'model' | 'version'>;
  readonly predictionValue: Histogram<'model' | 'version'>;
  readonly probability: Histogram<'model' | 'version'>;
  readonly modelInfo: Gauge<'model' | 'version' | 'sha256' | 'git_sha' | 'run_id' | 'task'>;
  readonly deployedAt: Gauge<'model'>;
  readonly loadFailures: Counter<'model'>;
  readonly modelReady: Gauge<'model'>;
  readonly openAlerts: Gauge<'pipeline' | 'severity'>;
  readonly driftShare: Gauge<'pipeline'>;
  private readonly reloadChecks: Counter<'trigger'>;
  private readonly reloads: Counter<'trigger'>;
  private readonly reloadChecksCoalesced: Counter<'trigger'>;
  readonly deployListener: Gauge;
  readonly logQueue: Gauge;
  readonly logWritten: Counter;
  readonly logDropped: Counter;
  readonly logErrors: Counter;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'mlops_serve_requests_total',
      help: 'Predict requests answered, by model, version and HTTP status',
      labelNames: ['model', 'version', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'mlops_serve_request_duration_seconds',
      help: 'Predict request latency (validation, encoding, scoring), seconds',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rows = new Counter({ name: 'mlops_serve_rows_total', help: 'Rows scored, by model and version', labelNames: ['model', 'version'], registers });
    this.predictionValue = new Histogram({
      name: 'mlops_serve_prediction_value',
      help: 'Predictions of regression models',
      labelNames: ['model', 'version'],
      buckets: VALUE_BUCKETS,
      registers,
    });
    this.probability = new Histogram({
      name: 'mlops_serve_prediction_probability',
      help: 'Positive-class probabilities of classification models',
      labelNames: ['model', 'version'],
      buckets: PROBABILITY_BUCKETS,
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'mlops_model_info',
      help: 'The model version serving (1), with its sha256, commit and run',
      labelNames: ['model', 'version', 'sha256', 'git_sha', 'run_id', 'task'],
      registers,
    });
    this.deployedAt = new Gauge({
      name: 'mlops_model_deployed_timestamp_seconds',
      help: 'When the serving version was deployed (mlops.deployments), Unix seconds',
      labelNames: ['model'],
      registers,
    });
    this.loadFailures = new Counter({
      name: 'mlops_serve_model_load_failures_total',
      help: 'Failed loads of a deployed version (verification or onnxruntime; retried every poll while the previous version keeps serving)',
      labelNames: ['model'],
      registers,
    });
    this.modelReady = new Gauge({
      name: 'mlops_serve_model_ready',
      help: '1 when the deployed version of the model is the one serving, else 0',
      labelNames: ['model'],
      registers,
    });
    this.openAlerts = new Gauge({
      name: 'mlops_alerts_open',
      help: 'Open alerts in mlops.alerts, by pipeline and severity',
      labelNames: ['pipeline', 'severity'],
      registers,
    });
    this.driftShare = new Gauge({
      name: 'mlops_drift_share',
      help: 'Share of drifted features in the newest drift report, by pipeline',
      labelNames: ['pipeline'],
      registers,
    });
    this.reloadChecks = new Counter({
      name: 'mlops_serve_reload_checks_total',
      help: 'Reads of mlops.deployments for a new deploy or rollback, by what triggered them: start, poll, notify (LISTEN), signal (SIGHUP), reconnect (the listener back after a loss)',
      labelNames: ['trigger'],
      registers,
    });
    this.reloads = new Counter({
      name: 'mlops_serve_reloads_total',
      help: 'Reload checks that changed what serves (a version loaded or a model unloaded), by what triggered them',
      labelNames: ['trigger'],
      registers,
    });
    this.reloadChecksCoalesced = new Counter({
      name: 'mlops_serve_reload_checks_coalesced_total',
      help: 'Reload checks asked for while one was already queued, answered by that queued check instead of one of their own, by what triggered them (with mlops_serve_reload_checks_total: every trigger received)',
      labelNames: ['trigger'],
      registers,
    });
    this.deployListener = new Gauge({
      name: 'mlops_serve_deploy_listener_up',
      help: '1 while the server LISTENs for deploys (NOTIFY on mlops_deployments), 0 while it is reconnecting (the poll alone then)',
      registers,
    });
    for (const trigger of RELOAD_TRIGGERS) {
      this.reloadChecks.inc({ trigger }, 0);
      this.reloads.inc({ trigger }, 0);
      this.reloadChecksCoalesced.inc({ trigger }, 0);
    }
    this.logQueue = new Gauge({ name: 'mlops_prediction_log_queue', help: 'Served predictions waiting to be written to mlops.predictions', registers });
    this.logWritten = new Counter({ name: 'mlops_prediction_log_written_total', help: 'Served predictions written to mlops.predictions', registers });
    this.logDropped = new Counter({
      name: 'mlops_prediction_log_dropped_total',
      help: 'Served predictions dropped because the log queue was full (the database was unreachable for long)',
      registers,
    });
    this.logErrors = new Counter({ name: 'mlops_prediction_log_errors_total', help: 'Failed writes of the prediction log (retried)', registers });
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_serve_' });
  }

  /** The model gauges as the store says now: one info series per serving model. */
  setModels(models: readonly LoadedModel[], readiness: { model: string; deployed: number; serving: number | null }[]): void {
    this.modelInfo.reset();
    this.deployedAt.reset();
    this.modelReady.reset();
    for (const m of models) {
      this.modelInfo.set({ model: m.name, version: String(m.version), sha256: m.sha256, git_sha: m.gitSha, run_id: m.entry.run_id, task: m.task }, 1);
      this.deployedAt.set({ model: m.name }, Date.parse(m.deployedAt) / 1000);
    }
    for (const r of readiness) this.modelReady.set({ model: r.model }, r.serving === r.deployed ? 1 : 0);
  }

  /** One read of the deployments table; `changed`: it loaded a version or unloaded a model. */
  reloadChecked(trigger: ReloadTrigger, changed: boolean): void {
    this.reloadChecks.inc({ trigger });
    if (changed) this.reloads.inc({ trigger });
  }

  /** A check asked for while one was queued already: that one answers it. */
  reloadCoalesced(trigger: ReloadTrigger): void {
    this.reloadChecksCoalesced.inc({ trigger });
  }

  loadFailed(problems: readonly ModelProblem[]): void {
    for (const p of problems) this.loadFailures.inc({ model: p.model });
  }

  setAlerts(rows: readonly { pipeline: string; severity: string; n: number }[]): void {
    this.openAlerts.reset();
    for (const r of rows) this.openAlerts.set({ pipeline: r.pipeline, severity: r.severity }, r.n);
  }

  setDrift(rows: readonly { pipeline: string; share: number }[]): void {
    this.driftShare.reset();
    for (const r of rows) this.driftShare.set({ pipeline: r.pipeline }, r.share);
  }
}
