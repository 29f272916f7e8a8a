import * as core from '@actions/core';
import { scrub } from './secrets.ts';

/** A place in a file (1-based), as annotations take it. */
export interface Location {
  file: string;
  line?: number;
  col?: number;
}

export type AnnotationLevel = 'error' | 'warning' | 'notice';

/** One annotation; with a location the runner shows it on that line of the file. */
export function annotate(level: AnnotationLevel, message: string, where?: Partial<Location> & { title?: string }): void {
  const props: core.AnnotationProperties = {};
  if (where?.title) props.title = where.title;
  if (where?.file) {
    props.file = where.file;
    if (where.line) props.startLine = where.line;
    if (where.col) props.startColumn = where.col;
  }
  const fn = level === 'error' ? core.error : level === 'warning' ? core.warning : core.notice;
  fn(scrub(message), props);
}

/** Problems located in files (pipeline YAML issues have this shape): one annotation each. */
export function annotateIssues(level: AnnotationLevel, issues: readonly { file: string; line: number; col: number; path: string; message: string }[]): void {
  for (const i of issues) annotate(level, i.path ? `${i.path}: ${i.message}` : i.message, { file: i.file, line: i.line, col: i.col });
}
