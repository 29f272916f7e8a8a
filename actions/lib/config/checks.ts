import type { PathSegment, PipelineSource } from './document.ts';
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
  const available = [...src.columns, ...derived, ...src.categorical];
  const has = new Set(available);
  const availableText = `available: ${available.join(', ')}`;
  const sections = src.categorical.length ? 'source.columns, source.categorical or source.derive' : 'source.columns or source.derive';
  const notAvailable = (c: string) => `column "${c}" is not in ${sections} (${availableText})`;

  const seen = new Set<string>();
  const special = (c: string, path: PathSegment[]) => {
    if (c === src.time_column) issues.push(at(path, `"${c}" is the time column (source.time_column); it is read anyway, do not list it here`));
    if (c === src.entity_column) issues.push(at(path, `"${c}" is the entity column (source.entity_column); it is read anyway, do not list it here`));
    if (c === src.key_column) issues.push(at(path, `"${c}" is the key column (source.key_column); it identifies rows and is no input, do not list it here`));
  };
  src.columns.forEach((c, i) => {
    if (seen.has(c)) issues.push(at(['source', 'columns', i], `column "${c}" is listed twice`));
    seen.add(c);
    special(c, ['source', 'columns', i]);
  });
  src.categorical.forEach((c, i) => {
    if (seen.has(c))
      issues.push(
        at(['source', 'categorical', i], `column "${c}" is listed twice (source.columns and source.categorical are read differently: numbers and text)`),
      );
    seen.add(c);
    special(c, ['source', 'categorical', i]);
  });
  for (const name of derived) {
    if (seen.has(name) || name === src.time_column || name === src.entity_column || name === src.key_column)
      issues.push(at(['source', 'derive', name], `derived column "${name}" has the name of a source column; choose another name`, 'key'));
  }
  if (src.entities && !src.entity_column)
    issues.push(at(['source', 'entities'], 'source.entities needs source.entity_column (the column the entities are read from)'));

  const horizon = p.task === 'regression' ? p.target.horizon_minutes : 0;
  if (p.task === 'regression') {
    if (!has.has(p.target.column) || src.categorical.includes(p.target.column))
      issues.push(
        at(
          ['target', 'column'],
          `column "${p.target.column}" is not in source.columns or source.derive (available: ${[...src.columns, ...derived].join(', ')})`,
        ),
      );
  } else {
    if (!src.key_column)
      issues.push(
        at(['source', 'key_column'], 'a classification pipeline needs source.key_column: the column its labels (labels.key_column) join on', 'parent'),
      );
    if (
      has.has(p.labels.label_column) ||
      p.labels.label_column === src.time_column ||
      p.labels.label_column === src.entity_column ||
      p.labels.label_column === src.key_column
    )
      issues.push(
        at(
          ['labels', 'label_column'],
          `"${p.labels.label_column}" is also a source column: the label is read from the labels table alone; rename one of them (a derive alias works)`,
        ),
      );
  }
  checkTrainer(p, at, issues);

  p.features.columns?.forEach((c, i) => {
    if (!has.has(c)) issues.push(at(['features', 'columns', i], notAvailable(c)));
    else if (p.task === 'regression' && c === p.target.column && p.target.horizon_minutes === 0)
      issues.push(at(['features', 'columns', i], `"${c}" is the target with horizon 0: as a feature it would leak the answer`));
  });
  if (p.features.columns && p.features.columns.length === 0 && p.features.calendar.length === 0)
    issues.push(at(['features', 'columns'], 'no features: list at least one column (or calendar features)'));

  for (const [c, range] of Object.entries(p.quality.ranges)) {
    if (!has.has(c)) issues.push(at(['quality', 'ranges', c], notAvailable(c), 'key'));
    else if (src.categorical.includes(c))
      issues.push(at(['quality', 'ranges', c], `"${c}" is categorical (source.categorical): it has no numeric range`, 'key'));
    if (range[0] > range[1]) issues.push(at(['quality', 'ranges', c], `expected [min, max] with min <= max, got [${range[0]}, ${range[1]}]`));
  }
  p.drift.categorical_columns.forEach((c, i) => {
    if (!has.has(c)) issues.push(at(['drift', 'categorical_columns', i], notAvailable(c)));
  });
  // The sweep counts flagged rows in the source table itself: a source column, read as a number.
  p.sweep.flags.forEach((f, i) => {
    if (!src.columns.includes(f.column))
      issues.push(
        at(
          ['sweep', 'flags', i, 'column'],
          `column "${f.column}" is not in source.columns (${src.columns.join(', ')}): a flag reads a numeric column of the source table`,
        ),
      );
  });

  // Look-backs and the horizon have to fit in the window the data is read from.
  const windowMinutes = src.window_days * MINUTES_PER_DAY;
  const windowText = `the data window (source.window_days: ${src.window_days}, ${windowMinutes} minutes)`;
  const steps = (n: number) => `${n} step${n === 1 ? '' : 's'} of ${src.interval_minutes} min = ${n * src.interval_minutes} minutes`;
  p.features.lags.forEach((lag, i) => {
    if (lag * src.interval_minutes + horizon >= windowMinutes)
      issues.push(at(['features', 'lags', i], `lag of ${steps(lag)} (plus the ${horizon}-minute horizon) does not fit in ${windowText}`));
  });
  p.features.rolling.windows.forEach((w, i) => {
    if (w * src.interval_minutes + horizon >= windowMinutes)
      issues.push(
        at(['features', 'rolling', 'windows', i], `rolling window of ${steps(w)} (plus the ${horizon}-minute horizon) does not fit in ${windowText}`),
      );
  });
  if (p.task === 'regression') {
    if (horizon >= windowMinutes) issues.push(at(['target', 'horizon_minutes'], `horizon of ${horizon} minutes does not fit in ${windowText}`));
    if (horizon % src.interval_minutes !== 0)
      issues.push(at(['target', 'horizon_minutes'], `expected a multiple of source.interval_minutes (${src.interval_minutes}), got ${horizon}`));
    if (p.baseline.kind === 'seasonal_naive' && p.baseline.season_minutes >= windowMinutes)
      issues.push(at(['baseline', 'season_minutes'], `season of ${p.baseline.season_minutes} minutes does not fit in ${windowText}`));
  }
  const ref = p.reference_set;
  if (ref) {
    const range = ref.start !== undefined || ref.end !== undefined;
    if (range && ref.from_run !== undefined) issues.push(at(['reference_set', 'from_run'], 'give either a time range (start, end) or from_run, not both'));
    else if (!range && ref.from_run === undefined)
      issues.push(at(['reference_set'], 'expected a time range (start and end) or from_run (a run whose holdout to reuse)'));
    else if (range && (ref.start === undefined || ref.end === undefined))
      issues.push(at(['reference_set', ref.start === undefined ? 'start' : 'end'], 'a reference time range needs both start and end', 'parent'));
    else if (range && !(Date.parse(ref.start!) < Date.parse(ref.end!)))
      issues.push(at(['reference_set', 'end'], `expected the end after the start (${ref.start})`));
  }
  if (p.quality.min_days > src.window_days)
    issues.push(at(['quality', 'min_days'], `expected at most source.window_days (${src.window_days}), got ${p.quality.min_days}: the check could never pass`));
  if (p.drift.current_days >= src.window_days)
    issues.push(at(['drift', 'current_days'], `expected less than source.window_days (${src.window_days}), got ${p.drift.current_days}`));

  return issues;
}

/** The trainer has to fit the task: ridge predicts numbers, logistic probabilities; class weights are for classes. */
function checkTrainer(p: PipelineConfig, at: PipelineSource['issueAt'], issues: PipelineIssue[]): void {
  const t = p.trainer;
  if (p.task === 'regression' && t.algorithm === 'logistic')
    issues.push(at(['trainer', 'algorithm'], 'logistic is a classification trainer; a regression pipeline uses ridge, gbdt or command'));
  if (p.task === 'classification' && t.algorithm === 'ridge')
    issues.push(at(['trainer', 'algorithm'], 'ridge is a regression trainer; a classification pipeline uses logistic (its counterpart), gbdt or command'));
  if (p.task === 'regression' && t.algorithm === 'gbdt' && t.params.class_weight !== 'none')
    issues.push(at(['trainer', 'params', 'class_weight'], 'class_weight weighs classes: it applies to classification pipelines only'));
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
