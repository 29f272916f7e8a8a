import { readFile, writeFile } from 'node:fs/promises';
import {
  Data,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int32,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import type { Frame } from './frame.ts';
import type { FeatureMatrix } from '../features/matrix.ts';
import { frameFingerprint } from './fingerprint.ts';

/**
 * Frames and feature matrices as Arrow IPC files: the hand-off between workflow steps.
 * Layout (one record batch): field 0 `time` (Float64 epoch ms), field 1 `entity`
 * (Dictionary<Utf8, Int32>), then the data columns in order (Float64 for a frame; Float32
 * features then a Float64 `target` for a matrix). Columns are read by position, so a data column
 * may share a name with `time` or `entity`. The window, fingerprint and caller metadata sit in
 * the schema metadata under `mlops.*`. Values round-trip bit for bit, NaN included.
 * Optional per-row extras come last, listed in `mlops.extras`: a row key (Utf8) and a label time
 * (Float64, frames) or known-at time (Float64, matrices); a frame's categories (the text of each
 * categorical column's codes) are JSON in `mlops.categories`.
 */
const FORMAT_VERSION = '1';

export type ArrowFrame = Frame & { fingerprint: string };

export interface ReadFrameOptions {
  /** Recompute the fingerprint and fail when it differs from the stored one (default true). */
  verify?: boolean;
}

export async function writeFrameArrow(frame: Frame & { fingerprint?: string }, path: string): Promise<void> {
  const fingerprint = frame.fingerprint ?? frameFingerprint(frame);
  const meta = new Map<string, string>([
    ['mlops.kind', 'frame'],
    ['mlops.version', FORMAT_VERSION],
    ['mlops.window_start', frame.window.start.toISOString()],
    ['mlops.window_end', frame.window.end.toISOString()],
    ['mlops.fingerprint', fingerprint],
  ]);
  const columns = frame.columns.map((c, i) => ({ name: frame.names[i], data: f64(c.subarray(0, frame.rows)) }));
  if (frame.categories) meta.set('mlops.categories', JSON.stringify(frame.categories));
  columns.push(...extras(meta, frame.rows, frame.keys, frame.labelTimes));
  await writeFile(path, encode(frame.rows, frame.times, frame.entities, frame.entityIds, columns, meta));
}

/** The optional key and time columns, recorded in `mlops.extras` (see the layout above). */
function extras(meta: Map<string, string>, rows: number, keys: string[] | undefined, times: Float64Array | undefined): { name: string; data: Data }[] {
  const out: { name: string; data: Data }[] = [];
  const kinds: string[] = [];
  if (keys) {
    kinds.push('key');
    out.push({ name: '__mlops_key', data: vectorFromArray(keys.slice(0, rows), new Utf8()).data[0] as Data });
  }
  if (times) {
    kinds.push('time');
    out.push({ name: '__mlops_known_at', data: f64(times.subarray(0, rows)) });
  }
  if (kinds.length) meta.set('mlops.extras', JSON.stringify(kinds));
  return out;
}

/** The extras of a decoded file: its key and time columns, and how many trailing fields they take. */
function readExtras(table: Table, meta: Map<string, string>): { count: number; keys?: string[]; times?: Float64Array } {
  const kinds = JSON.parse(meta.get('mlops.extras') ?? '[]') as string[];
  const out: { count: number; keys?: string[]; times?: Float64Array } = { count: kinds.length };
  kinds.forEach((kind, i) => {
    const vector = table.getChildAt(table.numCols - kinds.length + i)!;
    if (kind === 'key') out.keys = Array.from(vector as Iterable<string>);
    else out.times = copyFloat(vector, Float64Array);
  });
  return out;
}

export async function readFrameArrow(path: string, options: ReadFrameOptions = {}): Promise<ArrowFrame> {
  const { table, meta } = await decode(path, 'frame');
  const rows = table.numRows;
  const names: string[] = [];
  const columns: Float64Array[] = [];
  const extra = readExtras(table, meta);
  for (let i = 2; i < table.numCols - extra.count; i++) {
    names.push(table.schema.fields[i].name);
    columns.push(copyFloat(table.getChildAt(i)!, Float64Array));
  }
  const { entities, entityIds } = readEntities(table.getChildAt(1)!);
  const frame: Frame = {
    rows,
    times: copyFloat(table.getChildAt(0)!, Float64Array),
    entities,
    entityIds,
    names,
    columns,
    window: { start: new Date(meta.get('mlops.window_start') ?? NaN), end: new Date(meta.get('mlops.window_end') ?? NaN) },
    ...(meta.has('mlops.categories') ? { categories: JSON.parse(meta.get('mlops.categories')!) as Record<string, string[]> } : {}),
    ...(extra.keys ? { keys: extra.keys } : {}),
    ...(extra.times ? { labelTimes: extra.times } : {}),
  };
  const stored = meta.get('mlops.fingerprint') ?? '';
  if (options.verify !== false) {
    const actual = frameFingerprint(frame);
    if (actual !== stored) throw new Error(`${path}: frame fingerprint ${actual} does not match the stored ${stored || '(none)'}`);
  }
  return { ...frame, fingerprint: stored };
}

export interface MatrixMetadata {
  [key: string]: string;
}

/** `metadata` (for example the feature spec and z-score stats as JSON) is stored as `mlops.meta.<key>`. */
export async function writeMatrixArrow(matrix: FeatureMatrix, path: string, metadata: MatrixMetadata = {}): Promise<void> {
  const meta = new Map<string, string>([
    ['mlops.kind', 'matrix'],
    ['mlops.version', FORMAT_VERSION],
    ...Object.entries(metadata).map(([k, v]): [string, string] => [`mlops.meta.${k}`, v]),
  ]);
  const n = matrix.names.length;
  const rows = matrix.rows;
  // Row-major in memory, columnar on disk: one transposed copy per feature.
  const columns: { name: string; data: Data }[] = matrix.names.map((name, j) => {
    const col = new Float32Array(rows);
    for (let r = 0, k = j; r < rows; r++, k += n) col[r] = matrix.values[k];
    return { name, data: makeData({ type: new Float32(), length: rows, data: col }) };
  });
  columns.push({ name: 'target', data: f64(matrix.target.subarray(0, rows)) });
  columns.push(...extras(meta, rows, matrix.keys, matrix.knownAt));
  await writeFile(path, encode(rows, matrix.times, matrix.entities, matrix.entityIds, columns, meta));
}

export async function readMatrixArrow(path: string): Promise<FeatureMatrix & { metadata: MatrixMetadata }> {
  const { table, meta } = await decode(path, 'matrix');
  const rows = table.numRows;
  const extra = readExtras(table, meta);
  const n = table.numCols - 3 - extra.count;
  const names: string[] = [];
  const values = new Float32Array(rows * n);
  for (let j = 0; j < n; j++) {
    names.push(table.schema.fields[j + 2].name);
    let r = 0;
    for (const chunk of table.getChildAt(j + 2)!.data) {
      const v = chunk.values as Float32Array;
      for (let i = 0; i < chunk.length; i++, r++) values[r * n + j] = v[i];
    }
  }
  const { entities, entityIds } = readEntities(table.getChildAt(1)!);
  const metadata: MatrixMetadata = {};
  for (const [k, v] of meta) if (k.startsWith('mlops.meta.')) metadata[k.slice('mlops.meta.'.length)] = v;
  return {
    rows,
    names,
    values,
    target: copyFloat(table.getChildAt(n + 2)!, Float64Array),
    times: copyFloat(table.getChildAt(0)!, Float64Array),
    entities,
    entityIds,
    ...(extra.keys ? { keys: extra.keys } : {}),
    ...(extra.times ? { knownAt: extra.times } : {}),
    metadata,
  };
}

function f64(values: Float64Array): Data {
  return makeData({ type: new Float64(), length: values.length, data: values });
}

function encode(
  rows: number,
  times: Float64Array,
  entities: Int32Array,
  entityIds: readonly string[],
  columns: { name: string; data: Data }[],
  meta: Map<string, string>,
): Uint8Array {
  const dictType = new Dictionary(new Utf8(), new Int32());
  const entityData = makeData({
    type: dictType,
    length: rows,
    data: entities.subarray(0, rows),
    dictionary: vectorFromArray([...entityIds], new Utf8()) as Vector<Utf8>,
  });
  const all = [{ name: 'time', data: f64(times.subarray(0, rows)) }, { name: 'entity', data: entityData as Data }, ...columns];
  const fields = all.map((c) => new Field(c.name, c.data.type, false));
  const schema = new Schema(fields, meta);
  const struct = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children: all.map((c) => c.data) });
  return tableToIPC(new Table(schema, [new RecordBatch(schema, struct)]), 'file');
}

async function decode(path: string, kind: 'frame' | 'matrix'): Promise<{ table: Table; meta: Map<string, string> }> {
  const table = tableFromIPC(await readFile(path));
  const meta = table.schema.metadata;
  if (meta.get('mlops.kind') !== kind) throw new Error(`${path}: not an mlops ${kind} Arrow file (kind: ${meta.get('mlops.kind') ?? 'none'})`);
  if (meta.get('mlops.version') !== FORMAT_VERSION) throw new Error(`${path}: unsupported ${kind} format version ${meta.get('mlops.version')}`);
  if (table.numCols < (kind === 'frame' ? 2 : 3)) throw new Error(`${path}: too few columns for a ${kind}`);
  return { table, meta };
}

/** A fresh typed array of a float column, whatever its chunking (no view into the file buffer). */
function copyFloat<T extends Float64Array | Float32Array>(vector: Vector, Ctor: { new (n: number): T }): T {
  const out = new Ctor(vector.length);
  let r = 0;
  for (const chunk of vector.data) {
    out.set((chunk.values as T).subarray(0, chunk.length), r);
    r += chunk.length;
  }
  return out;
}

/** Dictionary codes re-mapped onto one id list (chunks may carry different dictionaries). */
function readEntities(vector: Vector): { entities: Int32Array; entityIds: string[] } {
  const entities = new Int32Array(vector.length);
  const ids: string[] = [];
  const index = new Map<string, number>();
  let r = 0;
  for (const chunk of vector.data) {
    const dict = chunk.dictionary ? (chunk.dictionary.toArray() as string[]) : [];
    const remap = dict.map((id) => {
      let k = index.get(id);
      if (k === undefined) index.set(id, (k = ids.push(id) - 1));
      return k;
    });
    const codes = chunk.values as Int32Array;
    for (let i = 0; i < chunk.length; i++) entities[r++] = remap[codes[i]];
  }
  return { entities, entityIds: ids };
}
