/**
 * A streaming decoder of PostgreSQL's binary COPY format into columns: float8 columns into
 * Float64Arrays (NULL -> NaN), text columns into dictionary codes (few distinct values, such as
 * entity ids). No per-row objects; memory grows with the columns, not with the wire chunks.
 */
export type BinaryColumnType = 'float8' | 'text';

export interface DecodedColumns {
  rows: number;
  /** per column: Float64Array for float8, Int32Array of codes into `dictionaries[i]` for text (-1 = NULL) */
  columns: (Float64Array | Int32Array)[];
  dictionaries: (string[] | null)[];
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** What a binary COPY stream starts with: the signature, no flags, no header extension. */
export const BINARY_COPY_HEADER = new Uint8Array([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0]);
/** What it ends with: a tuple of -1 fields. */
export const BINARY_COPY_TRAILER = new Uint8Array([0xff, 0xff]);

class GrowableF64 {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

class GrowableI32 {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export async function decodeBinaryCopy(chunks: AsyncIterable<Uint8Array>, types: readonly BinaryColumnType[]): Promise<DecodedColumns> {
  const f64 = types.map((t) => (t === 'float8' ? new GrowableF64() : null));
  const codes = types.map((t) => (t === 'text' ? new GrowableI32() : null));
  const dicts = types.map((t) => (t === 'text' ? new Map<string, number>() : null));
  const decoder = new TextDecoder();
  let buf: Uint8Array = new Uint8Array(0);
  let headerDone = false;
  let rows = 0;
  let finished = false;

  const consume = (): void => {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    if (!headerDone) {
      if (buf.length < 19) return;
      for (let i = 0; i < SIGNATURE.length; i++) {
        if (buf[i] !== SIGNATURE[i]) throw new Error('not a PostgreSQL binary COPY stream (bad signature)');
      }
      const extLen = view.getInt32(15);
      if (buf.length < 19 + extLen) return;
      pos = 19 + extLen;
      headerDone = true;
    }
    for (;;) {
      if (buf.length - pos < 2) break;
      const fields = view.getInt16(pos);
      if (fields === -1) {
        finished = true;
        pos += 2;
        break;
      }
      if (fields !== types.length) throw new Error(`binary COPY row has ${fields} fields, expected ${types.length}`);
      // Check that the whole tuple is in the buffer before decoding any of it.
      let p = pos + 2;
      let complete = true;
      for (let c = 0; c < fields; c++) {
        if (buf.length - p < 4) {
          complete = false;
          break;
        }
        const len = view.getInt32(p);
        p += 4 + (len > 0 ? len : 0);
        if (p > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      p = pos + 2;
      for (let c = 0; c < fields; c++) {
        const len = view.getInt32(p);
        p += 4;
        if (types[c] === 'float8') {
          if (len === -1) f64[c]!.push(Number.NaN);
          else if (len === 8) f64[c]!.push(view.getFloat64(p));
          else throw new Error(`column ${c} is not float8 (field of ${len} bytes)`);
        } else if (len === -1) {
          codes[c]!.push(-1);
        } else {
          const s = decoder.decode(buf.subarray(p, p + len));
          const d = dicts[c]!;
          let code = d.get(s);
          if (code === undefined) {
            code = d.size;
            d.set(s, code);
          }
          codes[c]!.push(code);
        }
        if (len > 0) p += len;
      }
      pos = p;
      rows++;
    }
    buf = buf.subarray(pos);
  };

  for await (const chunk of chunks) {
    if (finished) continue;
    if (buf.length === 0) buf = chunk;
    else {
      const merged = new Uint8Array(buf.length + chunk.length);
      merged.set(buf);
      merged.set(chunk, buf.length);
      buf = merged;
    }
    consume();
  }
  if (!finished) throw new Error('binary COPY stream ended before its trailer');
  return {
    rows,
    columns: types.map((t, c) => (t === 'float8' ? f64[c]!.data.slice(0, rows) : codes[c]!.data.slice(0, rows))),
    dictionaries: dicts.map((d) => (d ? [...d.keys()] : null)),
  };
}
