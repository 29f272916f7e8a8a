/**
 * A small, strict CSV reader (RFC 4180: quoted fields with commas, doubled quotes and line breaks)
 * over bytes, record by record, with no string per field: each record is the byte ranges of its
 * fields in the buffer read from the file, so a caller can check a field in place and pass a whole
 * run of good records on as the bytes they are. Line ends are LF, CRLF or CR; blank lines are
 * skipped; a UTF-8 BOM at the start is ignored.
 */

/** Per-field flags in `CsvRecord.flags`. */
export const QUOTED = 1;
/** a quoted field with a doubled quote in it */
export const ESCAPED = 2;
/** a quoted field with a CR in it (written as LF when the field is read as text) */
export const HAS_CR = 4;
/** a quoted field with an LF in it */
export const HAS_LF = 8;
/** a byte >= 0x80 (UTF-8 beyond ASCII) */
export const NON_ASCII = 16;

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

/** One record: byte ranges into `buf`, valid only during the callback that receives it. */
export interface CsvRecord {
  /** the line the record starts on, from 1 */
  line: number;
  buf: Uint8Array;
  /** the record's bytes, without its line end */
  start: number;
  end: number;
  /** where the next record starts (after the line end) */
  next: number;
  /** number of fields (starts/ends/flags hold that many) */
  fields: number;
  /** the field's value range: inside the quotes for a quoted field */
  starts: Int32Array;
  ends: Int32Array;
  flags: Uint8Array;
  /** set when the record cannot be parsed (its fields are then not meaningful) */
  error: string | null;
}

/**
 * Feeds bytes in, calls `onRecord` for each complete record in order. `onRecord` returns false to
 * stop. A record cut by the end of a chunk is kept and completed by the next one.
 */
export class CsvScanner {
  private carry: Uint8Array | null = null;
  private line = 1;
  private first = true;
  private stopped = false;
  private readonly rec: CsvRecord = {
    line: 0,
    buf: new Uint8Array(0),
    start: 0,
    end: 0,
    next: 0,
    fields: 0,
    starts: new Int32Array(64),
    ends: new Int32Array(64),
    flags: new Uint8Array(64),
    error: null,
  };

  private readonly onRecord: (record: CsvRecord) => boolean;

  constructor(onRecord: (record: CsvRecord) => boolean) {
    this.onRecord = onRecord;
  }

  get done(): boolean {
    return this.stopped;
  }

  feed(chunk: Uint8Array): void {
    if (this.stopped) return;
    let buf = chunk;
    if (this.carry !== null) {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
      this.carry = null;
    }
    this.scan(buf, false);
  }

  /** The end of the input: what is left is the last record. */
  end(): void {
    if (this.stopped) return;
    const rest = this.carry;
    this.carry = null;
    if (rest !== null && rest.length > 0) this.scan(rest, true);
    this.stopped = true;
  }

  private scan(buf: Uint8Array, final: boolean): void {
    const n = buf.length;
    let i = 0;
    if (this.first) {
      if (n < 3 && !final) {
        this.carry = buf;
        return;
      }
      this.first = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
    }
    const rec = this.rec;
    rec.buf = buf;
    while (i < n) {
      const c0 = buf[i];
      // blank line
      if (c0 === LF) {
        i++;
        this.line++;
        continue;
      }
      if (c0 === CR) {
        if (i + 1 === n && !final) break;
        i += buf[i + 1] === LF ? 2 : 1;
        this.line++;
        continue;
      }
      const startLine = this.line;
      const next = this.record(buf, i, final);
      if (next < 0) {
        this.line = startLine;
        break;
      }
      rec.line = startLine;
      i = next;
      if (!this.onRecord(rec)) {
        this.stopped = true;
        return;
      }
    }
    if (i < n) this.carry = buf.subarray(i);
  }

  private grow(): void {
    const rec = this.rec;
    const size = rec.starts.length * 2;
    const starts = new Int32Array(size);
    starts.set(rec.starts);
    const ends = new Int32Array(size);
    ends.set(rec.ends);
    const flags = new Uint8Array(size);
    flags.set(rec.flags);
    rec.starts = starts;
    rec.ends = ends;
    rec.flags = flags;
  }

  /** Parses the record at `i` into `rec`; returns where the next one starts, or -1 when the buffer ends first (not final). */
  private record(buf: Uint8Array, i: number, final: boolean): number {
    const rec = this.rec;
    const n = buf.length;
    rec.start = i;
    rec.error = null;
    let f = 0;
    for (;;) {
      if (f === rec.starts.length) this.grow();
      if (buf[i] === QUOTE) {
        let flags = QUOTED;
        let j = i + 1;
        let closed = -1;
        while (j < n) {
          const c = buf[j];
          if (c === QUOTE) {
            if (j + 1 === n && !final) return -1;
            if (buf[j + 1] === QUOTE) {
              flags |= ESCAPED;
              j += 2;
              continue;
            }
            closed = j;
            break;
          }
          if (c === LF) {
            flags |= HAS_LF;
            this.line++;
          } else if (c === CR) {
            flags |= HAS_CR;
            if (j + 1 === n && !final) return -1;
            if (buf[j + 1] !== LF) this.line++;
          } else if (c >= 0x80) flags |= NON_ASCII;
          j++;
        }
        if (closed < 0) {
          if (!final) return -1;
          rec.fields = f;
          rec.end = n;
          rec.error = 'malformed CSV: a quoted field is not closed before the end of the file';
          return n;
        }
        rec.starts[f] = i + 1;
        rec.ends[f] = closed;
        rec.flags[f] = flags;
        f++;
        const k = closed + 1;
        if (k === n) {
          if (!final) return -1;
          rec.fields = f;
          rec.end = n;
          return n;
        }
        const c = buf[k];
        if (c === COMMA) {
          i = k + 1;
          continue;
        }
        if (c === LF || c === CR) {
          rec.fields = f;
          return this.lineEnd(buf, k, final);
        }
        rec.fields = f;
        rec.error = `malformed CSV: text after the closing quote of field ${f}`;
        return this.skipLine(buf, k, final);
      }
      let j = i;
      let high = 0;
      let c = 0;
      while (j < n) {
        c = buf[j];
        if (c === COMMA || c === LF || c === CR || c === QUOTE) break;
        high |= c;
        j++;
      }
      if (j === n) {
        if (!final) return -1;
        rec.starts[f] = i;
        rec.ends[f] = j;
        rec.flags[f] = high >= 0x80 ? NON_ASCII : 0;
        rec.fields = f + 1;
        rec.end = n;
        return n;
      }
      if (c === QUOTE) {
        rec.fields = f;
        rec.error = `malformed CSV: a quote inside unquoted field ${f + 1}`;
        return this.skipLine(buf, j, final);
      }
      rec.starts[f] = i;
      rec.ends[f] = j;
      rec.flags[f] = high >= 0x80 ? NON_ASCII : 0;
      f++;
      if (c === COMMA) {
        i = j + 1;
        continue;
      }
      rec.fields = f;
      return this.lineEnd(buf, j, final);
    }
  }

  /** The record ends at `k` (an LF or CR): where the next starts, or -1 when a CR ends the buffer. */
  private lineEnd(buf: Uint8Array, k: number, final: boolean): number {
    this.rec.end = k;
    if (buf[k] === LF) {
      this.line++;
      return k + 1;
    }
    if (k + 1 === buf.length && !final) return -1;
    this.line++;
    return buf[k + 1] === LF ? k + 2 : k + 1;
  }

  /** After an error: the rest of the physical line is part of the bad record. */
  private skipLine(buf: Uint8Array, k: number, final: boolean): number {
    const n = buf.length;
    let j = k;
    while (j < n && buf[j] !== LF && buf[j] !== CR) j++;
    if (j === n) {
      if (!final) return -1;
      this.rec.end = n;
      return n;
    }
    return this.lineEnd(buf, j, final);
  }
}

const decoder = new TextDecoder();

/** A field's value as text: doubled quotes undone, CRLF and CR inside quotes read as LF (as line by line reading joins lines). */
export function fieldText(rec: CsvRecord, f: number): string {
  const s = rec.starts[f];
  const e = rec.ends[f];
  const flags = rec.flags[f];
  let text = decoder.decode(rec.buf.subarray(s, e));
  if (flags & ESCAPED) text = text.replace(/""/g, '"');
  if (flags & HAS_CR) text = text.replace(/\r\n?/g, '\n');
  return text;
}

/** Every field of a record as text. */
export function recordFields(rec: CsvRecord): string[] {
  const out: string[] = new Array(rec.fields);
  for (let f = 0; f < rec.fields; f++) out[f] = fieldText(rec, f);
  return out;
}

export type ParsedRecord = { kind: 'ok'; fields: string[] } | { kind: 'open' } | { kind: 'error'; message: string };

/** Parses one record from text; `open` when a quoted field is not closed yet (the record goes on on the next line). */
export function parseCsvRecord(text: string): ParsedRecord {
  let result: ParsedRecord | null = null;
  const scanner = new CsvScanner((rec) => {
    result = rec.error ? { kind: 'error', message: rec.error } : { kind: 'ok', fields: recordFields(rec) };
    return false;
  });
  scanner.feed(new TextEncoder().encode(text));
  scanner.end();
  const r = result as ParsedRecord | null;
  if (r === null) return { kind: 'ok', fields: [''] };
  if (r.kind === 'error' && r.message.includes('not closed')) return { kind: 'open' };
  return r;
}

/** A field for COPY ... (FORMAT csv): always quoted, so that an empty string is not NULL and `\.` is data. */
export function quoteCsv(value: string): string {
  return '"' + (value.indexOf('"') >= 0 ? value.replace(/"/g, '""') : value) + '"';
}
