/**
 * A problem in a pipeline definition, located in its file. Every loader and validator in this
 * folder reports through this one shape, so the CLI, the actions and the tests print the same line:
 *
 *   pipelines/tank-level-forecast.yaml:14:5 gates.min_improvement_pct: expected a number >= 0, got "two"
 */
export interface PipelineIssue {
  /** The file as the caller named it (relative to the working directory when given so). */
  file: string;
  /** 1-based line and column. */
  line: number;
  col: number;
  /** Field path such as `source.columns[2]`; empty for the document as a whole. */
  path: string;
  message: string;
}

export function formatIssue(issue: PipelineIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where} ${issue.message}`;
}

/** File name, then line, then column; issues of one file keep their relative order otherwise. */
export function sortIssues(issues: PipelineIssue[]): PipelineIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => compareText(a.issue.file, b.issue.file) || a.issue.line - b.issue.line || a.issue.col - b.issue.col || a.i - b.i)
    .map((x) => x.issue);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Thrown by the loaders: `.issues` holds every problem found, the message prints them one per line. */
export class PipelineConfigError extends Error {
  readonly issues: PipelineIssue[];

  constructor(issues: PipelineIssue[]) {
    const sorted = sortIssues(issues);
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'PipelineConfigError';
    this.issues = sorted;
  }
}

/** `source.columns[2]` from ['source', 'columns', 2]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}
