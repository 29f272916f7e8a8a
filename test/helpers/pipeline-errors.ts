import { expect } from 'vitest';
import { loadPipelineFile, PipelineConfigError } from '../../actions/lib/config/load.ts';
import { formatIssue } from '../../actions/lib/config/validate.ts';

/** The formatted lines (file:line:col path: message) of the error thrown for a pipeline file's `text`. */
export function pipelineErrors(text: string, file: string): string[] {
  try {
    loadPipelineFile(file, text);
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineConfigError);
    return (e as PipelineConfigError).issues.map(formatIssue);
  }
  throw new Error('expected the pipeline to be rejected');
}
