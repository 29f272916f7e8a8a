import { describe, expect, it } from 'vitest';
import { CsvScanner, recordFields } from '../actions/lib/ingest/csv.ts';

interface Seen {
  line: number;
  fields: string[];
  error: string | null;
  /** the record's bytes without its line end */
  raw: string;
}

function scan(chunks: Uint8Array[]): Seen[] {
  const out: Seen[] = [];
  const scanner = new CsvScanner((rec) => {
    out.push({
      line: rec.line,
      fields: rec.error ? [] : recordFields(rec),
      error: rec.error,
      raw: Buffer.from(rec.buf.subarray(rec.start, rec.end)).toString('utf8'),
    });
    return true;
  });
  for (const c of chunks) scanner.feed(c);
  scanner.end();
  return out;
}

const TRICKY =
  '\ufeffa,b,c\r\n' +
  '1,"x,y","say ""hi"""\r\n' +
  '\r\n' +
  '2,"two\r\nlines",é\n' +
  '3,"lone\rcr",\n' +
  '\n' +
  '4,"a"x,b\n' +
  '5,a"b,c\r' +
  '6,,\r' +
  '7,"",last';

describe('CsvScanner', () => {
  it('reads records with their first line, quotes, line ends and errors', () => {
    expect(scan([new TextEncoder().encode(TRICKY)])).toEqual([
      { line: 1, fields: ['a', 'b', 'c'], error: null, raw: 'a,b,c' },
      { line: 2, fields: ['1', 'x,y', 'say "hi"'], error: null, raw: '1,"x,y","say ""hi"""' },
      { line: 4, fields: ['2', 'two\nlines', 'é'], error: null, raw: '2,"two\r\nlines",é' },
      { line: 6, fields: ['3', 'lone\ncr', ''], error: null, raw: '3,"lone\rcr",' },
      { line: 9, fields: [], error: 'malformed CSV: text after the closing quote of field 2', raw: '4,"a"x,b' },
      { line: 10, fields: [], error: 'malformed CSV: a quote inside unquoted field 2', raw: '5,a"b,c' },
      { line: 11, fields: ['6', '', ''], error: null, raw: '6,,' },
      { line: 12, fields: ['7', '', 'last'], error: null, raw: '7,"",last' },
    ]);
  });

  it('gives the same records whatever the chunks (every split in two, and byte by byte)', () => {
    const bytes = new TextEncoder().encode(TRICKY);
    const whole = scan([bytes]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(scan([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    }
    expect(scan(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(whole);
  });

  it('names a quoted field left open at the end of the file, on the line it starts', () => {
    const bytes = new TextEncoder().encode('a,b\n1,"open\n\nstill open\n');
    expect(scan([bytes])).toEqual([
      { line: 1, fields: ['a', 'b'], error: null, raw: 'a,b' },
      { line: 2, fields: [], error: 'malformed CSV: a quoted field is not closed before the end of the file', raw: '1,"open\n\nstill open\n' },
    ]);
  });
});
