/**
 * The optional chat webhook: one JSON POST per alert that opens or resolves. The body carries a
 * `text` line (what Slack, Mattermost, Rocket.Chat and Teams' workflow webhooks display) and the
 * alert as structured fields. Each attempt has a timeout; network errors, timeouts, 429 and 5xx
 * are retried with exponential backoff; other 4xx are not (the request itself is wrong).
 */

export interface WebhookOptions {
  url: string;
  /** per attempt (default 5000 ms) */
  timeoutMs?: number;
  /** retries after the first attempt (default 3) */
  retries?: number;
  /** first backoff, doubled per retry (default 500 ms) */
  backoffMs?: number;
  /** extra headers, e.g. an authorization header some tools want */
  headers?: Record<string, string>;
}

export interface WebhookResult {
  outcome: 'delivered' | 'failed';
  attempts: number;
  /** HTTP status of the last attempt, null when it never got one */
  status: number | null;
  error: string | null;
}

const retriable = (status: number): boolean => status === 429 || status >= 500;

/** A URL safe to print: no credentials, no query (webhook URLs carry their secret in the path or query). */
export function redactWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname
      .split('/')
      .map((p, i) => (i > 1 && p.length >= 16 ? '***' : p))
      .join('/');
    return `${u.protocol}//${u.host}${path}${u.search ? '?***' : ''}`;
  } catch {
    return '(invalid webhook URL)';
  }
}

export async function postWebhook(options: WebhookOptions, payload: unknown): Promise<WebhookResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 500;
  const body = JSON.stringify(payload);
  let status: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    try {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'gitops-mlops-monitoring', ...options.headers },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { outcome: 'delivered', attempts: attempt, status, error: null };
      error = `HTTP ${res.status}`;
      if (!retriable(res.status)) return { outcome: 'failed', attempts: attempt, status, error };
    } catch (err) {
      status = null;
      const e = err as Error;
      error = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : e.message;
    }
    if (attempt <= retries) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
  }
  return { outcome: 'failed', attempts: retries + 1, status, error: `${error} (after ${retries + 1} attempts to ${redactWebhookUrl(options.url)})` };
}
