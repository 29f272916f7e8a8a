import { rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Git, type GitIdentity } from './git.ts';
import { assertRepoPath } from './read.ts';

/**
 * The one branch algorithm (after peter-evans/create-pull-request's create-or-update-branch), top
 * to bottom in one function with a named outcome. Promotions and rollbacks both use it:
 *
 *   fetch <base> -> build ONE commit on top of <remote>/<base> that writes the files -> compare its
 *   tree with the branch's tree -> identical: `unchanged`, push nothing; otherwise push with
 *   --force-with-lease=<branch>:<the sha seen, or empty>: `created` or `updated`.
 *
 * The branch is regenerated from the base on every run, so it never goes stale or conflicts with
 * the base, and there is no state between runs: a run interrupted after its push and run again
 * builds the same tree and ends `unchanged`. The commit is built with git's plumbing in a private
 * index, so no working tree, index or checked-out branch is touched. A branch that is checked out
 * in any worktree of the clone is refused before anything is pushed (its checkout would silently
 * go stale). When the branch IS the base (a commit straight onto main), the push is a
 * fast-forward leased on the base commit it was built on, and the local base branch is left alone.
 */

export type BranchOutcome = 'created' | 'updated' | 'unchanged';

export interface BranchFile {
  /** relative to the repository root, `/`-separated */
  path: string;
  /** the new content; null deletes the file */
  bytes: Uint8Array | null;
}

export const DEFAULT_BOT: GitIdentity = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com',
};

export interface BranchSpec {
  /** git in the work clone (its remote `remote` is the repository the branch goes to) */
  git: Git;
  remote?: string;
  base: string;
  branch: string;
  files: BranchFile[];
  message: string;
  author?: GitIdentity;
  committer?: GitIdentity;
  /** false: build and compare against the clone's own local branch, push nothing (no-token mode) */
  push?: boolean;
}

export interface BranchResult {
  outcome: BranchOutcome;
  branch: string;
  base: string;
  /** the base commit the branch was built on */
  baseSha: string;
  /** the branch's commit after this run (the existing one when `unchanged`) */
  commit: string;
  tree: string;
  /** the branch's commit before this run (remote, or local when push is false), null when there was none */
  previousSha: string | null;
  pushed: boolean;
}

export async function createOrUpdateBranch(spec: BranchSpec): Promise<BranchResult> {
  const { git, base, branch, message } = spec;
  const remote = spec.remote ?? 'origin';
  const push = spec.push ?? true;
  const author = spec.author ?? DEFAULT_BOT;
  const committer = spec.committer ?? author;
  const ontoBase = branch === base;
  if (ontoBase && !push) throw new Error(`a commit straight onto ${base} must be pushed`);
  for (const f of spec.files) {
    try {
      assertRepoPath(f.path);
    } catch (e) {
      throw new Error(`refusing to write ${JSON.stringify(f.path)} on ${branch}: ${(e as Error).message}`);
    }
  }
  // Refuse early, before anything is fetched, built or pushed.
  if (!ontoBase) await assertNotCheckedOut(git, branch);

  // 1. The base as the remote has it now.
  await git.fetchBranches(remote, [base]);
  const baseSha = await git.revParse(`refs/remotes/${remote}/${base}`);
  if (!baseSha) throw new Error(`${remote} has no branch ${base} (from ${git.dir})`);

  // 2. Where the branch is now: on the remote (push mode) or in this clone (local mode).
  let previousSha: string | null;
  if (ontoBase) previousSha = baseSha;
  else if (push) {
    previousSha = await git.remoteBranchSha(remote, branch);
    if (previousSha) await git.fetchBranches(remote, [branch]);
  } else {
    previousSha = await git.revParse(`refs/heads/${branch}`);
  }

  // 3. One commit on top of the base that writes the files.
  const tree = await writeTree(git, baseSha, spec.files);
  const baseTree = await git.run(['rev-parse', `${baseSha}^{tree}`]);
  if (tree === baseTree) throw new Error(`nothing to commit on ${branch}: the files are already on ${base} as they are`);

  // 4. Same content as the branch already has: nothing to do, push nothing.
  if (!ontoBase && previousSha && (await git.run(['rev-parse', `${previousSha}^{tree}`])) === tree) {
    await git.run(['update-ref', `refs/heads/${branch}`, previousSha]);
    return { outcome: 'unchanged', branch, base, baseSha, commit: previousSha, tree, previousSha, pushed: false };
  }

  const commit = await git.run(['commit-tree', tree, '-p', baseSha, '-F', '-'], {
    input: message.endsWith('\n') ? message : `${message}\n`,
    env: Git.identityEnv(author, committer),
  });

  // 5. Push only when different, and only over the commit we saw (or onto no branch at all).
  if (push) {
    await git.run(['push', '--quiet', `--force-with-lease=refs/heads/${branch}:${previousSha ?? ''}`, remote, `${commit}:refs/heads/${branch}`]);
    await git.run(['update-ref', `refs/remotes/${remote}/${branch}`, commit]);
  }
  if (!ontoBase) await git.run(['update-ref', `refs/heads/${branch}`, commit]);
  return { outcome: previousSha ? 'updated' : 'created', branch, base, baseSha, commit, tree, previousSha, pushed: push };
}

/** The tree of `baseSha` with `files` written over it, built in a private index file. */
async function writeTree(git: Git, baseSha: string, files: BranchFile[]): Promise<string> {
  let indexFile = await git.run(['rev-parse', '--git-path', `mlops-branch-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.index`]);
  if (!isAbsolute(indexFile)) indexFile = join(git.dir, indexFile);
  const env = { GIT_INDEX_FILE: indexFile };
  try {
    await git.run(['read-tree', baseSha], { env });
    for (const f of files) {
      if (f.bytes === null) {
        await git.run(['update-index', '--force-remove', '--', f.path], { env });
        continue;
      }
      const blob = await git.run(['hash-object', '-w', '--stdin'], { input: f.bytes });
      await git.run(['update-index', '--add', '--cacheinfo', `100644,${blob},${f.path}`], { env });
    }
    return await git.run(['write-tree'], { env });
  } finally {
    rmSync(indexFile, { force: true });
  }
}

/** Throws when `branch` is checked out in any worktree of the clone: regenerating it would leave that checkout stale. */
async function assertNotCheckedOut(git: Git, branch: string): Promise<void> {
  const out = await git.run(['worktree', 'list', '--porcelain']);
  let worktree = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('worktree ')) worktree = line.slice('worktree '.length);
    if (line === `branch refs/heads/${branch}`)
      throw new Error(
        `${branch} is checked out in ${worktree}; it is regenerated from the base on every run, so check out another branch there first (git switch -)`,
      );
  }
}
