import { describe, expect, it } from 'vitest';
import { fitCategories, oneHotColumns, oneHotValue, recode } from '../actions/lib/features/categorical.ts';
import { buildFeatures } from '../actions/lib/features/build.ts';
import { featureNames, type FeatureSpec } from '../actions/lib/features/spec.ts';
import { buildTrainingSet } from '../actions/lib/features/training-set.ts';
import { fitZScore } from '../actions/lib/features/zscore.ts';
import { temporalSplit } from '../actions/lib/split/temporal.ts';
import type { Frame } from '../actions/lib/source/frame.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const NaN_ = Number.NaN;

describe('one-hot encoding of categorical columns', () => {
  it('fits the most frequent categories of the given rows, ties by text, rare ones left out', () => {
    const dictionary = ['south', 'north', 'east', 'west'];
    const codes = Float64Array.of(0, 1, 1, 2, 0, 1, NaN_, 3, 0);
    expect(fitCategories(codes, dictionary, { max_categories: 30, min_frequency: 1 })).toEqual(['north', 'south', 'east', 'west']);
    expect(fitCategories(codes, dictionary, { max_categories: 2, min_frequency: 1 })).toEqual(['north', 'south']);
    expect(fitCategories(codes, dictionary, { max_categories: 30, min_frequency: 2 })).toEqual(['north', 'south']);
    // only the rows asked for count (training rows)
    expect(fitCategories(codes, dictionary, { max_categories: 30, min_frequency: 1 }, [3, 7])).toEqual(['east', 'west']);
  });

  it('encodes 1/0, unseen as all zeros and missing as NaN, the same for a frame and for one served row', () => {
    const cols = oneHotColumns(Float64Array.of(0, 1, 2, NaN_), ['north', 'south', 'moon'], ['south', 'north']);
    expect(cols.map((c) => Array.from(c))).toEqual([
      [0, 1, 0, NaN_],
      [1, 0, 0, NaN_],
    ]);
    expect(oneHotValue('north', ['south', 'north'])).toEqual([0, 1]);
    expect(oneHotValue('moon', ['south', 'north'])).toEqual([0, 0]);
    expect(oneHotValue(null, ['south', 'north'])).toEqual([NaN_, NaN_]);
  });

  it('recodes a column into another dictionary, extending it with new categories', () => {
    const to = ['a', 'b'];
    expect(Array.from(recode(Float64Array.of(0, 1, NaN_, 1), ['b', 'c'], to))).toEqual([1, 2, NaN_, 2]);
    expect(to).toEqual(['a', 'b', 'c']);
  });
});

/** Applications with a region and a label known 30 days after each (label time NaN: not yet known). */
function applications(days: number): Frame {
  const rows = days * 4;
  const start = Date.UTC(2026, 0, 1);
  const times = Float64Array.from({ length: rows }, (_, i) => start + Math.floor(i / 4) * DAY_MS + (i % 4) * 3_600_000);
  const region = Float64Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? NaN_ : i < rows / 2 ? i % 2 : 2)); // 'east' only appears late
  const income = Float64Array.from({ length: rows }, (_, i) => 1000 + (i % 13) * 100);
  const asOf = start + days * DAY_MS;
  const labelTimes = Float64Array.from(times, (t) => (t + 30 * DAY_MS <= asOf ? t + 30 * DAY_MS : NaN_));
  const label = Float64Array.from(labelTimes, (k, i) => (k === k ? (i % 3 === 0 ? 1 : 0) : NaN_));
  return {
    rows,
    times,
    entities: new Int32Array(rows),
    entityIds: ['all'],
    names: ['income', 'region', 'defaulted'],
    columns: [income, region, label],
    window: { start: new Date(start), end: new Date(asOf) },
    categories: { region: ['north', 'south', 'east'] },
    keys: Array.from({ length: rows }, (_, i) => `app-${i}`),
    labelTimes,
  };
}

const spec: FeatureSpec = {
  version: 1,
  time_column: 'ts',
  entity_column: null,
  interval_minutes: 1,
  columns: ['income'],
  raw: true,
  lags: [],
  rolling: { windows: [], stats: [] },
  zscore: true,
  calendar: [],
  target: { column: 'defaulted', horizon_minutes: 0, valid_range: null },
  task: 'classification',
  decision_threshold: 0.5,
  categorical: [{ column: 'region', categories: null, max_categories: 30, min_frequency: 1 }],
};

describe('a training set with categorical inputs and delayed labels', () => {
  it('fits the vocabulary on the training rows only, never z-scores indicators, keeps keys and label times', () => {
    const frame = applications(120);
    const set = buildTrainingSet(frame, spec, { holdout_fraction: 0.2 });
    // 'east' appears only in the second half of the window; the training rows end before that.
    expect(set.spec.categorical![0].categories).toEqual(['north', 'south']);
    expect(featureNames(set.spec)).toEqual(['income', 'region=north', 'region=south']);
    expect(set.train.names).toEqual(['income', 'region=north', 'region=south']);
    expect(set.stats!.names).toEqual(['income']);
    // Unlabelled rows (the last 30 days but the first one, whose label arrived exactly at as-of) have no target.
    expect(set.dropped.no_target).toBe(30 * 4 - 1);
    expect(set.train.keys![0]).toBe('app-0');
    // Delayed labels: no training row's label arrived at or after the holdout's first time.
    const cutoff = set.holdout.times[0];
    for (let i = 0; i < set.train.rows; i++) expect(set.train.knownAt![i]).toBeLessThan(cutoff);
    expect(set.split.gapRows).toBeGreaterThan(0);
    // east rows in the holdout are unseen: all zeros; NULL regions are NaN.
    const h = set.holdout;
    let unseen = 0;
    for (let i = 0; i < h.rows; i++) {
      const north = h.values[i * 3 + 1];
      const south = h.values[i * 3 + 2];
      if (north === 0 && south === 0) unseen++;
      else if (Number.isNaN(north)) expect(south).toBeNaN();
      else expect(north + south).toBe(1);
    }
    expect(unseen).toBeGreaterThan(0);
    // Rebuilding with the fitted spec (serving, the champion's rebuild) gives the same values.
    const rebuilt = buildFeatures(frame, set.spec, set.stats!).matrix;
    expect(rebuilt.names).toEqual(set.train.names);
    expect(fitZScore(set.train).names).toEqual(['income']);
  });

  it('splits delayed labels by label time: the gap drops train rows labelled after the cutoff', () => {
    const frame = applications(120);
    const built = buildFeatures(frame, { ...spec, zscore: false, categorical: [] }).matrix;
    const s = temporalSplit(built, { holdout_fraction: 0.2, horizon_minutes: 0 });
    const withoutLabelTimes = temporalSplit({ ...built, knownAt: undefined }, { holdout_fraction: 0.2, horizon_minutes: 0 });
    expect(withoutLabelTimes.gapRows).toBe(0);
    // 30 days of applications before the cutoff had their labels arrive after it
    expect(s.gapRows).toBe(30 * 4);
    expect(s.train.rows + s.gapRows).toBe(withoutLabelTimes.train.rows);
  });
});
