/**
 * Numbers and times as the reports and the command line print them: a module of its own, with no
 * imports, so that a command that only prints (runs list) does not load the reports' schemas.
 */

export function fmtMetric(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return x.toExponential(3);
  return a >= 100 ? x.toFixed(1) : x.toPrecision(4).replace(/(\.\d*?[1-9])0+$|\.0+$/, '$1');
}

export function fmtInt(x: number): string {
  return x.toLocaleString('en-US');
}

export function fmtTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
