import { readFileSync } from 'node:fs';
import { sortIssues, type PipelineIssue } from './issues.ts';
import type { PathSegment } from './document.ts';
import type { SourceConfig } from './schema.ts';
import { duplicateNames, pipelineFiles, readPipeline, type LoadedPipeline, type ReadPipeline } from './load.ts';

export { formatIssue, PipelineConfigError, type PipelineIssue } from './issues.ts';

/** One problem of a pipeline's source (source/check.ts finds them): the field and what is wrong. */
export interface SourceIssue {
  path: PathSegment[];
  message: string;
  /** point at the key (a derived column's name) rather than its value */
  anchor?: 'key' | 'value';
}

export interface ValidateOptions {
  /**
   * The checks of a pipeline's source: the same function the retrain's extract runs
   * (source/check.ts `sourceIssues`), against the database, or without one only the derive
   * expressions' screen. Absent, the source is not checked beyond the schema.
   */
  checkSource?: (source: SourceConfig) => Promise<SourceIssue[]>;
}

export interface ValidationResult {
  /** Pipelines without any issue, sorted by file name. */
  pipelines: LoadedPipeline[];
  /** Every issue of every file, sorted by file, line, column. */
  errors: PipelineIssue[];
}

/**
 * Checks every pipeline in `dir` and reports all problems at once, never stopping at the first:
 * YAML syntax, schema, cross-field checks, names shared by several files and, with
 * `checkSource`, the source: derive expressions, the table and its columns.
 */
export async function validatePipelines(dir = 'pipelines', opts: ValidateOptions = {}): Promise<ValidationResult> {
  const files = pipelineFiles(dir);
  const read = files.flatMap((f) => (f.issue ? [] : [readPipeline(f.file, readFileSync(f.file, 'utf8'))]));
  const errors: PipelineIssue[] = [...files.flatMap((f) => (f.issue ? [f.issue] : [])), ...duplicateNames(read)];
  const tables = new Map<string, Promise<SourceIssue[]>>();
  const bad = new Set<string>(errors.map((e) => e.file));
  for (const r of read) {
    const issues = [...r.issues, ...(await databaseIssues(r, opts, tables))];
    errors.push(...issues);
    if (issues.length > 0) bad.add(r.file);
  }
  return {
    pipelines: read.filter((r) => r.config && !bad.has(r.file)).map((r) => ({ file: r.file, config: r.config! })),
    errors: sortIssues(errors),
  };
}

/** Validates one file the same way (for a step that handles a single pipeline). */
export async function validatePipelineFile(
  file: string,
  opts: ValidateOptions & { text?: string } = {},
): Promise<{ config: LoadedPipeline['config'] | null; errors: PipelineIssue[] }> {
  const r = readPipeline(file, opts.text ?? readFileSync(file, 'utf8'));
  const errors = sortIssues([...r.issues, ...(await databaseIssues(r, opts, new Map()))]);
  return { config: errors.length === 0 ? r.config : null, errors };
}

async function databaseIssues(r: ReadPipeline, opts: ValidateOptions, tables: Map<string, Promise<SourceIssue[]>>): Promise<PipelineIssue[]> {
  if (!opts.checkSource || !r.parsed) return [];
  // Pipelines that read the same source the same way are checked once.
  const key = JSON.stringify(r.parsed.source);
  let found = tables.get(key);
  if (!found) {
    found = opts.checkSource(r.parsed.source);
    tables.set(key, found);
  }
  return (await found).map((i) => r.source.issueAt(i.path, i.message, i.anchor));
}
