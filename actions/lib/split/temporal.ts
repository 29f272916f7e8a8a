import { takeRows, type FeatureMatrix } from '../features/matrix.ts';

export interface TemporalSplitOptions {
  /** share of rows (newest by time) that form the holdout, in (0, 1) */
  holdout_fraction: number;
  horizon_minutes: number;
}

export interface TemporalSplit {
  /** rows whose target time is before the holdout start, sorted by time (ties by entity) */
  train: FeatureMatrix;
  /** rows at or after the cutoff, sorted by time (ties by entity) */
  holdout: FeatureMatrix;
  /** the first holdout time: holdout = rows with time >= cutoff */
  cutoff: Date;
  /** train rows dropped because their target became known (t + horizon, or the label time) at or after the cutoff */
  gapRows: number;
  holdoutStart: Date;
  /** the last holdout row's time (inclusive) */
  holdoutEnd: Date;
}

/** Row indices ordering a matrix by time, ties by entity then original position (a stable sort). */
export function timeOrder(m: Pick<FeatureMatrix, 'rows' | 'times' | 'entities'>): Uint32Array {
  const idx = new Uint32Array(m.rows);
  let sorted = true;
  for (let i = 0; i < m.rows; i++) {
    idx[i] = i;
    if (i > 0 && (m.times[i] < m.times[i - 1] || (m.times[i] === m.times[i - 1] && m.entities[i] < m.entities[i - 1]))) sorted = false;
  }
  if (sorted) return idx;
  // A typed-array sort with a comparator; the tie-break on the index makes it stable.
  return idx.sort((a, b) => m.times[a] - m.times[b] || m.entities[a] - m.entities[b] || a - b);
}

/** How many of `n` rows the holdout takes: the newest ceil(fraction * n), at least 1, leaving at least 1. */
export function holdoutSize(n: number, fraction: number): number {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`split.holdout_fraction must be in (0, 1), got ${fraction}`);
  return Math.min(n - 1, Math.max(1, Math.ceil(fraction * n)));
}

/** The holdout's first time for rows with these times (any order): what temporalSplit cuts at. */
export function holdoutCutoff(times: Float64Array, fraction: number): number {
  if (times.length < 2) throw new Error(`cannot split ${times.length} row(s) into train and holdout`);
  const sorted = Float64Array.from(times).sort();
  return sorted[times.length - holdoutSize(times.length, fraction)];
}

/**
 * Splits by time, never by shuffling: the newest `holdout_fraction` of rows (counted across all
 * entities) is the holdout; the cutoff is the time of the first of them, and every row at that
 * time joins the holdout too, so one timestamp is never split between the parts. Train rows whose
 * target time t + horizon reaches the cutoff are dropped (a gap of one horizon): their targets
 * are holdout-period values, and training on them would leak the holdout into the model. With
 * delayed labels (`knownAt`, classification) the gap is by label time: a train row whose label
 * arrived at or after the cutoff was not known when the holdout began, so it is left out too.
 */
export function temporalSplit(matrix: FeatureMatrix, opts: TemporalSplitOptions): TemporalSplit {
  const f = opts.holdout_fraction;
  if (!(f > 0 && f < 1)) throw new Error(`split.holdout_fraction must be in (0, 1), got ${f}`);
  if (matrix.rows < 2) throw new Error(`cannot split ${matrix.rows} row(s) into train and holdout`);
  const order = timeOrder(matrix);
  const n = matrix.rows;
  const cutoff = matrix.times[order[n - holdoutSize(n, f)]];
  const knownAt = matrix.knownAt;
  const horizonMs = opts.horizon_minutes * 60_000;
  const trainIdx = new Uint32Array(n);
  const holdoutIdx = new Uint32Array(n);
  let nt = 0;
  let nh = 0;
  let gapRows = 0;
  for (let k = 0; k < n; k++) {
    const r = order[k];
    const t = matrix.times[r];
    if (t >= cutoff) holdoutIdx[nh++] = r;
    else if (knownAt ? !(knownAt[r] < cutoff) : t + horizonMs >= cutoff) gapRows++;
    else trainIdx[nt++] = r;
  }
  if (nt === 0) {
    throw new Error(
      `no training rows left: the holdout starts at ${new Date(cutoff).toISOString()} and ` +
        (knownAt
          ? `the labels of the remaining ${gapRows} rows arrived after it`
          : `a ${opts.horizon_minutes}-minute gap before it removes the remaining ${gapRows} rows`) +
        '; extend the window or lower split.holdout_fraction',
    );
  }
  const h = takeRows(matrix, holdoutIdx.subarray(0, nh));
  return {
    train: takeRows(matrix, trainIdx.subarray(0, nt)),
    holdout: h,
    cutoff: new Date(cutoff),
    gapRows,
    holdoutStart: new Date(cutoff),
    holdoutEnd: new Date(h.times[h.rows - 1]),
  };
}
