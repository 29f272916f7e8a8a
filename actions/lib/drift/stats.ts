/**
 * Drift statistics over Float64Array columns.
 *
 * Missing values: NaN (and ±Infinity, which Evidently also drops by mapping it to NaN before
 * testing) are skipped by every statistic here; callers that need the count use
 * {@link finiteSorted} / {@link countMissing}.
 *
 * Everything works on sorted copies (Float64Array.prototype.sort is numeric); no row objects.
 */

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Finite values of `x`, copied and sorted ascending, plus how many were NaN / ±Infinity. */
export function finiteSorted(x: Float64Array): { values: Float64Array; missing: number } {
  const out = new Float64Array(x.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isFinite(v)) out[n++] = v;
  }
  const values = n === x.length ? out : out.slice(0, n);
  values.sort();
  return { values, missing: x.length - n };
}

/** Number of NaN / ±Infinity values. */
export function countMissing(x: Float64Array): number {
  let k = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) k++;
  return k;
}

/** Mean and population standard deviation (ddof = 0, as numpy's np.std) of the finite values. */
export function meanStd(x: Float64Array): { mean: number; std: number; count: number } {
  let n = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  if (n === 0) return { mean: NaN, std: NaN, count: 0 };
  const mean = s / n;
  let ss = 0;
  let comp = 0; // second pass with the compensation term of the corrected two-pass algorithm
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isFinite(v)) {
      const d = v - mean;
      ss += d * d;
      comp += d;
    }
  }
  const variance = Math.max(0, (ss - (comp * comp) / n) / n);
  return { mean, std: Math.sqrt(variance), count: n };
}

/** Quantile of sorted values with linear interpolation (numpy's default, `method='linear'`). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  if (lo >= n - 1) return sorted[n - 1];
  const frac = h - lo;
  return frac === 0 ? sorted[lo] : sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

// ---------------------------------------------------------------------------------------------
// Kolmogorov–Smirnov
// ---------------------------------------------------------------------------------------------

export interface KsResult {
  /** D = sup_x |F_a(x) - F_b(x)| over the finite values. NaN when either side is empty. */
  statistic: number;
  /** Asymptotic two-sided p-value Q_KS(sqrt(en) * D); NaN when either side is empty. */
  pvalue: number;
  /** Finite sample sizes and the effective size en = n*m/(n+m). */
  n: number;
  m: number;
  effectiveN: number;
}

/**
 * Survival function of the Kolmogorov distribution,
 * Q_KS(λ) = P(K > λ) = 2 Σ_{k≥1} (-1)^(k-1) exp(-2 k² λ²).
 *
 * For λ ≥ 1.18 the alternating series above is summed until the terms vanish (≤ 4 terms).
 * For smaller λ it converges slowly, so the equivalent Jacobi-theta form
 * Q_KS(λ) = 1 - (sqrt(2π)/λ) Σ_{k≥1} exp(-(2k-1)² π² / (8 λ²)) is used (≤ 4 terms there).
 * Both are exact identities; accuracy is ~1e-15 absolute.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (Number.isNaN(lambda)) return NaN;
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    const c = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let k = 1; k < 100; k++) {
      const j = 2 * k - 1;
      const term = Math.exp(-j * j * c);
      sum += term;
      if (term <= 1e-17 * sum) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / lambda) * sum);
  }
  const l2 = lambda * lambda;
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * l2);
    sum += k % 2 === 1 ? term : -term;
    if (term <= 1e-17 * Math.abs(sum)) break;
  }
  return clamp01(2 * sum);
}

/** KS statistic D from two sorted arrays of finite values (ties handled). */
export function ksStatisticSorted(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = a[i] <= b[j] ? a[i] : b[j];
    while (i < n && a[i] === x) i++;
    while (j < m && b[j] === x) j++;
    const diff = Math.abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  // Once one side is exhausted the gap only shrinks towards 0, so the maximum is already seen.
  return d;
}

/** Two-sample KS test on already sorted finite values. See {@link ksTwoSample}. */
export function ksTwoSampleSorted(a: Float64Array, b: Float64Array): KsResult {
  const n = a.length;
  const m = b.length;
  const effectiveN = n > 0 && m > 0 ? (n * m) / (n + m) : 0;
  const statistic = ksStatisticSorted(a, b);
  const pvalue = Number.isNaN(statistic) ? NaN : kolmogorovSurvival(Math.sqrt(effectiveN) * statistic);
  return { statistic, pvalue, n, m, effectiveN };
}

/**
 * Two-sample Kolmogorov–Smirnov test (two-sided), NaN skipped.
 *
 * p-value: the asymptotic Kolmogorov distribution with the effective sample size
 * en = n*m/(n+m), i.e. p = Q_KS(sqrt(en) * D) ({@link kolmogorovSurvival}). This is the classic
 * Smirnov asymptotic (scipy's `ks_2samp(method='asymp')` before scipy 1.5 computed
 * `kstwobign.sf(sqrt(en) * D)`; newer scipy uses `kstwo.sf(D, round(en))`, which differs by a
 * small-sample correction). No exact p-values for tiny samples: for n, m below ~30 the
 * asymptotic value is somewhat conservative (too large).
 */
export function ksTwoSample(a: Float64Array, b: Float64Array): KsResult {
  return ksTwoSampleSorted(finiteSorted(a).values, finiteSorted(b).values);
}

// ---------------------------------------------------------------------------------------------
// Population Stability Index
// ---------------------------------------------------------------------------------------------

export interface PsiOptions {
  /** Number of quantile bins requested from the reference (≥ 1); fewer when quantiles tie. */
  bins?: number;
  /** Share used in place of 0 for an empty bin (Evidently: 1e-4). */
  floor?: number;
}

export interface PsiBins {
  /**
   * Interior bin edges (strictly increasing). Bin k is (edges[k-1], edges[k]] with
   * edges[-1] = -Infinity and edges[len] = +Infinity (right-closed, as pandas.cut).
   */
  edges: number[];
  referenceCounts: number[];
  currentCounts: number[];
  /** Shares per bin after the floor (an empty bin gets `floor`; not renormalised). */
  referenceShares: number[];
  currentShares: number[];
  /** Per-bin terms (cur - ref) * ln(cur / ref); they sum to the PSI. */
  terms: number[];
}

export interface PsiResult {
  /** PSI = Σ (cur - ref) * ln(cur / ref); NaN when either side has no finite values. */
  psi: number;
  bins: PsiBins;
}

/** Quantile edges q = k/bins (k = 1..bins-1) of the sorted reference, deduplicated. */
export function quantileEdges(sortedReference: Float64Array, bins: number): number[] {
  const edges: number[] = [];
  if (sortedReference.length === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const e = quantileSorted(sortedReference, k / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges;
}

/** Counts of sorted values per right-closed bin (edges as in {@link PsiBins}). */
function binCountsSorted(sorted: Float64Array, edges: number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bin = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i];
    while (bin < edges.length && v > edges[bin]) bin++;
    counts[bin]++;
  }
  return counts;
}

/** PSI from per-bin (or per-category) counts; shares of empty cells are replaced by `floor`. */
export function psiFromCounts(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  floor = 1e-4,
): { psi: number; referenceShares: number[]; currentShares: number[]; terms: number[] } {
  if (referenceCounts.length !== currentCounts.length) throw new Error('psiFromCounts: count arrays differ in length');
  let rt = 0;
  let ct = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    rt += referenceCounts[i];
    ct += currentCounts[i];
  }
  const referenceShares: number[] = [];
  const currentShares: number[] = [];
  const terms: number[] = [];
  if (rt <= 0 || ct <= 0) return { psi: NaN, referenceShares, currentShares, terms };
  let psi = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const r = referenceCounts[i] > 0 ? referenceCounts[i] / rt : floor;
    const c = currentCounts[i] > 0 ? currentCounts[i] / ct : floor;
    const t = (c - r) * Math.log(c / r);
    referenceShares.push(r);
    currentShares.push(c);
    terms.push(t);
    psi += t;
  }
  return { psi, referenceShares, currentShares, terms };
}

/** PSI on already sorted finite values. See {@link psi}. */
export function psiSorted(reference: Float64Array, current: Float64Array, options: PsiOptions = {}): PsiResult {
  const bins = options.bins ?? 10;
  const floor = options.floor ?? 1e-4;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`psi: bins must be a positive integer, got ${bins}`);
  if (!(floor > 0 && floor < 1)) throw new Error(`psi: floor must be in (0, 1), got ${floor}`);
  const edges = quantileEdges(reference, bins);
  const referenceCounts = binCountsSorted(reference, edges);
  const currentCounts = binCountsSorted(current, edges);
  const r = psiFromCounts(referenceCounts, currentCounts, floor);
  return {
    psi: r.psi,
    bins: { edges, referenceCounts, currentCounts, referenceShares: r.referenceShares, currentShares: r.currentShares, terms: r.terms },
  };
}

/**
 * Population Stability Index of `current` against `reference` (NaN skipped).
 *
 * Bins: quantile edges k/bins (k = 1..bins-1, numpy-style linear interpolation) of the
 * reference, deduplicated (tied quantiles give fewer bins), first bin open to -Infinity and the
 * last to +Infinity, bins right-closed. Shares per bin; an empty bin's share is `floor` (1e-4,
 * as Evidently's `np.place(percents, percents == 0, 0.0001)`). PSI = Σ (cur - ref) ln(cur/ref),
 * always ≥ 0. Rule of thumb: < 0.1 stable, 0.1–0.2 moderate shift, > 0.2 significant.
 */
export function psi(reference: Float64Array, current: Float64Array, options: PsiOptions = {}): PsiResult {
  return psiSorted(finiteSorted(reference).values, finiteSorted(current).values, options);
}

// ---------------------------------------------------------------------------------------------
// Wasserstein-1
// ---------------------------------------------------------------------------------------------

/** W1 between the empirical distributions of two sorted arrays of finite values. */
export function wasserstein1Sorted(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  // ∫ |F_a(x) - F_b(x)| dx: both CDFs are constant between consecutive merged sample values.
  let i = 0;
  let j = 0;
  let total = 0;
  let prev = 0;
  let started = false;
  while (i < n || j < m) {
    const x = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    if (started) total += Math.abs(i / n - j / m) * (x - prev);
    while (i < n && a[i] === x) i++;
    while (j < m && b[j] === x) j++;
    prev = x;
    started = true;
  }
  return total;
}

/**
 * 1-D Wasserstein (earth mover's) distance between the empirical distributions of `a` and `b`
 * (NaN skipped): ∫ |F_a(x) - F_b(x)| dx, computed exactly by walking the merged sorted samples
 * (as scipy.stats.wasserstein_distance). For equal sizes it equals mean |a_(i) - b_(i)|.
 */
export function wasserstein1(a: Float64Array, b: Float64Array): number {
  return wasserstein1Sorted(finiteSorted(a).values, finiteSorted(b).values);
}

/** Lower bound on the reference std used by {@link normalisedWasserstein} (Evidently: 0.001). */
export const WASSERSTEIN_STD_FLOOR = 0.001;

/**
 * Wasserstein-1 distance divided by the reference's standard deviation, as Evidently's
 * `wasserstein` stattest: std with ddof = 0 (np.std), floored at 0.001 so a constant reference
 * does not divide by zero. Unit-free: "how many reference standard deviations the mass moved".
 */
export function normalisedWasserstein(reference: Float64Array, current: Float64Array): number {
  const w = wasserstein1(reference, current);
  const { std } = meanStd(reference);
  return w / Math.max(std, WASSERSTEIN_STD_FLOOR);
}

// ---------------------------------------------------------------------------------------------
// Chi-square
// ---------------------------------------------------------------------------------------------

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative accuracy ~1e-15). */
export function lnGamma(x: number): number {
  if (!(x > 0)) return NaN;
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

const GAMMA_EPS = 1e-16;
const FPMIN = 1e-300;

/**
 * Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), as Numerical Recipes' gammq:
 * the series for P(a, x) when x < a + 1 (then Q = 1 - P), the continued fraction (modified
 * Lentz) otherwise. Relative accuracy ~1e-14 for moderate a.
 */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  const maxIter = 10_000 + Math.ceil(20 * Math.sqrt(a));
  const logPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < maxIter; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * GAMMA_EPS) break;
    }
    return clamp01(1 - sum * Math.exp(logPrefix));
  }
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= maxIter; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < GAMMA_EPS) break;
  }
  return clamp01(Math.exp(logPrefix) * h);
}

/** Survival function of the chi-square distribution: P(X > x) = Q(dof/2, x/2). */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) return NaN;
  return regularizedGammaQ(dof / 2, x / 2);
}

export interface ChiSquareResult {
  statistic: number;
  /** P(χ²_dof ≥ statistic); 1 when dof = 0 (a single category: nothing to test). */
  pvalue: number;
  /** Number of categories (union of both sides) minus 1. */
  dof: number;
}

export interface ChiSquareOptions {
  /** Reference share given to a category the reference never saw (then shares renormalised). */
  floor?: number;
}

/**
 * Chi-square goodness-of-fit of the current category counts against the reference shares
 * (Evidently's `chisquare` stattest: expected = reference counts scaled to the current total).
 * `refCounts[i]` and `curCounts[i]` belong to the same category. A category absent from the
 * reference (count 0) gets the share `floor` (1e-4) instead of an infinite contribution, and
 * the reference shares are renormalised so the expected counts still sum to the current total
 * (with no unseen categories the floor does not apply and the result is exact).
 * Categories absent on both sides are ignored. dof = categories - 1.
 */
export function chiSquare(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>, options: ChiSquareOptions = {}): ChiSquareResult {
  const floor = options.floor ?? 1e-4;
  if (refCounts.length !== curCounts.length) throw new Error('chiSquare: count arrays differ in length');
  let rt = 0;
  let ct = 0;
  let k = 0;
  for (let i = 0; i < refCounts.length; i++) {
    const r = refCounts[i];
    const c = curCounts[i];
    if (!(r >= 0) || !(c >= 0)) throw new Error(`chiSquare: counts must be non-negative numbers (category ${i})`);
    rt += r;
    ct += c;
    if (r > 0 || c > 0) k++;
  }
  if (rt === 0 || ct === 0) return { statistic: NaN, pvalue: NaN, dof: Math.max(0, k - 1) };
  let shareTotal = 0;
  for (let i = 0; i < refCounts.length; i++) {
    if (refCounts[i] > 0) shareTotal += refCounts[i] / rt;
    else if (curCounts[i] > 0) shareTotal += floor;
  }
  let statistic = 0;
  for (let i = 0; i < refCounts.length; i++) {
    const r = refCounts[i];
    const c = curCounts[i];
    if (r === 0 && c === 0) continue;
    const share = (r > 0 ? r / rt : floor) / shareTotal;
    const expected = share * ct;
    const diff = c - expected;
    statistic += (diff * diff) / expected;
  }
  const dof = k - 1;
  const pvalue = dof === 0 ? 1 : chiSquareSurvival(statistic, dof);
  return { statistic, pvalue, dof };
}

/**
 * Cramér's V of the 2 × k contingency table (reference vs current) × category:
 * V = sqrt(χ² / (N · (min(2, k) - 1))), χ² of independence, N the total of both sides.
 * 0 = same category mix, 1 = disjoint categories. NaN when a side is empty; 0 for k < 2.
 */
export function cramersV(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>): number {
  if (refCounts.length !== curCounts.length) throw new Error('cramersV: count arrays differ in length');
  let rt = 0;
  let ct = 0;
  let k = 0;
  for (let i = 0; i < refCounts.length; i++) {
    rt += refCounts[i];
    ct += curCounts[i];
    if (refCounts[i] + curCounts[i] > 0) k++;
  }
  if (rt === 0 || ct === 0) return NaN;
  if (k < 2) return 0;
  const total = rt + ct;
  let chi2 = 0;
  for (let i = 0; i < refCounts.length; i++) {
    const col = refCounts[i] + curCounts[i];
    if (col === 0) continue;
    const er = (rt * col) / total;
    const ec = (ct * col) / total;
    chi2 += (refCounts[i] - er) ** 2 / er + (curCounts[i] - ec) ** 2 / ec;
  }
  return Math.sqrt(chi2 / total);
}

/**
 * Category counts of two coded columns (a category is a finite value, e.g. an integer code),
 * aligned over the union of categories in ascending order. NaN / ±Infinity are skipped.
 */
export function categoryCounts(reference: Float64Array, current: Float64Array): { categories: number[]; referenceCounts: number[]; currentCounts: number[] } {
  const ref = new Map<number, number>();
  const cur = new Map<number, number>();
  for (let i = 0; i < reference.length; i++) {
    const v = reference[i];
    if (Number.isFinite(v)) ref.set(v, (ref.get(v) ?? 0) + 1);
  }
  for (let i = 0; i < current.length; i++) {
    const v = current[i];
    if (Number.isFinite(v)) cur.set(v, (cur.get(v) ?? 0) + 1);
  }
  const categories = [...new Set([...ref.keys(), ...cur.keys()])].sort((x, y) => x - y);
  return {
    categories,
    referenceCounts: categories.map((c) => ref.get(c) ?? 0),
    currentCounts: categories.map((c) => cur.get(c) ?? 0),
  };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
