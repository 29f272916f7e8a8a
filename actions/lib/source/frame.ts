/**
 * A pipeline's source window in columns: what extract produces and features consume.
 * Rows are ordered by entity, then time, so that each entity is one contiguous range.
 */
export interface Frame {
  rows: number;
  /** epoch milliseconds per row */
  times: Float64Array;
  /** index into `entityIds` per row (all 0 when the source has no entity column) */
  entities: Int32Array;
  entityIds: string[];
  /** source and derived columns, in pipeline order; NaN for NULL */
  names: string[];
  columns: Float64Array[];
  /** [start, end) of the extract window */
  window: { start: Date; end: Date };
  /**
   * Categorical columns (source.categorical): their entry in `columns` holds codes into these
   * categories (NaN = NULL), by column name. Absent when the source has none.
   */
  categories?: Record<string, string[]>;
  /** source.key_column of each row, as text; absent when the source has no key column */
  keys?: string[];
  /** classification: when each row's label became known, epoch ms (NaN: none known at as-of) */
  labelTimes?: Float64Array;
}

export function column(frame: Frame, name: string): Float64Array {
  const i = frame.names.indexOf(name);
  if (i < 0) throw new Error(`column "${name}" is not in the frame (has: ${frame.names.join(', ')})`);
  return frame.columns[i];
}

/** [start, end) row ranges of each entity, in frame order. */
export function entityRanges(frame: Frame): { entity: number; start: number; end: number }[] {
  const out: { entity: number; start: number; end: number }[] = [];
  let start = 0;
  for (let i = 1; i <= frame.rows; i++) {
    if (i === frame.rows || frame.entities[i] !== frame.entities[start]) {
      if (frame.rows > 0) out.push({ entity: frame.entities[start], start, end: i });
      start = i;
    }
  }
  return out;
}
