import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { redactSecrets } from '../util/secrets.ts';

/**
 * The one place that talks to git (after actions/checkout's git-command-manager): every git call of
 * the engine, the CLI and the demo goes through `Git`. It runs the git CLI with a fixed,
 * non-interactive environment (no prompt, no pager, C locale), removes every secret it knows of
 * from what it throws, and retries the commands that cross the network (fetch, push, ls-remote,
 * clone) the way checkout's retry helper does: three attempts, a random pause between them, and no
 * retry of an answer that will not change (a refused push, a missing ref or repository, an exit
 * code other than git's fatal 128).
 */

export interface GitIdentity {
  name: string;
  email: string;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GitRunOptions {
  /** bytes written to git's standard input */
  input?: string | Uint8Array;
  /** extra environment variables for this call only */
  env?: Record<string, string>;
  /** exit codes that are answers, not failures (e.g. 1 from `diff --quiet`) */
  okCodes?: number[];
  /** return stdout untrimmed (file contents) */
  raw?: boolean;
}

export class GitError extends Error {
  readonly args: readonly string[];
  readonly code: number;
  readonly stderr: string;

  constructor(message: string, args: readonly string[], code: number, stderr: string) {
    super(message);
    this.args = args;
    this.code = code;
    this.stderr = stderr;
    this.name = 'GitError';
  }
}

export interface GitRetry {
  /** attempts in all, the first included (default 3, as actions/checkout) */
  attempts: number;
  /** the pause before another attempt is drawn from [minDelayMs, maxDelayMs] (default 10-20 s, as actions/checkout) */
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_GIT_RETRY: GitRetry = { attempts: 3, minDelayMs: 10_000, maxDelayMs: 20_000 };

export interface GitOptions {
  /** an HTTPS token for pushes and fetches (sent as an extra header, never in a URL or an argument that is shown) */
  token?: string;
  /** more strings to keep out of error messages */
  secrets?: string[];
  /** how network commands are retried (default DEFAULT_GIT_RETRY) */
  retry?: Partial<GitRetry>;
  /** told about each retry (default: nowhere) */
  log?: (message: string) => void;
}

const MAX_BUFFER = 512 * 1024 * 1024;

/**
 * Why git could not even start: spawn says ENOENT both for a missing git and for a missing working
 * directory, so say which it was.
 */
export function gitSpawnProblem(err: Error, dir: string): string {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err.message;
  if (!existsSync(dir)) return `the repository path ${dir} does not exist (pass --repo the checkout that holds registry/production.json)`;
  return 'git is not installed or not on PATH: install git (the registry is versioned with it)';
}

/** The commands that talk to a remote: these, and only these, are retried. */
const NETWORK_COMMANDS = new Set(['fetch', 'push', 'ls-remote', 'clone', 'pull']);

/**
 * Answers that another attempt would only repeat: a push the remote refused (lease, fast-forward,
 * hook, protection), a ref or repository that does not exist, credentials that do not work.
 */
const PERMANENT = [
  /\[rejected\]/,
  /\[remote rejected\]/,
  /stale info/,
  /non-fast-forward/,
  /couldn't find remote ref/i,
  /does not appear to be a git repository/i,
  /repository .* not found/i,
  /authentication failed/i,
  /could not read (username|password)/i,
  /permission to .* denied/i,
  /invalid refspec/i,
  /not a valid (object|ref)/i,
  /HTTP 40[134]/,
  /The requested URL returned error: 40[134]/,
];

export class Git {
  private readonly secrets: string[];
  private readonly authConfig: string[];
  private readonly retry: GitRetry;

  readonly dir: string;
  private readonly options: GitOptions;

  constructor(dir: string, options: GitOptions = {}) {
    this.dir = dir;
    this.options = options;
    const token = options.token?.trim();
    const basic = token ? Buffer.from(`x-access-token:${token}`).toString('base64') : undefined;
    this.secrets = [...(options.secrets ?? []), ...(token ? [token] : []), ...(basic ? [basic] : [])].filter((s) => s.length > 0);
    this.authConfig = basic ? ['-c', `http.extraheader=AUTHORIZATION: basic ${basic}`] : [];
    this.retry = { ...DEFAULT_GIT_RETRY, ...options.retry };
  }

  /** The same settings in another directory (a clone made by this one). */
  at(dir: string): Git {
    return new Git(dir, this.options);
  }

  /** Runs git; throws a GitError (secrets removed) unless the exit code is 0 or in okCodes. */
  async run(args: readonly string[], opts: GitRunOptions = {}): Promise<string> {
    const res = await this.exec(args, opts);
    if (res.code !== 0 && !(opts.okCodes ?? []).includes(res.code)) throw this.failure(args, res.code, res.stderr, res.stdout);
    return opts.raw ? res.stdout : res.stdout.trim();
  }

  /** Runs git and returns the exit code with the output, whatever the code (network commands retried first). */
  async exec(args: readonly string[], opts: GitRunOptions = {}): Promise<GitResult> {
    const res = await this.spawnWithRetry(args, opts);
    return { code: res.code, stdout: res.stdout.toString('utf8'), stderr: res.stderr };
  }

  /** Raw bytes written by `git <args>` (blobs), with `input` on its standard input; throws unless it exits 0. */
  async bytes(args: readonly string[], input?: string | Uint8Array): Promise<Buffer> {
    const res = await this.spawnWithRetry(args, { input });
    if (res.code !== 0) throw this.failure(args, res.code, res.stderr, '');
    return res.stdout;
  }

  /** The sha a ref points at, or null when it does not exist. */
  async revParse(ref: string): Promise<string | null> {
    const res = await this.exec(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    return res.code === 0 ? res.stdout.trim() : null;
  }

  /** The sha of a remote's branch as the remote says now (ls-remote), or null when it has none. */
  async remoteBranchSha(remote: string, branch: string): Promise<string | null> {
    const out = await this.run(['ls-remote', '--heads', remote, `refs/heads/${branch}`]);
    const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`));
    return line ? line.split('\t')[0] : null;
  }

  /** Fetches branches of `remote` into its remote-tracking refs (`refs/remotes/<remote>/<branch>`). */
  async fetchBranches(remote: string, branches: readonly string[]): Promise<void> {
    await this.run(['fetch', '--no-tags', '--quiet', remote, ...branches.map((b) => `+refs/heads/${b}:refs/remotes/${remote}/${b}`)]);
  }

  /** Environment that makes a commit by the given author and committer. */
  static identityEnv(author: GitIdentity, committer: GitIdentity = author): Record<string, string> {
    return {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: committer.name,
      GIT_COMMITTER_EMAIL: committer.email,
    };
  }

  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  private failure(args: readonly string[], code: number, stderr: string, stdout: string): GitError {
    const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-6).join('\n');
    return new GitError(this.redact(`git ${args.join(' ')} failed (exit ${code}) in ${this.dir}: ${detail}`), args, code, this.redact(stderr));
  }

  private async spawnWithRetry(args: readonly string[], opts: GitRunOptions): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    const network = NETWORK_COMMANDS.has(args[0] ?? '');
    const attempts = network ? Math.max(1, this.retry.attempts) : 1;
    for (let attempt = 1; ; attempt++) {
      const res = await this.spawn(args, opts);
      // git dies with 128 when the connection fails; other codes are answers (a refused push exits 1, ls-remote --exit-code 2)
      if (res.code !== 128 || attempt >= attempts || (opts.okCodes ?? []).includes(res.code) || PERMANENT.some((p) => p.test(res.stderr))) return res;
      const { minDelayMs, maxDelayMs } = this.retry;
      const pause = Math.round(minDelayMs + Math.random() * Math.max(0, maxDelayMs - minDelayMs));
      const lines = res.stderr.trim().split('\n');
      const why = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? `exit ${res.code}`;
      this.options.log?.(
        this.redact(
          `git ${args[0]} failed (attempt ${attempt} of ${attempts}: ${why || `exit ${res.code}`}); trying again in ${pause >= 1000 ? `${(pause / 1000).toFixed(1)} s` : `${pause} ms`}`,
        ),
      );
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  private spawn(args: readonly string[], opts: GitRunOptions): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GCM_INTERACTIVE: 'never',
      GIT_PAGER: 'cat',
      LC_ALL: 'C',
      ...opts.env,
    };
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        [...this.authConfig, '-c', 'core.quotepath=off', ...args],
        { cwd: this.dir, env, maxBuffer: MAX_BUFFER, encoding: 'buffer' },
        (err, stdout, stderr) => {
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
            reject(new GitError(this.redact(`git ${args.join(' ')} could not run in ${this.dir}: ${gitSpawnProblem(err, this.dir)}`), args, -1, ''));
            return;
          }
          const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
          resolve({ code, stdout, stderr: stderr.toString('utf8') });
        },
      );
      // git may exit before reading its input (an error, or a command that takes none): not our failure
      child.stdin?.on('error', () => undefined);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }
}
