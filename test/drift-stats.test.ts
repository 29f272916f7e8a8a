import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  categoryCounts,
  chiSquare,
  chiSquareSurvival,
  cramersV,
  finiteSorted,
  kolmogorovSurvival,
  ksTwoSample,
  lnGamma,
  meanStd,
  normalisedWasserstein,
  psi,
  quantileEdges,
  regularizedGammaQ,
  wasserstein1,
} from '../actions/lib/drift/stats.ts';
import { normals } from './helpers/random.ts';

const f64 = (xs: number[]): Float64Array => Float64Array.from(xs);

/** Q_KS by the plain alternating series with many terms (independent of the implementation). */
function qksSeries(lambda: number, terms = 2000): number {
  let s = 0;
  for (let k = 1; k <= terms; k++) s += (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
  return 2 * s;
}

/** Brute-force D: evaluate |F_a - F_b| at every sample point with F(x) = #{v <= x} / n. */
function bruteKsD(a: number[], b: number[]): number {
  const F = (xs: number[], x: number): number => xs.filter((v) => v <= x).length / xs.length;
  return Math.max(...[...a, ...b].map((x) => Math.abs(F(a, x) - F(b, x))));
}

/** W1 = ∫_0^1 |F_a^{-1}(u) - F_b^{-1}(u)| du over the breakpoints k/n and k/m (quantile form). */
function quantileW1(a: number[], b: number[]): number {
  const sa = [...a].sort((x, y) => x - y);
  const sb = [...b].sort((x, y) => x - y);
  const us = [...new Set([...sa.map((_, i) => (i + 1) / sa.length), ...sb.map((_, i) => (i + 1) / sb.length)])].sort((x, y) => x - y);
  let prev = 0;
  let total = 0;
  for (const u of us) {
    const mid = (prev + u) / 2;
    const qa = sa[Math.min(sa.length - 1, Math.floor(mid * sa.length))];
    const qb = sb[Math.min(sb.length - 1, Math.floor(mid * sb.length))];
    total += Math.abs(qa - qb) * (u - prev);
    prev = u;
  }
  return total;
}

describe('Kolmogorov–Smirnov', () => {
  it('D for two small samples equals the hand computation, p from the series', () => {
    const a = [0.1, 0.4, 0.7, 1.2, 2.0];
    const b = [0.5, 0.9, 1.5, 3.0];
    // By hand: at 0.4, F_a = 2/5 and F_b = 0 -> D = 0.4.
    const r = ksTwoSample(f64(a), f64(b));
    expect(r.statistic).toBeCloseTo(0.4, 12);
    expect(bruteKsD(a, b)).toBeCloseTo(0.4, 12);
    const en = (5 * 4) / 9;
    expect(r.effectiveN).toBeCloseTo(en, 12);
    expect(Math.abs(r.pvalue - qksSeries(Math.sqrt(en) * 0.4))).toBeLessThan(1e-9);
    expect(Math.abs(r.pvalue - 0.8691635724033445)).toBeLessThan(1e-9); // python, same series
  });

  it('handles ties: both CDFs jump together', () => {
    const a = [1, 1, 2, 3];
    const b = [1, 2, 2, 4];
    const r = ksTwoSample(f64(a), f64(b));
    expect(r.statistic).toBeCloseTo(0.25, 12);
    expect(bruteKsD(a, b)).toBeCloseTo(0.25, 12);
    expect(ksTwoSample(f64(a), f64(a)).statistic).toBe(0);
    expect(ksTwoSample(f64(a), f64(a)).pvalue).toBe(1);
  });

  it('Kolmogorov survival matches the series and known critical values', () => {
    for (const l of [0.3, 0.5, 0.8, 1, 1.17, 1.18, 1.2, 1.5, 2, 3]) {
      expect(Math.abs(kolmogorovSurvival(l) - qksSeries(l))).toBeLessThan(1e-12);
    }
    expect(Math.abs(kolmogorovSurvival(1.3580986393225505) - 0.05)).toBeLessThan(1e-12);
    expect(Math.abs(kolmogorovSurvival(1) - 0.26999967167735456)).toBeLessThan(1e-12);
    expect(kolmogorovSurvival(0)).toBe(1);
    expect(kolmogorovSurvival(0.05)).toBe(1);
    expect(kolmogorovSurvival(10)).toBeLessThan(1e-80);
  });

  it('skips NaN (and counts it)', () => {
    const a = f64([0.1, NaN, 0.4, 0.7, 1.2, NaN, 2.0]);
    const b = f64([0.5, 0.9, NaN, 1.5, 3.0]);
    expect(ksTwoSample(a, b)).toEqual(ksTwoSample(f64([0.1, 0.4, 0.7, 1.2, 2.0]), f64([0.5, 0.9, 1.5, 3.0])));
    expect(finiteSorted(a).missing).toBe(2);
    expect(Number.isNaN(ksTwoSample(f64([NaN]), b).pvalue)).toBe(true);
  });

  it('statistic is symmetric and in [0, 1]; p in [0, 1] (property)', () => {
    const arr = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(arr, arr, (a, b) => {
        const r1 = ksTwoSample(f64(a), f64(b));
        const r2 = ksTwoSample(f64(b), f64(a));
        expect(r1.statistic).toBe(r2.statistic);
        expect(Math.abs(r1.statistic - bruteKsD(a, b))).toBeLessThan(1e-12);
        expect(r1.pvalue).toBeGreaterThanOrEqual(0);
        expect(r1.pvalue).toBeLessThanOrEqual(1);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('same distribution -> p-values roughly uniform over 200 seeded trials', () => {
    const seeds = fc.sample(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { seed: 42, numRuns: 200 });
    const ps = seeds.map((s) => ksTwoSample(normals(300, s), normals(250, s ^ 0x5bd1e995)).pvalue);
    const share = ps.filter((p) => p <= 0.05).length / ps.length;
    const mean = ps.reduce((x, y) => x + y, 0) / ps.length;
    expect(share).toBeGreaterThanOrEqual(0.01);
    expect(share).toBeLessThanOrEqual(0.12);
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
  });
});

describe('PSI', () => {
  const reference = f64([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  it('quantile edges are numpy-linear and deduplicated', () => {
    expect(quantileEdges(finiteSorted(reference).values, 4)).toEqual([3.25, 5.5, 7.75]);
    // Seven zeros: the 10%..60% quantiles are all 0 and collapse into one edge.
    const tied = finiteSorted(f64([0, 0, 0, 0, 0, 0, 0, 1, 2, 3])).values;
    const edges = quantileEdges(tied, 10);
    expect(edges.length).toBe(4);
    [0, 0.3, 1.2, 2.1].forEach((e, i) => expect(edges[i]).toBeCloseTo(e, 12));
  });

  it('matches the formula on hand-binned shares', () => {
    // Bins (-inf,3.25] (3.25,5.5] (5.5,7.75] (7.75,inf): reference 3,2,2,3 of 10.
    // Current 2 | 4 4.5 5 | 6 | 9 9.5 11 -> 1,3,1,3 of 8.
    const current = f64([2, 4, 4.5, 5, 6, 9, 9.5, 11]);
    const r = psi(reference, current, { bins: 4 });
    const ref = [0.3, 0.2, 0.2, 0.3];
    const cur = [1 / 8, 3 / 8, 1 / 8, 3 / 8];
    const expected = ref.reduce((s, rv, i) => s + (cur[i] - rv) * Math.log(cur[i] / rv), 0);
    expect(Math.abs(r.psi - expected)).toBeLessThan(1e-12);
    expect(r.bins.referenceCounts).toEqual([3, 2, 2, 3]);
    expect(r.bins.currentCounts).toEqual([1, 3, 1, 3]);
    expect(r.bins.edges).toEqual([3.25, 5.5, 7.75]);
  });

  it('floors empty bins at 1e-4 (boundary values fall in the right-closed lower bin)', () => {
    const current = f64([1, 2, 3.25, NaN]);
    const r = psi(reference, current, { bins: 4 });
    expect(r.bins.currentCounts).toEqual([3, 0, 0, 0]);
    const ref = [0.3, 0.2, 0.2, 0.3];
    const cur = [1, 1e-4, 1e-4, 1e-4];
    const expected = ref.reduce((s, rv, i) => s + (cur[i] - rv) * Math.log(cur[i] / rv), 0);
    expect(Math.abs(r.psi - expected)).toBeLessThan(1e-12);
    expect(r.bins.currentShares).toEqual(cur);
  });

  it('is >= 0, 0 for identical data, and roughly symmetric (property)', () => {
    const arr = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 80 });
    fc.assert(
      fc.property(arr, arr, fc.integer({ min: 1, max: 20 }), (a, b, bins) => {
        expect(psi(f64(a), f64(b), { bins }).psi).toBeGreaterThanOrEqual(0);
        expect(psi(f64(a), f64(a), { bins }).psi).toBe(0);
      }),
      { seed: 11, numRuns: 200 },
    );
    const x = normals(4000, 1);
    const y = normals(4000, 2, 0.5);
    const forward = psi(x, y).psi;
    const backward = psi(y, x).psi;
    expect(forward).toBeGreaterThan(0.1);
    expect(backward).toBeGreaterThan(0.1);
    expect(forward / backward).toBeGreaterThan(0.67);
    expect(forward / backward).toBeLessThan(1.5);
  });
});

describe('Wasserstein-1', () => {
  it('equals the mean absolute difference of sorted values for equal sizes', () => {
    const a = [3, -1, 0.5, 7, 2];
    const b = [1, 1, 4, -2, 9];
    const sa = [...a].sort((x, y) => x - y);
    const sb = [...b].sort((x, y) => x - y);
    const expected = sa.reduce((s, v, i) => s + Math.abs(v - sb[i]), 0) / a.length;
    expect(Math.abs(wasserstein1(f64(a), f64(b)) - expected)).toBeLessThan(1e-12);
  });

  it('matches hand values and the quantile-function integral for unequal sizes', () => {
    // F_a^{-1} = 0 on (0, 1/2], 1 after; F_b^{-1} = 0 on (0, 2/3], 1 after -> they differ by 1 on (1/2, 2/3].
    expect(wasserstein1(f64([0, 1]), f64([0, 0, 1]))).toBeCloseTo(1 / 6, 14);
    expect(wasserstein1(f64([0, 1, 3]), f64([5, 6, 8]))).toBeCloseTo(5, 14);
    const a = [0.3, 2.5, -1.2, 4.4, 0.3, 1.1, 9];
    const b = [1.5, -0.5, 2.2, 2.2];
    expect(Math.abs(wasserstein1(f64(a), f64(b)) - quantileW1(a, b))).toBeLessThan(1e-12);
  });

  it('W(a, a + c) = |c|, symmetric, equals the quantile integral (property)', () => {
    const arr = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 50 });
    fc.assert(
      fc.property(arr, arr, fc.double({ min: -100, max: 100, noNaN: true }), (a, b, c) => {
        const shifted = a.map((v) => v + c);
        expect(Math.abs(wasserstein1(f64(a), f64(shifted)) - Math.abs(c))).toBeLessThan(1e-9 * (1 + 1e3));
        const w = wasserstein1(f64(a), f64(b));
        expect(Math.abs(w - wasserstein1(f64(b), f64(a)))).toBeLessThan(1e-9);
        expect(Math.abs(w - quantileW1(a, b))).toBeLessThan(1e-8);
      }),
      { seed: 3, numRuns: 200 },
    );
  });

  it('normalises by the reference population std (ddof = 0), floored at 0.001', () => {
    const ref = f64([1, 2, 3, 4]);
    expect(meanStd(ref).std).toBeCloseTo(Math.sqrt(1.25), 14);
    expect(normalisedWasserstein(ref, f64([2, 3, 4, 5]))).toBeCloseTo(1 / Math.sqrt(1.25), 12);
    expect(normalisedWasserstein(f64([2, 2, 2]), f64([3, 3]))).toBeCloseTo(1 / 0.001, 9);
    expect(wasserstein1(f64([NaN, 1, 2]), f64([2, 3, NaN]))).toBeCloseTo(1, 14);
  });
});

describe('chi-square', () => {
  it('survival function matches closed forms to 1e-12', () => {
    // Even dof: P(X > x) = exp(-x/2) Σ_{i<k} (x/2)^i / i!, k = dof / 2.
    const even = (x: number, dof: number): number => {
      let term = 1;
      let s = 1;
      for (let i = 1; i < dof / 2; i++) {
        term *= x / 2 / i;
        s += term;
      }
      return Math.exp(-x / 2) * s;
    };
    for (const dof of [2, 4, 6, 10, 20]) {
      for (const x of [0.01, 0.5, 1, 3, 5.991464547, 10, 25, 60]) {
        const expected = even(x, dof);
        expect(Math.abs(chiSquareSurvival(x, dof) - expected)).toBeLessThan(1e-12);
      }
    }
    // Tail: relative accuracy.
    expect(Math.abs(chiSquareSurvival(100, 2) / Math.exp(-50) - 1)).toBeLessThan(1e-12);
    // Odd dof via erfc (values from Python's math.erfc): dof 1 = erfc(sqrt(x/2)); dof 3 adds sqrt(2x/π) e^{-x/2}.
    const odd: [number, number, number][] = [
      [0.5, 0.4795001221869535, 0.9188914116546758],
      [3.84145882, 0.05000000002069847, 0.2791004638631097],
      [10, 0.0015654022580025488, 0.018566135463043237],
      [30, 4.320463057827492e-8, 1.3800570312932547e-6],
    ];
    for (const [x, p1, p3] of odd) {
      expect(Math.abs(chiSquareSurvival(x, 1) - p1)).toBeLessThan(1e-12);
      expect(Math.abs(chiSquareSurvival(x, 3) - p3)).toBeLessThan(1e-12);
    }
  });

  it('hits the textbook 5% critical values', () => {
    expect(Math.abs(chiSquareSurvival(3.84145882, 1) - 0.05)).toBeLessThan(1e-6);
    expect(Math.abs(chiSquareSurvival(5.991464547, 2) - 0.05)).toBeLessThan(1e-6);
    expect(Math.abs(chiSquareSurvival(11.07049769, 5) - 0.05)).toBeLessThan(1e-6);
    expect(Math.abs(chiSquareSurvival(124.3421134, 100) - 0.05)).toBeLessThan(1e-6);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('lnGamma and Q(a, x) edge values', () => {
    expect(Math.abs(lnGamma(0.5) - 0.5 * Math.log(Math.PI))).toBeLessThan(1e-14);
    expect(Math.abs(lnGamma(10) - Math.log(362880))).toBeLessThan(1e-12);
    expect(Math.abs(regularizedGammaQ(1, 2) - Math.exp(-2))).toBeLessThan(1e-15);
  });

  it('goodness of fit against reference shares', () => {
    // Expected for a current total of 100: 50, 30, 20 -> χ² = 100/50 + 100/30 + 0, dof 2.
    const r = chiSquare([500, 300, 200], [40, 40, 20]);
    const stat = 2 + 10 / 3;
    expect(r.dof).toBe(2);
    expect(Math.abs(r.statistic - stat)).toBeLessThan(1e-12);
    expect(Math.abs(r.pvalue - Math.exp(-stat / 2))).toBeLessThan(1e-12);
    expect(chiSquare([1, 2, 3], [10, 20, 30]).statistic).toBeCloseTo(0, 12);
    expect(chiSquare([1, 2, 3], [10, 20, 30]).pvalue).toBeCloseTo(1, 12);
    expect(chiSquare([5], [7])).toEqual({ statistic: 0, pvalue: 1, dof: 0 });
  });

  it('gives categories unseen in the reference a floor share', () => {
    const r = chiSquare([10, 10, 0], [5, 5, 10]);
    const shares = [0.5, 0.5, 1e-4].map((s) => s / 1.0001);
    const expected = [5, 5, 10].reduce((s, c, i) => s + (c - shares[i] * 20) ** 2 / (shares[i] * 20), 0);
    expect(Math.abs(r.statistic / expected - 1)).toBeLessThan(1e-12);
    expect(r.dof).toBe(2);
    expect(r.pvalue).toBeLessThan(1e-12);
  });

  it("Cramér's V and category counting", () => {
    expect(cramersV([10, 0], [0, 10])).toBeCloseTo(1, 12);
    expect(cramersV([10, 20], [5, 10])).toBeCloseTo(0, 12);
    // 2x2 table [[30, 10], [10, 30]]: χ² = 4 * 10² / 20 = 20, N = 80 -> V = 0.5.
    expect(cramersV([30, 10], [10, 30])).toBeCloseTo(0.5, 12);
    const c = categoryCounts(f64([2, 1, 1, NaN, 3]), f64([1, 4, NaN, NaN]));
    expect(c).toEqual({ categories: [1, 2, 3, 4], referenceCounts: [2, 1, 1, 0], currentCounts: [1, 0, 0, 1] });
  });
});

describe('a 0.5 sd mean shift with n = 2000 is flagged by every statistic', () => {
  it('ks, psi, normalised wasserstein, chi-square on binned codes', () => {
    const ref = normals(2000, 101);
    const cur = normals(2000, 202, 0.5);
    expect(ksTwoSample(ref, cur).pvalue).toBeLessThan(0.05);
    expect(psi(ref, cur).psi).toBeGreaterThanOrEqual(0.1);
    expect(normalisedWasserstein(ref, cur)).toBeGreaterThanOrEqual(0.1);
    const code = (x: Float64Array): Float64Array => x.map((v) => Math.max(-3, Math.min(3, Math.floor(v))));
    const counts = categoryCounts(code(ref), code(cur));
    expect(chiSquare(counts.referenceCounts, counts.currentCounts).pvalue).toBeLessThan(0.05);
  });
});
