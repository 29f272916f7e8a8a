import { Pool } from 'undici';
import * as hdr from 'hdr-histogram-js';

/**
 * A constant-arrival-rate (open-loop) load generator, as wrk2 and Vegeta are: request i is due at
 * start + i / rate whatever happened to the requests before it, so a slow answer cannot hold the
 * next requests back and hide itself (coordinated omission). autocannon's rate option is not that:
 * each connection sends its per-second quota back to back and then waits for the next second
 * (autocannon issue #174), which turns "1,000 requests/s" into bursts of 20 concurrent requests,
 * and its omission correction assumes a 1 ms interval whatever the rate. HTTP is undici's pool
 * (keep-alive connections, no pipelining); latencies go into an HdrHistogram in microseconds.
 */

export interface OpenLoopOptions {
  /** origin, e.g. http://127.0.0.1:8080 */
  origin: string;
  path: string;
  body: string;
  /** requests per second */
  rate: number;
  seconds: number;
  /** keep-alive connections the pool may open */
  connections: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface OpenLoopResult {
  requests: number;
  ok: number;
  non_2xx: number;
  errors: number;
  throughput_rps: number;
  /** from when the request was written to its whole answer, ms */
  latency_ms: Percentiles;
  /** from when the request was due (its place in the schedule) to its whole answer: includes any wait in the generator, ms */
  latency_from_schedule_ms: Percentiles;
  /** how late the generator wrote requests after they were due, ms */
  send_lag_ms: { p99: number; max: number };
}

const histogram = (): hdr.Histogram => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

const ms = (h: hdr.Histogram): Percentiles => {
  const r = (us: number): number => Math.round(us / 10) / 100;
  return {
    p50: r(h.getValueAtPercentile(50)),
    p90: r(h.getValueAtPercentile(90)),
    p99: r(h.getValueAtPercentile(99)),
    p999: r(h.getValueAtPercentile(99.9)),
    max: r(h.maxValue),
    mean: r(h.mean),
  };
};

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new Pool(o.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const fromSend = histogram();
  const fromSchedule = histogram();
  const lag = histogram();
  const total = Math.round(o.rate * o.seconds);
  const interval = 1000 / o.rate;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let answered = 0;
  const headers = { 'content-type': 'application/json' };
  const started = performance.now() + 2;

  await new Promise<void>((finished) => {
    const answer = (due: number, sent: number): void => {
      const now = performance.now();
      fromSend.recordValue(Math.max(1, Math.round((now - sent) * 1000)));
      fromSchedule.recordValue(Math.max(1, Math.round((now - due) * 1000)));
      if (++answered === total) finished();
    };
    const fire = (due: number): void => {
      const sent = performance.now();
      lag.recordValue(Math.max(1, Math.round((sent - due) * 1000)));
      pool
        .request({ path: o.path, method: 'POST', headers, body: o.body })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode >= 200 && res.statusCode < 300) ok++;
          else non2xx++;
          answer(due, sent);
        })
        .catch(() => {
          errors++;
          answer(due, sent);
        });
    };
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      while (next < total && started + next * interval <= now) fire(started + next++ * interval);
      if (next >= total) return;
      // Sleep until the next request is due. Timers are 1 ms coarse: what falls due meanwhile goes at the next
      // tick (send_lag_ms), which latency_from_schedule_ms counts; spinning instead would take a core from the server.
      setTimeout(tick, Math.max(1, Math.floor(started + next * interval - performance.now())));
    };
    tick();
  });
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return {
    requests: total,
    ok,
    non_2xx: non2xx,
    errors,
    throughput_rps: Math.round((answered / elapsed) * 10) / 10,
    latency_ms: ms(fromSend),
    latency_from_schedule_ms: ms(fromSchedule),
    send_lag_ms: { p99: ms(lag).p99, max: ms(lag).max },
  };
}
