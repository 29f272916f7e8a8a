import type { Frame } from '../source/frame.ts';
import type { FeatureMatrix } from './matrix.ts';
import { buildFeatures, type BuildResult } from './build.ts';
import type { FeatureSpec } from './spec.ts';
import { applyZScore, fitZScore, type ZScoreStats } from './zscore.ts';
import { temporalSplit, type TemporalSplit } from '../split/temporal.ts';

export interface TrainingSet {
  train: FeatureMatrix;
  holdout: FeatureMatrix;
  split: Omit<TemporalSplit, 'train' | 'holdout'>;
  /** fitted on the train rows only (null when the spec has no z-scores): save it with the model */
  stats: ZScoreStats | null;
  dropped: BuildResult['dropped'];
  allNaN: string[];
  warnings: string[];
}

/**
 * The training path in one call: raw features, the temporal split with its horizon gap, then
 * z-score statistics fitted on the train part alone and applied to both parts, so nothing about
 * the holdout reaches the model. Serving and re-scoring call buildFeatures(frame, spec, stats).
 */
export function buildTrainingSet(frame: Frame, spec: FeatureSpec, split: { holdout_fraction: number }): TrainingSet {
  const built = buildFeatures(frame, spec);
  const { train, holdout, ...rest } = temporalSplit(built.matrix, {
    holdout_fraction: split.holdout_fraction,
    horizon_minutes: spec.target.horizon_minutes,
  });
  let stats: ZScoreStats | null = null;
  if (spec.zscore) {
    stats = fitZScore(train);
    applyZScore(train, stats);
    applyZScore(holdout, stats);
  }
  return { train, holdout, split: rest, stats, dropped: built.dropped, allNaN: built.allNaN, warnings: built.warnings };
}
