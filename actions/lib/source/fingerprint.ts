import { createHash, type Hash } from 'node:crypto';
import type { Frame } from './frame.ts';

/**
 * The lineage fingerprint of a frame: `sha256:<hex>` over a canonical byte encoding, so the same
 * rows hash the same whatever produced them (PGlite, PostgreSQL, an Arrow file):
 *
 *   "mlops-frame-v1\0", u32 rows, u32 columns,
 *   each column name and each entity id as u32 byte length + UTF-8,
 *   entity code per row (i32), time per row (f64), then each column (f64),
 * all little-endian, every NaN written as the one quiet NaN 0x7ff8000000000000.
 *
 * Then, only when the frame has them: "categories\0" and each categorical column's name and
 * category texts (sorted by name), "keys\0" and every row key (UTF-8, NUL-terminated), "label_times\0" and every label time.
 *
 * The window is not part of it: the fingerprint says which rows were trained on, not which were
 * asked for. Columns are streamed through a small scratch buffer, so hashing costs no copy of the frame.
 */
export function frameFingerprint(
  frame: Pick<Frame, 'rows' | 'times' | 'entities' | 'entityIds' | 'names' | 'columns' | 'categories' | 'keys' | 'labelTimes'>,
): string {
  const hash = createHash('sha256');
  const enc = new TextEncoder();
  const u32 = (v: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    hash.update(b);
  };
  const str = (s: string): void => {
    const bytes = enc.encode(s);
    u32(bytes.length);
    hash.update(bytes);
  };
  hash.update(enc.encode('mlops-frame-v1\0'));
  u32(frame.rows);
  u32(frame.names.length);
  for (const n of frame.names) str(n);
  u32(frame.entityIds.length);
  for (const id of frame.entityIds) str(id);
  updateInt32(hash, frame.entities.subarray(0, frame.rows));
  updateFloat64(hash, frame.times.subarray(0, frame.rows));
  for (const col of frame.columns) updateFloat64(hash, col.subarray(0, frame.rows));
  // Keyed, categorical and labelled frames (classification) add sections; other frames hash as before.
  if (frame.categories) {
    hash.update(enc.encode('categories\0'));
    for (const name of Object.keys(frame.categories).sort()) {
      str(name);
      u32(frame.categories[name].length);
      for (const c of frame.categories[name]) str(c);
    }
  }
  if (frame.keys) {
    hash.update(enc.encode('keys\0'));
    // PostgreSQL text never holds NUL: NUL-terminated keys are unambiguous, and hash in big chunks.
    for (let i = 0; i < frame.rows; i += CHUNK) hash.update(frame.keys.slice(i, Math.min(frame.rows, i + CHUNK)).join('\0') + '\0', 'utf8');
  }
  if (frame.labelTimes) {
    hash.update(enc.encode('label_times\0'));
    updateFloat64(hash, frame.labelTimes.subarray(0, frame.rows));
  }
  return 'sha256:' + hash.digest('hex');
}

const CHUNK = 8192;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function updateFloat64(hash: Hash, values: Float64Array): void {
  const scratch = new Float64Array(CHUNK);
  const bytes = new Uint8Array(scratch.buffer);
  const words = new Uint32Array(scratch.buffer);
  const view = new DataView(scratch.buffer);
  for (let start = 0; start < values.length; start += CHUNK) {
    const n = Math.min(CHUNK, values.length - start);
    for (let i = 0; i < n; i++) {
      const v = values[start + i];
      if (v !== v) {
        // Write the bits explicitly: storing a NaN may keep its payload, which differs by producer.
        if (LITTLE_ENDIAN) {
          words[2 * i] = 0;
          words[2 * i + 1] = 0x7ff80000;
        } else view.setUint32(8 * i, 0, true), view.setUint32(8 * i + 4, 0x7ff80000, true);
      } else if (LITTLE_ENDIAN) scratch[i] = v;
      else view.setFloat64(8 * i, v, true);
    }
    hash.update(bytes.subarray(0, n * 8));
  }
}

function updateInt32(hash: Hash, values: Int32Array): void {
  if (LITTLE_ENDIAN) {
    for (let start = 0; start < values.length; start += CHUNK * 2) {
      const part = values.subarray(start, Math.min(values.length, start + CHUNK * 2));
      hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
    return;
  }
  const b = Buffer.alloc(4);
  for (const v of values) {
    b.writeInt32LE(v);
    hash.update(b);
  }
}
