/**
 * Feature drift between a reference window (the champion's training data) and a current window.
 *
 * Per feature one test decides "drifted" (defaults as Evidently's data-drift preset); the other
 * statistics are always computed too and reported beside it, so a reader sees the effect size
 * next to every p-value — with hundreds of thousands of rows a p-value alone flags everything.
 *
 *   numeric_test  test that decides                     drifted when          default threshold
 *   ks            two-sample KS, asymptotic p-value      p <= threshold        0.05
 *   wasserstein   Wasserstein-1 / std(reference)         value >= threshold    0.1
 *   psi           PSI over 10 reference-quantile bins    value >= threshold    0.1
 *   auto          ks when the reference has <= 1000 finite values, wasserstein otherwise
 *                 (Evidently also switches to z-test / Jensen–Shannon for columns with <= 2
 *                 distinct values; not done here)
 *   categorical   chi-square goodness of fit             p <= 0.05             (fixed; `threshold`
 *                 applies to the numeric test only, e.g. `psi, threshold: 0.2` in DESIGN §3)
 *
 * Effect size: normalised Wasserstein for numeric features, Cramér's V for categorical ones.
 * Dataset drift: drifted / testable features >= dataset_drift_share. A feature with no finite
 * values on either side (or missing from one side) is reported as not testable, not drifted,
 * and is left out of the share's denominator.
 */
import {
  categoryCounts,
  chiSquare,
  cramersV,
  finiteSorted,
  ksTwoSampleSorted,
  meanStd,
  psiFromCounts,
  psiSorted,
  wasserstein1Sorted,
  WASSERSTEIN_STD_FLOOR,
} from './stats.ts';

export type NumericTest = 'auto' | 'ks' | 'psi' | 'wasserstein';
export type DriftTest = 'ks' | 'psi' | 'wasserstein' | 'chi_square';

export interface DriftConfig {
  numeric_test: NumericTest;
  /** Threshold of the numeric test (p-value for ks, value for psi / wasserstein); null = default. */
  threshold: number | null;
  dataset_drift_share: number;
  categorical_columns: string[];
}

/** Rows at or below which `auto` uses KS (Evidently's rule). */
export const AUTO_KS_MAX_ROWS = 1000;
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftTest, number>> = { ks: 0.05, psi: 0.1, wasserstein: 0.1, chi_square: 0.05 };
/** Tests whose statistic is a p-value-bearing hypothesis test: drifted when p <= threshold. */
const P_VALUE_TESTS: ReadonlySet<DriftTest> = new Set<DriftTest>(['ks', 'chi_square']);

export interface SideSummary {
  /** Finite values used by the statistics. */
  count: number;
  /** NaN (or ±Infinity) values skipped. */
  nanCount: number;
  /** Mean of the finite values (numeric features); null for categorical or empty. */
  mean: number | null;
}

export interface FeatureDrift {
  feature: string;
  kind: 'numeric' | 'categorical';
  testable: boolean;
  /** Why the feature was not tested (testable = false), else null. */
  reason: string | null;
  /** Test that decided `drifted`; null when not testable. */
  test: DriftTest | null;
  /** Statistic of `test`: KS D, PSI, normalised Wasserstein or χ². */
  statistic: number | null;
  /** p-value of `test` when it has one (ks, chi_square). */
  pvalue: number | null;
  threshold: number;
  drifted: boolean;
  /** Normalised Wasserstein (numeric) or Cramér's V (categorical). */
  effectSize: number | null;
  effectSizeKind: 'normalised_wasserstein' | 'cramers_v';
  /** Always computed when testable (numeric: 10 reference-quantile bins; categorical: per category). */
  psi: number | null;
  /** Numeric only. */
  ksStatistic: number | null;
  ksPvalue: number | null;
  wasserstein: number | null;
  normalisedWasserstein: number | null;
  /** Categorical only. */
  chiSquare: { statistic: number; pvalue: number; dof: number } | null;
  reference: SideSummary;
  current: SideSummary;
}

export interface DriftResult {
  features: FeatureDrift[];
  testedFeatures: number;
  driftedFeatures: number;
  /** drifted / tested (0 when nothing was testable). */
  driftShare: number;
  datasetDriftShare: number;
  datasetDrift: boolean;
  numericTest: NumericTest;
}

export function detectDrift(reference: Record<string, Float64Array>, current: Record<string, Float64Array>, config: DriftConfig): DriftResult {
  if (!(config.dataset_drift_share > 0 && config.dataset_drift_share <= 1))
    throw new Error(`detectDrift: dataset_drift_share must be in (0, 1], got ${config.dataset_drift_share}`);
  if (config.threshold !== null && !(config.threshold > 0)) throw new Error(`detectDrift: threshold must be > 0 or null, got ${config.threshold}`);
  const categorical = new Set(config.categorical_columns);
  const names = [...Object.keys(reference), ...Object.keys(current).filter((k) => !(k in reference))];
  const features = names.map((name) => {
    const ref = Object.hasOwn(reference, name) ? reference[name] : undefined;
    const cur = Object.hasOwn(current, name) ? current[name] : undefined;
    return categorical.has(name) ? categoricalDrift(name, ref, cur) : numericDrift(name, ref, cur, config);
  });
  const tested = features.filter((f) => f.testable).length;
  const drifted = features.filter((f) => f.drifted).length;
  const driftShare = tested === 0 ? 0 : drifted / tested;
  return {
    features,
    testedFeatures: tested,
    driftedFeatures: drifted,
    driftShare,
    datasetDriftShare: config.dataset_drift_share,
    datasetDrift: tested > 0 && driftShare >= config.dataset_drift_share,
    numericTest: config.numeric_test,
  };
}

function emptySide(x: Float64Array | undefined): SideSummary {
  return { count: 0, nanCount: x ? x.length : 0, mean: null };
}

function untestable(
  feature: string,
  kind: FeatureDrift['kind'],
  reason: string,
  threshold: number,
  reference: SideSummary,
  current: SideSummary,
): FeatureDrift {
  return {
    feature,
    kind,
    testable: false,
    reason,
    test: null,
    statistic: null,
    pvalue: null,
    threshold,
    drifted: false,
    effectSize: null,
    effectSizeKind: kind === 'numeric' ? 'normalised_wasserstein' : 'cramers_v',
    psi: null,
    ksStatistic: null,
    ksPvalue: null,
    wasserstein: null,
    normalisedWasserstein: null,
    chiSquare: null,
    reference,
    current,
  };
}

function missingReason(ref: Float64Array | undefined, cur: Float64Array | undefined, refCount: number, curCount: number): string | null {
  if (!ref) return 'column missing from the reference';
  if (!cur) return 'column missing from the current window';
  if (refCount === 0 && curCount === 0) return 'no values on either side';
  if (refCount === 0) return 'no values in the reference';
  if (curCount === 0) return 'no values in the current window';
  return null;
}

function numericDrift(name: string, ref: Float64Array | undefined, cur: Float64Array | undefined, config: DriftConfig): FeatureDrift {
  const r = ref ? finiteSorted(ref) : { values: new Float64Array(0), missing: 0 };
  const c = cur ? finiteSorted(cur) : { values: new Float64Array(0), missing: 0 };
  const test: DriftTest = config.numeric_test === 'auto' ? (r.values.length <= AUTO_KS_MAX_ROWS ? 'ks' : 'wasserstein') : config.numeric_test;
  const threshold = config.threshold ?? DEFAULT_THRESHOLDS[test];
  const reason = missingReason(ref, cur, r.values.length, c.values.length);
  if (reason !== null) {
    const side = (x: Float64Array | undefined, s: { values: Float64Array; missing: number }): SideSummary =>
      x ? { count: s.values.length, nanCount: s.missing, mean: s.values.length ? meanStd(s.values).mean : null } : emptySide(x);
    return untestable(name, 'numeric', reason, threshold, side(ref, r), side(cur, c));
  }
  const refStats = meanStd(r.values);
  const curStats = meanStd(c.values);
  const ks = ksTwoSampleSorted(r.values, c.values);
  const p = psiSorted(r.values, c.values);
  const w = wasserstein1Sorted(r.values, c.values);
  const nw = w / Math.max(refStats.std, WASSERSTEIN_STD_FLOOR);
  let statistic: number;
  let pvalue: number | null = null;
  if (test === 'ks') {
    statistic = ks.statistic;
    pvalue = ks.pvalue;
  } else if (test === 'psi') statistic = p.psi;
  else statistic = nw;
  const drifted = decide(test, statistic, pvalue, threshold);
  return {
    feature: name,
    kind: 'numeric',
    testable: true,
    reason: null,
    test,
    statistic,
    pvalue,
    threshold,
    drifted,
    effectSize: nw,
    effectSizeKind: 'normalised_wasserstein',
    psi: p.psi,
    ksStatistic: ks.statistic,
    ksPvalue: ks.pvalue,
    wasserstein: w,
    normalisedWasserstein: nw,
    chiSquare: null,
    reference: { count: r.values.length, nanCount: r.missing, mean: refStats.mean },
    current: { count: c.values.length, nanCount: c.missing, mean: curStats.mean },
  };
}

function categoricalDrift(name: string, ref: Float64Array | undefined, cur: Float64Array | undefined): FeatureDrift {
  const threshold = DEFAULT_THRESHOLDS.chi_square;
  const counts = categoryCounts(ref ?? new Float64Array(0), cur ?? new Float64Array(0));
  const sum = (xs: number[]): number => xs.reduce((s, v) => s + v, 0);
  const refN = sum(counts.referenceCounts);
  const curN = sum(counts.currentCounts);
  const refSide: SideSummary = ref ? { count: refN, nanCount: ref.length - refN, mean: null } : emptySide(ref);
  const curSide: SideSummary = cur ? { count: curN, nanCount: cur.length - curN, mean: null } : emptySide(cur);
  const reason = missingReason(ref, cur, refN, curN);
  if (reason !== null) return untestable(name, 'categorical', reason, threshold, refSide, curSide);
  const chi = chiSquare(counts.referenceCounts, counts.currentCounts);
  const v = cramersV(counts.referenceCounts, counts.currentCounts);
  const p = psiFromCounts(counts.referenceCounts, counts.currentCounts);
  return {
    feature: name,
    kind: 'categorical',
    testable: true,
    reason: null,
    test: 'chi_square',
    statistic: chi.statistic,
    pvalue: chi.pvalue,
    threshold,
    drifted: decide('chi_square', chi.statistic, chi.pvalue, threshold),
    effectSize: v,
    effectSizeKind: 'cramers_v',
    psi: p.psi,
    ksStatistic: null,
    ksPvalue: null,
    wasserstein: null,
    normalisedWasserstein: null,
    chiSquare: chi,
    reference: refSide,
    current: curSide,
  };
}

function decide(test: DriftTest, statistic: number, pvalue: number | null, threshold: number): boolean {
  if (P_VALUE_TESTS.has(test)) return pvalue !== null && pvalue <= threshold;
  return statistic >= threshold;
}

// ---------------------------------------------------------------------------------------------
// Markdown report
// ---------------------------------------------------------------------------------------------

export interface DriftReportContext {
  /** Heading, e.g. the pipeline name. */
  title?: string;
  pipeline?: string;
  modelVersion?: string;
  /** Free-text or ISO descriptions of the windows, e.g. "2024-05-01 → 2024-05-29". */
  referenceWindow?: string;
  currentWindow?: string;
}

const TEST_LABEL: Record<DriftTest, string> = { ks: 'KS', psi: 'PSI', wasserstein: 'norm. Wasserstein', chi_square: 'χ²' };

function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return Number(x.toPrecision(digits)).toString();
  return x.toExponential(digits - 1);
}

function fmtP(p: number | null): string {
  if (p === null || Number.isNaN(p)) return '—';
  if (p < 1e-300) return '< 1e-300';
  return fmt(p);
}

function escapeCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Sort key: drifted first, then testable, each by effect size descending, then by name. */
function reportOrder(a: FeatureDrift, b: FeatureDrift): number {
  const rank = (f: FeatureDrift): number => (f.drifted ? 0 : f.testable ? 1 : 2);
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  const ea = a.effectSize ?? -Infinity;
  const eb = b.effectSize ?? -Infinity;
  if (ea !== eb) return eb > ea ? 1 : -1;
  return a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0;
}

/**
 * Markdown drift report: a summary line, then one table row per feature, drifted features
 * first (by effect size, largest first). The effect size sits beside every p-value.
 */
export function driftReportMarkdown(result: DriftResult, context: DriftReportContext = {}): string {
  const lines: string[] = [];
  const title = context.title ?? (context.pipeline ? `Data drift — ${context.pipeline}` : 'Data drift');
  lines.push(`### ${title}`, '');
  const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
  const verdict = result.datasetDrift ? '⚠️ **Dataset drift detected**' : '✅ **No dataset drift**';
  const untestable = result.features.length - result.testedFeatures;
  lines.push(
    `${verdict}: ${result.driftedFeatures} of ${result.testedFeatures} tested features drifted ` +
      `(${pct(result.driftShare)}; dataset drift at ≥ ${pct(result.datasetDriftShare)})` +
      (untestable > 0 ? `, ${untestable} not testable` : '') +
      '.',
  );
  const meta: string[] = [];
  if (context.modelVersion) meta.push(`model ${context.modelVersion}`);
  if (context.referenceWindow) meta.push(`reference ${context.referenceWindow}`);
  if (context.currentWindow) meta.push(`current ${context.currentWindow}`);
  meta.push(`numeric test: ${result.numericTest}`);
  lines.push('', meta.join(' · '), '');
  lines.push('| feature | test | statistic | p-value | effect size | PSI | drifted |');
  lines.push('|---|---|---:|---:|---:|---:|:---:|');
  for (const f of [...result.features].sort(reportOrder)) {
    const name = `\`${escapeCell(f.feature)}\``;
    if (!f.testable) {
      lines.push(`| ${name} | — | — | — | — | — | not tested: ${escapeCell(f.reason ?? '')} |`);
      continue;
    }
    const test = `${TEST_LABEL[f.test!]}${P_VALUE_TESTS.has(f.test!) ? ` p ≤ ${fmt(f.threshold)}` : ` ≥ ${fmt(f.threshold)}`}`;
    // A test without a p-value (psi, wasserstein) still shows the KS p-value, labelled, for context.
    const pvalue = f.pvalue !== null ? fmtP(f.pvalue) : f.ksPvalue !== null ? `(KS) ${fmtP(f.ksPvalue)}` : '—';
    const effect = f.effectSizeKind === 'cramers_v' ? `V ${fmt(f.effectSize)}` : fmt(f.effectSize);
    lines.push(`| ${name} | ${test} | ${fmt(f.statistic)} | ${pvalue} | ${effect} | ${fmt(f.psi)} | ${f.drifted ? '⚠️' : '✅'} |`);
  }
  lines.push(
    '',
    '_Effect size: Wasserstein distance in reference standard deviations for numeric features ' +
      "(≥ 0.1 is a notable shift), Cramér's V for categorical ones. With many rows a tiny p-value " +
      'can accompany a negligible effect; read them together._',
  );
  return lines.join('\n') + '\n';
}
