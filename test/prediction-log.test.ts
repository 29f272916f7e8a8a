import { expect, it } from 'vitest';
import { PredictionLog, type ServedRow } from '../actions/lib/serve/log.ts';
import { ServeMetrics } from '../actions/lib/serve/metrics.ts';
import { describeDb } from './helpers/db.ts';

/** A served row as the predict route hands it over; `i` makes its request id and inputs its own. */
const served = (i: number): ServedRow => ({
  pipeline: 'log-test',
  modelVersion: 3,
  sha256: 'c'.repeat(64),
  ts: Date.UTC(2025, 0, 1) + i * 60_000,
  entity: 'S01',
  rowKey: i % 2 ? `key-${i}` : null,
  prediction: i % 7 === 0 ? Number.NaN : i / 10,
  label: i % 3 === 0 ? 1 : null,
  requestId: `req-${i}`,
  latencyMs: 0.25,
  inputs: { flow: i, station_id: 'S01' },
  servedAt: Date.UTC(2025, 0, 2) + i,
});

const counter = async (m: ServeMetrics, name: string): Promise<number> => (await m.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;

describeDb('the prediction log', ({ db }) => {
  it('writes every served row once, as served, in batches', async () => {
    const metrics = new ServeMetrics();
    const log = new PredictionLog(db(), metrics, { batch: 7, flushMs: 60_000 });
    log.add(Array.from({ length: 30 }, (_, i) => served(i)));
    expect(log.pending).toBe(30);
    await log.close();
    expect(log.pending).toBe(0);
    const rows = await db().query<Record<string, unknown>>(
      `SELECT request_id, entity, row_key, prediction, predicted_label, model_version, sha256, latency_ms, inputs_hash, origin,
              extract(epoch FROM ts) * 1000 AS ts, extract(epoch FROM scored_at) * 1000 AS served_at
       FROM mlops.predictions WHERE pipeline = 'log-test' ORDER BY served_at`,
    );
    expect(rows.rows.length).toBe(30);
    expect(await counter(metrics, 'mlops_prediction_log_written_total')).toBe(30);
    rows.rows.forEach((r, i) => {
      const s = served(i);
      expect(r).toMatchObject({
        request_id: s.requestId,
        entity: 'S01',
        row_key: s.rowKey,
        model_version: 3,
        sha256: s.sha256,
        origin: 'online',
        latency_ms: 0.25,
      });
      expect(r.prediction === null ? null : Number(r.prediction)).toBe(Number.isNaN(s.prediction) ? null : s.prediction);
      expect(r.predicted_label === null ? null : Number(r.predicted_label)).toBe(s.label);
      expect(Number(r.ts)).toBe(s.ts);
      expect(Number(r.served_at)).toBe(s.servedAt);
      expect(r.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  it('keeps its rows while the table cannot take them, drops the oldest batches past its limit, and writes the rest once it can', async () => {
    await db().exec("DELETE FROM mlops.predictions WHERE pipeline = 'log-test'");
    const metrics = new ServeMetrics();
    const lines: string[] = [];
    const log = new PredictionLog(db(), metrics, { batch: 10, maxQueue: 45, flushMs: 60_000, log: (l) => lines.push(l) });
    // a real failure of the statement: the table is not there
    await db().exec('ALTER TABLE mlops.predictions RENAME TO predictions_away');
    try {
      log.add(Array.from({ length: 30 }, (_, i) => served(i)));
      await log.flush();
      expect(log.pending).toBe(30);
      expect(await counter(metrics, 'mlops_prediction_log_errors_total')).toBe(1);
      expect(lines.join('\n')).toMatch(/writing the prediction log failed \(kept for the next try\): .*predictions/);
      // 30 kept + 30 more passes the limit of 45: the oldest two batches of 10 go
      log.add(Array.from({ length: 30 }, (_, i) => served(30 + i)));
      expect(log.pending).toBe(40);
      expect(await counter(metrics, 'mlops_prediction_log_dropped_total')).toBe(20);
    } finally {
      await db().exec('ALTER TABLE mlops.predictions_away RENAME TO predictions');
    }
    await log.close();
    expect(log.pending).toBe(0);
    const ids = await db().query<{ request_id: string }>("SELECT request_id FROM mlops.predictions WHERE pipeline = 'log-test' ORDER BY scored_at");
    expect(ids.rows.map((r) => r.request_id)).toEqual(Array.from({ length: 40 }, (_, i) => `req-${20 + i}`));
    expect(lines.at(-1)).toMatch(/prediction log written again/);
  });
});
