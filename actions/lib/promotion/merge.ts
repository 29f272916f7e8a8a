import { DEFAULT_BOT } from '../git/branch.ts';
import { Git, type GitIdentity } from '../git/git.ts';

/**
 * Approve and roll back as git does them, for tests and the demo (on GitHub a person merges the
 * pull request): merge the promotion branch into the base with a merge commit, and revert it.
 * Both run in a work clone (they check out the base there) and push to its remote.
 */

export type MergeResult =
  | { outcome: 'merged'; merge: string; base: string; branch: string }
  | { outcome: 'conflict'; base: string; branch: string; files: string[] };

export interface MergeSpec {
  git: Git;
  remote?: string;
  base: string;
  branch: string;
  /** makes the subject GitHub's: `Merge pull request #<n> from <owner>/<branch>` */
  pullNumber?: number;
  owner?: string;
  /** the pull request's title, the merge commit's body as GitHub writes it */
  title?: string;
  author?: GitIdentity;
  /**
   * Merge the clone's own `refs/heads/<branch>` (what local mode made in its scratch clone) instead
   * of the remote's. The merge is still pushed to the remote's base: for demos and tests only.
   */
  localBranch?: boolean;
  /** when the merge is made (the demo's clock: a promotion's time is its merge); default now */
  at?: Date;
}

/** git's author and committer, and their dates when `at` is given. */
function commitEnv(author: GitIdentity, at?: Date): Record<string, string> {
  const when = at ? at.toISOString() : null;
  return { ...Git.identityEnv(author), ...(when ? { GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when } : {}) };
}

/** `git merge --no-ff` of the remote branch into the remote base, pushed. A conflict is an outcome; nothing is pushed then. */
export async function mergePromotionBranch(spec: MergeSpec): Promise<MergeResult> {
  const { git, base, branch } = spec;
  const remote = spec.remote ?? 'origin';
  const author = spec.author ?? DEFAULT_BOT;
  await git.fetchBranches(remote, spec.localBranch ? [base] : [base, branch]);
  await git.run(['checkout', '--quiet', '--force', '-B', base, `refs/remotes/${remote}/${base}`]);
  const source = spec.localBranch ? `refs/heads/${branch}` : `refs/remotes/${remote}/${branch}`;
  const subject = spec.pullNumber ? `Merge pull request #${spec.pullNumber} from ${spec.owner ?? remote}/${branch}` : `Merge branch '${branch}'`;
  const message = spec.title ? ['-m', subject, '-m', spec.title] : ['-m', subject];
  const res = await git.exec(['merge', '--no-ff', '--no-edit', ...message, source], { env: commitEnv(author, spec.at) });
  if (res.code !== 0) {
    const files = (await git.run(['diff', '--name-only', '--diff-filter=U'])).split('\n').filter(Boolean);
    await git.exec(['merge', '--abort']);
    if (files.length === 0) throw new Error(`git merge of ${branch} into ${base} failed: ${git.redact(res.stderr.trim() || res.stdout.trim())}`);
    return { outcome: 'conflict', base, branch, files };
  }
  const merge = await git.run(['rev-parse', 'HEAD']);
  await git.run(['push', '--quiet', remote, `${merge}:refs/heads/${base}`]);
  return { outcome: 'merged', merge, base, branch };
}

export interface RevertSpec {
  git: Git;
  remote?: string;
  base: string;
  /** the merge commit to undo */
  merge: string;
  author?: GitIdentity;
  /** when the revert is made; default now */
  at?: Date;
}

/** `git revert -m 1 <merge>` on the remote base, pushed: the rollback. Returns the revert commit. */
export async function revertMerge(spec: RevertSpec): Promise<{ revert: string; base: string }> {
  const { git, base } = spec;
  const remote = spec.remote ?? 'origin';
  await git.fetchBranches(remote, [base]);
  await git.run(['checkout', '--quiet', '--force', '-B', base, `refs/remotes/${remote}/${base}`]);
  await git.run(['revert', '-m', '1', '--no-edit', spec.merge], { env: commitEnv(spec.author ?? DEFAULT_BOT, spec.at) });
  const revert = await git.run(['rev-parse', 'HEAD']);
  await git.run(['push', '--quiet', remote, `${revert}:refs/heads/${base}`]);
  return { revert, base };
}
