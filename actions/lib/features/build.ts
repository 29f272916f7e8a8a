import type { Frame } from '../source/frame.ts';
import { entityRanges } from '../source/frame.ts';
import type { FeatureMatrix } from './matrix.ts';
import { oneHotColumns } from './categorical.ts';
import { featureNames, minValidInWindow, type CalendarFeature, type FeatureSpec, type RollingStat } from './spec.ts';
import { applyZScore, type ZScoreStats } from './zscore.ts';
import { DAY_MS, MINUTE_MS } from '../util/duration.ts';

export type { FeatureSpec } from './spec.ts';
export type { ZScoreStats } from './zscore.ts';

export interface BuildResult {
  /** rows in frame order (entity, then time); see `timeOrder` in split/temporal.ts for time order */
  matrix: FeatureMatrix;
  dropped: { no_target: number; target_out_of_range: number; warmup?: number };
  /**
   * `applied`: the given stats standardised the matrix. `pending`: the spec asks for z-scores but
   * no stats were given; the matrix is raw and the caller fits stats on its training rows
   * (`fitZScore`) and applies them to every part (`applyZScore`), as `buildTrainingSet` does.
   */
  zscore: 'off' | 'applied' | 'pending';
  stats: ZScoreStats | null;
  /** features with no value in any kept row (allowed through; quality and the trainer decide) */
  allNaN: string[];
  warnings: string[];
}

const TWO_PI = 2 * Math.PI;
/** Feature columns written into the row-major matrix together (see buildFeatures). */
const PUT_BLOCK = 16;
const TILE_ROWS = 64;

/**
 * Builds the feature matrix of a frame, entity by entity (no feature ever mixes stations):
 * raw values, time-aware lags (value at exactly t - L minutes, NaN when no row has that time),
 * rolling mean/std/min/max over (t - W, t] by time, sin/cos calendar encodings (UTC), and the
 * target at exactly t + horizon, then the one-hot columns of categorical inputs (categorical.ts).
 * Rows without a target are dropped and counted. Everything is
 * looked up by time with two pointers per entity, so the cost is O(rows) per feature.
 */
export function buildFeatures(frame: Frame, spec: FeatureSpec, stats?: ZScoreStats): BuildResult {
  if (frame.rows === 0) throw new Error('no rows to build features from');
  const names = featureNames(spec);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`feature name "${dup}" is produced twice (a column clashes with a generated feature name)`);
  const col = (name: string, what: string): Float64Array => {
    const i = frame.names.indexOf(name);
    if (i < 0) throw new Error(`${what} "${name}" is not in the frame (has: ${frame.names.join(', ')})`);
    return frame.columns[i];
  };
  const targetCol = col(spec.target.column, 'target column');
  const sources = spec.columns.map((c) => col(c, 'feature column'));
  const { rows, times } = frame;
  const ranges = entityRanges(frame);

  let anyTarget = false;
  for (let i = 0; i < rows && !anyTarget; i++) anyTarget = targetCol[i] === targetCol[i];
  if (!anyTarget) throw new Error(`target "${spec.target.column}" has no values in the window`);

  const { targetIndex, outRow, kept, outOfRange } = targetRows(frame, spec, targetCol, ranges);
  const nf = names.length;
  const values = new Float32Array(kept * nf);
  const target = new Float64Array(kept);
  const outTimes = new Float64Array(kept);
  const entities = new Int32Array(kept);
  const keys = frame.keys ? new Array<string>(kept) : undefined;
  const knownAt = frame.labelTimes ? new Float64Array(kept) : undefined;
  for (let i = 0; i < rows; i++) {
    const o = outRow[i];
    if (o < 0) continue;
    target[o] = targetCol[targetIndex[i]];
    outTimes[o] = times[i];
    entities[o] = frame.entities[i];
    if (keys) keys[o] = frame.keys![i];
    if (knownAt) knownAt[o] = frame.labelTimes![targetIndex[i]];
  }

  const anyValid = new Uint8Array(nf);
  // Feature columns (frame-row aligned) go into the row-major matrix PUT_BLOCK at a time: each is
  // first compacted to the kept rows in a column of its own, then a block's columns are written row
  // by row, so that a pass over the matrix writes a run of PUT_BLOCK floats per row rather than one
  // (one column at a time took a cache miss per row and feature: ~0.8 s of 2.4 s at 365 days).
  const block = Array.from({ length: Math.min(PUT_BLOCK, nf) }, () => new Float32Array(kept));
  let blockStart = 0;
  let blockCols = 0;
  const flush = (): void => {
    const width = blockCols;
    // in tiles of TILE_ROWS rows, whose part of the matrix stays in the cache while each column fills it
    for (let o0 = 0; o0 < kept; o0 += TILE_ROWS) {
      const o1 = Math.min(kept, o0 + TILE_ROWS);
      for (let c = 0; c < width; c++) {
        const column = block[c];
        for (let o = o0, at = o0 * nf + blockStart + c; o < o1; o++, at += nf) values[at] = column[o];
      }
    }
    blockStart += width;
    blockCols = 0;
  };
  // The next feature column, in featureNames order.
  const put = (v: Float64Array): void => {
    const f = blockStart + blockCols;
    const column = block[blockCols];
    let any = 0;
    for (let i = 0; i < rows; i++) {
      const o = outRow[i];
      if (o < 0) continue;
      const x = v[i];
      column[o] = x;
      if (x === x) any = 1;
    }
    anyValid[f] = any;
    if (++blockCols === block.length) flush();
  };

  const lagIndex = spec.lags.map((l) => shiftedIndex(times, ranges, -l * MINUTE_MS));
  const scratch = new Float64Array(rows);
  const rollOut = spec.rolling.stats.map(() => new Float64Array(rows));
  const longest = ranges.reduce((m, r) => Math.max(m, r.end - r.start), 1);
  const minDeque = new Int32Array(longest);
  const maxDeque = new Int32Array(longest);
  for (const x of sources) {
    if (spec.raw) put(x);
    for (const idx of lagIndex) {
      for (let i = 0; i < rows; i++) scratch[i] = idx[i] >= 0 ? x[idx[i]] : Number.NaN;
      put(scratch);
    }
    for (const w of spec.rolling.windows) {
      for (const r of ranges) rolling(x, times, r.start, r.end, w, spec.interval_minutes, spec.rolling.stats, rollOut, minDeque, maxDeque);
      for (const out of rollOut) put(out);
    }
  }
  for (const k of spec.calendar) {
    const sin = new Float64Array(rows);
    const cos = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const phase = calendarPhase(k, times[i]);
      sin[i] = Math.sin(TWO_PI * phase);
      cos[i] = Math.cos(TWO_PI * phase);
    }
    put(sin);
    put(cos);
  }
  for (const enc of spec.categorical ?? []) {
    const dictionary = frame.categories?.[enc.column];
    if (!dictionary) throw new Error(`categorical column "${enc.column}" has no categories in the frame (is it in source.categorical?)`);
    for (const oneHot of oneHotColumns(col(enc.column, 'categorical column'), dictionary, enc.categories ?? [])) put(oneHot);
  }

  flush();
  if (blockStart !== nf) throw new Error(`built ${blockStart} feature columns for ${nf} feature names`);
  const matrix: FeatureMatrix = {
    rows: kept,
    names,
    values,
    target,
    times: outTimes,
    entities,
    entityIds: frame.entityIds,
    ...(keys ? { keys } : {}),
    ...(knownAt ? { knownAt } : {}),
  };
  const allNaN = names.filter((_, i) => anyValid[i] === 0);
  const warnings = allNaN.map((n) => `feature "${n}" has no values in any row with a target`);
  let zscore: BuildResult['zscore'] = 'off';
  if (spec.zscore && stats) {
    applyZScore(matrix, stats);
    zscore = 'applied';
  } else if (spec.zscore) zscore = 'pending';
  return {
    matrix,
    dropped: { no_target: rows - kept - outOfRange, target_out_of_range: outOfRange },
    zscore,
    stats: spec.zscore ? (stats ?? null) : null,
    allNaN,
    warnings,
  };
}

/**
 * Where epoch-ms time `t` falls in a calendar cycle, in [0, 1): the fraction of the UTC day, or of
 * the week from Sunday. Its sin and cos (of 2π·phase) are the calendar features, in training and
 * in serving alike.
 */
export function calendarPhase(kind: CalendarFeature, t: number): number {
  return kind === 'hour_of_day'
    ? (((t % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS // fraction of the UTC day
    : ((((Math.floor(t / DAY_MS) + 4) % 7) + 7) % 7) / 7; // day 0 (1970-01-01) was a Thursday; 0 = Sunday
}

/**
 * The rows that have a target: the value at exactly t + horizon for the same entity, present and
 * inside valid_range. `outRow[i]` is frame row i's row in the matrix (-1: dropped).
 */
export function targetRows(
  frame: Frame,
  spec: FeatureSpec,
  targetCol: Float64Array,
  ranges = entityRanges(frame),
): { targetIndex: Int32Array; outRow: Int32Array; kept: number; outOfRange: number } {
  const { rows, times } = frame;
  const targetIndex = shiftedIndex(times, ranges, spec.target.horizon_minutes * MINUTE_MS);
  const outRow = new Int32Array(rows).fill(-1);
  let kept = 0;
  let outOfRange = 0;
  const [lo, hi] = spec.target.valid_range ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let i = 0; i < rows; i++) {
    const j = targetIndex[i];
    if (j < 0) continue;
    const y = targetCol[j];
    if (y !== y) continue;
    if (y < lo || y > hi) {
      outOfRange++;
      continue;
    }
    outRow[i] = kept++;
  }
  if (kept === 0) {
    const span = (times[rows - 1] - times[0]) / MINUTE_MS;
    throw new Error(
      `no row has a target ${spec.target.horizon_minutes} minutes ahead: the frame holds ${rows} rows` +
        ` spanning ${Math.max(0, span)} minutes per entity at most, fewer than the horizon needs`,
    );
  }
  return { targetIndex, outRow, kept, outOfRange };
}

/**
 * For every row, the row of the same entity whose time is exactly t + shiftMs, or -1.
 * Two pointers per entity: times are sorted within an entity. With duplicate times the first wins.
 */
export function shiftedIndex(times: Float64Array, ranges: readonly { start: number; end: number }[], shiftMs: number): Int32Array {
  const out = new Int32Array(times.length).fill(-1);
  for (const { start, end } of ranges) {
    let j = start;
    for (let i = start; i < end; i++) {
      const want = times[i] + shiftMs;
      while (j < end && times[j] < want) j++;
      if (j === end) {
        if (shiftMs >= 0) break; // later rows want even later times
        continue;
      }
      if (times[j] === want) out[i] = j;
    }
  }
  return out;
}

/**
 * Rolling statistics over (t - W, t] for rows [start, end) of one entity, NaNs skipped, in one
 * pass: a two-pointer window; running sums of (x - shift) with the shift a value of the current
 * window (so the variance does not lose precision to a large mean), re-based periodically; monotonic deques
 * of row indices for min and max. std is the sample standard deviation (n - 1).
 */
function rolling(
  x: Float64Array,
  times: Float64Array,
  start: number,
  end: number,
  windowMinutes: number,
  intervalMinutes: number,
  stats: readonly RollingStat[],
  out: Float64Array[],
  minD: Int32Array,
  maxD: Int32Array,
): void {
  const widthMs = windowMinutes * MINUTE_MS;
  const need = stats.map((s) => minValidInWindow(windowMinutes, intervalMinutes, s));
  const wantMin = stats.includes('min');
  const wantMax = stats.includes('max');
  let shift = Number.NaN;
  for (let i = start; i < end && shift !== shift; i++) shift = x[i];
  if (shift !== shift) shift = 0;
  let minH = 0,
    minT = 0,
    maxH = 0,
    maxT = 0;
  let n = 0,
    s1 = 0,
    s2 = 0;
  let left = start;
  let sinceRebase = 0;
  for (let i = start; i < end; i++) {
    const v = x[i];
    if (v === v) {
      const d = v - shift;
      n++;
      s1 += d;
      s2 += d * d;
      if (wantMin) {
        while (minT > minH && x[minD[minT - 1]] >= v) minT--;
        minD[minT++] = i;
      }
      if (wantMax) {
        while (maxT > maxH && x[maxD[maxT - 1]] <= v) maxT--;
        maxD[maxT++] = i;
      }
    }
    const lowest = times[i] - widthMs;
    while (left <= i && times[left] <= lowest) {
      const u = x[left];
      if (u === u) {
        const d = u - shift;
        n--;
        s1 -= d;
        s2 -= d * d;
        if (n === 0) s1 = s2 = 0; // drop accumulated rounding whenever the window empties
      }
      left++;
    }
    // Re-base the sums on the window's own values every window's worth of rows: the shift stays
    // local (no cancellation when the level drifts) and rounding cannot accumulate; O(1) amortised.
    if (++sinceRebase >= Math.max(64, i - left + 1)) {
      sinceRebase = 0;
      (n = 0), (s1 = 0), (s2 = 0);
      shift = Number.NaN;
      for (let j = left; j <= i; j++) {
        const u = x[j];
        if (u !== u) continue;
        if (shift !== shift) shift = u;
        const d = u - shift;
        n++;
        s1 += d;
        s2 += d * d;
      }
      if (shift !== shift) shift = 0;
    }
    // Deques hold row indices (at most one push per row of this entity); rows before `left` have left.
    if (wantMin) while (minT > minH && minD[minH] < left) minH++;
    if (wantMax) while (maxT > maxH && maxD[maxH] < left) maxH++;
    for (let k = 0; k < stats.length; k++) {
      let r = Number.NaN;
      if (n >= need[k]) {
        switch (stats[k]) {
          case 'mean':
            r = shift + s1 / n;
            break;
          case 'std': {
            const varr = (s2 - (s1 * s1) / n) / (n - 1);
            r = varr > 0 ? Math.sqrt(varr) : 0;
            break;
          }
          case 'min':
            r = x[minD[minH]];
            break;
          case 'max':
            r = x[maxD[maxH]];
            break;
        }
      }
      out[k][i] = r;
    }
  }
}
