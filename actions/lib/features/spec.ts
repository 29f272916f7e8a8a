import { z } from 'zod';
import { calendarSchema, categoricalFeatureColumns, featureColumns, rollingStatSchema, targetColumn, type PipelineConfig } from '../config/schema.ts';
import { categoricalEncodingSchema, oneHotNames, type CategoricalEncoding } from './categorical.ts';
import { jsonNumber } from '../util/json-number.ts';

export type RollingStat = z.infer<typeof rollingStatSchema>;
export type CalendarFeature = z.infer<typeof calendarSchema>;

/**
 * Everything needed to rebuild a model's features from a frame, as plain JSON. It is stored with
 * each model, so the model's features can be rebuilt after the pipeline YAML has changed.
 * Lags, windows and the horizon are in minutes of wall-clock time, not in rows. Read back from
 * run.json and registry entries through this schema.
 */
export const featureSpecSchema = z.object({
  version: z.literal(1),
  time_column: z.string(),
  entity_column: z.string().nullable(),
  /** expected spacing of rows, used by the rolling-window validity rule */
  interval_minutes: z.number().gt(0),
  /** frame columns the features are built from */
  columns: z.array(z.string()),
  raw: z.boolean(),
  lags: z.array(z.number()),
  rolling: z.object({ windows: z.array(z.number()), stats: z.array(rollingStatSchema) }),
  zscore: z.boolean(),
  calendar: z.array(calendarSchema),
  /** valid_range: rows whose target falls outside it are dropped (absent in older specs) */
  target: z.object({
    column: z.string(),
    horizon_minutes: z.number().min(0),
    valid_range: z.tuple([z.number(), z.number()]).nullable().optional(),
  }),
  /** absent: regression (every spec recorded before classification existed) */
  task: z.literal('classification').optional(),
  /** classification: a row is predicted positive when its probability is >= this */
  decision_threshold: z.number().gt(0).lt(1).optional(),
  /** categorical inputs, one-hot encoded after the calendar features (absent: none) */
  categorical: z.array(categoricalEncodingSchema).optional(),
});
export type FeatureSpec = z.output<typeof featureSpecSchema>;

/**
 * Standardisation statistics, fitted on training rows only and saved with the model (see
 * zscore.ts, which fits and applies them), so holdout rows and serving use the training
 * distribution. Plain JSON.
 */
export const zscoreStatsSchema = z.object({
  version: z.literal(1),
  names: z.array(z.string()),
  mean: z.array(jsonNumber),
  /** a constant or empty column gets std 1 (and mean 0 when it has no value), so it stays finite */
  std: z.array(jsonNumber),
});
export type ZScoreStats = z.output<typeof zscoreStatsSchema>;

/** A spec as recorded with a model: the spec with its z-score statistics inside. */
export const recordedSpecSchema = featureSpecSchema.extend({ zscore_stats: zscoreStatsSchema.nullable().default(null) });

/**
 * The spec a pipeline asks for. Its categorical vocabularies are not fitted yet (categories null):
 * buildTrainingSet fits them on the training rows.
 */
export function featureSpecFromPipeline(p: PipelineConfig): FeatureSpec {
  const target: FeatureSpec['target'] =
    p.task === 'classification'
      ? // The label joined in from the labels table: known for the row itself, so horizon 0.
        { column: targetColumn(p), horizon_minutes: 0, valid_range: null }
      : {
          column: p.target.column,
          horizon_minutes: p.target.horizon_minutes,
          valid_range: p.target.valid_range ? [p.target.valid_range[0], p.target.valid_range[1]] : null,
        };
  const categorical = categoricalFeatureColumns(p).map(
    (column): CategoricalEncoding => ({
      column,
      categories: null,
      max_categories: p.features.encoding.max_categories,
      min_frequency: p.features.encoding.min_frequency,
    }),
  );
  return {
    version: 1,
    time_column: p.source.time_column,
    entity_column: p.source.entity_column ?? null,
    interval_minutes: p.source.interval_minutes,
    columns: [...featureColumns(p)],
    raw: p.features.raw,
    lags: [...p.features.lags],
    rolling: { windows: [...p.features.rolling.windows], stats: [...p.features.rolling.stats] },
    zscore: p.features.zscore,
    calendar: [...p.features.calendar],
    target,
    ...(p.task === 'classification' ? { task: 'classification' as const, decision_threshold: p.target.decision_threshold } : {}),
    ...(categorical.length ? { categorical } : {}),
  };
}

/** The minutes of history a spec looks back before a row: its longest lag or rolling window. */
export function historyMinutes(spec: FeatureSpec): number {
  return Math.max(0, ...spec.lags, ...spec.rolling.windows);
}

export const CALENDAR_NAMES: Readonly<Record<CalendarFeature, readonly [string, string]>> = {
  hour_of_day: ['hour_sin', 'hour_cos'],
  day_of_week: ['dow_sin', 'dow_cos'],
};

export const lagName = (column: string, minutes: number): string => `${column}_lag_${minutes}m`;
export const rollName = (column: string, minutes: number, stat: RollingStat): string => `${column}_roll_${minutes}m_${stat}`;

/**
 * The matrix columns a spec produces, in order: per source column its raw value, its lags, its
 * rolling statistics (window by window); then the calendar pairs; then the one-hot columns of
 * each categorical column. This is the ONNX input order.
 */
export function featureNames(spec: FeatureSpec): string[] {
  const names: string[] = [];
  for (const c of spec.columns) {
    if (spec.raw) names.push(c);
    for (const l of spec.lags) names.push(lagName(c, l));
    for (const w of spec.rolling.windows) for (const s of spec.rolling.stats) names.push(rollName(c, w, s));
  }
  for (const k of spec.calendar) names.push(...CALENDAR_NAMES[k]);
  for (const enc of spec.categorical ?? []) names.push(...oneHotNames(enc));
  return names;
}

/** Names that are calendar encodings (already in [-1, 1], never z-scored). */
export function isCalendarName(name: string): boolean {
  return name === 'hour_sin' || name === 'hour_cos' || name === 'dow_sin' || name === 'dow_cos';
}

/**
 * Rolling-window validity: a window needs at least half of the rows it should hold at the
 * pipeline's interval (and at least 1; at least 2 for std), else the statistic is NaN. This keeps
 * a statistic from resting on one or two readings after a gap, without demanding a perfect series.
 */
export function minValidInWindow(windowMinutes: number, intervalMinutes: number, stat: RollingStat): number {
  const expected = Math.max(1, Math.floor(windowMinutes / intervalMinutes));
  const half = Math.max(1, Math.ceil(expected / 2));
  return stat === 'std' ? Math.max(2, half) : half;
}

/**
 * A model's recorded features (`features.spec` of its registry entry: the spec with its z-score
 * statistics inside) split back into the spec and the statistics, checked to be a spec at all.
 */
export function splitRecordedSpec(recorded: unknown, label: string): { spec: FeatureSpec; stats: ZScoreStats | null } {
  const parsed = recordedSpecSchema.safeParse(recorded);
  if (!parsed.success)
    throw new Error(`${label}: the registry entry's features.spec is not a feature spec (columns, lags, rolling, target)`, { cause: parsed.error });
  const { zscore_stats: stats, ...spec } = parsed.data;
  return { spec, stats };
}
