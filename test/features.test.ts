import { describe, expect, it } from 'vitest';
import { buildFeatures, shiftedIndex } from '../actions/lib/features/build.ts';
import { featureNames, featureSpecFromPipeline, minValidInWindow, type FeatureSpec } from '../actions/lib/features/spec.ts';
import { applyZScore, fitZScore } from '../actions/lib/features/zscore.ts';
import { buildTrainingSet } from '../actions/lib/features/training-set.ts';
import { entityRanges, type Frame } from '../actions/lib/source/frame.ts';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';
import { pipelineSchema } from '../actions/lib/config/schema.ts';

const T0 = Date.UTC(2026, 2, 1); // a Sunday, 00:00 UTC
const MIN = 60_000;

interface Series {
  entity: string;
  minutes: number[];
  cols: Record<string, number[]>;
}

/** A frame from per-entity series (given in entity order, times ascending). */
export function makeFrame(series: Series[]): Frame {
  const names = Object.keys(series[0].cols);
  const rows = series.reduce((n, s) => n + s.minutes.length, 0);
  const times = new Float64Array(rows);
  const entities = new Int32Array(rows);
  const columns = names.map(() => new Float64Array(rows));
  let r = 0;
  series.forEach((s, e) => {
    s.minutes.forEach((m, k) => {
      times[r] = T0 + m * MIN;
      entities[r] = e;
      names.forEach((n, c) => (columns[c][r] = s.cols[n][k]));
      r++;
    });
  });
  return { rows, times, entities, entityIds: series.map((s) => s.entity), names, columns, window: { start: new Date(T0), end: new Date(T0 + 1e9) } };
}

function spec(extra: Partial<FeatureSpec> = {}): FeatureSpec {
  return {
    version: 1,
    time_column: 'ts',
    entity_column: 'station_id',
    interval_minutes: 1,
    columns: ['a'],
    raw: true,
    lags: [],
    rolling: { windows: [], stats: [] },
    zscore: false,
    calendar: [],
    target: { column: 'a', horizon_minutes: 0 },
    ...extra,
  };
}

/** One feature column of a matrix as plain numbers (NaN kept). */
function feature(m: FeatureMatrix, name: string): number[] {
  const j = m.names.indexOf(name);
  if (j < 0) throw new Error(`no feature ${name} in ${m.names.join(', ')}`);
  return Array.from({ length: m.rows }, (_, r) => m.values[r * m.names.length + j]);
}

const NaN_ = Number.NaN;
// minutes 0,1,2,4,5,6 (minute 3 missing)
const gappy = (): Frame => makeFrame([{ entity: 'S1', minutes: [0, 1, 2, 4, 5, 6], cols: { a: [10, 11, 12, 14, 15, 16], y: [0, 1, 2, 3, 4, 5] } }]);

describe('feature spec', () => {
  it('derives the spec from a pipeline and names features readably and stably', () => {
    const p = pipelineSchema.parse({
      name: 'tank-level-forecast',
      source: { table: 'readings_wide', entity_column: 'station_id', columns: ['tank_level_m', 'inflow_m3h'], derive: { head_m: 'x * 2' } },
      target: { column: 'tank_level_m', horizon_minutes: 60 },
      features: { lags: [1, 60], rolling: { windows: [15], stats: ['mean', 'std'] }, calendar: ['hour_of_day', 'day_of_week'] },
      trainer: { algorithm: 'ridge' },
    });
    const s = featureSpecFromPipeline(p);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.columns).toEqual(['tank_level_m', 'inflow_m3h', 'head_m']);
    expect(s.target).toEqual({ column: 'tank_level_m', horizon_minutes: 60, valid_range: null });
    expect(featureNames(s).slice(0, 5)).toEqual([
      'tank_level_m',
      'tank_level_m_lag_1m',
      'tank_level_m_lag_60m',
      'tank_level_m_roll_15m_mean',
      'tank_level_m_roll_15m_std',
    ]);
    expect(featureNames(s).slice(-4)).toEqual(['hour_sin', 'hour_cos', 'dow_sin', 'dow_cos']);
    expect(featureNames(s)).toHaveLength(3 * 5 + 4);
  });

  it('documents the rolling validity rule', () => {
    expect(minValidInWindow(15, 1, 'mean')).toBe(8);
    expect(minValidInWindow(60, 1, 'std')).toBe(30);
    expect(minValidInWindow(3, 1, 'std')).toBe(2);
    expect(minValidInWindow(2, 5, 'max')).toBe(1);
    expect(minValidInWindow(2, 5, 'std')).toBe(2);
  });
});

describe('buildFeatures', () => {
  it('puts every feature in its column of the row-major matrix, however many features there are', () => {
    // 3 columns x (raw, 3 lags, 2 windows x 2 stats) + 4 calendar = 28 features (more than one
    // block of columns written together); each column alone builds 12. A column's features depend
    // on it alone, so the wide matrix must hold each narrow one's values under the same names.
    const minutes = Array.from({ length: 400 }, (_, i) => i + (i > 200 ? 3 : 0));
    const wave = (k: number) => minutes.map((m, i) => (i % 97 === 5 ? NaN_ : Math.sin(m / (7 + k)) * (10 + k) + k));
    const frame = makeFrame([
      { entity: 'S1', minutes, cols: { a: wave(0), b: wave(1), c: wave(2) } },
      { entity: 'S2', minutes: minutes.slice(0, 300), cols: { a: wave(3).slice(0, 300), b: wave(4).slice(0, 300), c: wave(5).slice(0, 300) } },
    ]);
    const build = (columns: string[]): FeatureMatrix =>
      buildFeatures(
        frame,
        spec({
          lags: [1, 5, 60],
          rolling: { windows: [15, 60], stats: ['mean', 'std'] },
          calendar: ['hour_of_day', 'day_of_week'],
          columns,
          target: { column: 'a', horizon_minutes: 10 },
        }),
      ).matrix;
    const wide = build(['a', 'b', 'c']);
    expect(wide.names).toHaveLength(28);
    for (const column of ['a', 'b', 'c']) {
      const narrow = build([column]);
      expect(narrow.names).toHaveLength(12);
      expect(narrow.rows).toBe(wide.rows);
      for (const name of narrow.names) expect(feature(wide, name)).toEqual(feature(narrow, name));
    }
  });

  it('takes lags by exact time: a lag across a gap is NaN, never the previous row', () => {
    const { matrix } = buildFeatures(gappy(), spec({ lags: [1, 2] }));
    expect(matrix.names).toEqual(['a', 'a_lag_1m', 'a_lag_2m']);
    expect(feature(matrix, 'a')).toEqual([10, 11, 12, 14, 15, 16]);
    expect(feature(matrix, 'a_lag_1m')).toEqual([NaN_, 10, 11, NaN_, 14, 15]);
    expect(feature(matrix, 'a_lag_2m')).toEqual([NaN_, NaN_, 10, 12, NaN_, 14]);
  });

  it('rolls windows over (t - W, t] by time, skipping NaN, with the validity rule', () => {
    const f = gappy();
    f.columns[0][4] = NaN_; // minute 5
    const { matrix } = buildFeatures(f, spec({ rolling: { windows: [3], stats: ['mean', 'std', 'min', 'max'] }, target: { column: 'y', horizon_minutes: 0 } }));
    // A window needs 2 valid values (half of 3 expected). By minute: 0: {10} too few; 1: {10,11};
    // 2: {10,11,12}; 4: (1,4] = {12,14}; 5: (2,5] = {14} (15 is NaN) too few; 6: (3,6] = {14,16}
    expect(feature(matrix, 'a_roll_3m_mean')).toEqual([NaN_, 10.5, 11, 13, NaN_, 15]);
    expect(feature(matrix, 'a_roll_3m_min')).toEqual([NaN_, 10, 10, 12, NaN_, 14]);
    expect(feature(matrix, 'a_roll_3m_max')).toEqual([NaN_, 11, 12, 14, NaN_, 16]);
    expect(feature(matrix, 'a_roll_3m_std')).toEqual([NaN_, Math.SQRT1_2, 1, Math.SQRT2, NaN_, Math.SQRT2].map(Math.fround));
  });

  it('never mixes entities: lags, windows and targets stay within a station', () => {
    const f = makeFrame([
      { entity: 'A', minutes: [0, 1, 2], cols: { a: [1, 2, 3] } },
      { entity: 'B', minutes: [1, 2, 3], cols: { a: [100, 200, 300] } },
    ]);
    const { matrix, dropped } = buildFeatures(f, spec({ lags: [1], rolling: { windows: [2], stats: ['mean'] }, target: { column: 'a', horizon_minutes: 1 } }));
    // A's minute 2 and B's minute 3 have no target one minute later in their own series.
    expect(dropped.no_target).toBe(2);
    expect(matrix.entityIds).toEqual(['A', 'B']);
    expect([...matrix.entities]).toEqual([0, 0, 1, 1]);
    expect(feature(matrix, 'a_lag_1m')).toEqual([NaN_, 1, NaN_, 100]);
    expect(feature(matrix, 'a_roll_2m_mean')).toEqual([1, 1.5, 100, 150]);
    expect([...matrix.target]).toEqual([2, 3, 200, 300]);
  });

  it('takes the target at exactly t + horizon and counts the rows without one', () => {
    const f = gappy();
    f.columns[0][5] = NaN_; // minute 6 has a NaN target value
    const { matrix, dropped } = buildFeatures(f, spec({ target: { column: 'a', horizon_minutes: 2 } }));
    // minute 0 -> 2 (12); 1 -> 3 missing; 2 -> 4 (14); 4 -> 6 NaN; 5 -> 7 missing; 6 -> 8 missing
    expect([...matrix.times].map((t) => (t - T0) / MIN)).toEqual([0, 2]);
    expect([...matrix.target]).toEqual([12, 14]);
    expect(dropped).toEqual({ no_target: 4, target_out_of_range: 0 });
  });

  it('drops rows whose target is outside target.valid_range (sensor spikes) and counts them', () => {
    const f = gappy();
    const { matrix, dropped } = buildFeatures(f, spec({ target: { column: 'a', horizon_minutes: 2, valid_range: [0, 13] } }));
    // minute 0 -> 2 (12) kept; minute 2 -> 4 (14) is above 13; minute 4 -> 6 (16) too
    expect([...matrix.target]).toEqual([12]);
    expect(dropped).toEqual({ no_target: 3, target_out_of_range: 2 });
  });

  it('encodes hour of day (fractional) and day of week as sin/cos in UTC', () => {
    const f = makeFrame([{ entity: 'S', minutes: [0, 6 * 60, 18 * 60 + 30, 24 * 60 * 3], cols: { a: [1, 2, 3, 4] } }]);
    const { matrix } = buildFeatures(f, spec({ raw: false, columns: [], calendar: ['hour_of_day', 'day_of_week'] }));
    expect(matrix.names).toEqual(['hour_sin', 'hour_cos', 'dow_sin', 'dow_cos']);
    const hs = feature(matrix, 'hour_sin');
    const hc = feature(matrix, 'hour_cos');
    expect(hs[0]).toBeCloseTo(0, 6);
    expect(hc[0]).toBeCloseTo(1, 6);
    expect(hs[1]).toBeCloseTo(1, 6); // 06:00
    expect(hs[2]).toBeCloseTo(Math.sin((2 * Math.PI * 18.5) / 24), 6); // 18:30
    // 2026-03-01 is a Sunday (0); three days later a Wednesday (3).
    expect(feature(matrix, 'dow_sin')[0]).toBeCloseTo(0, 6);
    expect(feature(matrix, 'dow_cos')[0]).toBeCloseTo(1, 6);
    expect(feature(matrix, 'dow_sin')[3]).toBeCloseTo(Math.sin((2 * Math.PI * 3) / 7), 6);
  });

  it('matches a brute-force computation on an irregular series with NaNs (two entities)', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const series: Series[] = ['A', 'B'].map((entity) => {
      const minutes: number[] = [];
      const v: number[] = [];
      for (let m = 0; m < 600; m++) {
        if (rnd() < 0.15) continue; // missing rows
        minutes.push(m);
        v.push(rnd() < 0.1 ? NaN_ : 1000 + Math.sin(m / 20) * 5 + rnd());
      }
      return { entity, minutes, cols: { a: v, y: v.map(() => 1) } };
    });
    const f = makeFrame(series);
    const s = spec({ lags: [1, 7], rolling: { windows: [5, 30], stats: ['mean', 'std', 'min', 'max'] }, target: { column: 'y', horizon_minutes: 0 } });
    const { matrix } = buildFeatures(f, s);
    const got = new Map(matrix.names.map((n) => [n, feature(matrix, n)]));
    const x = f.columns[0];
    for (const r of entityRanges(f)) {
      for (let i = r.start; i < r.end; i++) {
        const t = f.times[i];
        for (const l of s.lags) {
          let want = NaN_;
          for (let j = r.start; j < r.end; j++) if (f.times[j] === t - l * MIN) want = x[j];
          expect(got.get(`a_lag_${l}m`)![i]).toEqual(Math.fround(want));
        }
        for (const w of s.rolling.windows) {
          const vals: number[] = [];
          for (let j = r.start; j <= i; j++) if (f.times[j] > t - w * MIN && !Number.isNaN(x[j])) vals.push(x[j]);
          const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
          const sd = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1));
          const ok = (stat: 'mean' | 'std' | 'min' | 'max') => vals.length >= minValidInWindow(w, 1, stat);
          const check = (stat: 'mean' | 'std' | 'min' | 'max', want: number) => {
            const v = got.get(`a_roll_${w}m_${stat}`)![i];
            if (!ok(stat)) expect(v).toBeNaN();
            else expect(Math.abs(v - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-6 + 1e-5);
          };
          check('mean', mean);
          check('std', sd);
          check('min', Math.min(...vals));
          check('max', Math.max(...vals));
        }
      }
    }
  });

  it('keeps std precise on a large offset and after long runs', () => {
    const n = 20_000;
    const minutes = Array.from({ length: n }, (_, i) => i);
    const v = minutes.map((i) => 1e9 + (i % 2)); // std of {1e9, 1e9 + 1} pairs
    const { matrix } = buildFeatures(makeFrame([{ entity: 'S', minutes, cols: { a: v } }]), spec({ raw: false, rolling: { windows: [4], stats: ['std'] } }));
    const std = feature(matrix, 'a_roll_4m_std');
    const want = Math.fround(Math.sqrt(1 / 3)); // sample std of [0, 1, 0, 1]
    for (let i = 3; i < n; i += 997) expect(std[i]).toBe(want);
  });

  it('fails clearly on bad input and names all-NaN features', () => {
    const empty: Frame = { ...gappy(), rows: 0, times: new Float64Array(0), entities: new Int32Array(0), columns: [new Float64Array(0)] };
    expect(() => buildFeatures(empty, spec())).toThrow('no rows to build features from');
    const f = gappy();
    expect(() => buildFeatures(f, spec({ target: { column: 'a', horizon_minutes: 60 } }))).toThrow(/no row has a target 60 minutes ahead/);
    const allNaN = makeFrame([{ entity: 'S', minutes: [0, 1], cols: { a: [1, 2], x: [NaN_, NaN_] } }]);
    expect(() => buildFeatures(allNaN, spec({ target: { column: 'x', horizon_minutes: 0 } }))).toThrow('target "x" has no values in the window');
    const r = buildFeatures(allNaN, spec({ columns: ['a', 'x'], lags: [5] }));
    expect(r.allNaN).toEqual(['a_lag_5m', 'x', 'x_lag_5m']);
    expect(r.warnings[0]).toMatch(/feature "a_lag_5m" has no values/);
    expect(() => buildFeatures(f, spec({ columns: ['nope'] }))).toThrow(/feature column "nope" is not in the frame/);
    expect(() => buildFeatures(f, spec({ target: { column: 'q', horizon_minutes: 1 } }))).toThrow(/target column "q" is not in the frame/);
  });

  it('shiftedIndex finds exact times forwards and backwards', () => {
    const f = gappy();
    const ranges = entityRanges(f);
    expect([...shiftedIndex(f.times, ranges, 2 * MIN)]).toEqual([2, -1, 3, 5, -1, -1]);
    expect([...shiftedIndex(f.times, ranges, -2 * MIN)]).toEqual([-1, -1, 0, 2, -1, 3]);
  });
});

describe('z-scores', () => {
  it('fits on train rows only, applies in place, leaves calendar features, and rebuilds identically with stats', () => {
    const minutes = Array.from({ length: 200 }, (_, i) => i * 30);
    const f = makeFrame([{ entity: 'S', minutes, cols: { a: minutes.map((m) => 50 + m / 10) } }]);
    const s = spec({ lags: [30], calendar: ['hour_of_day'], zscore: true, target: { column: 'a', horizon_minutes: 30 } });
    const raw = buildFeatures(f, s);
    expect(raw.zscore).toBe('pending');
    expect(raw.stats).toBeNull();
    const set = buildTrainingSet(f, s, { holdout_fraction: 0.25 });
    const stats = set.stats!;
    expect(stats.names).toEqual(['a', 'a_lag_30m']);
    // Train-only stats: the mean of `a` over the train rows, not over all rows.
    const trainA = Array.from({ length: set.train.rows }, (_, r) => raw.matrix.values[r * 4]);
    expect(stats.mean[0]).toBeCloseTo(trainA.reduce((x, y) => x + y, 0) / trainA.length, 4);
    expect(Math.abs(feature(set.train, 'a').reduce((x, y) => x + y, 0))).toBeLessThan(1e-3);
    // Holdout rows are beyond the training range: their z-scores exceed 1, as they should.
    expect(Math.min(...feature(set.holdout, 'a'))).toBeGreaterThan(1);
    // Serving: buildFeatures with the saved stats gives the same numbers as training did.
    const again = buildFeatures(f, s, stats);
    expect(again.zscore).toBe('applied');
    const hourRaw = feature(raw.matrix, 'hour_sin');
    expect(feature(again.matrix, 'hour_sin')).toEqual(hourRaw);
    const lastHoldoutTime = set.holdout.times[set.holdout.rows - 1];
    const k = [...again.matrix.times].indexOf(lastHoldoutTime);
    expect(feature(again.matrix, 'a')[k]).toBe(feature(set.holdout, 'a')[set.holdout.rows - 1]);
  });

  it('gives constant and empty columns std 1', () => {
    const m: FeatureMatrix = {
      rows: 3,
      names: ['c', 'e', 'dow_sin'],
      values: new Float32Array([5, NaN_, 0.5, 5, NaN_, 0.1, 5, NaN_, 0.2]),
      target: new Float64Array(3),
      times: new Float64Array(3),
      entities: new Int32Array(3),
      entityIds: ['x'],
    };
    const st = fitZScore(m, [0, 1]);
    expect(st).toEqual({ version: 1, names: ['c', 'e'], mean: [5, 0], std: [1, 1] });
    applyZScore(m, st);
    expect([...m.values.slice(0, 3)]).toEqual([0, NaN_, Math.fround(0.5)]);
    expect(() => applyZScore(m, { ...st, names: ['zz', 'e'] })).toThrow(/"zz"/);
  });
});
