import { rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Git, type GitIdentity } from './git.ts';

/**
 * The promotion branch algorithm (after peter-evans/create-pull-request's create-or-update-branch),
 * top to bottom in one function with a named outcome:
 *
 *   fetch <base> -> build ONE commit on top of origin/<base> that writes the files -> compare its
 *   tree with the remote branch's tree -> identical: `unchanged`, push nothing; otherwise push with
 *   --force-with-lease=<branch>:<the remote sha seen, or empty>: `created` or `updated`.
 *
 * The branch is regenerated from the base on every run, so it never goes stale or conflicts with
 * the base, and there is no state between runs: a run interrupted after its push and run again
 * builds the same tree and ends `unchanged`. The commit is built with git's plumbing in a private
 * index, so the work clone's working tree, index and checked-out branch are never touched.
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

export function promotionBranchName(model: string): string {
  return `mlops/promote/${model}`;
}

export interface PromotionBranchSpec {
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

export interface PromotionBranchResult {
  outcome: BranchOutcome;
  branch: string;
  base: string;
  /** the base commit the branch was built on */
  baseSha: string;
  /** the branch's commit after this run (the remote's when `unchanged`) */
  commit: string;
  tree: string;
  /** the branch's commit before this run (remote, or local when push is false), null when there was none */
  previousSha: string | null;
  pushed: boolean;
}

export async function createOrUpdatePromotionBranch(spec: PromotionBranchSpec): Promise<PromotionBranchResult> {
  const { git, base, branch, message } = spec;
  const remote = spec.remote ?? 'origin';
  const push = spec.push ?? true;
  const author = spec.author ?? DEFAULT_BOT;
  const committer = spec.committer ?? author;
  for (const f of spec.files) assertRepoPath(f.path);

  // 1. The base as the remote has it now.
  await git.run(['fetch', '--no-tags', '--quiet', remote, `+refs/heads/${base}:refs/remotes/${remote}/${base}`]);
  const baseSha = await mustRevParse(git, `refs/remotes/${remote}/${base}`);

  // 2. Where the branch is now: on the remote (push mode) or in this clone (local mode).
  let previousSha: string | null;
  if (push) {
    previousSha = await git.remoteBranchSha(remote, branch);
    if (previousSha) await git.run(['fetch', '--no-tags', '--quiet', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`]);
  } else {
    previousSha = await git.revParse(`refs/heads/${branch}`);
  }

  // 3. One commit on top of the base that writes the files.
  const tree = await writeTree(git, baseSha, spec.files);
  const baseTree = await git.run(['rev-parse', `${baseSha}^{tree}`]);
  if (tree === baseTree) throw new Error(`nothing to promote on ${branch}: the files are already on ${base} as they are`);

  // 4. Same content as the branch already has: nothing to do, push nothing.
  if (previousSha && (await git.run(['rev-parse', `${previousSha}^{tree}`])) === tree) {
    await setLocalBranch(git, branch, previousSha);
    return { outcome: 'unchanged', branch, base, baseSha, commit: previousSha, tree, previousSha, pushed: false };
  }

  const commit = await git.run(['commit-tree', tree, '-p', baseSha, '-F', '-'], {
    input: message.endsWith('\n') ? message : `${message}\n`,
    env: Git.identityEnv(author, committer),
  });
  await setLocalBranch(git, branch, commit);

  // 5. Push only when different, and only over the commit we saw (or onto no branch at all).
  if (push) {
    await git.run(['push', '--quiet', `--force-with-lease=refs/heads/${branch}:${previousSha ?? ''}`, remote, `${commit}:refs/heads/${branch}`]);
    await git.run(['update-ref', `refs/remotes/${remote}/${branch}`, commit]);
  }
  return { outcome: previousSha ? 'updated' : 'created', branch, base, baseSha, commit, tree, previousSha, pushed: push };
}

/** The tree of `baseSha` with `files` written over it, built in a private index file. */
async function writeTree(git: Git, baseSha: string, files: BranchFile[]): Promise<string> {
  let indexFile = await git.run(['rev-parse', '--git-path', `mlops-promotion-${process.pid}-${Date.now()}.index`]);
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

async function setLocalBranch(git: Git, branch: string, sha: string): Promise<void> {
  const head = await git.exec(['symbolic-ref', '--quiet', 'HEAD']);
  if (head.code === 0 && head.stdout.trim() === `refs/heads/${branch}`)
    throw new Error(`${branch} is checked out in ${git.dir}; promotion regenerates that branch, so check out another one first`);
  await git.run(['update-ref', `refs/heads/${branch}`, sha]);
}

async function mustRevParse(git: Git, ref: string): Promise<string> {
  const sha = await git.revParse(ref);
  if (!sha) throw new Error(`${ref} does not exist in ${git.dir}`);
  return sha;
}

function assertRepoPath(path: string): void {
  const parts = path.split('/');
  if (!path || path.startsWith('/') || path.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..' || p === '.git'))
    throw new Error(`refusing to write ${JSON.stringify(path)}: expected a relative path inside the repository`);
}
