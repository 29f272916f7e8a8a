/**
 * Live performance of a deployed classifier: its predictions joined to the labels that have
 * arrived since.
 *
 * The predictions are the pipeline's rows in mlops.predictions whose row time lies in the last
 * `windowDays` before as-of, whatever wrote them (batch scoring, the online server): each carries
 * the source's key in `row_key`, and labels join on it (labels.key_column, compared as text), the
 * newest label of a key known at as-of counting, as in training (labels/sql.ts). Predictions
 * without a key cannot be joined and are left out.
 *
 *  - label coverage: the share of the window's keys (predicted by any version) with a known label.
 *    It says whether the labels feed flows, so it does not depend on which version is deployed;
 *  - live metrics: the champion's (the version registry/production.json names) labelled
 *    predictions, by the same classificationMetrics as evaluation, at its own decision threshold.
 *
 * The result is recorded in mlops.model_performance as a `live` row (one per model and as-of).
 */
import type { ClassificationPipeline } from '../config/schema.ts';
import { decodeBinaryCopy } from '../db/copy-binary.ts';
import { TextDictionary } from '../db/text-dictionary.ts';
import type { Db, Queryable } from '../db/index.ts';
import { classificationMetrics, type ClassificationMetrics } from '../evaluate/metrics.ts';
import { readRegistry } from '../registry/champion.ts';
import { checkLabels, INVALID_LABEL, invalidLabels, labelSettings, noKnownLabels, readKnownLabels } from './sql.ts';
import { DAY_MS } from '../util/duration.ts';

/** keys per read of the labels table */
const KEY_BATCH = 50_000;

export interface LivePerformanceOptions {
  /** the checkout holding registry/production.json (which version is the champion) */
  repoDir: string;
  /** end of the window (exclusive) and the time labels must be known by */
  asOf: Date;
  /** default the pipeline's health.live_window_days */
  windowDays?: number;
}

export interface LivePerformance {
  pipeline: string;
  /** ISO 8601, [start, end) of the predictions' row times */
  window: { start: string; end: string; days: number };
  /** the window's keyed predictions: distinct keys, whatever version predicted them */
  predictions: number;
  /** of those, the keys with a label known at as-of */
  labelled: number;
  /** labelled / predictions (NaN without predictions) */
  label_coverage: number;
  /** the champion's share of it; null without a champion in the registry */
  champion: {
    version: number;
    sha256: string;
    algorithm: string;
    /** its keyed predictions in the window */
    predictions: number;
    /** of those, labelled (the rows its metrics are computed on, NaN predictions aside) */
    labelled: number;
    /** null when none of its predictions has a label yet */
    metrics: ClassificationMetrics | null;
    /** its metrics on its holdout when it was promoted (the registry entry) */
    holdout: ClassificationMetrics | null;
    decision_threshold: number;
  } | null;
}

interface PredictionColumns {
  rows: number;
  keys: Int32Array;
  keyNames: string[];
  /** key text -> code */
  keyCodes: TextDictionary;
  versions: Float64Array;
  values: Float64Array;
}

/** The window's keyed predictions of a pipeline: key code, model version, prediction (NaN for NULL). */
async function readPredictions(db: Db, pipeline: string, start: Date, end: Date): Promise<PredictionColumns> {
  const decoded = await db.transaction(
    async (tx) => {
      // COPY takes no parameters: the pipeline and window travel as transaction-local settings.
      await tx.query("SELECT set_config('mlops.live_pipeline', $1, true), set_config('mlops.live_start', $2, true), set_config('mlops.live_end', $3, true)", [
        pipeline,
        start.toISOString(),
        end.toISOString(),
      ]);
      return decodeBinaryCopy(
        tx,
        `SELECT row_key, model_version::float8, prediction FROM mlops.predictions
       WHERE pipeline = current_setting('mlops.live_pipeline') AND row_key IS NOT NULL
         AND ts >= current_setting('mlops.live_start')::timestamptz AND ts < current_setting('mlops.live_end')::timestamptz`,
        ['text', 'float8', 'float8'],
      );
    },
    { readOnly: true },
  );
  return {
    rows: decoded.rows,
    keys: decoded.columns[0] as Int32Array,
    keyNames: decoded.dictionaries[0] ?? [],
    keyCodes: decoded.texts[0] ?? new TextDictionary(),
    versions: decoded.columns[1] as Float64Array,
    values: decoded.columns[2] as Float64Array,
  };
}

/**
 * The label (1 or 0; NaN: none known) at as-of of each key code, read as the source's reader:
 * the labels of the window's keys, a batch of keys at a time (they travel as a setting).
 */
async function readLabels(db: Db, pipeline: ClassificationPipeline, p: PredictionColumns, asOf: Date): Promise<Float64Array> {
  const labels = pipeline.labels;
  const known = noKnownLabels(p.keyNames.length);
  await db.readSource(async (tx: Queryable) => {
    const table = await checkLabels(tx, labels);
    await labelSettings(tx, labels, asOf);
    for (let from = 0; from < p.keyNames.length; from += KEY_BATCH) {
      await tx.query("SELECT set_config('mlops.label_keys', $1, true)", [JSON.stringify(p.keyNames.slice(from, from + KEY_BATCH))]);
      await readKnownLabels(tx, labels, table, p.keyCodes, known, "SELECT jsonb_array_elements_text(current_setting('mlops.label_keys')::jsonb)");
    }
    let invalid = 0;
    for (let c = 0; c < known.y.length; c++) if (known.y[c] === INVALID_LABEL) invalid++;
    if (invalid > 0) throw new Error(await invalidLabels(tx, labels, table, invalid));
  });
  return known.y;
}

/** Joins the window's predictions to the labels known at as-of and computes coverage and the champion's live metrics. */
export async function livePerformance(db: Db, pipeline: ClassificationPipeline, options: LivePerformanceOptions): Promise<LivePerformance> {
  const days = options.windowDays ?? pipeline.health.live_window_days;
  if (!(days > 0)) throw new Error(`live performance: the window must be > 0 days, got ${days}`);
  const end = options.asOf;
  const start = new Date(end.getTime() - days * DAY_MS);
  const window = { start: start.toISOString(), end: end.toISOString(), days };
  const entry = readRegistry(options.repoDir).models[pipeline.name];
  const p = await readPredictions(db, pipeline.name, start, end);

  // Distinct keys of the window (any version; every code of the dictionary is one), then their labels.
  const keys = p.keyNames.length;
  const labelOf = keys ? await readLabels(db, pipeline, p, end) : new Float64Array(0);
  let labelled = 0;
  for (let c = 0; c < keys; c++) if (labelOf[c] === labelOf[c]) labelled++;
  const base = { pipeline: pipeline.name, window, predictions: keys, labelled, label_coverage: keys ? labelled / keys : Number.NaN };
  if (!entry || entry.task !== 'classification') return { ...base, champion: null };

  // The champion's predictions: one per key (a key scored twice by one version keeps its last row).
  const threshold = entry.decision_threshold;
  const byKey = new Int32Array(p.keyNames.length).fill(-1);
  let predicted = 0;
  for (let i = 0; i < p.rows; i++) {
    if (p.versions[i] !== entry.version) continue;
    if (byKey[p.keys[i]] < 0) predicted++;
    byKey[p.keys[i]] = i;
  }
  const y: number[] = [];
  const prob: number[] = [];
  for (let c = 0; c < byKey.length; c++) {
    const i = byKey[c];
    if (i < 0 || labelOf[c] !== labelOf[c]) continue;
    y.push(labelOf[c]);
    prob.push(p.values[i]);
  }
  const metrics = y.length ? classificationMetrics(Float64Array.from(y), Float64Array.from(prob), threshold) : null;
  return {
    ...base,
    champion: {
      version: entry.version,
      sha256: entry.artifact.sha256,
      algorithm: entry.trainer.algorithm,
      predictions: predicted,
      labelled: y.length,
      metrics,
      holdout: entry.metrics,
      decision_threshold: threshold,
    },
  };
}

const finite = (x: number | undefined | null): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const finiteJson = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x));

/**
 * Records live performance as the `live` row of its model and as-of in mlops.model_performance
 * (re-running a day's check replaces it). Nothing is recorded without a champion.
 */
export async function recordLivePerformance(db: Queryable, live: LivePerformance): Promise<void> {
  const c = live.champion;
  if (!c) return;
  const m = c.metrics;
  await db.query(
    `INSERT INTO mlops.model_performance (kind, run_id, model_type, model_name, model_version, task, training_date, data_start, data_end,
       predictions, labelled, label_coverage, f1_val, roc_auc_val, brier_val, metrics)
     VALUES ('live', NULL, $1, $2, $3, 'classification', $4, $5, $4, $6, $7, $8, $9, $10, $11, $12::jsonb)
     ON CONFLICT (model_name, data_end) WHERE kind = 'live' DO UPDATE SET model_type = EXCLUDED.model_type, model_version = EXCLUDED.model_version,
       training_date = EXCLUDED.training_date, data_start = EXCLUDED.data_start, predictions = EXCLUDED.predictions, labelled = EXCLUDED.labelled,
       label_coverage = EXCLUDED.label_coverage, f1_val = EXCLUDED.f1_val, roc_auc_val = EXCLUDED.roc_auc_val, brier_val = EXCLUDED.brier_val,
       metrics = EXCLUDED.metrics`,
    [
      c.algorithm,
      live.pipeline,
      c.version,
      live.window.end,
      live.window.start,
      live.predictions,
      live.labelled,
      finite(live.label_coverage),
      finite(m?.f1),
      finite(m?.roc_auc),
      finite(m?.brier),
      finiteJson({ ...(m ?? {}), champion_predictions: c.predictions, champion_labelled: c.labelled, window_days: live.window.days }),
    ],
  );
}
