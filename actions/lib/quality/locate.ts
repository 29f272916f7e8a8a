import { existsSync, readFileSync } from 'node:fs';
import { parsePipelineSource, type PathSegment } from '../config/document.ts';
import type { QualityCheck } from './checks.ts';

const THRESHOLD: Record<QualityCheck['name'], string> = {
  // not configurable: a repeated key always fails; point at the key column
  duplicate_keys: 'key_column',
  rows: 'min_rows',
  days_covered: 'min_days',
  null_share: 'max_null_share',
  range: 'ranges',
  gaps: 'max_gap_minutes',
  staleness: 'max_staleness_minutes',
  duplicate_timestamps: 'max_duplicate_timestamps',
  completeness: 'min_completeness',
  flat_target: 'max_flat_target_share',
  target_std: 'min_target_std',
  constant_column: 'allow_constant_columns',
};

/** Where a check's threshold is set in the pipeline file (its `quality:` block when not spelled out). */
export function thresholdLocation(file: string, check: QualityCheck): { file: string; line: number; col: number } | undefined {
  if (!existsSync(file)) return undefined;
  const path: PathSegment[] = [check.name === 'duplicate_keys' ? 'source' : 'quality', THRESHOLD[check.name]];
  if (check.name === 'range' && check.column) path.push(check.column);
  const issue = parsePipelineSource(file, readFileSync(file, 'utf8')).issueAt(path, '');
  return { file, line: issue.line, col: issue.col };
}
