import { featureColumns, type PipelineConfig } from '../config/schema.ts';
import type { ZScoreStats } from './zscore.ts';

export type RollingStat = 'mean' | 'std' | 'min' | 'max';
export type CalendarFeature = 'hour_of_day' | 'day_of_week';

/**
 * Everything needed to rebuild a model's features from a frame, as plain JSON. It is stored with
 * each model, so the model's features can be rebuilt after the pipeline YAML has changed.
 * Lags, windows and the horizon are in minutes of wall-clock time, not in rows.
 */
export interface FeatureSpec {
  version: 1;
  time_column: string;
  entity_column: string | null;
  /** expected spacing of rows, used by the rolling-window validity rule */
  interval_minutes: number;
  /** frame columns the features are built from */
  columns: string[];
  raw: boolean;
  lags: number[];
  rolling: { windows: number[]; stats: RollingStat[] };
  zscore: boolean;
  calendar: CalendarFeature[];
  /** valid_range: rows whose target falls outside it are dropped (absent in older specs) */
  target: { column: string; horizon_minutes: number; valid_range?: [number, number] | null };
}

export function featureSpecFromPipeline(p: PipelineConfig): FeatureSpec {
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
    target: { column: p.target.column, horizon_minutes: p.target.horizon_minutes, valid_range: p.target.valid_range ? [p.target.valid_range[0], p.target.valid_range[1]] : null },
  };
}

export const CALENDAR_NAMES: Readonly<Record<CalendarFeature, readonly [string, string]>> = {
  hour_of_day: ['hour_sin', 'hour_cos'],
  day_of_week: ['dow_sin', 'dow_cos'],
};

export const lagName = (column: string, minutes: number): string => `${column}_lag_${minutes}m`;
export const rollName = (column: string, minutes: number, stat: RollingStat): string => `${column}_roll_${minutes}m_${stat}`;

/**
 * The matrix columns a spec produces, in order: per source column its raw value, its lags, its
 * rolling statistics (window by window); then the calendar pairs. This is the ONNX input order.
 */
export function featureNames(spec: FeatureSpec): string[] {
  const names: string[] = [];
  for (const c of spec.columns) {
    if (spec.raw) names.push(c);
    for (const l of spec.lags) names.push(lagName(c, l));
    for (const w of spec.rolling.windows) for (const s of spec.rolling.stats) names.push(rollName(c, w, s));
  }
  for (const k of spec.calendar) names.push(...CALENDAR_NAMES[k]);
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
export function splitRecordedSpec(recorded: Record<string, unknown>, label: string): { spec: FeatureSpec; stats: ZScoreStats | null } {
  const { zscore_stats: stats = null, ...spec } = recorded as unknown as FeatureSpec & { zscore_stats?: ZScoreStats | null };
  if (!Array.isArray(spec.columns) || !Array.isArray(spec.lags) || !spec.rolling || !spec.target)
    throw new Error(`${label}: the registry entry's features.spec is not a feature spec (columns, lags, rolling, target)`);
  return { spec: spec as FeatureSpec, stats };
}
