import { column, type Frame } from '../source/frame.ts';
import type { FeatureMatrix } from './matrix.ts';
import { buildFeatures, targetRows, type BuildResult } from './build.ts';
import { fitCategories } from './categorical.ts';
import type { FeatureSpec } from './spec.ts';
import { applyZScore, fitZScore, type ZScoreStats } from './zscore.ts';
import { holdoutCutoff, temporalSplit, type TemporalSplit } from '../split/temporal.ts';

export interface TrainingSet {
  train: FeatureMatrix;
  holdout: FeatureMatrix;
  split: Omit<TemporalSplit, 'train' | 'holdout'>;
  /** fitted on the train rows only (null when the spec has no z-scores): save it with the model */
  stats: ZScoreStats | null;
  /** the spec with its categorical vocabularies fitted on the train rows: save it with the model */
  spec: FeatureSpec;
  dropped: BuildResult['dropped'];
  allNaN: string[];
  warnings: string[];
}

/**
 * The training path in one call: raw features, the temporal split with its horizon gap, then
 * z-score statistics fitted on the train part alone and applied to both parts, so nothing about
 * the holdout reaches the model. Serving and re-scoring call buildFeatures(frame, spec, stats).
 */
export function buildTrainingSet(frame: Frame, requested: FeatureSpec, split: { holdout_fraction: number }): TrainingSet {
  const spec = fitCategorical(frame, requested, split.holdout_fraction);
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
  return { train, holdout, split: rest, stats, spec, dropped: built.dropped, allNaN: built.allNaN, warnings: built.warnings };
}

/**
 * The spec with every categorical vocabulary fitted on the rows that will be trained on: rows with
 * a target before the holdout's cutoff whose target was known before it (the split's own rule),
 * so no category count comes from the holdout. A spec whose vocabularies are fitted is returned as is.
 */
export function fitCategorical(frame: Frame, spec: FeatureSpec, holdoutFraction: number): FeatureSpec {
  if (!spec.categorical?.some((c) => c.categories === null)) return spec;
  const target = column(frame, spec.target.column);
  const { outRow, targetIndex, kept } = targetRows(frame, spec, target);
  const times = new Float64Array(kept);
  for (let i = 0; i < frame.rows; i++) if (outRow[i] >= 0) times[outRow[i]] = frame.times[i];
  const cutoff = holdoutCutoff(times, holdoutFraction);
  const horizonMs = spec.target.horizon_minutes * 60_000;
  const train: number[] = [];
  for (let i = 0; i < frame.rows; i++) {
    if (outRow[i] < 0 || !(frame.times[i] < cutoff)) continue;
    const known = frame.labelTimes ? frame.labelTimes[targetIndex[i]] : frame.times[i] + horizonMs;
    if (known < cutoff) train.push(i);
  }
  return {
    ...spec,
    categorical: spec.categorical.map((enc) => {
      if (enc.categories !== null) return enc;
      const dictionary = frame.categories?.[enc.column];
      if (!dictionary) throw new Error(`categorical column "${enc.column}" has no categories in the frame (is it in source.categorical?)`);
      return { ...enc, categories: fitCategories(column(frame, enc.column), dictionary, enc, train) };
    }),
  };
}
