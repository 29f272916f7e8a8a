import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fmtInt } from '../actions/lib/report/format.ts';
import { eventQualitySchema, qualitySchema } from '../actions/lib/config/schema.ts';
import { checkQuality, qualityReasons } from '../actions/lib/quality/checks.ts';
import type { Frame } from '../actions/lib/source/frame.ts';

const start = Date.UTC(2026, 0, 1);
function frame(minutes: number, mutate?: (times: number[], level: number[]) => void): Frame {
  const times: number[] = [];
  const level: number[] = [];
  for (let i = 0; i < minutes; i++) {
    times.push(start + i * 60_000);
    level.push(5 + Math.sin(i / 100));
  }
  mutate?.(times, level);
  return {
    rows: times.length,
    times: Float64Array.from(times),
    entities: new Int32Array(times.length),
    entityIds: ['PS-001'],
    names: ['tank_level_m'],
    columns: [Float64Array.from(level)],
    window: { start: new Date(start), end: new Date(start + minutes * 60_000) },
  };
}
const config = qualitySchema.parse({ min_rows: 1000, min_days: 0.5, ranges: { tank_level_m: [0, 12] } });
const opts = (f: Frame) => ({ asOf: f.window.end, columns: ['tank_level_m'], intervalMinutes: 1 });

describe('data quality checks', () => {
  it('passes clean data and reports every check', () => {
    const f = frame(1440);
    const r = checkQuality(f, config, opts(f));
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(['rows', 'days_covered', 'completeness', 'null_share', 'range', 'gaps', 'duplicate_timestamps', 'staleness']);
  });

  it('lists every failed check: nulls, range, gap, duplicates, staleness', () => {
    const f = frame(1440, (t, v) => {
      for (let i = 0; i < 60; i++) v[100 + i] = Number.NaN; // 4.2% nulls
      v[500] = 99;
      t.splice(700, 45);
      v.splice(700, 45); // a 46-minute gap
      t.splice(800, 0, t[800]);
      v.splice(800, 0, v[800]); // a duplicate timestamp
      t.length -= 200;
      v.length -= 200; // newest row 200 min old
    });
    const r = checkQuality(f, config, opts(f));
    expect(r.passed).toBe(false);
    expect(qualityReasons(r)).toEqual([
      'data quality: 83.06% of expected rows present (worst: PS-001) (minimum 95.00%)',
      'data quality: tank_level_m: 5.02% nulls (60 rows; maximum 2.00%)',
      'data quality: 1 gaps longer than 30 min (longest 46 min)',
      'data quality: 1 duplicate timestamps (maximum 0)',
      'data quality: newest row is 201 min old at 2026-01-02T00:00:00.000Z (maximum 120 min)',
    ]);
    const range = r.checks.find((c) => c.name === 'range')!;
    expect(range).toMatchObject({ passed: true, details: { outside: 1, max_outside: 99 } });
  });

  it('fails an empty or short window on rows and days', () => {
    const f = frame(100);
    const r = checkQuality(f, config, opts(f));
    expect(r.failed.map((c) => c.name)).toEqual(['rows', 'days_covered']);
    const empty = frame(0);
    expect(checkQuality(empty, config, opts(empty)).failed.map((c) => c.name)).toEqual(['rows', 'days_covered', 'completeness', 'staleness']);
  });

  it('judges event data (a key column): duplicate keys fail, times may repeat, completeness is not asked', () => {
    const f = { ...frame(1440, (t) => (t[10] = t[9])), keys: Array.from({ length: 1440 }, (_, i) => `app-${i === 20 ? 3 : i}`) };
    const events = eventQualitySchema.parse({ min_rows: 1000, min_days: 0.5 });
    const r = checkQuality(f, events, opts(f));
    expect(r.checks.map((c) => c.name)).toEqual(['rows', 'days_covered', 'null_share', 'gaps', 'duplicate_keys', 'staleness']);
    expect(r.failed.map((c) => [c.name, c.value])).toEqual([['duplicate_keys', 1]]);
    expect(qualityReasons(r)).toEqual(['data quality: 1 row repeats the key of an earlier row (e.g. "app-3")']);
  });
});

describe('counts in messages (fmtInt)', () => {
  it('groups thousands exactly as en-US does, without loading ICU', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (x) => {
        expect(fmtInt(x)).toBe(x.toLocaleString('en-US'));
      }),
      { numRuns: 2000 },
    );
    for (const x of [0, 7, -7, 999, 1000, -1000, 999_999, 1_000_000, -12_345_678, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      expect(fmtInt(x)).toBe(x.toLocaleString('en-US'));
    }
    // beyond what it groups itself: as en-US prints it
    expect(fmtInt(1e21)).toBe((1e21).toLocaleString('en-US'));
    expect(fmtInt(2.5)).toBe('2.5');
  });
});
