import type { FeatureMatrix } from '../features/matrix.ts';
import type { FeatureSpec } from '../features/spec.ts';
import { entityRanges, type Frame } from '../source/frame.ts';
import { MINUTE_MS } from '../util/duration.ts';

export type BaselineKind = 'persistence' | 'seasonal_naive' | 'mean';

/** The rows to predict: their feature time and entity (a holdout matrix is one). */
export type BaselineRows = Pick<FeatureMatrix, 'rows' | 'times' | 'entities' | 'entityIds'>;

export interface BaselineOptions {
  /** required for `mean`: the training target mean */
  trainTargetMean?: number;
  /** season for `seasonal_naive` in minutes: 1440 (a day) or 10080 (a week); default 1440 */
  seasonMinutes?: number;
}

/**
 * Predictions of a naive forecaster for each row, to score against the same holdout as the models
 * (the evaluator scores them; they are never exported). Values come from the frame by entity and
 * exact time, never from the (possibly z-scored) matrix:
 * - persistence: the target column's value at the feature time t ("no change over the horizon");
 * - seasonal_naive: its value at t + horizon - k * season for the same entity, k the smallest
 *   whole number of seasons that puts that time at or before t (only past values are used);
 *   NaN when no row has that time;
 * - mean: the training target mean.
 */
export function baselinePredictions(
  kind: BaselineKind,
  frame: Frame,
  rows: BaselineRows,
  spec: Pick<FeatureSpec, 'target'>,
  options: BaselineOptions = {},
): Float64Array {
  const out = new Float64Array(rows.rows);
  if (kind === 'mean') {
    const m = options.trainTargetMean;
    if (m === undefined || !Number.isFinite(m)) throw new Error('the mean baseline needs the training target mean');
    return out.fill(m);
  }
  const ti = frame.names.indexOf(spec.target.column);
  if (ti < 0) throw new Error(`target column "${spec.target.column}" is not in the frame`);
  const target = frame.columns[ti];
  const horizonMs = spec.target.horizon_minutes * MINUTE_MS;
  let offsetMs = 0;
  if (kind === 'seasonal_naive') {
    const season = options.seasonMinutes ?? 1440;
    if (!(season > 0)) throw new Error(`baseline season_minutes must be > 0, got ${season}`);
    const k = Math.max(1, Math.ceil(spec.target.horizon_minutes / season));
    offsetMs = horizonMs - k * season * MINUTE_MS;
  }
  // Entity ids may be coded differently in the frame and in the rows: match them by name.
  const ranges = new Map<string, { start: number; end: number }>();
  for (const r of entityRanges(frame)) ranges.set(frame.entityIds[r.entity], r);
  for (let i = 0; i < rows.rows; i++) {
    const r = ranges.get(rows.entityIds[rows.entities[i]]);
    const j = r ? findTime(frame.times, r.start, r.end, rows.times[i] + offsetMs) : -1;
    out[i] = j >= 0 ? target[j] : Number.NaN;
  }
  return out;
}

/** The first row in [start, end) with exactly time `t`, or -1 (binary search: times are sorted). */
function findTime(times: Float64Array, start: number, end: number, t: number): number {
  let lo = start;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo < end && times[lo] === t ? lo : -1;
}

/** Mean of a training target (the `mean` baseline's constant). */
export function targetMean(train: Pick<FeatureMatrix, 'target' | 'rows'>): number {
  let s = 0;
  for (let i = 0; i < train.rows; i++) s += train.target[i];
  return s / train.rows;
}
