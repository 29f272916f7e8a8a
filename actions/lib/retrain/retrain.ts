import type { Db } from '../db/index.ts';
import { withPipelineLock } from '../tracking/lock.ts';
import type { RetrainResult } from './result.ts';
import {
  beginRun, evaluateStage, extractStage, failStage, featuresStage, gateStage, qualityStage, trainStage,
  type BeginOptions, type StageName,
} from './stages.ts';

export interface RetrainOptions extends BeginOptions {
  /** how long to wait for another retrain of the same pipeline (advisory lock) */
  lockTimeoutMs?: number;
  /** called after each stage; tests use it to inject a crash mid-run */
  afterStage?: (stage: StageName) => void | Promise<void>;
}

/**
 * The weekly retrain of one pipeline, in one process: extract, quality, features, train,
 * evaluate, gates, record. Returns a decision (promote | reject | skip) for every outcome the data
 * and the models can produce; throws only for errors, after recording the run as failed.
 */
export async function retrain(db: Db, options: RetrainOptions): Promise<RetrainResult> {
  return withPipelineLock(db, options.pipeline.name, options.lockTimeoutMs ?? 30 * 60_000, async () => {
    const { runDir, store } = await beginRun(db, options);
    const after = async (stage: StageName): Promise<void> => {
      await options.afterStage?.(stage);
    };
    try {
      await extractStage(db, store);
      await after('extract');
      await qualityStage(db, store);
      await after('quality');
      await featuresStage(store);
      await after('features');
      await trainStage(db, store);
      await after('train');
      await evaluateStage(store);
      await after('evaluate');
      const result = await gateStage(db, store);
      await after('gate');
      return result;
    } catch (err) {
      const failed = await failStage(db, store, err).catch(() => null);
      const e = err instanceof Error ? err : new Error(String(err));
      throw Object.assign(e, { runId: failed?.run_id, runDir });
    }
  });
}
