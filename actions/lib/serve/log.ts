import type { Db } from '../db/index.ts';
import { copyOnlinePredictions, OnlinePredictionTuples, type OnlinePrediction } from '../score/write.ts';
import type { ServeMetrics } from './metrics.ts';
import { sha256Hex } from '../util/sha256.ts';

/**
 * The prediction log, off the request path: a request encodes its rows (binary COPY tuples, the
 * inputs hashed) into the log's buffer and returns; a timer writes the sealed batches to
 * mlops.predictions (origin 'online'), one COPY each, and the per-minute request counts to
 * mlops.serving_requests (what the sweep's error-rate rule reads). Rows wait as bytes, not as
 * objects: a few hundred rows' objects kept until the flush were what every young-generation
 * collection of the server had to copy, and each such pause holds every request arriving meanwhile.
 * A failed write keeps its batch for the next flush; when the database stays away and the queue
 * passes `maxQueue` rows, the oldest batches are dropped and counted
 * (mlops_prediction_log_dropped_total), so a database outage never takes the server's memory.
 * `close` writes what is left.
 */

/** What a request hands to the log. */
export interface ServedRow extends Omit<OnlinePrediction, 'inputsHash'> {
  inputs: Record<string, unknown>;
}

interface MinuteCounts {
  pipeline: string;
  modelVersion: number;
  minute: number;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  rows: number;
  latencyMs: number;
}

export interface PredictionLogOptions {
  /** how often the queue is written (default 250 ms) */
  flushMs?: number;
  /** rows per COPY (default 200; 50 on a PGlite on the server's own thread, where a statement holds the event loop while it runs) */
  batch?: number;
  /** rows kept while the database is unreachable (default 200,000) */
  maxQueue?: number;
  log?: (line: string) => void;
}

/** sha256 of a row's inputs, keys sorted, so equal inputs hash equally whatever their order. */
export function inputsHash(inputs: Record<string, unknown>): string {
  const keys = Object.keys(inputs).sort();
  return sha256Hex(JSON.stringify(keys.map((k) => [k, inputs[k]])));
}

/** A sealed batch of encoded rows, one COPY. */
interface Batch {
  tuples: Uint8Array;
  rows: number;
}

export class PredictionLog {
  /** rows encoded since the last seal */
  private readonly encoder = new OnlinePredictionTuples();
  private open = 0;
  /** sealed batches waiting to be written, oldest first (the one being written is `writing`) */
  private batches: Batch[] = [];
  private writing: Batch | null = null;
  /** rows not yet written: open, in batches and being written */
  private queued = 0;
  private counts = new Map<string, MinuteCounts>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastError: string | null = null;
  private readonly flushMs: number;
  private readonly batch: number;
  private readonly maxQueue: number;
  private readonly log: (line: string) => void;

  private readonly db: Db;
  private readonly metrics: ServeMetrics;

  constructor(db: Db, metrics: ServeMetrics, options: PredictionLogOptions = {}) {
    this.db = db;
    this.metrics = metrics;
    this.flushMs = options.flushMs ?? 250;
    // The embedded database runs its statements on this thread: smaller statements, shorter holds.
    this.batch = options.batch ?? (db.onThisThread ? 50 : 200);
    this.maxQueue = options.maxQueue ?? 200_000;
    this.log = options.log ?? (() => undefined);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Encodes served rows into the log (~3 µs a row, the hash included; no I/O). */
  add(rows: readonly ServedRow[]): void {
    for (const r of rows) {
      this.encoder.add(r, inputsHash(r.inputs));
      this.queued++;
      if (++this.open >= this.batch) this.seal();
    }
    // the database is away: the oldest batches go (the one being written stays)
    while (this.queued > this.maxQueue && this.batches.length > 0) {
      const dropped = this.batches.shift()!;
      this.queued -= dropped.rows;
      this.metrics.logDropped.inc(dropped.rows);
    }
    this.metrics.logQueue.set(this.queued);
  }

  /** Ends the open batch. */
  private seal(): void {
    const tuples = this.encoder.take();
    if (tuples) this.batches.push({ tuples, rows: this.open });
    this.open = 0;
  }

  /** Counts one answered request of a model version for the minute it was served. */
  count(pipeline: string, modelVersion: number, status: number, rows: number, latencyMs: number, at: number): void {
    const minute = Math.floor(at / 60_000) * 60_000;
    const key = `${pipeline}\u0000${modelVersion}\u0000${minute}`;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = { pipeline, modelVersion, minute, requests: 0, clientErrors: 0, serverErrors: 0, rows: 0, latencyMs: 0 }));
    c.requests++;
    if (status >= 500) c.serverErrors++;
    else if (status >= 400) c.clientErrors++;
    c.rows += rows;
    c.latencyMs += latencyMs;
  }

  get pending(): number {
    return this.queued;
  }

  /** Writes the queue and the counts; one flush at a time (a caller during one waits for it, then flushes again). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queued === 0 && this.counts.size === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = null));
    await this.flushing;
  }

  private async write(): Promise<void> {
    this.seal();
    const counts = [...this.counts.values()];
    this.counts = new Map();
    try {
      while (this.batches.length > 0) {
        const batch = (this.writing = this.batches.shift()!);
        const n = await copyOnlinePredictions(this.db, batch.tuples);
        this.writing = null;
        this.queued -= batch.rows;
        this.metrics.logWritten.inc(n);
      }
      if (counts.length) await this.writeCounts(counts);
      if (this.lastError) this.log(`serve: prediction log written again (after: ${this.lastError})`);
      this.lastError = null;
    } catch (err) {
      this.metrics.logErrors.inc();
      const message = (err as Error).message;
      if (message !== this.lastError) this.log(`serve: writing the prediction log failed (kept for the next try): ${message}`);
      this.lastError = message;
      // the batch that failed goes back in front of what arrived meanwhile
      if (this.writing) this.batches.unshift(this.writing);
      this.writing = null;
      for (const c of counts) {
        const key = `${c.pipeline}\u0000${c.modelVersion}\u0000${c.minute}`;
        const now = this.counts.get(key);
        if (!now) this.counts.set(key, c);
        else {
          now.requests += c.requests;
          now.clientErrors += c.clientErrors;
          now.serverErrors += c.serverErrors;
          now.rows += c.rows;
          now.latencyMs += c.latencyMs;
        }
      }
      this.add([]);
    } finally {
      this.metrics.logQueue.set(this.queued);
    }
  }

  private async writeCounts(counts: readonly MinuteCounts[]): Promise<void> {
    await this.db.query(
      `INSERT INTO mlops.serving_requests AS s (pipeline, model_version, minute, requests, client_errors, server_errors, rows_scored, latency_ms_sum)
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::float8[])
       ON CONFLICT (pipeline, model_version, minute) DO UPDATE SET requests = s.requests + EXCLUDED.requests,
         client_errors = s.client_errors + EXCLUDED.client_errors, server_errors = s.server_errors + EXCLUDED.server_errors,
         rows_scored = s.rows_scored + EXCLUDED.rows_scored, latency_ms_sum = s.latency_ms_sum + EXCLUDED.latency_ms_sum`,
      [
        counts.map((c) => c.pipeline),
        counts.map((c) => c.modelVersion),
        counts.map((c) => new Date(c.minute).toISOString()),
        counts.map((c) => c.requests),
        counts.map((c) => c.clientErrors),
        counts.map((c) => c.serverErrors),
        counts.map((c) => c.rows),
        counts.map((c) => c.latencyMs),
      ],
    );
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
