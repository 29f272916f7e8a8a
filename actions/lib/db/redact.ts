/** Masks the password of a connection string so it can be printed or put in an error. */
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
    return url.replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***').replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/** Removes every occurrence of the secret parts of `url` from a message. */
export function scrubSecret(message: string, url: string | undefined): string {
  if (!url) return message;
  let out = message;
  try {
    const u = new URL(url);
    if (u.password) {
      out = out.split(url).join(redactUrl(url));
      out = out.split(u.password).join('***');
      out = out.split(decodeURIComponent(u.password)).join('***');
    }
  } catch {
    out = out.split(url).join(redactUrl(url));
  }
  return out;
}
