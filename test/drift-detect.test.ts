import { describe, expect, it } from 'vitest';
import { detectDrift, driftReportMarkdown, type DriftConfig } from '../actions/lib/drift/detect.ts';
import { ksTwoSample, normalisedWasserstein, psi } from '../actions/lib/drift/stats.ts';
import { createPrng } from '../actions/lib/train/prng.ts';
import { normals } from './helpers/random.ts';

/** `n` category codes 0..k-1 drawn with the given weights (seeded). */
function codes(n: number, seed: number, weights: number[]): Float64Array {
  const u = createPrng(seed);
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = u() * total;
    let k = 0;
    while (k < weights.length - 1 && x >= weights[k]) x -= weights[k++];
    out[i] = k;
  }
  return out;
}

const config = (over: Partial<DriftConfig> = {}): DriftConfig => ({
  numeric_test: 'auto',
  threshold: null,
  dataset_drift_share: 0.5,
  categorical_columns: [],
  ...over,
});

function frames(n: number, driftOn: Set<string>) {
  const reference = {
    level: normals(n, 1, 10, 2),
    flow: normals(n, 2, 5, 1),
    pressure: normals(n, 3, 3, 0.5),
    temp: normals(n, 4, 20, 3),
  };
  const current = {
    level: normals(n, 11, driftOn.has('level') ? 11 : 10, 2), // +0.5 sd
    flow: normals(n, 12, 5, driftOn.has('flow') ? 2 : 1), // sd doubled
    pressure: normals(n, 13, 3, 0.5),
    temp: normals(n, 14, 20, 3),
  };
  return { reference, current };
}

describe('detectDrift', () => {
  for (const numeric_test of ['auto', 'ks', 'psi', 'wasserstein'] as const) {
    it(`flags exactly the two seeded features (${numeric_test}, n = 3000)`, () => {
      const { reference, current } = frames(3000, new Set(['level', 'flow']));
      const r = detectDrift(reference, current, config({ numeric_test }));
      const drifted = r.features
        .filter((f) => f.drifted)
        .map((f) => f.feature)
        .sort();
      expect(drifted).toEqual(['flow', 'level']);
      expect(r.driftedFeatures).toBe(2);
      expect(r.testedFeatures).toBe(4);
      expect(r.driftShare).toBe(0.5);
      expect(r.datasetDrift).toBe(true);
      expect(detectDrift(reference, current, config({ numeric_test, dataset_drift_share: 0.75 })).datasetDrift).toBe(false);
    });
  }

  it('clean data flags nothing and no dataset drift (auto, small and large)', () => {
    for (const n of [800, 5000]) {
      const { reference, current } = frames(n, new Set());
      const r = detectDrift(reference, current, config());
      expect(r.features.map((f) => f.test)).toEqual(Array(4).fill(n <= 1000 ? 'ks' : 'wasserstein'));
      expect(r.features.filter((f) => f.drifted)).toEqual([]);
      expect(r.datasetDrift).toBe(false);
      expect(r.driftShare).toBe(0);
    }
  });

  it('reports every statistic beside the decision, consistent with stats.ts', () => {
    const { reference, current } = frames(1500, new Set(['level']));
    const level = detectDrift(reference, current, config()).features.find((f) => f.feature === 'level')!;
    expect(level.test).toBe('wasserstein');
    expect(level.threshold).toBe(0.1);
    expect(level.pvalue).toBeNull();
    const nw = normalisedWasserstein(reference.level, current.level);
    expect(level.statistic).toBeCloseTo(nw, 12);
    expect(level.effectSize).toBeCloseTo(nw, 12);
    expect(level.effectSizeKind).toBe('normalised_wasserstein');
    expect(level.psi).toBeCloseTo(psi(reference.level, current.level).psi, 12);
    const ks = ksTwoSample(reference.level, current.level);
    expect(level.ksStatistic).toBe(ks.statistic);
    expect(level.ksPvalue).toBe(ks.pvalue);
    expect(level.reference.count).toBe(1500);
    expect(level.reference.mean).toBeCloseTo(10, 0);
    expect(level.current.mean).toBeCloseTo(11, 0);
  });

  it('uses the configured threshold for the numeric test', () => {
    const { reference, current } = frames(3000, new Set(['level']));
    // PSI of a 0.5 sd shift is about 0.25: drifted at 0.2, not at 0.5.
    const at = (threshold: number) => detectDrift(reference, current, config({ numeric_test: 'psi', threshold })).features.find((f) => f.feature === 'level')!;
    expect(at(0.2).drifted).toBe(true);
    expect(at(0.5).drifted).toBe(false);
    expect(at(0.5).threshold).toBe(0.5);
  });

  it('counts and skips NaN; a feature with no values is not testable', () => {
    const ref = normals(500, 5);
    const cur = normals(500, 6);
    const refNaN = Float64Array.from([...ref, NaN, NaN, NaN]);
    const r = detectDrift({ x: refNaN, empty: new Float64Array([NaN, NaN]), gone: ref }, { x: cur, empty: new Float64Array([NaN]), extra: cur }, config());
    const by = Object.fromEntries(r.features.map((f) => [f.feature, f]));
    expect(by.x.reference).toMatchObject({ count: 500, nanCount: 3 });
    expect(by.x.ksPvalue).toBe(ksTwoSample(ref, cur).pvalue);
    expect(by.empty).toMatchObject({ testable: false, drifted: false, reason: 'no values on either side' });
    expect(by.empty.reference.nanCount).toBe(2);
    expect(by.gone).toMatchObject({ testable: false, reason: 'column missing from the current window' });
    expect(by.extra).toMatchObject({ testable: false, reason: 'column missing from the reference' });
    expect(r.testedFeatures).toBe(1);
    expect(r.datasetDrift).toBe(false);
  });

  it("categorical columns use chi-square with Cramér's V as the effect size", () => {
    const n = 2000;
    const r = detectDrift(
      { pump: codes(n, 1, [5, 3, 2]), mode: codes(n, 2, [1, 1]), x: normals(n, 3) },
      { pump: codes(n, 4, [2, 3, 5]), mode: codes(n, 5, [1, 1]), x: normals(n, 6) },
      config({ categorical_columns: ['pump', 'mode'], numeric_test: 'psi', threshold: 0.2 }),
    );
    const by = Object.fromEntries(r.features.map((f) => [f.feature, f]));
    expect(by.pump).toMatchObject({ kind: 'categorical', test: 'chi_square', drifted: true, effectSizeKind: 'cramers_v', threshold: 0.05 });
    expect(by.pump.chiSquare!.dof).toBe(2);
    expect(by.pump.effectSize!).toBeGreaterThan(0.2);
    expect(by.pump.psi!).toBeGreaterThan(0.2);
    expect(by.pump.reference.mean).toBeNull();
    expect(by.mode.drifted).toBe(false);
    expect(by.mode.effectSize!).toBeLessThan(0.05);
    expect(by.x).toMatchObject({ test: 'psi', drifted: false, threshold: 0.2 });
  });
});

describe('driftReportMarkdown', () => {
  it('summarises and lists drifted features first by effect size, with effect size beside p', () => {
    const { reference, current } = frames(800, new Set(['level', 'flow']));
    const r = detectDrift({ ...reference, empty: new Float64Array([1, 2, NaN]) }, { ...current, empty: new Float64Array(0) }, config());
    const md = driftReportMarkdown(r, { pipeline: 'tank-level-forecast', modelVersion: 'v12', currentWindow: 'last 7 days' });
    expect(md).toContain('### Data drift — tank-level-forecast');
    expect(md).toContain('⚠️ **Dataset drift detected**: 2 of 4 tested features drifted (50%; dataset drift at ≥ 50%), 1 not testable.');
    expect(md).toContain('model v12 · current last 7 days · numeric test: auto');
    expect(md).toContain('| feature | test | statistic | p-value | effect size | PSI | drifted |');
    const rows = md.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.length).toBe(5);
    const names = rows.map((l) => /`([^`]+)`/.exec(l)![1]);
    const drifted = r.features.filter((f) => f.drifted).sort((a, b) => b.effectSize! - a.effectSize!);
    expect(names.slice(0, 2)).toEqual(drifted.map((f) => f.feature));
    expect(rows[0]).toMatch(/⚠️ \|$/);
    expect(rows[2]).toMatch(/✅ \|$/);
    expect(names[4]).toBe('empty');
    expect(rows[4]).toContain('not tested: no values in the current window');
    // KS (auto at 800 rows): every row carries a p-value and an effect size.
    for (const row of rows.slice(0, 4)) {
      const cells = row.split('|').map((c) => c.trim());
      expect(cells[2]).toBe('KS p ≤ 0.05');
      expect(cells[4]).not.toBe('—');
      expect(cells[5]).toMatch(/^\d/);
    }
  });

  it('says so when there is no drift', () => {
    const { reference, current } = frames(500, new Set());
    const md = driftReportMarkdown(detectDrift(reference, current, config()));
    expect(md.split('\n')[2]).toBe('✅ **No dataset drift**: 0 of 4 tested features drifted (0%; dataset drift at ≥ 50%).');
  });

  it('shows the labelled KS p-value for tests without one (effect size beside it)', () => {
    const { reference, current } = frames(3000, new Set(['level']));
    const md = driftReportMarkdown(detectDrift(reference, current, config()));
    const level = md.split('\n').find((l) => l.startsWith('| `level`'))!;
    const cells = level.split('|').map((c) => c.trim());
    expect(cells[2]).toBe('norm. Wasserstein ≥ 0.1');
    expect(cells[4]).toMatch(/^\(KS\) /);
    expect(Number(cells[5])).toBeGreaterThan(0.4);
  });
});
