import { z } from 'zod';
import type { QualityConfig } from '../config/schema.ts';
import { entityRanges, type Frame } from '../source/frame.ts';
import { jsonNumber } from '../util/json-number.ts';
import { DAY_MS } from '../util/duration.ts';
import { fmtInt } from '../report/format.ts';

/** One data-quality check: what was measured, against what, and whether it passed. */
export const qualityCheckSchema = z.object({
  name: z.enum([
    'rows',
    'days_covered',
    'null_share',
    'range',
    'gaps',
    'staleness',
    'duplicate_timestamps',
    'duplicate_keys',
    'completeness',
    'flat_target',
    'target_std',
    'constant_column',
  ]),
  column: z.string().nullable(),
  value: jsonNumber,
  threshold: jsonNumber,
  /** how value is compared with threshold, for reports: `>=` means value must be at least threshold */
  op: z.enum(['>=', '<=']),
  passed: z.boolean(),
  /** one line a person can act on */
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type QualityCheck = z.output<typeof qualityCheckSchema>;

export const qualityReportSchema = z.object({
  passed: z.boolean(),
  checks: z.array(qualityCheckSchema),
  failed: z.array(qualityCheckSchema),
  rows: z.number().int().min(0),
  window: z.object({ start: z.string(), end: z.string() }),
  newest: z.string().nullable(),
  oldest: z.string().nullable(),
});
export type QualityReport = z.output<typeof qualityReportSchema>;

export interface QualityOptions {
  /** the time the data is judged at (staleness is measured from here) */
  asOf: Date;
  /** sensor columns whose nulls count; derived columns may be NULL by design */
  columns: readonly string[];
  /** sampling interval, for completeness */
  intervalMinutes: number;
  /** false for monitoring over a short window: rows/day minimums are about training windows */
  trainingMinimums?: boolean;
  /**
   * The training window's target and the columns features are built from (the retrain passes them;
   * daily monitoring over a day does not): a flat target or a constant feature column is checked.
   */
  learning?: { target: string; task: 'regression' | 'classification'; featureColumns: readonly string[] };
}

const MINUTE = 60_000;
const fmt = (x: number, digits = 2): string => (Number.isInteger(x) ? fmtInt(x) : x.toFixed(digits));
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function check(c: Omit<QualityCheck, 'passed'>): QualityCheck {
  const passed = c.op === '>=' ? c.value >= c.threshold : c.value <= c.threshold;
  return { ...c, passed };
}

/**
 * Judges a frame against the pipeline's quality rules. Pure: reads typed columns once per check,
 * never row objects. A failing report stops a retrain as `skip`.
 */
export function checkQuality(frame: Frame, config: QualityConfig, options: QualityOptions): QualityReport {
  const checks: QualityCheck[] = [];
  const { times, rows } = frame;
  let oldest = Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < rows; i++) {
    const t = times[i];
    if (t < oldest) oldest = t;
    if (t > newest) newest = t;
  }
  const training = options.trainingMinimums !== false;

  if (training) {
    checks.push(
      check({
        name: 'rows',
        column: null,
        value: rows,
        threshold: config.min_rows,
        op: '>=',
        message: `${fmt(rows)} rows in the window (minimum ${fmt(config.min_rows)})`,
      }),
    );
    const days = rows > 0 ? (newest - oldest) / DAY_MS : 0;
    checks.push(
      check({
        name: 'days_covered',
        column: null,
        value: Number(days.toFixed(4)),
        threshold: config.min_days,
        op: '>=',
        message: `${days.toFixed(1)} days covered (minimum ${config.min_days})`,
      }),
    );
  }

  // Completeness per entity: rows present against rows expected at the sampling interval.
  const ranges = entityRanges(frame);
  if (config.min_completeness !== null) {
    const spanMinutes = (frame.window.end.getTime() - frame.window.start.getTime()) / MINUTE;
    const expectedPerEntity = Math.max(1, Math.floor(spanMinutes / options.intervalMinutes));
    let worstCompleteness = ranges.length === 0 ? 0 : 1;
    let worstEntity: string | null = null;
    const perEntity: Record<string, number> = {};
    for (const r of ranges) {
      const c = Math.min(1, (r.end - r.start) / expectedPerEntity);
      perEntity[frame.entityIds[r.entity]] = Number(c.toFixed(4));
      if (c < worstCompleteness) {
        worstCompleteness = c;
        worstEntity = frame.entityIds[r.entity];
      }
    }
    checks.push(
      check({
        name: 'completeness',
        column: null,
        value: Number(worstCompleteness.toFixed(4)),
        threshold: config.min_completeness,
        op: '>=',
        message: `${pct(worstCompleteness)} of expected rows present${worstEntity ? ` (worst: ${worstEntity})` : ''} (minimum ${pct(config.min_completeness)})`,
        details: { per_entity: perEntity, expected_per_entity: expectedPerEntity },
      }),
    );
  }

  for (const name of options.columns) {
    const i = frame.names.indexOf(name);
    if (i < 0) continue;
    const col = frame.columns[i];
    let nulls = 0;
    for (let r = 0; r < rows; r++) if (Number.isNaN(col[r])) nulls++;
    const share = rows > 0 ? nulls / rows : 0;
    checks.push(
      check({
        name: 'null_share',
        column: name,
        value: Number(share.toFixed(6)),
        threshold: config.max_null_share,
        op: '<=',
        message: `${name}: ${pct(share)} nulls (${fmt(nulls)} rows; maximum ${pct(config.max_null_share)})`,
        details: { nulls },
      }),
    );
  }

  for (const [name, [lo, hi]] of Object.entries(config.ranges)) {
    const i = frame.names.indexOf(name);
    if (i < 0) continue;
    const col = frame.columns[i];
    let outside = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < rows; r++) {
      const v = col[r];
      if (Number.isNaN(v)) continue;
      if (v < lo || v > hi) {
        outside++;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    const share = rows > 0 ? outside / rows : 0;
    checks.push(
      check({
        name: 'range',
        column: name,
        value: Number(share.toFixed(6)),
        threshold: config.max_range_violation_share,
        op: '<=',
        message: `${name}: ${fmt(outside)} values outside [${lo}, ${hi}] (${pct(share)}; maximum ${pct(config.max_range_violation_share)})`,
        details: { outside, range: [lo, hi], ...(outside > 0 ? { min_outside: min, max_outside: max } : {}) },
      }),
    );
  }

  // Gaps and duplicates per entity: rows are ordered by entity then time.
  const maxGapMs = config.max_gap_minutes * MINUTE;
  let longGaps = 0;
  let longestGap = 0;
  let duplicates = 0;
  const gapList: { entity: string; from: string; minutes: number }[] = [];
  for (const r of ranges) {
    for (let i = r.start + 1; i < r.end; i++) {
      const d = times[i] - times[i - 1];
      if (d === 0) duplicates++;
      if (d > longestGap) longestGap = d;
      if (d > maxGapMs) {
        longGaps++;
        if (gapList.length < 20) gapList.push({ entity: frame.entityIds[r.entity], from: new Date(times[i - 1]).toISOString(), minutes: d / MINUTE });
      }
    }
  }
  checks.push(
    check({
      name: 'gaps',
      column: null,
      value: longGaps,
      threshold: 0,
      op: '<=',
      message: `${fmt(longGaps)} gaps longer than ${config.max_gap_minutes} min (longest ${fmt(longestGap / MINUTE, 0)} min)`,
      details: { longest_gap_minutes: longestGap / MINUTE, gaps: gapList },
    }),
  );
  if (config.max_duplicate_timestamps !== null) {
    checks.push(
      check({
        name: 'duplicate_timestamps',
        column: null,
        value: duplicates,
        threshold: config.max_duplicate_timestamps,
        op: '<=',
        message: `${fmt(duplicates)} duplicate timestamps (maximum ${config.max_duplicate_timestamps})`,
      }),
    );
  }
  // A row key names one row: a repeated key would join one label to two rows (and two predictions).
  if (frame.keys) {
    const seen = new Set<string>();
    const repeated: string[] = [];
    let duplicateKeys = 0;
    for (let i = 0; i < rows; i++) {
      const k = frame.keys[i];
      if (seen.has(k)) {
        duplicateKeys++;
        if (repeated.length < 10) repeated.push(k);
      } else seen.add(k);
    }
    checks.push(
      check({
        name: 'duplicate_keys',
        column: null,
        value: duplicateKeys,
        threshold: 0,
        op: '<=',
        message: `${fmt(duplicateKeys)} row${duplicateKeys === 1 ? ' repeats' : 's repeat'} the key of an earlier row${
          repeated.length
            ? ` (e.g. ${repeated
                .slice(0, 3)
                .map((k) => JSON.stringify(k))
                .join(', ')})`
            : ''
        }`,
        details: { examples: repeated },
      }),
    );
  }

  const staleness = rows > 0 ? (options.asOf.getTime() - newest) / MINUTE : Number.POSITIVE_INFINITY;
  checks.push(
    check({
      name: 'staleness',
      column: null,
      value: Number.isFinite(staleness) ? Number(staleness.toFixed(2)) : 1e12,
      threshold: config.max_staleness_minutes,
      op: '<=',
      message:
        rows > 0
          ? `newest row is ${fmt(staleness, 0)} min old at ${options.asOf.toISOString()} (maximum ${config.max_staleness_minutes} min)`
          : `no rows at all before ${options.asOf.toISOString()}`,
    }),
  );

  if (options.learning) checks.push(...learnabilityChecks(frame, config, options.learning));

  const failed = checks.filter((c) => !c.passed);
  return {
    passed: failed.length === 0,
    checks,
    failed,
    rows,
    window: { start: frame.window.start.toISOString(), end: frame.window.end.toISOString() },
    newest: rows > 0 ? new Date(newest).toISOString() : null,
    oldest: rows > 0 ? new Date(oldest).toISOString() : null,
  };
}

/** One line per failed check, for a skip decision's reasons. */
export function qualityReasons(report: QualityReport): string[] {
  return report.failed.map((c) => `data quality: ${c.message}`);
}

/** The non-null values of a column, sorted (typed, for the mode and distinct counts). */
function sortedValues(col: Float64Array, rows: number): Float64Array {
  let n = 0;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) if (!Number.isNaN(col[r])) out[n++] = col[r];
  return out.subarray(0, n).sort();
}

/** The most common of sorted values, how often it occurs, and how many distinct values there are. */
function modeOf(sorted: Float64Array): { value: number; count: number; distinct: number } {
  let best = Number.NaN;
  let bestCount = 0;
  let distinct = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    distinct++;
    if (j - i > bestCount) {
      bestCount = j - i;
      best = sorted[i];
    }
    i = j;
  }
  return { value: best, count: bestCount, distinct };
}

/** Whether a column holds one value (nulls aside) in every row, and which. */
function isConstant(col: Float64Array, rows: number): { constant: boolean; value: number } {
  let first = Number.NaN;
  for (let r = 0; r < rows; r++) {
    const v = col[r];
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(first)) first = v;
    else if (v !== first) return { constant: false, value: first };
  }
  return { constant: true, value: first };
}

/**
 * What a model cannot learn from, or be fairly scored on: a flat target (a stuck sensor: one value,
 * or one value in nearly every row; for classification, a single class) and feature columns that
 * never change (a disconnected sensor). A model trained on a flat target reaches rmse 0 on a flat
 * holdout and would "improve 100%" on any champion.
 */
function learnabilityChecks(frame: Frame, config: QualityConfig, learning: NonNullable<QualityOptions['learning']>): QualityCheck[] {
  const checks: QualityCheck[] = [];
  const t = frame.names.indexOf(learning.target);
  if (t >= 0) {
    const values = sortedValues(frame.columns[t], frame.rows);
    const mode = modeOf(values);
    const shown = Number.isNaN(mode.value) ? 'no value' : `${Number(mode.value.toPrecision(6))}`;
    if (learning.task === 'classification') {
      checks.push(
        check({
          name: 'flat_target',
          column: learning.target,
          value: mode.distinct,
          threshold: 2,
          op: '>=',
          message: `${learning.target}: ${mode.distinct} class${mode.distinct === 1 ? ` (${shown})` : 'es'} in the target (minimum 2): a model cannot learn to tell classes apart from one`,
          details: { distinct: mode.distinct },
        }),
      );
    } else {
      const share = values.length > 0 ? mode.count / values.length : 1;
      checks.push(
        check({
          name: 'flat_target',
          column: learning.target,
          value: Number(share.toFixed(6)),
          threshold: config.max_flat_target_share,
          op: '<=',
          message:
            `${learning.target}: ${pct(share)} of rows hold the same value (${shown}; maximum ${pct(config.max_flat_target_share)})` +
            (share > config.max_flat_target_share ? ': a stuck sensor or a flat target; a model would learn nothing and score a perfect 0 on it' : ''),
          details: { mode: Number.isNaN(mode.value) ? null : mode.value, mode_rows: mode.count, distinct: mode.distinct, rows: values.length },
        }),
      );
      if (config.min_target_std !== null) {
        let sum = 0;
        for (const v of values) sum += v;
        const mean = values.length ? sum / values.length : 0;
        let ss = 0;
        for (const v of values) ss += (v - mean) * (v - mean);
        const std = values.length ? Math.sqrt(ss / values.length) : 0;
        checks.push(
          check({
            name: 'target_std',
            column: learning.target,
            value: Number(std.toPrecision(6)),
            threshold: config.min_target_std,
            op: '>=',
            message: `${learning.target}: standard deviation ${Number(std.toPrecision(4))} (minimum ${config.min_target_std})${std < config.min_target_std ? ': a near-constant target' : ''}`,
          }),
        );
      }
    }
  }
  const allowed = new Set(config.allow_constant_columns);
  for (const name of learning.featureColumns) {
    const i = frame.names.indexOf(name);
    if (i < 0 || name === learning.target || allowed.has(name)) continue;
    const c = isConstant(frame.columns[i], frame.rows);
    if (!c.constant) continue;
    checks.push(
      check({
        name: 'constant_column',
        column: name,
        value: 1,
        threshold: 2,
        op: '>=',
        message: `${name}: ${Number.isNaN(c.value) ? 'no value at all' : `the same value (${Number(c.value.toPrecision(6))})`} in every row: a stuck or disconnected sensor; as a feature it carries nothing (list it in quality.allow_constant_columns if that is expected)`,
        details: { value: Number.isNaN(c.value) ? null : c.value },
      }),
    );
  }
  return checks;
}
