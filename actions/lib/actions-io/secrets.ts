import * as core from '@actions/core';
import { connectionPassword } from '../db/connection.ts';
import { redactSecrets } from '../util/secrets.ts';

/**
 * Secrets of this process: each is masked in the runner's log (`core.setSecret`) as soon as it is
 * read, and scrubbed from every message this module's callers print or fail with.
 */

const secrets = new Set<string>();

export function maskSecret(value: string | undefined | null): void {
  const v = value?.trim();
  if (!v) return;
  if (!secrets.has(v)) core.setSecret(v);
  secrets.add(v);
}

/** Masks a connection string: the whole URL, its password and the password as written in it. */
export function maskUrl(url: string | undefined | null): void {
  if (!url) return;
  maskSecret(url);
  try {
    const u = new URL(url);
    if (u.password) {
      maskSecret(u.password);
      maskSecret(decodeURIComponent(u.password));
    }
  } catch {
    maskSecret(connectionPassword(url));
  }
}

/** The message with every known secret taken out (longest first, so a URL goes before its password). */
export function scrub(message: string): string {
  return redactSecrets(message, secrets);
}
