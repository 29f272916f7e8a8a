/**
 * A dictionary of text values keyed by their UTF-8 bytes: value -> code (0, 1, ... in the order
 * values were added). A decoder codes a text field straight from the bytes it arrived in, without
 * making a string per row: the bytes are hashed and compared with the stored ones, and a value's
 * string is made once, when `values()` is first asked for (a year of credit applications: 500,000
 * keys, each decoded once instead of once per stream that carries it).
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

export class TextDictionary {
  /** the values' bytes, one after another */
  #bytes = new Uint8Array(1024);
  #used = 0;
  /** value c is #bytes[#starts[c], #starts[c + 1]) */
  #starts = new Int32Array(257);
  #hashes = new Int32Array(256);
  #count = 0;
  /** open addressing: code + 1, 0 for an empty slot */
  #table = new Int32Array(1024);
  #mask = 1023;
  #strings: string[] | null = null;

  /** A dictionary of `values`, coded in their order (a repeated value keeps its first code). */
  static of(values: Iterable<string>): TextDictionary {
    const d = new TextDictionary();
    for (const v of values) d.add(v);
    return d;
  }

  get size(): number {
    return this.#count;
  }

  /** The code of the value whose UTF-8 bytes are b[p, p + len), or -1 when it is not here. */
  find(b: Uint8Array, p: number, len: number): number {
    const h = hashBytes(b, p, len);
    const table = this.#table;
    const mask = this.#mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = table[i];
      if (e === 0) return -1;
      if (this.#hashes[e - 1] === h && this.#equals(e - 1, b, p, len)) return e - 1;
    }
  }

  /** The code of the value whose UTF-8 bytes are b[p, p + len), added when new. */
  intern(b: Uint8Array, p: number, len: number): number {
    const h = hashBytes(b, p, len);
    const table = this.#table;
    const mask = this.#mask;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const e = table[i];
      if (e === 0) break;
      if (this.#hashes[e - 1] === h && this.#equals(e - 1, b, p, len)) return e - 1;
    }
    const code = this.#count;
    if (code === this.#hashes.length) {
      const starts = new Int32Array(2 * code + 1);
      starts.set(this.#starts);
      this.#starts = starts;
      const hashes = new Int32Array(2 * code);
      hashes.set(this.#hashes);
      this.#hashes = hashes;
    }
    const at = this.#used;
    if (at + len > this.#bytes.length) {
      const bytes = new Uint8Array(Math.max(this.#bytes.length * 2, at + len));
      bytes.set(this.#bytes.subarray(0, at));
      this.#bytes = bytes;
    }
    const bytes = this.#bytes;
    if (len <= 32) for (let k = 0; k < len; k++) bytes[at + k] = b[p + k];
    else bytes.set(b.subarray(p, p + len), at);
    this.#used = at + len;
    this.#starts[code + 1] = at + len;
    this.#hashes[code] = h;
    this.#count = code + 1;
    table[i] = code + 1;
    if (this.#strings) this.#strings.push(utf8.decode(b.subarray(p, p + len)));
    // at most half full
    if (2 * this.#count > mask) this.#rehash();
    return code;
  }

  /** The code of `value`, or undefined when it is not here. */
  get(value: string): number | undefined {
    const b = encoder.encode(value);
    const c = this.find(b, 0, b.length);
    return c < 0 ? undefined : c;
  }

  /** The code of `value`, added when new. */
  add(value: string): number {
    const b = encoder.encode(value);
    return this.intern(b, 0, b.length);
  }

  /** The values by code (one array, kept: do not change it). */
  values(): string[] {
    if (this.#strings) return this.#strings;
    const n = this.#count;
    const starts = this.#starts;
    const bytes = this.#bytes;
    const used = this.#used;
    const out = new Array<string>(n);
    let ascii = true;
    for (let k = 0; k < used; k++) {
      if (bytes[k] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      // one string of all the bytes (one byte, one character), cut at the values' offsets
      const all = Buffer.from(bytes.buffer, bytes.byteOffset, used).toString('latin1');
      for (let c = 0; c < n; c++) out[c] = all.slice(starts[c], starts[c + 1]);
    } else {
      for (let c = 0; c < n; c++) out[c] = utf8.decode(bytes.subarray(starts[c], starts[c + 1]));
    }
    this.#strings = out;
    return out;
  }

  #equals(code: number, b: Uint8Array, p: number, len: number): boolean {
    const s = this.#starts[code];
    if (this.#starts[code + 1] - s !== len) return false;
    const bytes = this.#bytes;
    for (let k = 0; k < len; k++) if (bytes[s + k] !== b[p + k]) return false;
    return true;
  }

  #rehash(): void {
    const size = this.#table.length * 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    const hashes = this.#hashes;
    for (let c = 0; c < this.#count; c++) {
      let i = hashes[c] & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = c + 1;
    }
    this.#table = table;
    this.#mask = mask;
  }
}

/** FNV-1a of b[p, p + len), finished with a multiply-xorshift so that its low bits (the table slot) mix all of it. */
function hashBytes(b: Uint8Array, p: number, len: number): number {
  let h = FNV_OFFSET;
  for (let k = 0; k < len; k++) h = Math.imul(h ^ b[p + k], FNV_PRIME);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
