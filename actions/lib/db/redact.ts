import { connectionPassword } from './connection.ts';

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
