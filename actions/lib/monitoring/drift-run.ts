/**
 * The daily drift check of one pipeline: the champion's training window (reference) against the
 * last N days (current), feature by feature, plus the drift of the champion's own predictions.
 *
 * What is compared: the model's INPUT COLUMNS — the columns its recorded feature spec is built
 * from (source columns and derived columns such as `head_m`), plus any configured categorical
 * columns — not the built feature matrix. Why:
 *  - lags and rolling statistics of one column are near copies of it: testing the built matrix
 *    would count one shifted sensor seven times and make `dataset_drift_share` mean "how many
 *    lag/rolling variants" instead of "how many inputs";
 *  - calendar encodings differ between a 7-day and a 30-day window by construction, and
 *    z-scoring is an affine map that changes no test's verdict;
 *  - a column is something an operator can look at and fix (a sensor, a process change).
 * What the model makes of its built features is covered by the prediction drift: the champion's
 * ONNX scored on both windows (features built with its own recorded spec and z-score stats).
 *
 * Classification: the categorical inputs (one-hot in the model) are compared as categories
 * (chi-square; each window's category text mapped to one vocabulary); the prediction drift is that
 * of the champion's positive-class probabilities over every row (labels or not, as it serves);
 * and, when labels exist, the label drift: the share of positives among the training window's
 * labelled rows (known at its end, what the champion learnt from) against that of the rows of the
 * last health.live_window_days with a label known now (the newest days have none yet).
 */
import type { ClassificationPipeline, PipelineConfig } from '../config/schema.ts';
import type { Db, Queryable } from '../db/index.ts';
import { detectDrift, driftReportMarkdown, type DriftConfig, type DriftResult, type FeatureDrift } from '../drift/detect.ts';
import { buildFeatures } from '../features/build.ts';
import type { FeatureSpec } from '../features/spec.ts';
import type { ZScoreStats } from '../features/zscore.ts';
import { scoreOnnx } from '../onnx/score.ts';
import { loadChampion, type Champion } from '../registry/champion.ts';
import { extractFrame } from '../source/extract.ts';
import type { Frame } from '../source/frame.ts';
import { splitRecordedSpec } from '../features/spec.ts';
import { servingMatrix } from '../score/features.ts';
import { DAY_MS } from '../util/duration.ts';
import { fmtInt } from '../report/format.ts';

export interface DriftRunOptions {
  /** the checkout holding registry/production.json */
  repoDir: string;
  /** end of the current window (exclusive) */
  asOf: Date;
  /** length of the current window in days; default the pipeline's `drift.current_days` */
  currentDays?: number;
  /** score the champion on both windows for prediction drift (default true) */
  predictions?: boolean;
}

export type DriftRunOutcome = 'reported' | 'no-champion' | 'no-reference-data' | 'no-current-data';

export interface Window {
  start: string;
  end: string;
  rows: number;
}

/** The drift of the champion's predictions: one FeatureDrift named `prediction`, or why there is none. */
export interface PredictionDrift {
  status: 'compared' | 'skipped';
  reason: string | null;
  drift: FeatureDrift | null;
  /** rows scored on each side */
  referenceRows: number;
  currentRows: number;
}

/** The drift of the share of positives (classification), or why it was not compared. */
export interface LabelDrift {
  status: 'compared' | 'skipped';
  reason: string | null;
  /** chi-square over the (negative, positive) counts of both sides; null when skipped */
  drift: FeatureDrift | null;
  reference: { start: string; end: string; labelled: number; positives: number; positive_rate: number };
  current: { start: string; end: string; labelled: number; positives: number; positive_rate: number };
}

export interface DriftRun {
  pipeline: string;
  outcome: DriftRunOutcome;
  /** one line for a person */
  message: string;
  modelVersion: number | null;
  reference: Window | null;
  current: Window;
  /** the input columns compared, in report order of the spec */
  columns: string[];
  result: DriftResult | null;
  prediction: PredictionDrift | null;
  /** classification: the drift of the share of positives; null for regression */
  labels: LabelDrift | null;
  /** dataset drift on a pipeline with `retrain_on_drift`: dispatches a retrain */
  severe: boolean;
  markdown: string;
  /** mlops.drift_reports.id (null when nothing was compared) */
  reportId: number | null;
}

interface RecordedSpec {
  spec: FeatureSpec;
  stats: ZScoreStats | null;
}

/** The champion's feature spec as recorded in its registry entry (spec + zscore_stats). */
export function recordedSpec(champion: Champion): RecordedSpec {
  return splitRecordedSpec(champion.entry.features.spec, `${champion.model} v${champion.entry.version}`);
}

/** The columns compared as categories: the spec's categorical inputs, then configured ones. */
function categoricalDriftColumns(spec: FeatureSpec, config: PipelineConfig): string[] {
  const cols = (spec.categorical ?? []).map((e) => e.column);
  for (const c of config.drift.categorical_columns) if (!cols.includes(c)) cols.push(c);
  return cols;
}

/** The columns drift is computed on: the spec's numeric input columns, then the categorical ones. */
export function driftColumns(spec: FeatureSpec, config: PipelineConfig): string[] {
  const cols = [...spec.columns];
  for (const c of categoricalDriftColumns(spec, config)) if (!cols.includes(c)) cols.push(c);
  return cols;
}

function driftConfig(config: PipelineConfig, spec: FeatureSpec): DriftConfig {
  return {
    numeric_test: config.drift.numeric_test,
    threshold: config.drift.threshold,
    dataset_drift_share: config.drift.dataset_drift_share,
    categorical_columns: categoricalDriftColumns(spec, config),
  };
}

/**
 * The compared columns of both windows. A text column's codes index its own frame's dictionary
 * (extract numbers the categories it sees), so both sides are mapped onto one vocabulary: the
 * reference's categories, then those only the current window has.
 */
export function driftInputs(ref: Frame, cur: Frame, names: readonly string[]): [Record<string, Float64Array>, Record<string, Float64Array>] {
  const refOut: Record<string, Float64Array> = {};
  const curOut: Record<string, Float64Array> = {};
  const get = (frame: Frame, n: string): Float64Array => {
    const i = frame.names.indexOf(n);
    // A column the pipeline no longer extracts: empty on this side, so it is reported as not testable.
    return i >= 0 ? frame.columns[i] : new Float64Array(0);
  };
  for (const n of names) {
    const r = get(ref, n);
    const c = get(cur, n);
    const rd = ref.categories?.[n];
    const cd = cur.categories?.[n];
    if (!rd || !cd) {
      refOut[n] = r;
      curOut[n] = c;
      continue;
    }
    const vocabulary = new Map(rd.map((v, k) => [v, k]));
    for (const v of cd) if (!vocabulary.has(v)) vocabulary.set(v, vocabulary.size);
    const toShared = Float64Array.from(cd, (v) => vocabulary.get(v)!);
    refOut[n] = r;
    curOut[n] = Float64Array.from(c, (code) => (code === code ? toShared[code] : Number.NaN));
  }
  return [refOut, curOut];
}

/**
 * The champion's predictions over a frame: a regression model's on the rows with a complete target
 * (as it was trained), a classifier's positive-class probability on every row with an input (as
 * it serves: most rows of a recent window have no label yet).
 */
async function championPredictions(champion: Champion, rec: RecordedSpec, frame: Frame): Promise<Float64Array> {
  if (rec.spec.task === 'classification') {
    const X = servingMatrix(frame, rec.spec, rec.stats, frame.window.start.getTime(), frame.window.end.getTime(), champion.entry.features.names);
    return Float64Array.from(await scoreOnnx(champion.onnx, X.values, X.rows, X.names.length, champion.label));
  }
  const built = buildFeatures(frame, rec.spec, rec.stats ?? undefined).matrix;
  const expected = champion.entry.features.names;
  if (built.names.length !== expected.length || built.names.some((n, i) => n !== expected[i]))
    throw new Error(`rebuilt features (${built.names.length}) differ from the champion's recorded names (${expected.length})`);
  const pred = await scoreOnnx(champion.onnx, built.values, built.rows, built.names.length, champion.label);
  return Float64Array.from(pred);
}

async function predictionDrift(champion: Champion, rec: RecordedSpec, ref: Frame, cur: Frame, config: DriftConfig): Promise<PredictionDrift> {
  let refPred: Float64Array;
  let curPred: Float64Array;
  try {
    refPred = await championPredictions(champion, rec, ref);
    curPred = await championPredictions(champion, rec, cur);
  } catch (err) {
    return { status: 'skipped', reason: `the champion could not be scored: ${(err as Error).message}`, drift: null, referenceRows: 0, currentRows: 0 };
  }
  const r = detectDrift({ prediction: refPred }, { prediction: curPred }, { ...config, categorical_columns: [] });
  return { status: 'compared', reason: null, drift: r.features[0], referenceRows: refPred.length, currentRows: curPred.length };
}

const iso = (d: Date): string => d.toISOString();

/**
 * Computes, records (mlops.drift_reports, one row per pipeline and window) and renders the drift
 * of one pipeline. Without a champion there is no reference: the outcome says so and nothing is
 * recorded.
 */
export async function runDrift(db: Db, config: PipelineConfig, options: DriftRunOptions): Promise<DriftRun> {
  const days = options.currentDays ?? config.drift.current_days;
  if (!(days > 0)) throw new Error(`drift: current window must be > 0 days, got ${days}`);
  const curEnd = options.asOf;
  const curStart = new Date(curEnd.getTime() - days * DAY_MS);
  const current: Window = { start: iso(curStart), end: iso(curEnd), rows: 0 };
  const base = { pipeline: config.name, current, result: null, prediction: null, labels: null, severe: false, reportId: null };

  const champion = loadChampion(options.repoDir, config.name);
  if (!champion) {
    const message = `${config.name}: no champion in the registry, so no reference window to compare with`;
    return {
      ...base,
      outcome: 'no-champion',
      message,
      modelVersion: null,
      reference: null,
      columns: [],
      markdown: `### Data drift — ${config.name}\n\n${message}.\n`,
    };
  }
  const rec = recordedSpec(champion);
  const columns = driftColumns(rec.spec, config);
  const refStart = new Date(champion.entry.data.start);
  const refEnd = new Date(champion.entry.data.end);
  // A classifier's reference carries the labels it was trained on (known at the window's end).
  const labels = config.task === 'classification' ? { labels: config.labels, labelsAsOf: refEnd } : {};
  const [refFrame, curFrame] = [
    await extractFrame(db, config.source, refEnd, { start: refStart, end: refEnd, ...labels }),
    await extractFrame(db, config.source, curEnd, { start: curStart, end: curEnd }),
  ];
  const reference: Window = { start: iso(refStart), end: iso(refEnd), rows: refFrame.rows };
  current.rows = curFrame.rows;
  const version = champion.entry.version;
  if (refFrame.rows === 0 || curFrame.rows === 0) {
    const outcome: DriftRunOutcome = refFrame.rows === 0 ? 'no-reference-data' : 'no-current-data';
    const message =
      refFrame.rows === 0
        ? `${config.name}: no rows left in the champion's training window ${reference.start} -> ${reference.end}`
        : `${config.name}: no rows in the current window ${current.start} -> ${current.end}`;
    return { ...base, outcome, message, modelVersion: version, reference, columns, markdown: `### Data drift — ${config.name}\n\n${message}.\n` };
  }

  const cfg = driftConfig(config, rec.spec);
  const result = detectDrift(...driftInputs(refFrame, curFrame, columns), cfg);
  const prediction =
    options.predictions === false
      ? { status: 'skipped' as const, reason: 'not requested', drift: null, referenceRows: 0, currentRows: 0 }
      : await predictionDrift(champion, rec, refFrame, curFrame, cfg);
  const labelDrift = config.task === 'classification' ? await labelShareDrift(db, config, refFrame, curEnd) : null;
  const severe = result.datasetDrift && config.drift.retrain_on_drift;
  const markdown = renderDriftMarkdown(config, version, reference, current, result, prediction, severe, labelDrift);
  const drifted = result.features.filter((f) => f.drifted).map((f) => f.feature);
  const message =
    `${config.name}: ${result.driftedFeatures} of ${result.testedFeatures} input columns drifted` +
    (drifted.length ? ` (${drifted.join(', ')})` : '') +
    (result.datasetDrift ? ': dataset drift' : '') +
    (prediction.drift?.drifted ? "; the champion's predictions drifted" : '') +
    (labelDrift?.drift?.drifted ? '; the share of positives drifted' : '');
  const reportId = await recordDriftReport(db, config.name, version, reference, current, result, prediction, labelDrift, markdown);
  return {
    ...base,
    outcome: 'reported',
    message,
    modelVersion: version,
    reference,
    columns,
    result,
    prediction,
    labels: labelDrift,
    severe,
    markdown,
    reportId,
  };
}

/** Labelled rows and positives of a frame's label column. */
function labelCounts(frame: Frame, column: string): { y: Float64Array; labelled: number; positives: number } {
  const i = frame.names.indexOf(column);
  const all = i >= 0 ? frame.columns[i] : new Float64Array(0);
  const y = new Float64Array(all.length);
  let labelled = 0;
  let positives = 0;
  for (let r = 0; r < all.length; r++) {
    if (all[r] === all[r]) {
      y[labelled++] = all[r];
      positives += all[r];
    }
  }
  return { y: y.subarray(0, labelled), labelled, positives };
}

/**
 * The share of positives the champion learnt from (its training window's labels known at its end)
 * against that of the last health.live_window_days' rows whose label is known at as-of.
 */
async function labelShareDrift(db: Db, config: ClassificationPipeline, refFrame: Frame, asOf: Date): Promise<LabelDrift> {
  const curStart = new Date(asOf.getTime() - config.health.live_window_days * DAY_MS);
  const cur = await extractFrame(db, config.source, asOf, { start: curStart, end: asOf, labels: config.labels, labelsAsOf: asOf });
  const r = labelCounts(refFrame, config.labels.label_column);
  const c = labelCounts(cur, config.labels.label_column);
  const side = (f: Frame, n: { labelled: number; positives: number }) => ({
    start: iso(f.window.start),
    end: iso(f.window.end),
    labelled: n.labelled,
    positives: n.positives,
    positive_rate: n.labelled ? n.positives / n.labelled : Number.NaN,
  });
  const out = { reference: side(refFrame, r), current: side(cur, c) };
  if (r.labelled === 0) return { status: 'skipped', reason: "no labelled row in the champion's training window", drift: null, ...out };
  if (c.labelled === 0) {
    return {
      status: 'skipped',
      reason: `no row of the last ${config.health.live_window_days} days has a label yet (labels arrive later)`,
      drift: null,
      ...out,
    };
  }
  // The labels as categories 0 and 1: chi-square over (negatives, positives), Cramér's V beside it.
  const d = detectDrift({ label: r.y }, { label: c.y }, { numeric_test: 'auto', threshold: null, dataset_drift_share: 1, categorical_columns: ['label'] });
  return { status: 'compared', reason: null, drift: d.features[0], ...out };
}

const finiteJson = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x));

async function recordDriftReport(
  db: Queryable,
  pipeline: string,
  version: number,
  reference: Window,
  current: Window,
  result: DriftResult,
  prediction: PredictionDrift,
  labels: LabelDrift | null,
  markdown: string,
): Promise<number> {
  const { rows } = await db.query<{ id: string | number }>(
    `INSERT INTO mlops.drift_reports (pipeline, model_version, reference_start, reference_end, current_start, current_end,
       drifted_share, dataset_drift, features, prediction, report_md, label_drift)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb)
     ON CONFLICT (pipeline, current_start, current_end) DO UPDATE SET model_version = EXCLUDED.model_version,
       reference_start = EXCLUDED.reference_start, reference_end = EXCLUDED.reference_end, drifted_share = EXCLUDED.drifted_share,
       dataset_drift = EXCLUDED.dataset_drift, features = EXCLUDED.features, prediction = EXCLUDED.prediction,
       report_md = EXCLUDED.report_md, label_drift = EXCLUDED.label_drift, created_at = now()
     RETURNING id`,
    [
      pipeline,
      version,
      reference.start,
      reference.end,
      current.start,
      current.end,
      result.driftShare,
      result.datasetDrift,
      finiteJson({ numeric_test: result.numericTest, tested: result.testedFeatures, drifted: result.driftedFeatures, columns: result.features }),
      finiteJson(prediction),
      markdown,
      labels ? finiteJson(labels) : null,
    ],
  );
  return Number(rows[0].id);
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}

/** The report: the library's feature table (drifted first, effect size beside every p-value), then the predictions. */
export function renderDriftMarkdown(
  config: PipelineConfig,
  version: number,
  reference: Window,
  current: Window,
  result: DriftResult,
  prediction: PredictionDrift,
  severe: boolean,
  labels: LabelDrift | null = null,
): string {
  const window = (w: Window): string => `${w.start.slice(0, 16).replace('T', ' ')} → ${w.end.slice(0, 16).replace('T', ' ')} UTC (${fmtInt(w.rows)} rows)`;
  const lines = [
    driftReportMarkdown(result, {
      title: `Data drift — ${config.name}`,
      pipeline: config.name,
      modelVersion: `v${version}`,
      referenceWindow: `${window(reference)} (the champion's training window)`,
      currentWindow: window(current),
    }).trimEnd(),
  ];
  lines.push('', '#### Predictions of the champion', '');
  if (prediction.status === 'skipped' || !prediction.drift) lines.push(`Not compared: ${prediction.reason ?? 'no predictions'}.`);
  else {
    const p = prediction.drift;
    const pv = p.pvalue !== null ? fmt(p.pvalue) : `(KS) ${fmt(p.ksPvalue)}`;
    lines.push(
      '| test | statistic | p-value | effect size | PSI | mean (reference → current) | drifted |',
      '|---|---:|---:|---:|---:|---|:---:|',
      `| ${p.test ?? '—'} (threshold ${fmt(p.threshold)}) | ${fmt(p.statistic)} | ${pv} | ${fmt(p.effectSize)} | ${fmt(p.psi)} | ` +
        `${fmt(p.reference.mean)} → ${fmt(p.current.mean)} | ${p.drifted ? '⚠️' : '✅'} |`,
      '',
      `_The champion's ONNX scored on ${fmtInt(prediction.referenceRows)} reference and ` +
        `${fmtInt(prediction.currentRows)} current rows (${config.task === 'classification' ? 'every row with an input: its positive-class probability' : 'rows with a target'}, features rebuilt with its recorded spec)._`,
    );
  }
  if (labels) {
    lines.push('', '#### Labels: share of positives', '');
    const share = (s: LabelDrift['reference']): string =>
      `${Number.isFinite(s.positive_rate) ? `${(s.positive_rate * 100).toFixed(1)}%` : '—'} of ${fmtInt(s.labelled)} (${s.start.slice(0, 10)} → ${s.end.slice(0, 10)})`;
    if (labels.status === 'skipped' || !labels.drift) lines.push(`Not compared: ${labels.reason}. Training labels: ${share(labels.reference)}.`);
    else {
      const d = labels.drift;
      lines.push(
        "| reference (training labels) | current (labels known now) | χ² | p-value | Cramér's V | drifted |",
        '|---|---|---:|---:|---:|:---:|',
        `| ${share(labels.reference)} | ${share(labels.current)} | ${fmt(d.statistic)} | ${fmt(d.pvalue)} | ${fmt(d.effectSize)} | ${d.drifted ? '⚠️' : '✅'} |`,
      );
    }
  }
  if (severe)
    lines.push(
      '',
      `**Dataset drift with \`retrain_on_drift\`: a retrain of ${config.name} is dispatched (subject to the ${config.drift.retrain_cooldown_hours} h cooldown).**`,
    );
  else if (result.datasetDrift) lines.push('', '_Dataset drift, but `retrain_on_drift` is off: no retrain is dispatched._');
  return lines.join('\n') + '\n';
}
