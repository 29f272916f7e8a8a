import { z } from 'zod';
import { cronProblem } from './schedule.ts';
import { trainerSchema } from '../train/params.ts';

/** Names become registry keys, branch names and file paths: keep them boring. The one rule for model names. */
export const MODEL_NAME = /^[a-z0-9-]+$/;
export const nameSchema = z.string().regex(MODEL_NAME, 'expected a name of lowercase letters, digits and dashes ([a-z0-9-]+)');
/** A SQL identifier we will quote; still refuse anything odd so errors surface at validation time. */
export const identifierSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a column or table name ([A-Za-z_][A-Za-z0-9_]*)');
const cronSchema = z
  .string()
  .regex(/^\S+( \S+){4}$/, 'expected a 5-field cron expression such as "0 2 * * 0"')
  .superRefine((expr, ctx) => {
    const problem = cronProblem(expr);
    if (problem) ctx.addIssue({ code: 'custom', message: `expected a cron expression (UTC) such as "0 2 * * 0": ${problem.replace(/^CronPattern: /, '')}` });
  });
const pct = z.number().min(0);
export const tableSchema = z.string().regex(/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/, 'expected a table name, optionally schema-qualified');

export const sourceSchema = z
  .object({
    table: tableSchema,
    time_column: identifierSchema.default('ts'),
    entity_column: identifierSchema.optional(),
    /** Only rows of these entities (for example one station); all when absent. */
    entities: z.array(z.string().min(1)).optional(),
    /**
     * The column that identifies each row (an application id): labels join on it, predictions
     * record it as `row_key`, and no two rows of a window may share it. Required for classification.
     */
    key_column: identifierSchema.optional(),
    window_days: z.number().gt(0).max(3660).default(30),
    interval_minutes: z.number().gt(0).default(1),
    columns: z.array(identifierSchema).min(1),
    /**
     * Columns read as categories (text, or any type read as text): one-hot encoded for the model
     * (features/categorical.ts), compared by chi-square for drift.
     */
    categorical: z.array(identifierSchema).default([]),
    /** name -> SQL expression over the source columns, evaluated in a READ ONLY transaction. */
    derive: z.record(identifierSchema, z.string().min(1)).default({}),
  })
  .strict();

/** The quality rules; a task picks its own defaults (see qualitySchema, eventQualitySchema). */
function qualityRules(d: {
  min_rows: number;
  max_gap_minutes: number;
  max_staleness_minutes: number;
  min_completeness: number | null;
  max_duplicate_timestamps: number | null;
}) {
  return z
    .object({
      min_rows: z.number().int().min(0).default(d.min_rows),
      min_days: z.number().min(0).default(25),
      max_null_share: z.number().min(0).max(1).default(0.02),
      max_gap_minutes: z.number().gt(0).default(d.max_gap_minutes),
      max_staleness_minutes: z.number().gt(0).default(d.max_staleness_minutes),
      /** Rows sharing one (entity, time); null: not checked (event data such as applications). */
      max_duplicate_timestamps: z.number().int().min(0).nullable().default(d.max_duplicate_timestamps),
      /** Rows present against rows expected at the sampling interval, per entity; null: not checked (event data). */
      min_completeness: z.number().min(0).max(1).nullable().default(d.min_completeness),
      /** Share of rows outside a column's range that fails the check. */
      max_range_violation_share: z.number().min(0).max(1).default(0.01),
      ranges: z.record(identifierSchema, z.tuple([z.number(), z.number()])).default({}),
      /** The training window fails when one value fills more than this share of the target's rows (a stuck sensor). */
      max_flat_target_share: z.number().gt(0).max(1).default(0.99),
      /** Optionally, the least standard deviation of the target in the training window (a near-constant target). */
      min_target_std: z.number().min(0).nullable().default(null),
      /** Feature columns allowed to hold one value throughout the training window (otherwise a failed check). */
      allow_constant_columns: z.array(identifierSchema).default([]),
    })
    .strict();
}

/** Regression defaults: a regularly sampled time series (1-minute sensor readings). */
export const qualitySchema = qualityRules({
  min_rows: 36_000,
  max_gap_minutes: 30,
  max_staleness_minutes: 120,
  min_completeness: 0.95,
  max_duplicate_timestamps: 0,
});
/**
 * Classification defaults: events (applications, leads) arrive irregularly, several at one
 * time; completeness and duplicate times mean nothing there, a day without any row does (and
 * a night without applications is no staleness).
 * Duplicate row keys are always checked when the source has a key column.
 */
export const eventQualitySchema = qualityRules({
  min_rows: 1000,
  max_gap_minutes: 1440,
  max_staleness_minutes: 1440,
  min_completeness: null,
  max_duplicate_timestamps: null,
});

export const targetSchema = z
  .object({
    column: identifierSchema,
    /** 0 = estimate the value now (a derived or soft-sensor target). */
    horizon_minutes: z.number().int().min(0).default(0),
    /** Rows whose target lies outside [min, max] (sensor spikes) are neither trained nor scored on. */
    valid_range: z.tuple([z.number(), z.number()]).nullable().default(null),
  })
  .strict();

export const rollingStatSchema = z.enum(['mean', 'std', 'min', 'max']);
export const calendarSchema = z.enum(['hour_of_day', 'day_of_week']);

export const featuresSchema = z
  .object({
    /** Columns the features are built from; default: every source and derived column but a horizon-0 target. */
    columns: z.array(identifierSchema).optional(),
    /** Include the raw (current) value of each column. */
    raw: z.boolean().default(true),
    lags: z.array(z.number().int().gt(0)).default([]),
    rolling: z
      .object({
        windows: z.array(z.number().int().gt(1)).default([]),
        stats: z.array(rollingStatSchema).default(['mean', 'std']),
      })
      .strict()
      .default({ windows: [], stats: ['mean', 'std'] }),
    zscore: z.boolean().default(false),
    calendar: z.array(calendarSchema).default([]),
    /** One-hot encoding of the categorical columns (source.categorical); as scikit-learn's OneHotEncoder options. */
    encoding: z
      .object({
        /** at most this many categories get a column each (the most frequent in training); the rest count as unseen */
        max_categories: z.number().int().min(1).max(1000).default(30),
        /** a category seen fewer times than this in training counts as unseen */
        min_frequency: z.number().int().min(1).default(1),
      })
      .strict()
      .default({ max_categories: 30, min_frequency: 1 }),
  })
  .strict();

export const splitSchema = z
  .object({
    holdout_fraction: z.number().gt(0).lt(1).default(0.2),
  })
  .strict();

export const baselineKindSchema = z.enum(['persistence', 'seasonal_naive', 'mean']);
export const baselineSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { kind: v } : v),
  z
    .object({
      kind: baselineKindSchema,
      /** Season length for seasonal_naive: one day (1440) or one week (10080). */
      season_minutes: z.number().int().gt(0).default(1440),
    })
    .strict(),
);

export const gatesSchema = z
  .object({
    metric: z.enum(['rmse', 'mae']).default('rmse'),
    min_improvement_pct: pct.default(2),
    max_nan_predictions: z.number().int().min(0).default(0),
    max_training_minutes: z.number().gt(0).default(30),
    must_beat_baseline_pct: z.number().default(0),
    cooldown_days: z.number().min(0).nullable().default(null),
    max_rmse: z.number().gt(0).nullable().default(null),
    min_r2: z.number().max(1).nullable().default(null),
  })
  .strict();

/**
 * Where a classification pipeline's labels come from: a table of outcomes joined to the source by
 * key. A label counts only once it is known (time_column <= the run's as-of): later labels are
 * not trained or evaluated on, so a retrain never sees the future.
 */
export const labelsSchema = z
  .object({
    table: tableSchema,
    /** joins labels.key_column = source.key_column (compared as text) */
    key_column: identifierSchema,
    label_column: identifierSchema,
    /** when the label became known (timestamptz) */
    time_column: identifierSchema,
    /**
     * The value of label_column that is the positive class (compared as text, e.g. `default`).
     * null: the column holds 1/0 or true/false, and any other value is an error.
     */
    positive: z
      .union([z.string().min(1), z.number(), z.boolean()])
      .nullable()
      .default(null),
  })
  .strict();

export const classificationTargetSchema = z
  .object({
    /** a row is predicted positive when its probability is >= this (labels, F1, precision, recall, accuracy) */
    decision_threshold: z.number().gt(0).lt(1).default(0.5),
  })
  .strict();

/** The prior baseline: the training base rate as every row's probability (scikit-learn's DummyClassifier, strategy prior). */
export const classificationBaselineSchema = z.preprocess((v) => (typeof v === 'string' ? { kind: v } : v), z.object({ kind: z.literal('prior') }).strict());

export const classificationMetricSchema = z.enum(['f1', 'roc_auc', 'pr_auc', 'brier', 'log_loss']);

export const classificationGatesSchema = z
  .object({
    /** the metric the challenger must improve on the champion (f1, roc_auc, pr_auc: higher is better; brier, log_loss: lower) */
    metric: classificationMetricSchema.default('f1'),
    min_improvement_pct: pct.default(2),
    /** the challenger's Brier score may be at most the champion's plus this; null: not checked */
    max_brier_increase: z.number().min(0).nullable().default(0.01),
    /** the challenger's recall may be at most this much below the champion's; null: not checked */
    max_recall_drop: z.number().min(0).max(1).nullable().default(0.02),
    /** absolute floor of the challenger's ROC AUC; null: not checked */
    min_auc: z.number().min(0).max(1).nullable().default(0.72),
    /** labelled rows the holdout needs for its metrics to mean anything */
    min_labelled_holdout: z.number().int().min(1).default(200),
    /** labelled share of the window's rows (labels known at as-of) */
    min_label_coverage: z.number().min(0).max(1).default(0.3),
    max_nan_predictions: z.number().int().min(0).default(0),
    max_training_minutes: z.number().gt(0).default(30),
    /** Brier score at least this much (%) better than the prior baseline's */
    must_beat_baseline_pct: z.number().default(0),
    /** no retrain within this many days of the last promotion (unless forced); null: none */
    cooldown_days: z.number().min(0).nullable().default(7),
  })
  .strict();

export const promotionSchema = z
  .object({
    base_branch: z.string().min(1).default('main'),
    auto_merge_min_improvement_pct: pct.nullable().default(null),
    reviewers: z.array(z.string().min(1)).default([]),
    team_reviewers: z.array(z.string().min(1)).default([]),
    labels: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const driftSchema = z
  .object({
    /** auto: KS for small samples (<= 1000 rows), normalised Wasserstein for large ones (as Evidently). */
    numeric_test: z.enum(['auto', 'ks', 'psi', 'wasserstein']).default('auto'),
    threshold: z.number().gt(0).nullable().default(null),
    dataset_drift_share: z.number().gt(0).max(1).default(0.5),
    current_days: z.number().gt(0).default(7),
    categorical_columns: z.array(identifierSchema).default([]),
    retrain_on_drift: z.boolean().default(true),
    retrain_cooldown_hours: z.number().min(0).default(24),
  })
  .strict();

export const healthSchema = z
  .object({
    metric_rise_alert_pct: pct.default(15),
    stale_after_days: z.number().gt(0).default(14),
    not_promoted_alert_weeks: z.number().int().min(1).default(3),
  })
  .strict();

/**
 * A classification pipeline's health rules add the deployed champion's live accuracy: its
 * predictions (mlops.predictions) of the last `live_window_days` joined by key to the labels known
 * so far (labels/live.ts). Labels arrive late, so the newest days of the window have none yet:
 * pick the window longer than the label delay (60 days for outcomes known after 30 give about 50%
 * coverage when the labels flow).
 */
export const classificationHealthSchema = healthSchema
  .extend({
    live_window_days: z.number().gt(0).max(3660).default(60),
    /** the live metric compared with the champion's holdout metric at promotion; null: gates.metric */
    live_metric: classificationMetricSchema.nullable().default(null),
    /** alert when the live metric is this much (%) worse than the champion's holdout metric at promotion */
    max_live_metric_drop_pct: pct.default(10),
    /** labelled predictions the live metrics need to mean anything; fewer: the rule cannot tell */
    min_live_labelled: z.number().int().min(1).default(100),
    /** alert when fewer of the window's predictions than this share have a known label (the labels feed stopped) */
    min_label_coverage: z.number().min(0).max(1).default(0.3),
  })
  .strict();

/**
 * One flag of the 5-minute sweep: rows of the source in the sweep window whose `column` is above,
 * below or equal to a value (a fault bit, an alarm level) raise the pipeline's reading-flags alert.
 */
export const sweepFlagSchema = z
  .object({
    column: identifierSchema,
    above: z.number().optional(),
    below: z.number().optional(),
    equals: z.number().optional(),
    /** rows that must match in the window for the flag to fire */
    min_rows: z.number().int().min(1).default(1),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    description: z.string().optional(),
  })
  .strict()
  .refine((f) => f.above !== undefined || f.below !== undefined || f.equals !== undefined, { message: 'expected at least one of above, below or equals' });

/**
 * The alert sweep (`mlops sweep`, every 5 minutes): flags from the newest readings, the model
 * server's error rate and missing online predictions, as alerts with the daily alerts' lifecycle.
 */
export const sweepSchema = z
  .object({
    window_minutes: z.number().gt(0).max(1440).default(5),
    flags: z.array(sweepFlagSchema).default([]),
    /** refused (4xx) and failed (5xx) requests over all requests in the window above this: an alert */
    max_error_rate: z.number().min(0).max(1).default(0.05),
    /** fewer requests than this in the window: the error rate is not judged */
    min_requests: z.number().int().min(1).default(20),
    /** a deployed model with no online prediction for this long: an alert (null: not served online, not checked) */
    max_silence_minutes: z.number().gt(0).nullable().default(null),
  })
  .strict();

export const scheduleSchema = z
  .object({
    retrain: cronSchema.default('0 2 * * 0'),
    quality: cronSchema.default('30 0 * * *'),
    drift: cronSchema.default('0 1 * * *'),
  })
  .strict();

const dateOrTime = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  message: 'expected an ISO date (2026-06-01) or date-time (2026-06-01T00:00:00Z)',
});

/**
 * Double evaluation: a fixed reference set scored by the challenger and the champion on every run,
 * besides the current holdout. The challenger's gate metric may be at most `tolerance_pct` worse
 * than the champion's on it, so a model that wins on recent data cannot quietly lose what the old
 * one knew. The set is a frozen time range of the source (`start`, `end`), or the holdout that an
 * earlier run evaluated on (`from_run`, its range as mlops.evaluations recorded it).
 */
export const referenceSetSchema = z
  .object({
    start: dateOrTime.optional(),
    end: dateOrTime.optional(),
    from_run: z.string().min(1).optional(),
    tolerance_pct: pct.default(2),
  })
  .strict();

/** What every pipeline has, whatever its task (in file order around the task's own sections). */
const pipelineHead = {
  name: nameSchema,
  description: z.string().optional(),
};
const pipelineSource = { source: sourceSchema };
const pipelineModel = {
  features: featuresSchema.default(featuresSchema.parse({})),
  split: splitSchema.default(splitSchema.parse({})),
  trainer: trainerSchema,
};
const pipelineEvaluation = {
  reference_set: referenceSetSchema.optional(),
};
const pipelineOperations = {
  promotion: promotionSchema.default(promotionSchema.parse({})),
  drift: driftSchema.default(driftSchema.parse({})),
  health: healthSchema.default(healthSchema.parse({})),
  sweep: sweepSchema.default(sweepSchema.parse({})),
  schedule: scheduleSchema.default(scheduleSchema.parse({})),
};

/** Predicts a number (a level, an efficiency) some minutes ahead of each row. */
export const regressionPipelineSchema = z
  .object({
    ...pipelineHead,
    task: z.literal('regression').default('regression'),
    ...pipelineSource,
    quality: qualitySchema.default(qualitySchema.parse({})),
    target: targetSchema,
    ...pipelineModel,
    baseline: baselineSchema.default({ kind: 'mean', season_minutes: 1440 }),
    gates: gatesSchema.default(gatesSchema.parse({})),
    ...pipelineEvaluation,
    ...pipelineOperations,
  })
  .strict();

/** Predicts the probability of a positive outcome (a default) whose label arrives later (labels). */
export const classificationPipelineSchema = z
  .object({
    ...pipelineHead,
    task: z.literal('classification'),
    ...pipelineSource,
    quality: eventQualitySchema.default(eventQualitySchema.parse({})),
    labels: labelsSchema,
    target: classificationTargetSchema.default(classificationTargetSchema.parse({})),
    ...pipelineModel,
    baseline: classificationBaselineSchema.default({ kind: 'prior' }),
    gates: classificationGatesSchema.default(classificationGatesSchema.parse({})),
    ...pipelineEvaluation,
    ...pipelineOperations,
    health: classificationHealthSchema.default(classificationHealthSchema.parse({})),
  })
  .strict();

/** A pipeline definition: its `task` (default regression) decides target, baseline and gates. */
export const pipelineSchema = z.discriminatedUnion('task', [regressionPipelineSchema, classificationPipelineSchema]);

export type PipelineInput = z.input<typeof pipelineSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type RegressionPipeline = z.output<typeof regressionPipelineSchema>;
export type ClassificationPipeline = z.output<typeof classificationPipelineSchema>;
export type Task = PipelineConfig['task'];
export type SourceConfig = PipelineConfig['source'];
export type FeaturesConfig = PipelineConfig['features'];
export type QualityConfig = PipelineConfig['quality'];
export type GatesConfig = RegressionPipeline['gates'];
export type ClassificationGatesConfig = ClassificationPipeline['gates'];
export type LabelsConfig = ClassificationPipeline['labels'];
export type ClassificationHealthConfig = ClassificationPipeline['health'];
export type BaselineConfig = RegressionPipeline['baseline'];
export type ClassificationMetricName = z.output<typeof classificationMetricSchema>;
export type ReferenceSetConfig = z.output<typeof referenceSetSchema>;
export type SweepConfig = z.output<typeof sweepSchema>;

/** The column the model learns: the regression target, or the label column a classification joins in. */
export function targetColumn(p: PipelineConfig): string {
  return p.task === 'classification' ? p.labels.label_column : p.target.column;
}

/** The numeric columns features are built from, resolved against the source (see featuresSchema.columns). */
export function featureColumns(p: PipelineConfig): string[] {
  const categorical = new Set(p.source.categorical);
  if (p.features.columns) return p.features.columns.filter((c) => !categorical.has(c));
  const all = [...p.source.columns, ...Object.keys(p.source.derive)];
  return p.task === 'regression' && p.target.horizon_minutes === 0 ? all.filter((c) => c !== p.target.column) : all;
}

/** The categorical columns the model gets (one-hot): those listed in features.columns, else all of source.categorical. */
export function categoricalFeatureColumns(p: PipelineConfig): string[] {
  if (p.features.columns) return p.features.columns.filter((c) => p.source.categorical.includes(c));
  return [...p.source.categorical];
}
