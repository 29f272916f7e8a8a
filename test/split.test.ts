import { describe, expect, it } from 'vitest';
import { temporalSplit, timeOrder } from '../actions/lib/split/temporal.ts';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';

const T0 = Date.UTC(2026, 2, 1);
const MIN = 60_000;

/** Rows in entity-then-time order (as buildFeatures makes them); feature 0 = target = row marker. */
function matrix(entities: number, minutes: number): FeatureMatrix {
  const rows = entities * minutes;
  const m: FeatureMatrix = {
    rows,
    names: ['marker', 'minute'],
    values: new Float32Array(rows * 2),
    target: new Float64Array(rows),
    times: new Float64Array(rows),
    entities: new Int32Array(rows),
    entityIds: Array.from({ length: entities }, (_, e) => `E${e}`),
  };
  let r = 0;
  for (let e = 0; e < entities; e++) {
    for (let t = 0; t < minutes; t++, r++) {
      m.times[r] = T0 + t * MIN;
      m.entities[r] = e;
      m.values[2 * r] = r;
      m.values[2 * r + 1] = t;
      m.target[r] = r;
    }
  }
  return m;
}

const minutesOf = (m: FeatureMatrix): number[] => [...m.times].map((t) => (t - T0) / MIN);

describe('temporalSplit', () => {
  it('holds out the newest fraction by time and drops a horizon of train rows before it', () => {
    const s = temporalSplit(matrix(1, 100), { holdout_fraction: 0.2, horizon_minutes: 5 });
    expect(s.holdout.rows).toBe(20);
    expect(s.cutoff).toEqual(new Date(T0 + 80 * MIN));
    expect(s.holdoutStart).toEqual(s.cutoff);
    expect(s.holdoutEnd).toEqual(new Date(T0 + 99 * MIN));
    // Rows 75..79 have targets at 80..84, inside the holdout period: the gap.
    expect(s.gapRows).toBe(5);
    expect(minutesOf(s.train)).toEqual(Array.from({ length: 75 }, (_, i) => i));
    expect(minutesOf(s.holdout)).toEqual(Array.from({ length: 20 }, (_, i) => 80 + i));
    expect(s.train.rows + s.gapRows + s.holdout.rows).toBe(100);
  });

  it('splits across entities by timestamp, sorts both parts by time, never shuffles, keeps rows whole', () => {
    const m = matrix(2, 50);
    const s = temporalSplit(m, { holdout_fraction: 0.2, horizon_minutes: 0 });
    expect(s.gapRows).toBe(0);
    expect(minutesOf(s.holdout)).toEqual(Array.from({ length: 20 }, (_, i) => 40 + Math.floor(i / 2)));
    expect([...s.holdout.entities.slice(0, 4)]).toEqual([0, 1, 0, 1]);
    for (const part of [s.train, s.holdout]) {
      for (let r = 0; r < part.rows; r++) {
        if (r > 0) expect(part.times[r]).toBeGreaterThanOrEqual(part.times[r - 1]);
        // each row's values, target, time and entity still belong together
        const orig = part.values[2 * r];
        expect(part.target[r]).toBe(orig);
        expect(part.times[r]).toBe(m.times[orig]);
        expect(part.entities[r]).toBe(m.entities[orig]);
      }
    }
    expect(s.train.rows).toBe(80);
    expect(Math.max(...s.train.times)).toBeLessThan(s.cutoff.getTime());
  });

  it('never splits one timestamp between train and holdout', () => {
    // 3 entities x 10 minutes; 15% = 4.5 -> 5 rows, but minute 8 has 3 rows: all of minute 8 joins.
    const s = temporalSplit(matrix(3, 10), { holdout_fraction: 0.15, horizon_minutes: 0 });
    expect(minutesOf(s.holdout)).toEqual([8, 8, 8, 9, 9, 9]);
    expect(s.train.rows).toBe(24);
  });

  it('fails clearly when nothing is left to train on or the fraction is invalid', () => {
    expect(() => temporalSplit(matrix(1, 10), { holdout_fraction: 0.5, horizon_minutes: 5 })).toThrow(/no training rows left.*5-minute gap/);
    expect(() => temporalSplit(matrix(1, 10), { holdout_fraction: 1, horizon_minutes: 0 })).toThrow(/holdout_fraction/);
    expect(() => temporalSplit(matrix(1, 1), { holdout_fraction: 0.2, horizon_minutes: 0 })).toThrow(/cannot split 1 row/);
  });

  it('orders by time with ties by entity, stably', () => {
    const m = matrix(2, 3);
    expect([...timeOrder(m)]).toEqual([0, 3, 1, 4, 2, 5]);
  });
});
