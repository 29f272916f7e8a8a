import { Git } from './git.ts';

/**
 * Reading a repository from git objects, never from the working tree: files and history at a
 * commit. What deploy verifies, what the registry history reads and what a promotion builds on.
 */

/** A repository directory or a Git already set up for it. */
export type Repo = Git | string;

export function gitOf(repo: Repo): Git {
  return typeof repo === 'string' ? new Git(repo) : repo;
}

/** Refuses refs that git could read as options or that are not plain revision names. */
export function assertRef(ref: string): void {
  if (typeof ref !== 'string' || ref.length === 0 || ref.startsWith('-') || /[\s\0:]/.test(ref) || ref.includes('..'))
    throw new Error(`invalid git ref ${JSON.stringify(ref)}`);
}

/** Refuses repository paths that are absolute, climb out with `..` or reach into `.git` (checked before git sees them). */
export function assertRepoPath(path: string): void {
  if (typeof path !== 'string' || path.length === 0) throw new Error('empty repository path');
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path))
    throw new Error(`path "${path}" is absolute; expected a path relative to the repository root`);
  if (path.includes('\\')) throw new Error(`path "${path}" contains a backslash; expected a /-separated path`);
  if (path.includes('\0')) throw new Error(`path ${JSON.stringify(path)} contains a NUL byte`);
  const parts = path.split('/');
  if (parts.includes('..')) throw new Error(`path "${path}" contains ".."; it would escape the repository`);
  if (parts.some((p) => p === '' || p === '.' || p === '.git')) throw new Error(`path "${path}" is not a plain relative path (empty, "." or ".git" segment)`);
}

/** assertRepoPath as a test: the one path guard for every file the registry names or writes. */
export function isRepoPath(path: string): boolean {
  try {
    assertRepoPath(path);
    return true;
  } catch {
    return false;
  }
}

/** The full sha of the commit `ref` names; throws a clear error when there is none. */
export async function resolveCommit(repo: Repo, ref: string): Promise<string> {
  assertRef(ref);
  const git = gitOf(repo);
  const sha = await git.revParse(ref);
  if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) throw new Error(`git ref "${ref}" does not name a commit in ${git.dir}`);
  return sha;
}

/** The commit checked out in `dir` (HEAD), or null when `dir` is not a git checkout. */
export async function headCommit(dir: string): Promise<string | null> {
  try {
    return await new Git(dir).revParse('HEAD');
  } catch {
    return null; // git itself is missing
  }
}

/** The bytes of `path` in commit `commit` (a sha or ref), or null when that commit has no such file. */
export async function readBlobAt(repo: Repo, commit: string, path: string): Promise<Buffer | null> {
  return (await readBlobsAt(repo, [commit], path))[0];
}

/**
 * The bytes of `path` in each of `commits`, in order, null where a commit has no such file: one
 * `git cat-file --batch` process for all of them, so walking a long history costs one spawn, not
 * two per commit.
 */
export async function readBlobsAt(repo: Repo, commits: readonly string[], path: string): Promise<(Buffer | null)[]> {
  assertRepoPath(path);
  if (/[\n\r]/.test(path)) throw new Error(`path ${JSON.stringify(path)} contains a line break`);
  for (const c of commits) assertRef(c);
  if (commits.length === 0) return [];
  const out = await gitOf(repo).bytes(['cat-file', '--batch'], commits.map((c) => `${c}:${path}\n`).join(''));
  // each answer: `<oid> <type> <size>\n<size bytes>\n`, or `<spec> missing\n` (also `ambiguous`)
  const blobs: (Buffer | null)[] = [];
  let at = 0;
  for (const commit of commits) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) throw new Error(`git cat-file --batch ended early reading ${commit}:${path}`);
    const header = out.subarray(at, eol).toString('utf8').split(' ');
    at = eol + 1;
    const size = header.length === 3 ? Number(header[2]) : Number.NaN;
    if (!Number.isInteger(size)) {
      blobs.push(null); // missing or ambiguous: no such file at that commit
      continue;
    }
    blobs.push(header[1] === 'blob' ? Buffer.from(out.subarray(at, at + size)) : null);
    at += size + 1;
  }
  return blobs;
}

/** Whether `ancestor` is reachable from `descendant` (false when either is unknown to this clone). */
export async function isAncestor(repo: Repo, ancestor: string, descendant: string): Promise<boolean> {
  return (await gitOf(repo).exec(['merge-base', '--is-ancestor', ancestor, descendant])).code === 0;
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  /** committer date, ISO 8601 */
  date: string;
  author: { name: string; email: string };
  committer: { name: string; email: string };
  subject: string;
  body: string;
}

const FIELD = '\x1f';
const RECORD = '\x1e';
const FORMAT = ['%H', '%P', '%cI', '%an', '%ae', '%cn', '%ce', '%s', '%b'].join(FIELD) + RECORD;

function parseLog(out: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const record of out.split(RECORD)) {
    const text = record.replace(/^\n+/, '');
    if (!text.trim()) continue;
    const [sha, parents, date, an, ae, cn, ce, subject, body] = text.split(FIELD);
    commits.push({
      sha,
      parents: parents ? parents.split(' ').filter(Boolean) : [],
      date,
      author: { name: an ?? '', email: ae ?? '' },
      committer: { name: cn ?? '', email: ce ?? '' },
      subject: subject ?? '',
      body: (body ?? '').trim(),
    });
  }
  return commits;
}

/**
 * Commits that changed `path`, newest first. `firstParent` follows only the first-parent line of
 * `ref` (the base branch's own history: merges of pull requests and direct commits).
 */
export async function commitsTouching(repo: Repo, ref: string, path: string, options: { firstParent?: boolean } = {}): Promise<CommitInfo[]> {
  assertRef(ref);
  assertRepoPath(path);
  const args = ['log', ...(options.firstParent ? ['--first-parent'] : []), `--format=${FORMAT}`, ref, '--', path];
  return parseLog(await gitOf(repo).run(args, { raw: true }));
}

/** One commit's details. */
export async function commitInfo(repo: Repo, ref: string): Promise<CommitInfo> {
  assertRef(ref);
  const [info] = parseLog(await gitOf(repo).run(['log', '-1', `--format=${FORMAT}`, ref, '--'], { raw: true }));
  if (!info) throw new Error(`git ref "${ref}" does not name a commit`);
  return info;
}

/** The paths under `prefix` (a directory, `/`-terminated or not) that differ between two commits. */
export async function changedPaths(repo: Repo, from: string, to: string, prefix: string): Promise<string[]> {
  assertRef(from);
  assertRef(to);
  const out = await gitOf(repo).run(['diff', '--name-only', '--no-renames', from, to, '--', prefix.replace(/\/?$/, '/')]);
  return out.split('\n').filter(Boolean);
}

/**
 * The tip of `branch` as this clone knows it: the remote-tracking ref `origin/<branch>` when there
 * is one (a CI checkout), else the local branch; null when the clone has neither.
 */
export async function branchTip(repo: Repo, branch: string, remote = 'origin'): Promise<{ ref: string; sha: string } | null> {
  assertRef(branch);
  const git = gitOf(repo);
  for (const ref of [`refs/remotes/${remote}/${branch}`, `refs/heads/${branch}`]) {
    const sha = await git.revParse(ref);
    if (sha) return { ref, sha };
  }
  return null;
}
