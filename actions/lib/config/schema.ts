import { z } from 'zod';
import { trainerSchema } from '../train/params.ts';

/** Names become registry keys, branch names and file paths: keep them boring. */
export const nameSchema = z.string().regex(/^[a-z0-9-]+$/, 'expected a name of lowercase letters, digits and dashes ([a-z0-9-]+)');
/** A SQL identifier we will quote; still refuse anything odd so errors surface at validation time. */
export const identifierSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a column or table name ([A-Za-z_][A-Za-z0-9_]*)');
const cronSchema = z.string().regex(/^\S+( \S+){4}$/, 'expected a 5-field cron expression such as "0 2 * * 0"');
const pct = z.number().min(0);

export const sourceSchema = z
  .object({
    table: z.string().regex(/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/, 'expected a table name, optionally schema-qualified'),
    time_column: identifierSchema.default('ts'),
    entity_column: identifierSchema.optional(),
    /** Only rows of these entities (for example one station); all when absent. */
    entities: z.array(z.string().min(1)).optional(),
    window_days: z.number().gt(0).max(3660).default(30),
    interval_minutes: z.number().gt(0).default(1),
    columns: z.array(identifierSchema).min(1),
    /** name -> SQL expression over the source columns, evaluated in a READ ONLY transaction. */
    derive: z.record(identifierSchema, z.string().min(1)).default({}),
  })
  .strict();

export const qualitySchema = z
  .object({
    min_rows: z.number().int().min(0).default(36_000),
    min_days: z.number().min(0).default(25),
    max_null_share: z.number().min(0).max(1).default(0.02),
    max_gap_minutes: z.number().gt(0).default(30),
    max_staleness_minutes: z.number().gt(0).default(120),
    max_duplicate_timestamps: z.number().int().min(0).default(0),
    /** Rows present against rows expected at the sampling interval, per entity. */
    min_completeness: z.number().min(0).max(1).default(0.95),
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

export const scheduleSchema = z
  .object({
    retrain: cronSchema.default('0 2 * * 0'),
    quality: cronSchema.default('30 0 * * *'),
    drift: cronSchema.default('0 1 * * *'),
  })
  .strict();

export const pipelineSchema = z
  .object({
    name: nameSchema,
    description: z.string().optional(),
    task: z.literal('regression').default('regression'),
    source: sourceSchema,
    quality: qualitySchema.default(qualitySchema.parse({})),
    target: targetSchema,
    features: featuresSchema.default(featuresSchema.parse({})),
    split: splitSchema.default(splitSchema.parse({})),
    trainer: trainerSchema,
    baseline: baselineSchema.default({ kind: 'mean', season_minutes: 1440 }),
    gates: gatesSchema.default(gatesSchema.parse({})),
    promotion: promotionSchema.default(promotionSchema.parse({})),
    drift: driftSchema.default(driftSchema.parse({})),
    health: healthSchema.default(healthSchema.parse({})),
    schedule: scheduleSchema.default(scheduleSchema.parse({})),
  })
  .strict();

export type PipelineInput = z.input<typeof pipelineSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
export type SourceConfig = PipelineConfig['source'];
export type FeaturesConfig = PipelineConfig['features'];
export type QualityConfig = PipelineConfig['quality'];
export type GatesConfig = PipelineConfig['gates'];
export type BaselineConfig = PipelineConfig['baseline'];

/** The columns features are built from, resolved against the source (see featuresSchema.columns). */
export function featureColumns(p: PipelineConfig): string[] {
  if (p.features.columns) return p.features.columns;
  const all = [...p.source.columns, ...Object.keys(p.source.derive)];
  return p.target.horizon_minutes === 0 ? all.filter((c) => c !== p.target.column) : all;
}
