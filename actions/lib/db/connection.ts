/**
 * PostgreSQL connection strings in both forms libpq accepts: a URL
 * (`postgres://user:pass@host:5432/db?sslmode=require`) or keyword/value pairs
 * (`host=db.plant.local port=5432 dbname=plant user=mlops password='s3 cret'`). node-postgres only
 * parses URLs (a keyword string fails with "getaddrinfo ENOTFOUND base"), so keyword strings are
 * turned into the equivalent URL here, and anything that is neither is refused with a clear message.
 */

export class ConnectionStringError extends Error {}

/** libpq keywords we can pass on, and the URL part or query parameter each becomes. */
const KEYWORDS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'application_name',
  'options',
  'connect_timeout',
  'sslrootcert',
  'sslcert',
  'sslkey',
]);

/** True for `key=value ...` (libpq's keyword/value form), false for a URL. */
export function isKeywordConnectionString(s: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(s.trim()) && /^\s*[A-Za-z_]+\s*=/.test(s);
}

/** Parses libpq keyword/value pairs: values are bare words or single-quoted with \' and \\ escapes. */
export function parseKeywordConnectionString(s: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = s.length;
  const fail = (what: string): never => {
    throw new ConnectionStringError(
      `connection string: ${what} at character ${i + 1} (expected keyword=value pairs such as "host=db port=5432 dbname=plant user=mlops")`,
    );
  };
  while (i < n) {
    while (i < n && /\s/.test(s[i])) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && /[A-Za-z0-9_]/.test(s[i])) i++;
    const key = s.slice(start, i);
    if (!key) fail(`unexpected "${s[i]}"`);
    while (i < n && /\s/.test(s[i])) i++;
    if (s[i] !== '=') fail(`missing "=" after "${key}"`);
    i++;
    while (i < n && /\s/.test(s[i])) i++;
    let value = '';
    if (s[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const ch = s[i];
        if (ch === '\\' && i + 1 < n) {
          value += s[i + 1];
          i += 2;
        } else if (ch === "'") {
          closed = true;
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) fail(`unterminated quoted value of "${key}"`);
    } else {
      while (i < n && !/\s/.test(s[i])) {
        if (s[i] === '\\' && i + 1 < n) i++;
        value += s[i];
        i++;
      }
    }
    if (!KEYWORDS.has(key)) {
      throw new ConnectionStringError(
        `connection string: unsupported keyword "${key}" (supported: ${[...KEYWORDS].join(', ')}); or give a URL such as postgres://user:password@host:5432/dbname`,
      );
    }
    out.set(key, value);
  }
  if (out.size === 0) fail('no keyword=value pairs');
  return out;
}

/** A URL for any connection string node-postgres should open (keyword strings converted). */
export function connectionUrl(s: string): string {
  const trimmed = s.trim();
  if (!isKeywordConnectionString(trimmed)) {
    if (!/^postgres(ql)?:\/\//i.test(trimmed)) {
      throw new ConnectionStringError(
        'connection string: expected a URL (postgres://user:password@host:5432/dbname) or libpq keyword=value pairs (host=... dbname=... user=...)',
      );
    }
    return trimmed;
  }
  const kv = parseKeywordConnectionString(trimmed);
  const host = kv.get('host') ?? kv.get('hostaddr') ?? 'localhost';
  if (host.includes(',')) throw new ConnectionStringError('connection string: several hosts (host=a,b) are not supported; give one host');
  const port = kv.get('port');
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new ConnectionStringError(`connection string: port must be a number, got "${port}"`);
  const socket = host.startsWith('/');
  const user = kv.get('user');
  const password = kv.get('password');
  const auth = user !== undefined ? `${encodeURIComponent(user)}${password !== undefined ? `:${encodeURIComponent(password)}` : ''}@` : '';
  const params = new URLSearchParams();
  if (socket) params.set('host', host);
  for (const k of ['sslmode', 'application_name', 'options', 'connect_timeout', 'sslrootcert', 'sslcert', 'sslkey']) {
    const v = kv.get(k);
    if (v !== undefined) params.set(k, v);
  }
  const query = params.toString();
  const authority = socket ? `${auth}localhost` : `${auth}${host.includes(':') ? `[${host}]` : host}${port ? `:${port}` : ''}`;
  return `postgres://${authority}/${encodeURIComponent(kv.get('dbname') ?? user ?? '')}${query ? `?${query}` : ''}`;
}

/** The password of a connection string in either form, or null. */
export function connectionPassword(s: string): string | null {
  try {
    if (isKeywordConnectionString(s)) return parseKeywordConnectionString(s.trim()).get('password') ?? null;
    const u = new URL(s);
    return u.password ? decodeURIComponent(u.password) : null;
  } catch {
    return null;
  }
}
