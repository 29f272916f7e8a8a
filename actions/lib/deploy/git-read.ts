import { execFile } from 'node:child_process';
import { gitSpawnProblem } from '../promotion/git.ts';

/**
 * The deploy stage's small window onto git: read files and history at a commit from git objects,
 * never from the working tree. Every call goes through `git()` here; the git CLI runs with no
 * prompts and no pager, and a failure names the command, the directory and git's own words.
 */

const MAX_BUFFER = 512 * 1024 * 1024;

export class GitReadError extends Error {
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly code: number | null,
  ) {
    super(message);
    this.name = 'GitReadError';
  }
}

export interface GitCallOptions {
  /** exit codes that are answers, not failures */
  okCodes?: number[];
  /** extra environment for this call (author identity, GIT_INDEX_FILE) */
  env?: Record<string, string>;
  /** bytes for git's standard input */
  input?: Uint8Array | string;
}

interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function runRaw(repoDir: string, args: readonly string[], opts: GitCallOptions = {}): Promise<RawResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      'git',
      ['-c', 'core.quotepath=off', ...args],
      {
        cwd: repoDir,
        encoding: 'buffer',
        maxBuffer: MAX_BUFFER,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...opts.env },
      },
      (error, stdout, stderr) => {
        const raw = error ? (error as { code?: unknown }).code : 0;
        const code = typeof raw === 'number' ? raw : null;
        if (error && code === null) {
          reject(new GitReadError(`git ${args.join(' ')} could not run in ${repoDir}: ${gitSpawnProblem(error, repoDir)}`, args, null));
          return;
        }
        resolvePromise({ code: code ?? 0, stdout: stdout as Buffer, stderr: (stderr as Buffer).toString('utf8') });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function checked(repoDir: string, args: readonly string[], opts: GitCallOptions = {}): Promise<RawResult> {
  const res = await runRaw(repoDir, args, opts);
  if (res.code !== 0 && !(opts.okCodes ?? []).includes(res.code)) {
    const detail = (res.stderr.trim() || res.stdout.toString('utf8').trim()).split('\n').slice(-6).join('\n');
    throw new GitReadError(`git ${args.join(' ')} failed (exit ${res.code}) in ${repoDir}: ${detail}`, args, res.code);
  }
  return res;
}

/** Runs git and returns its trimmed standard output. */
export async function git(repoDir: string, args: readonly string[], opts: GitCallOptions = {}): Promise<string> {
  return (await checked(repoDir, args, opts)).stdout.toString('utf8').trim();
}

/** Runs git and returns its exit code and output, failing only when git cannot run. */
export async function gitTry(repoDir: string, args: readonly string[], opts: GitCallOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const res = await runRaw(repoDir, args, opts);
  return { code: res.code, stdout: res.stdout.toString('utf8').trim(), stderr: res.stderr.trim() };
}

/** Refuses refs that git could read as options or that are not plain revision names. */
export function assertRef(ref: string): void {
  if (typeof ref !== 'string' || ref.length === 0 || ref.startsWith('-') || /[\s\0:]/.test(ref) || ref.includes('..'))
    throw new Error(`invalid git ref ${JSON.stringify(ref)}`);
}

/** The full sha of the commit `ref` names; throws a clear error when there is none. */
export async function resolveCommit(repoDir: string, ref: string): Promise<string> {
  assertRef(ref);
  const res = await gitTry(repoDir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  if (res.code !== 0 || !/^[0-9a-f]{40,64}$/.test(res.stdout)) throw new Error(`git ref "${ref}" does not name a commit in ${repoDir}`);
  return res.stdout;
}

/** Refuses repository paths that are absolute or climb out with `..` (checked before git sees them). */
export function assertRepoPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0) throw new Error('empty repository path');
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) throw new Error(`path "${path}" is absolute; expected a path relative to the repository root`);
  if (path.split(/[\\/]/).includes('..')) throw new Error(`path "${path}" contains ".."; it would escape the repository`);
  if (path.includes('\0')) throw new Error(`path ${JSON.stringify(path)} contains a NUL byte`);
}

/** The bytes of `path` in commit `commit` (a sha or ref), or null when that commit has no such file. */
export async function readBlobAt(repoDir: string, commit: string, path: string): Promise<Buffer | null> {
  assertRef(commit);
  assertRepoPath(path);
  const spec = `${commit}:${path}`;
  const type = await gitTry(repoDir, ['cat-file', '-t', spec]);
  if (type.code !== 0 || type.stdout !== 'blob') return null;
  return (await checked(repoDir, ['cat-file', 'blob', spec])).stdout;
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  /** committer date, ISO 8601 */
  date: string;
  subject: string;
  body: string;
}

const FIELD = '\x1f';
const RECORD = '\x1e';

/**
 * Commits that changed `path`, newest first. `firstParent` follows only the first-parent line of
 * `ref` (the base branch's own history: merges of pull requests and direct commits).
 */
export async function commitsTouching(repoDir: string, ref: string, path: string, options: { firstParent?: boolean } = {}): Promise<CommitInfo[]> {
  assertRef(ref);
  assertRepoPath(path);
  const args = ['log', ...(options.firstParent ? ['--first-parent'] : []), `--format=%H${FIELD}%P${FIELD}%cI${FIELD}%s${FIELD}%b${RECORD}`, ref, '--', path];
  const out = (await checked(repoDir, args)).stdout.toString('utf8');
  const commits: CommitInfo[] = [];
  for (const record of out.split(RECORD)) {
    const text = record.replace(/^\n+/, '');
    if (!text.trim()) continue;
    const [sha, parents, date, subject, body] = text.split(FIELD);
    commits.push({ sha, parents: parents ? parents.split(' ').filter(Boolean) : [], date, subject: subject ?? '', body: (body ?? '').trim() });
  }
  return commits;
}
