import type { Db } from '../db/index.ts';
import { pausePoint } from '../faults/pause-point.ts';
import { withPipelineLock } from '../tracking/lock.ts';
import { holdRunLease, type AbandonedRun } from '../tracking/lease.ts';
import { trackActiveRun } from './interrupt.ts';
import type { RetrainResult } from './result.ts';
import {
  beginRun,
  evaluateStage,
  extractStage,
  failStage,
  featuresStage,
  gateStage,
  qualityStage,
  trainStage,
  type BeginOptions,
  type StageName,
} from './stages.ts';

export interface RetrainOptions extends BeginOptions {
  /** how long to wait for another retrain of the same pipeline (advisory lock) */
  lockTimeoutMs?: number;
  /** called after each stage; tests use it to inject a crash mid-run */
  afterStage?: (stage: StageName) => void | Promise<void>;
  /** told about runs of this pipeline found abandoned before this one began */
  onAbandoned?: (runs: AbandonedRun[]) => void;
}

/**
 * The weekly retrain of one pipeline, in one process: extract, quality, features, train,
 * evaluate, gates, record. Returns a decision (promote | reject | skip) for every outcome the data
 * and the models can produce; throws only for errors, after recording the run as failed.
 *
 * Crash safety: the run holds the pipeline's advisory lock and its own lease (heartbeat) all the
 * way; it checks both between stages and the lock again inside the transaction that records the
 * result, so a run that lost either stops (recorded failed) instead of going on beside another.
 * SIGTERM/SIGINT record it failed (interrupt.ts); a killed process leaves it to be found abandoned.
 */
export async function retrain(db: Db, options: RetrainOptions): Promise<RetrainResult> {
  return withPipelineLock(db, options.pipeline.name, options.lockTimeoutMs ?? 30 * 60_000, async (lock) => {
    const { runDir, state, store, abandoned } = await beginRun(db, options);
    if (abandoned.length) options.onAbandoned?.(abandoned);
    const lease = holdRunLease(db, state.run_id);
    let current: StageName | null = null;
    const untrack = trackActiveRun({
      runId: state.run_id,
      pipeline: state.pipeline,
      stage: () => current,
      fail: async (message) => (await failStage(db, store, new Error(message))).recorded,
    });
    const stage = async <T>(name: StageName, fn: () => Promise<T>): Promise<T> => {
      current = name;
      await pausePoint(`stage:${name}`);
      lock.check();
      lease.check();
      const out = await fn();
      lock.check();
      lease.check();
      await options.afterStage?.(name);
      return out;
    };
    try {
      await stage('extract', () => extractStage(db, store));
      await stage('quality', () => qualityStage(db, store));
      await stage('features', () => featuresStage(store));
      await stage('train', () => trainStage(db, store));
      await stage('evaluate', () => evaluateStage(store, db));
      return await stage('gate', () => gateStage(db, store, (tx) => lock.verify(tx)));
    } catch (err) {
      // `record` says what became of the run's record, for the message a user sees.
      let record: string;
      try {
        record = (await failStage(db, store, err)).recorded ? 'recorded as failed' : 'its record was already closed by another process';
      } catch (inner) {
        record = `it could not be recorded as failed (${(inner as Error).message}); the next retrain marks it abandoned`;
      }
      const e = err instanceof Error ? err : new Error(String(err));
      throw Object.assign(e, { runId: state.run_id, runDir, record });
    } finally {
      lease.stop();
      untrack();
    }
  });
}
