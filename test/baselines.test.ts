import { describe, expect, it } from 'vitest';
import { baselinePredictions, targetMean } from '../actions/lib/train/baselines.ts';
import { buildFeatures } from '../actions/lib/features/build.ts';
import type { FeatureSpec } from '../actions/lib/features/spec.ts';
import type { Frame } from '../actions/lib/source/frame.ts';

const T0 = Date.UTC(2026, 2, 1);
const MIN = 60_000;

/** Two stations, 3000 minutes, minute 100 of station B missing; level = minute (+10000 for B). */
function frame(): Frame {
  const times: number[] = [];
  const ents: number[] = [];
  const level: number[] = [];
  for (let e = 0; e < 2; e++) {
    for (let m = 0; m < 3000; m++) {
      if (e === 1 && m === 100) continue;
      times.push(T0 + m * MIN);
      ents.push(e);
      level.push(m + e * 10_000);
    }
  }
  return {
    rows: times.length,
    times: Float64Array.from(times),
    entities: Int32Array.from(ents),
    entityIds: ['A', 'B'],
    names: ['level'],
    columns: [Float64Array.from(level)],
    window: { start: new Date(T0), end: new Date(T0 + 3000 * MIN) },
  };
}

const spec: FeatureSpec = {
  version: 1,
  time_column: 'ts',
  entity_column: 'station_id',
  interval_minutes: 1,
  columns: ['level'],
  raw: true,
  lags: [],
  rolling: { windows: [], stats: [] },
  zscore: true,
  calendar: [],
  target: { column: 'level', horizon_minutes: 60 },
};

describe('baselinePredictions', () => {
  const f = frame();
  // z-scored features: baselines must not read the (transformed) matrix values
  const { matrix } = buildFeatures(f, spec, { version: 1, names: ['level'], mean: [5], std: [7] });
  const minute = (r: number): number => (matrix.times[r] - T0) / MIN;

  it('persistence: the target column now, from the frame by entity and time', () => {
    const p = baselinePredictions('persistence', f, matrix, spec);
    for (let r = 0; r < matrix.rows; r += 97) expect(p[r]).toBe(minute(r) + matrix.entities[r] * 10_000);
  });

  it('seasonal naive: the value at t + horizon - season, NaN when that row is missing', () => {
    const p = baselinePredictions('seasonal_naive', f, matrix, spec, { seasonMinutes: 1440 });
    const wrong: number[] = [];
    for (let r = 0; r < matrix.rows; r++) {
      const src = minute(r) + 60 - 1440;
      const missing = src < 0 || (matrix.entities[r] === 1 && src === 100);
      if (!Object.is(p[r], missing ? Number.NaN : src + matrix.entities[r] * 10_000)) wrong.push(r);
    }
    expect(wrong).toEqual([]);
    // A: minutes 0..1379; B: the same less its rows at 40 and 100 (no target / no row), plus minute 1480 (source row 100 missing)
    expect(p.filter((v) => Number.isNaN(v)).length).toBe(1380 + 1378 + 1);
    // A season shorter than the horizon steps back whole seasons until the value is in the past.
    const q = baselinePredictions('seasonal_naive', f, matrix, spec, { seasonMinutes: 45 });
    expect(q[2000]).toBe(minute(2000) + 60 - 90);
  });

  it('mean: the training target mean', () => {
    const m = targetMean({ rows: 3, target: new Float64Array([1, 2, 6]) });
    expect(m).toBe(3);
    const p = baselinePredictions('mean', f, matrix, spec, { trainTargetMean: m });
    expect(p.every((v) => v === 3)).toBe(true);
    expect(() => baselinePredictions('mean', f, matrix, spec)).toThrow(/training target mean/);
  });

  it('matches entities by id, not by code', () => {
    const rows = { rows: 2, times: new Float64Array([T0 + 5 * MIN, T0 + 5 * MIN]), entities: new Int32Array([0, 1]), entityIds: ['B', 'Z'] };
    const p = baselinePredictions('persistence', f, rows, spec);
    expect(p[0]).toBe(10_005);
    expect(p[1]).toBeNaN();
    expect(() => baselinePredictions('persistence', f, rows, { target: { column: 'nope', horizon_minutes: 1 } })).toThrow(/"nope"/);
  });
});
