import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Why git could not even start: spawn says ENOENT both for a missing git and for a missing working
 * directory, so say which it was.
 */
export function gitSpawnProblem(err: Error, dir: string): string {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err.message;
  if (!existsSync(dir)) return `the repository path ${dir} does not exist (pass --repo the checkout that holds registry/production.json)`;
  return 'git is not installed or not on PATH: install git (the registry is versioned with it)';
}

/**
 * The one place that talks to git (like actions/checkout's git-command-manager): every git call of
 * the promotion goes through `Git.run`. It runs the git CLI with a fixed, non-interactive
 * environment, never reads a prompt, and removes every secret it knows of from what it throws.
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
  constructor(
    message: string,
    readonly args: string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface GitOptions {
  /** an HTTPS token for pushes and fetches (sent as an extra header, never in a URL or an argument that is shown) */
  token?: string;
  /** more strings to keep out of error messages */
  secrets?: string[];
}

const MAX_BUFFER = 256 * 1024 * 1024;

export class Git {
  private readonly secrets: string[];
  private readonly authConfig: string[];

  constructor(
    readonly dir: string,
    private readonly options: GitOptions = {},
  ) {
    const token = options.token?.trim();
    const basic = token ? Buffer.from(`x-access-token:${token}`).toString('base64') : undefined;
    this.secrets = [...(options.secrets ?? []), ...(token ? [token] : []), ...(basic ? [basic] : [])].filter((s) => s.length > 0);
    this.authConfig = basic ? ['-c', `http.extraheader=AUTHORIZATION: basic ${basic}`] : [];
  }

  /** The same settings in another directory (a clone made by this one). */
  at(dir: string): Git {
    return new Git(dir, this.options);
  }

  /** Runs git; throws a GitError (secrets removed) unless the exit code is 0 or in okCodes. */
  async run(args: string[], opts: GitRunOptions = {}): Promise<string> {
    const res = await this.exec(args, opts);
    if (res.code !== 0 && !(opts.okCodes ?? []).includes(res.code)) {
      const detail = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-6).join('\n');
      throw new GitError(this.redact(`git ${args.join(' ')} failed (exit ${res.code}) in ${this.dir}: ${detail}`), args, res.code, this.redact(res.stderr));
    }
    return opts.raw ? res.stdout : res.stdout.trim();
  }

  /** Runs git and returns the exit code with the output, whatever the code. */
  async exec(args: string[], opts: GitRunOptions = {}): Promise<GitResult> {
    const res = await this.spawn(args, opts);
    return { code: res.code, stdout: res.stdout.toString('utf8'), stderr: res.stderr };
  }

  /** Raw bytes written by `git <args>` (blobs); throws unless it exits 0. */
  async bytes(args: string[]): Promise<Buffer> {
    const res = await this.spawn(args, {});
    if (res.code !== 0)
      throw new GitError(this.redact(`git ${args.join(' ')} failed (exit ${res.code}) in ${this.dir}: ${res.stderr.trim()}`), args, res.code, this.redact(res.stderr));
    return res.stdout;
  }

  private spawn(args: string[], opts: GitRunOptions): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GCM_INTERACTIVE: 'never',
      LC_ALL: 'C',
      ...opts.env,
    };
    return new Promise((resolve, reject) => {
      const child = execFile('git', [...this.authConfig, ...args], { cwd: this.dir, env, maxBuffer: MAX_BUFFER, encoding: 'buffer' }, (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(new GitError(this.redact(`git ${args.join(' ')} could not run in ${this.dir}: ${gitSpawnProblem(err, this.dir)}`), args, -1, ''));
          return;
        }
        const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr: stderr.toString('utf8') });
      });
      // git may exit before reading its input (an error, or a command that takes none): not our failure
      child.stdin?.on('error', () => undefined);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }

  /** The sha a ref points at, or null when it does not exist. */
  async revParse(ref: string): Promise<string | null> {
    const res = await this.exec(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    return res.code === 0 ? res.stdout.trim() : null;
  }

  /** The sha of a remote's branch as the remote says now (ls-remote), or null when it has none. */
  async remoteBranchSha(remote: string, branch: string): Promise<string | null> {
    const out = await this.run(['ls-remote', '--heads', remote, `refs/heads/${branch}`]);
    const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`));
    return line ? line.split('\t')[0] : null;
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
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    // credentials written into a URL (https://user:secret@host) never leave either
    return out.replace(/(https?:\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***@');
  }
}
