/**
 * A GitHub call's errors, without the token. Apart from client.ts (which re-exports these) so that
 * a module that only passes calls through (the deploy's approval check, which the retrain loads)
 * does not load Octokit with it.
 */
import { redactSecrets } from '../util/secrets.ts';

/** An error of a GitHub call as one line without the token: `HTTP 403: Resource not accessible by integration`. */
export function gitHubError(target: { token: string }, err: unknown): string {
  const e = err as { status?: number; message?: string };
  return redactSecrets(`${e.status ? `HTTP ${e.status}: ` : ''}${e.message ?? String(err)}`, [target.token]);
}

/** Runs one GitHub call; whatever it throws leaves as an Error that says what failed, with its status and without the token. */
export async function gitHubCall<T>(target: { token: string }, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error & { status?: number };
    const status = err.status ? ` (HTTP ${err.status})` : '';
    const out = new Error(redactSecrets(`GitHub: could not ${what}${status}: ${err.message}`, [target.token])) as Error & { status?: number };
    out.status = err.status;
    throw out;
  }
}
