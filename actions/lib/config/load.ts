import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkPipeline } from './checks.ts';
import { parsePipelineSource, type PipelineSource } from './document.ts';
import { PipelineConfigError, type PipelineIssue } from './issues.ts';
import { pipelineSchema, type PipelineConfig } from './schema.ts';
import { describeZodIssues } from './zod-issues.ts';
import { UsageError } from '../util/usage-error.ts';

export { PipelineConfigError, formatIssue, type PipelineIssue } from './issues.ts';

export interface LoadedPipeline {
  /** The file as found: `join(dir, name)`, so relative when `dir` is. */
  file: string;
  config: PipelineConfig;
}

/** One file read as far as it goes: config is null when any issue was found. */
export interface ReadPipeline {
  file: string;
  source: PipelineSource;
  config: PipelineConfig | null;
  /** The schema's output even when checks across fields failed (null when the schema failed). */
  parsed: PipelineConfig | null;
  issues: PipelineIssue[];
}

/**
 * Parses and validates one pipeline file (YAML syntax, schema, checks across fields that need
 * no database). Never throws for a bad definition: the problems are in `issues`.
 */
export function readPipeline(file: string, text: string): ReadPipeline {
  const source = parsePipelineSource(file, text);
  if (source.issues.length > 0) return { file, source, config: null, parsed: null, issues: source.issues };
  const parsed = pipelineSchema.safeParse(source.data);
  if (!parsed.success) return { file, source, config: null, parsed: null, issues: describeZodIssues(parsed.error.issues, pipelineSchema, source) };
  const issues = checkPipeline(parsed.data, source.issueAt);
  return { file, source, config: issues.length > 0 ? null : parsed.data, parsed: parsed.data, issues };
}

/** Loads one pipeline definition, or throws a PipelineConfigError listing every problem in it. */
export function loadPipelineFile(path: string, text?: string): PipelineConfig {
  const result = readPipeline(path, text ?? readFileSync(path, 'utf8'));
  if (!result.config) throw new PipelineConfigError(result.issues);
  return result.config;
}

/**
 * Loads every `*.yaml` in `dir`, sorted by file name. Throws one PipelineConfigError with the
 * problems of all files, including pipeline names used by more than one file.
 */
export function loadPipelines(dir = 'pipelines'): LoadedPipeline[] {
  const files = pipelineFiles(dir);
  const read = files.flatMap((f) => (f.issue ? [] : [readPipeline(f.file, readFileSync(f.file, 'utf8'))]));
  const issues = [...files.flatMap((f) => (f.issue ? [f.issue] : [])), ...read.flatMap((r) => r.issues), ...duplicateNames(read)];
  if (issues.length > 0) throw new PipelineConfigError(issues);
  return read.map((r) => ({ file: r.file, config: r.config! }));
}

/** A pipeline name that no file of the pipelines directory defines (the CLI reports it as a usage error). */
export class UnknownPipelineError extends UsageError {}

/**
 * The pipelines a command covers: every one loaded from `dir`, or the one `name` names. An unknown
 * name, or a directory without pipelines, is an UnknownPipelineError that says what there is.
 */
export function selectPipelines(all: LoadedPipeline[], name: string | undefined, dir: string): LoadedPipeline[] {
  const selected = name ? all.filter((p) => p.config.name === name) : all;
  if (selected.length > 0) return selected;
  if (all.length === 0) throw new UnknownPipelineError(`no pipeline files (*.yaml) in ${dir}/: is that the pipelines directory?`);
  throw new UnknownPipelineError(`no pipeline named "${name}" in ${dir}/ (have: ${all.map((p) => p.config.name).join(', ')})`);
}

/** The pipeline files of a directory, sorted; a `.yml` file is reported rather than silently skipped. */
export function pipelineFiles(dir: string): { file: string; issue: PipelineIssue | null }[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
  } catch (e) {
    throw new Error(`cannot read the pipelines directory ${dir}: ${(e as Error).message}`);
  }
  return names
    .filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'))
    .sort()
    .map((n) => {
      const file = join(dir, n);
      if (n.endsWith('.yaml')) return { file, issue: null };
      return {
        file,
        issue: { file, line: 1, col: 1, path: '', message: 'pipeline files must end in .yaml (workflows only pick up pipelines/*.yaml); rename it' },
      };
    });
}

/** A pipeline's name is its model's name in the registry: two files may not share one. */
export function duplicateNames(read: { file: string; source: PipelineSource }[]): PipelineIssue[] {
  const firstFile = new Map<string, string>();
  const issues: PipelineIssue[] = [];
  for (const r of read) {
    const name = nameOf(r);
    if (name === null) continue;
    const first = firstFile.get(name);
    if (first === undefined) firstFile.set(name, r.file);
    else issues.push(r.source.issueAt(['name'], `duplicate pipeline name ${JSON.stringify(name)} (also in ${first})`));
  }
  return issues;
}

/** The name even when the rest of the file is invalid, so duplicates are reported alongside. */
function nameOf(r: { source: PipelineSource }): string | null {
  const data = r.source.data as { name?: unknown } | undefined;
  return data && typeof data === 'object' && typeof data.name === 'string' ? data.name : null;
}
