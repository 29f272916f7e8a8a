import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export { gitHubCall, gitHubError } from './call.ts';

/**
 * The one Octokit client of the engine (promotion pull requests, rollbacks, alert issues, retrain
 * dispatch, who merged a deploy): retry (5xx, network) and throttling (primary and secondary rate
 * limits are waited out and retried), token from the action's input or GITHUB_TOKEN, and
 * GITHUB_API_URL as the base URL so that GitHub Enterprise Server works unchanged.
 */

const RetryingOctokit = Octokit.plugin(retry, throttling);
export type GitHub = InstanceType<typeof RetryingOctokit>;

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface GitHubClientOptions {
  /** a token; empty or absent: GITHUB_TOKEN from the environment */
  token?: string;
  /** the REST API root; absent: GITHUB_API_URL, then https://api.github.com */
  baseUrl?: string;
  /** how often a 5xx or a rate limit is retried (default 3) */
  retries?: number;
  /**
   * Space write requests as GitHub asks (1 s between writes, 3 s between those that notify).
   * Default true; tests against a loopback stand-in turn it off to stay fast.
   */
  paceWrites?: boolean;
  /** where warnings go (default: nowhere) */
  log?: (message: string) => void;
  userAgent?: string;
}

/** Where the engine talks to GitHub: a client, the repository, and the token (to keep it out of every message). */
export interface GitHubTarget {
  client: GitHub;
  repo: RepoRef;
  token: string;
}

export interface GitHubSettings {
  /** empty or absent: GITHUB_TOKEN */
  token?: string | null;
  /** owner/name; absent: GITHUB_REPOSITORY */
  repository?: string | null;
  /** absent: GITHUB_API_URL, then https://api.github.com */
  apiUrl?: string | null;
  /** space writes as GitHub asks (default true; loopback tests turn it off) */
  paceWrites?: boolean;
  retries?: number;
  log?: (message: string) => void;
  userAgent?: string;
}

/** A target from a token and a repository; null without a token (local mode: no GitHub at all). */
export function gitHubTarget(settings: GitHubSettings = {}): GitHubTarget | null {
  const token = resolveGitHubToken(settings.token);
  if (!token) return null;
  const repo = parseRepository(settings.repository ?? process.env.GITHUB_REPOSITORY);
  const client = createGitHubClient({
    token,
    baseUrl: settings.apiUrl ?? undefined,
    paceWrites: settings.paceWrites,
    retries: settings.retries,
    log: settings.log,
    userAgent: settings.userAgent,
  });
  return { client, repo, token };
}

/** The token to use: the input when given, else GITHUB_TOKEN; undefined means "no token" (local mode). */
export function resolveGitHubToken(input?: string | null, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const t = (input ?? '').trim() || (env.GITHUB_TOKEN ?? '').trim();
  return t || undefined;
}

export function resolveApiUrl(input?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  return ((input ?? '').trim() || (env.GITHUB_API_URL ?? '').trim() || 'https://api.github.com').replace(/\/+$/, '');
}

/** `owner/name` (GITHUB_REPOSITORY's form) as a RepoRef. */
export function parseRepository(text: string | undefined = process.env.GITHUB_REPOSITORY): RepoRef {
  const m = /^([A-Za-z0-9-_.]+)\/([A-Za-z0-9-_.]+)$/.exec((text ?? '').trim());
  if (!m) throw new Error(`expected a repository as owner/name, got ${JSON.stringify(text ?? '')}`);
  return { owner: m[1], repo: m[2] };
}

/** A pass-through in place of a Bottleneck.Group: no spacing between writes. */
const unpaced = { key: () => ({ schedule: (...args: unknown[]) => (args[1] as (...a: unknown[]) => unknown)(...args.slice(2)) }) };

export function createGitHubClient(options: GitHubClientOptions = {}): GitHub {
  const token = resolveGitHubToken(options.token);
  if (!token) throw new Error('no GitHub token: pass the token input or set GITHUB_TOKEN (or run in local mode without one)');
  const retries = options.retries ?? 3;
  const log = options.log ?? (() => undefined);
  const decide = (kind: string) => (retryAfter: number, opts: { method?: string; url?: string }, _octokit: unknown, retryCount: number) => {
    const again = retryCount < retries;
    log(`GitHub ${kind} on ${opts.method ?? ''} ${opts.url ?? ''}: ${again ? `retrying in ${retryAfter} s` : 'giving up'}`);
    return again;
  };
  const paced = options.paceWrites ?? true;
  return new RetryingOctokit({
    auth: token,
    baseUrl: resolveApiUrl(options.baseUrl),
    userAgent: options.userAgent ?? 'gitops-mlops',
    log: { debug: () => undefined, info: () => undefined, warn: log, error: log },
    retry: { retries },
    throttle: {
      onRateLimit: decide('rate limit'),
      onSecondaryRateLimit: decide('secondary rate limit'),
      ...(paced ? {} : { write: unpaced as never, notifications: unpaced as never }),
    },
  });
}
