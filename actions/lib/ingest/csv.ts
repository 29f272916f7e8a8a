/** A small, strict CSV reader (RFC 4180: quoted fields with commas, doubled quotes and newlines), line by line. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type ParsedRecord = { kind: 'ok'; fields: string[] } | { kind: 'open' } | { kind: 'error'; message: string };

/** Parses one record; `open` when a quoted field is not closed yet (the record goes on on the next line). */
export function parseCsvRecord(text: string): ParsedRecord {
  if (text.indexOf('"') < 0) return { kind: 'ok', fields: text.split(',') };
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return { kind: 'open' };
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      fields.push(value);
      if (j === n) return { kind: 'ok', fields };
      if (text.charCodeAt(j) !== 44) return { kind: 'error', message: `malformed CSV: text after the closing quote of field ${fields.length}` };
      i = j + 1;
    } else {
      const c = text.indexOf(',', i);
      const end = c < 0 ? n : c;
      const value = text.slice(i, end);
      if (value.indexOf('"') >= 0) return { kind: 'error', message: `malformed CSV: a quote inside unquoted field ${fields.length + 1}` };
      fields.push(value);
      if (c < 0) return { kind: 'ok', fields };
      i = c + 1;
    }
  }
}

export interface CsvRecord {
  /** the line the record starts on, from 1 */
  line: number;
  fields: string[];
  /** set when the record cannot be parsed */
  error?: string;
}

/** Streams a CSV file record by record (blank lines skipped, a UTF-8 BOM ignored). */
export async function* readCsvRecords(file: string): AsyncGenerator<CsvRecord> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let pending: string | null = null;
  let pendingLine = 0;
  try {
    for await (let text of lines) {
      lineNo++;
      if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (pending !== null) {
        text = pending + '\n' + text;
      } else {
        if (text.length === 0) continue;
        pendingLine = lineNo;
      }
      const parsed = parseCsvRecord(text);
      if (parsed.kind === 'open') {
        pending = text;
        continue;
      }
      pending = null;
      if (parsed.kind === 'ok') yield { line: pendingLine, fields: parsed.fields };
      else yield { line: pendingLine, fields: [], error: parsed.message };
    }
    if (pending !== null) yield { line: pendingLine, fields: [], error: 'malformed CSV: a quoted field is not closed before the end of the file' };
  } finally {
    lines.close();
    input.destroy();
  }
}

/** A field for COPY ... (FORMAT csv): always quoted, so that an empty string is not NULL and `\.` is data. */
export function quoteCsv(value: string): string {
  return '"' + (value.indexOf('"') >= 0 ? value.replace(/"/g, '""') : value) + '"';
}
