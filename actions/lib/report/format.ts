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

/**
 * An integer with thousands separators, as en-US prints it (1,234,567). Not toLocaleString: its
 * first call in a process loads ICU's number formatting, ~20 ms of every command that prints a
 * count (each retrain's quality report does).
 */
export function fmtInt(x: number): string {
  if (!Number.isSafeInteger(x)) return x.toLocaleString('en-US');
  const digits = String(Math.abs(x)).replace(/\B(?=(\d{3})+$)/g, ',');
  return x < 0 ? `-${digits}` : digits;
}

export function fmtTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
