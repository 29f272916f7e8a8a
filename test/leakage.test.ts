import { describe, expect, it } from 'vitest';
import { buildTrainingSet } from '../actions/lib/features/training-set.ts';
import type { FeatureSpec } from '../actions/lib/features/spec.ts';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';
import { baselinePredictions } from '../actions/lib/train/baselines.ts';
import type { Frame } from '../actions/lib/source/frame.ts';

const T0 = Date.UTC(2026, 2, 1);
const MIN = 60_000;
const H = 30;

/**
 * Two stations whose level is a random walk (so the future is not predictable from the past
 * beyond "it stays where it is"), plus a planted column `leak` = level at t + H when asked.
 */
function frame(withLeak: boolean): Frame {
  const n = 2000;
  const rows = 2 * n;
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
  const times = new Float64Array(rows);
  const entities = new Int32Array(rows);
  const level = new Float64Array(rows);
  const flow = new Float64Array(rows);
  for (let e = 0; e < 2; e++) {
    let x = 5;
    for (let m = 0; m < n; m++) {
      const r = e * n + m;
      x += rnd();
      times[r] = T0 + m * MIN;
      entities[r] = e;
      level[r] = x;
      flow[r] = rnd();
    }
  }
  const leak = new Float64Array(rows).fill(Number.NaN);
  for (let r = 0; r < rows; r++) {
    const m = r % n;
    if (m + H < n) leak[r] = withLeak ? level[r + H] : flow[r];
  }
  return {
    rows,
    times,
    entities,
    entityIds: ['A', 'B'],
    names: ['level', 'flow', 'leak'],
    columns: [level, flow, leak],
    window: { start: new Date(T0), end: new Date(T0 + n * MIN) },
  };
}

const spec: FeatureSpec = {
  version: 1,
  time_column: 'ts',
  entity_column: 'station_id',
  interval_minutes: 1,
  columns: ['level', 'flow', 'leak'],
  raw: true,
  lags: [5, 15],
  rolling: { windows: [15], stats: ['mean', 'std'] },
  zscore: true,
  calendar: ['hour_of_day'],
  target: { column: 'level', horizon_minutes: H },
};

/** Ordinary least squares with an intercept (normal equations, Gaussian elimination); NaN -> 0 (z-scored mean). */
function fitPredict(train: FeatureMatrix, holdout: FeatureMatrix): Float64Array {
  const p = train.names.length + 1;
  const xtx = Array.from({ length: p }, () => new Float64Array(p));
  const xty = new Float64Array(p);
  const row = new Float64Array(p);
  const load = (m: FeatureMatrix, r: number): void => {
    row[0] = 1;
    for (let j = 1; j < p; j++) {
      const v = m.values[r * (p - 1) + j - 1];
      row[j] = v === v ? v : 0;
    }
  };
  for (let r = 0; r < train.rows; r++) {
    load(train, r);
    for (let i = 0; i < p; i++) {
      xty[i] += row[i] * train.target[r];
      for (let j = 0; j < p; j++) xtx[i][j] += row[i] * row[j];
    }
  }
  for (let i = 0; i < p; i++) xtx[i][i] += 1e-6; // a whisper of ridge for collinear lags
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(xtx[r][c]) > Math.abs(xtx[piv][c])) piv = r;
    [xtx[c], xtx[piv]] = [xtx[piv], xtx[c]];
    [xty[c], xty[piv]] = [xty[piv], xty[c]];
    for (let r = c + 1; r < p; r++) {
      const k = xtx[r][c] / xtx[c][c];
      for (let j = c; j < p; j++) xtx[r][j] -= k * xtx[c][j];
      xty[r] -= k * xty[c];
    }
  }
  const w = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = xty[i];
    for (let j = i + 1; j < p; j++) s -= xtx[i][j] * w[j];
    w[i] = s / xtx[i][i];
  }
  const out = new Float64Array(holdout.rows);
  for (let r = 0; r < holdout.rows; r++) {
    load(holdout, r);
    let s = 0;
    for (let j = 0; j < p; j++) s += w[j] * row[j];
    out[r] = s;
  }
  return out;
}

function rmse(pred: Float64Array, target: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < pred.length; i++) {
    if (Number.isNaN(pred[i])) continue;
    s += (pred[i] - target[i]) ** 2;
    n++;
  }
  return Math.sqrt(s / n);
}

describe('no leakage', () => {
  it('the holdout error collapses only when a future-looking feature is planted', () => {
    const score = (withLeak: boolean) => {
      const f = frame(withLeak);
      const set = buildTrainingSet(f, spec, { holdout_fraction: 0.2 });
      const model = rmse(fitPredict(set.train, set.holdout), set.holdout.target);
      const persistence = rmse(baselinePredictions('persistence', f, set.holdout, spec), set.holdout.target);
      return { model, persistence };
    };
    const clean = score(false);
    const leaky = score(true);
    // A random walk: no honest model beats "stays where it is" by much.
    expect(clean.model).toBeGreaterThan(0.9 * clean.persistence);
    // With the planted future value, the error collapses: the leak detector works.
    expect(leaky.model).toBeLessThan(0.01 * leaky.persistence);
  });

  it('features are causal: changing the future never changes an earlier row', () => {
    const a = frame(false);
    const b = frame(false);
    const cut = T0 + 1200 * MIN;
    for (let r = 0; r < b.rows; r++) if (b.times[r] > cut) for (const c of b.columns) c[r] = c[r] * 3 + 1;
    const sa = buildTrainingSet(a, { ...spec, zscore: false }, { holdout_fraction: 0.2 });
    const sb = buildTrainingSet(b, { ...spec, zscore: false }, { holdout_fraction: 0.2 });
    const nf = sa.train.names.length;
    // Train rows end H minutes before the cutoff (minute 1600): all of them and their targets sit
    // before minute 1600; those at or before `cut` - H must be identical, values and targets alike.
    let compared = 0;
    const differ: string[] = [];
    for (let r = 0; r < sa.train.rows; r++) {
      if (sa.train.times[r] + H * MIN > cut) continue;
      if (sb.train.times[r] !== sa.train.times[r] || sb.train.target[r] !== sa.train.target[r]) differ.push(`row ${r}: time/target`);
      for (let j = 0; j < nf; j++) {
        if (!Object.is(sb.train.values[r * nf + j], sa.train.values[r * nf + j])) differ.push(`row ${r}: ${sa.train.names[j]}`);
      }
      compared++;
    }
    expect(differ).toEqual([]);
    expect(compared).toBeGreaterThan(2000);
  });

  it('the split keeps every train target before the holdout and z-scores use train rows only', () => {
    const f = frame(false);
    const set = buildTrainingSet(f, spec, { holdout_fraction: 0.2 });
    const cutoff = set.split.cutoff.getTime();
    for (let r = 0; r < set.train.rows; r++) expect(set.train.times[r] + H * MIN).toBeLessThan(cutoff);
    expect(set.split.gapRows).toBe(2 * H);
    // Changing holdout-period data must not move the z-score statistics.
    const g = frame(false);
    for (let r = 0; r < g.rows; r++) if (g.times[r] >= cutoff) g.columns[0][r] += 1000;
    expect(buildTrainingSet(g, spec, { holdout_fraction: 0.2 }).stats).toEqual(set.stats);
  });
});
