import type { PipelineSource } from './document.ts';
import type { PipelineIssue } from './issues.ts';
import type { PipelineConfig } from './schema.ts';

const MINUTES_PER_DAY = 1440;

/**
 * Checks across fields that the schema cannot express and that need no database: every column a
 * pipeline names must come from `source.columns` or `source.derive`, and every look-back must fit
 * in the data window.
 */
export function checkPipeline(p: PipelineConfig, at: PipelineSource['issueAt']): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const src = p.source;
  const derived = Object.keys(src.derive);
  const available = [...src.columns, ...derived];
  const has = new Set(available);
  const availableText = `available: ${available.join(', ')}`;

  const seen = new Set<string>();
  src.columns.forEach((c, i) => {
    if (seen.has(c)) issues.push(at(['source', 'columns', i], `column "${c}" is listed twice`));
    seen.add(c);
    if (c === src.time_column)
      issues.push(at(['source', 'columns', i], `"${c}" is the time column (source.time_column); it is read anyway, do not list it here`));
    if (c === src.entity_column)
      issues.push(at(['source', 'columns', i], `"${c}" is the entity column (source.entity_column); it is read anyway, do not list it here`));
  });
  for (const name of derived) {
    if (src.columns.includes(name) || name === src.time_column || name === src.entity_column)
      issues.push(at(['source', 'derive', name], `derived column "${name}" has the name of a source column; choose another name`, 'key'));
  }
  if (src.entities && !src.entity_column)
    issues.push(at(['source', 'entities'], 'source.entities needs source.entity_column (the column the entities are read from)'));

  if (!has.has(p.target.column))
    issues.push(at(['target', 'column'], `column "${p.target.column}" is not in source.columns or source.derive (${availableText})`));

  p.features.columns?.forEach((c, i) => {
    if (!has.has(c)) issues.push(at(['features', 'columns', i], `column "${c}" is not in source.columns or source.derive (${availableText})`));
    else if (c === p.target.column && p.target.horizon_minutes === 0)
      issues.push(at(['features', 'columns', i], `"${c}" is the target with horizon 0: as a feature it would leak the answer`));
  });
  if (p.features.columns && p.features.columns.length === 0 && p.features.calendar.length === 0)
    issues.push(at(['features', 'columns'], 'no features: list at least one column (or calendar features)'));

  for (const [c, range] of Object.entries(p.quality.ranges)) {
    if (!has.has(c)) issues.push(at(['quality', 'ranges', c], `column "${c}" is not in source.columns or source.derive (${availableText})`, 'key'));
    if (range[0] > range[1]) issues.push(at(['quality', 'ranges', c], `expected [min, max] with min <= max, got [${range[0]}, ${range[1]}]`));
  }
  p.drift.categorical_columns.forEach((c, i) => {
    if (!has.has(c)) issues.push(at(['drift', 'categorical_columns', i], `column "${c}" is not in source.columns or source.derive (${availableText})`));
  });

  // Look-backs and the horizon have to fit in the window the data is read from.
  const windowMinutes = src.window_days * MINUTES_PER_DAY;
  const windowText = `the data window (source.window_days: ${src.window_days}, ${windowMinutes} minutes)`;
  const steps = (n: number) => `${n} step${n === 1 ? '' : 's'} of ${src.interval_minutes} min = ${n * src.interval_minutes} minutes`;
  p.features.lags.forEach((lag, i) => {
    if (lag * src.interval_minutes + p.target.horizon_minutes >= windowMinutes)
      issues.push(at(['features', 'lags', i], `lag of ${steps(lag)} (plus the ${p.target.horizon_minutes}-minute horizon) does not fit in ${windowText}`));
  });
  p.features.rolling.windows.forEach((w, i) => {
    if (w * src.interval_minutes + p.target.horizon_minutes >= windowMinutes)
      issues.push(at(['features', 'rolling', 'windows', i], `rolling window of ${steps(w)} (plus the ${p.target.horizon_minutes}-minute horizon) does not fit in ${windowText}`));
  });
  if (p.target.horizon_minutes >= windowMinutes)
    issues.push(at(['target', 'horizon_minutes'], `horizon of ${p.target.horizon_minutes} minutes does not fit in ${windowText}`));
  if (p.target.horizon_minutes % src.interval_minutes !== 0)
    issues.push(at(['target', 'horizon_minutes'], `expected a multiple of source.interval_minutes (${src.interval_minutes}), got ${p.target.horizon_minutes}`));
  if (p.baseline.kind === 'seasonal_naive' && p.baseline.season_minutes >= windowMinutes)
    issues.push(at(['baseline', 'season_minutes'], `season of ${p.baseline.season_minutes} minutes does not fit in ${windowText}`));
  if (p.quality.min_days > src.window_days)
    issues.push(at(['quality', 'min_days'], `expected at most source.window_days (${src.window_days}), got ${p.quality.min_days}: the check could never pass`));
  if (p.drift.current_days >= src.window_days)
    issues.push(at(['drift', 'current_days'], `expected less than source.window_days (${src.window_days}), got ${p.drift.current_days}`));

  return issues;
}

/** Identifiers in a SQL expression (string literals and casts skipped, quoted identifiers unquoted). */
export function sqlIdentifiers(expression: string): string[] {
  const out: string[] = [];
  const re = /'(?:[^']|'')*'|"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)|::\s*[A-Za-z_][A-Za-z0-9_ ]*/g;
  for (const m of expression.matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1].replaceAll('""', '"'));
    else if (m[2] !== undefined) out.push(m[2].toLowerCase()); // PostgreSQL folds unquoted names
  }
  return out;
}
