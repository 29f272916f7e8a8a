import { connectionPassword } from '../db/connection.ts';

/**
 * The one home of redaction: whatever leaves this process (an error, a log line, a summary) goes
 * through here when it may hold a password, a token or a connection string.
 */

/** Masks the password of a connection string (a URL or libpq keyword=value pairs) so it can be printed or put in an error. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    // Not a URL (a libpq keyword string, say): mask password=... wherever it appears.
    return url.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***').replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/** Removes every occurrence of the secret parts of `url` from a message. */
export function scrubSecret(message: string, url: string | undefined): string {
  if (!url) return message;
  let out = message.split(url).join(redactUrl(url));
  const password = connectionPassword(url);
  if (password) {
    for (const form of new Set([password, encodeURIComponent(password)])) out = out.split(form).join('***');
  }
  return out;
}

/**
 * The message with each secret taken out, longest first (a URL before its password): a URL-shaped
 * secret becomes its redacted form, anything else `***`, and so does a token's basic-auth form
 * (`x-access-token:TOKEN` in base64, as git and Octokit send it). Credentials written into any
 * URL (https://user:secret@host) never leave either.
 */
export function redactSecrets(message: string, secrets: Iterable<string | null | undefined>): string {
  let out = message;
  const known = [...new Set([...secrets].filter((s): s is string => Boolean(s)))].sort((a, b) => b.length - a.length);
  for (const s of known) {
    if (out.includes(s)) out = out.split(s).join(/^[a-z]+:\/\//i.test(s) ? redactUrl(s) : '***');
    const basic = Buffer.from(`x-access-token:${s}`).toString('base64');
    if (out.includes(basic)) out = out.split(basic).join('***');
  }
  return out.replace(/(https?:\/\/)[^/\s:@]+:(?!\*\*\*@)[^/\s@]+@/g, '$1***@');
}
