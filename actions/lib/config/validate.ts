import { readFileSync } from 'node:fs';
import { checkSourceColumns } from './checks.ts';
import { sortIssues, type PipelineIssue } from './issues.ts';
import { duplicateNames, pipelineFiles, readPipeline, type LoadedPipeline, type ReadPipeline } from './load.ts';

export { formatIssue, PipelineConfigError, type PipelineIssue } from './issues.ts';

export interface ValidateOptions {
  /**
   * The columns of a source table, or null when it does not exist (the caller asks
   * information_schema). Without it, checks that need the database are skipped.
   */
  sourceColumns?: (table: string) => Promise<string[] | null>;
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
 * `sourceColumns`, the source table and its columns.
 */
export async function validatePipelines(dir = 'pipelines', opts: ValidateOptions = {}): Promise<ValidationResult> {
  const files = pipelineFiles(dir);
  const read = files.flatMap((f) => (f.issue ? [] : [readPipeline(f.file, readFileSync(f.file, 'utf8'))]));
  const errors: PipelineIssue[] = [...files.flatMap((f) => (f.issue ? [f.issue] : [])), ...duplicateNames(read)];
  const tables = new Map<string, Promise<string[] | null>>();
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

async function databaseIssues(
  r: ReadPipeline,
  opts: ValidateOptions,
  tables: Map<string, Promise<string[] | null>>,
): Promise<PipelineIssue[]> {
  const lookup = opts.sourceColumns;
  if (!lookup || !r.parsed) return [];
  const table = r.parsed.source.table;
  let columns = tables.get(table);
  if (!columns) {
    columns = lookup(table);
    tables.set(table, columns);
  }
  return checkSourceColumns(r.parsed, await columns, r.source.issueAt);
}
