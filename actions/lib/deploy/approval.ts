import { gitHubCall } from '../github/call.ts';
import type { GitHubTarget } from '../github/client.ts';
import { commitInfo, readBlobAt, type CommitInfo, type Repo } from '../git/read.ts';
import { candidateOf, parsePromotionMarker, parsePromotionTrailers } from '../promotion/marker.ts';
import { landingReason, pullRequestOf } from '../registry/history.ts';
import { REGISTRY_FILE, type RegistryEntry } from '../registry/schema.ts';

/**
 * Who approved a deploy, and whether what was merged is what was reviewed (#11.7, #11.9).
 *
 * The facts of the commit being deployed: the pull request that landed it, who merged it, when
 * (the merge time: that is when a version was promoted, never when it was trained), and why (the
 * pull request's title). With a token they come from GitHub (the pull request of the merge commit,
 * its merged_by and merged_at, its approving reviews); without one from the merge commit.
 *
 * The reviewed-run check, for each model whose entry a promotion pull request changed:
 * - with a token: the promotion marker in the pull request's body (written by the pipeline with the
 *   run and artifact sha256 it pushed) must name the merged entry's run and sha256, and when the
 *   pull request has approvals, one must be of the head commit that was merged (an approval of an
 *   earlier head, e.g. before a force-push, does not count);
 * - without a token, from git: the merged head of `mlops/promote/<model>` (the merge commit's
 *   second parent) must be the pipeline's promotion commit, whose trailers name the merged entry's
 *   run and sha256, and the merge must not have changed that entry. A squash or rebase merge has
 *   no merged head to read: it is recorded as not checked.
 */

export interface MergeFacts {
  pullRequest: { number: number; url: string | null } | null;
  /** a GitHub login (token) or `Name <email>` of the merge commit's author */
  mergedBy: string;
  /** ISO 8601: GitHub's merged_at, else the commit's committer date */
  mergedAt: string;
  /** the pull request's title, else the commit's subject */
  reason: string;
  /** logins whose latest review approved the merged head (token only) */
  approvedBy: string[];
  /** where the facts come from */
  source: 'github' | 'git';
  /** how the reviewed run was checked, per model: `github`, `git`, or why not */
  checks: Record<string, string>;
}

/** A deploy whose merged entry is not what the promotion's review covered. */
export class ReviewMismatchError extends Error {
  readonly gitSha: string;
  readonly problems: string[];

  constructor(gitSha: string, problems: string[]) {
    super(
      `deploy of ${gitSha.slice(0, 12)} refused, nothing recorded (the last good deployment stays current): what was merged is not what was reviewed\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        `\n  Revert the merge (git revert -m 1 ${gitSha.slice(0, 12)}) and let the pipeline open the promotion again; branch protection should dismiss stale approvals.`,
    );
    this.gitSha = gitSha;
    this.problems = problems;
    this.name = 'ReviewMismatchError';
  }
}

const PROMOTION_BRANCH = /(?:^Merge pull request #\d+ from [^/\s]+\/|^Merge branch ')mlops\/promote\/([a-z0-9-]+)'?/;

/**
 * The facts of `gitSha` and the reviewed-run check of the models in `changed` (model -> merged
 * entry: those the deploy records as deployed). Throws a ReviewMismatchError when a check fails.
 */
export async function approvalOf(repo: Repo, gitSha: string, changed: Record<string, RegistryEntry>, github: GitHubTarget | null): Promise<MergeFacts> {
  const commit = await commitInfo(repo, gitSha);
  const facts = github ? await fromGitHub(github, commit, changed) : await fromGit(repo, commit, changed);
  const problems = facts.problems;
  if (problems.length > 0) throw new ReviewMismatchError(gitSha, problems);
  return facts.facts;
}

interface Checked {
  facts: MergeFacts;
  problems: string[];
}

/** `Name <email>` of whoever merged, as git recorded it: a merge made on GitHub is authored by the person who merged. */
function gitMerger(c: CommitInfo): string {
  return `${c.author.name} <${c.author.email}>`;
}

async function fromGit(repo: Repo, c: CommitInfo, changed: Record<string, RegistryEntry>): Promise<Checked> {
  const number = pullRequestOf(c.subject);
  const checks: Record<string, string> = {};
  const problems: string[] = [];
  const branchModel = PROMOTION_BRANCH.exec(c.subject)?.[1] ?? null;
  for (const [model, entry] of Object.entries(changed)) {
    if (c.parents.length < 2) {
      checks[model] = 'not checked: no merge commit (a squash or rebase merge, or a direct commit) and no token';
      continue;
    }
    if (branchModel !== model) {
      checks[model] = `not checked: not a merge of mlops/promote/${model}`;
      continue;
    }
    const head = await promotionCommitBelow(repo, c.parents[1]);
    const trailers = parsePromotionTrailers(head.body);
    const where = `${model} v${entry.version}`;
    if (!trailers) {
      problems.push(
        `${where}: the merged head ${head.sha.slice(0, 12)} ("${head.subject}") is not the pipeline's promotion commit (no MLOps-Run trailer): a commit was pushed onto mlops/promote/${model} after the pipeline's`,
      );
    } else if (trailers.run !== entry.run_id || trailers.sha256 !== entry.artifact.sha256) {
      problems.push(
        `${where}: the promotion commit ${head.sha.slice(0, 12)} promotes run ${trailers.run} (sha256 ${trailers.sha256.slice(0, 12)}), but the merged entry is run ${entry.run_id} (sha256 ${entry.artifact.sha256.slice(0, 12)})`,
      );
    } else {
      const atHead = await entryText(repo, head.sha, model);
      if (atHead !== JSON.stringify(entry))
        problems.push(`${where}: the merge changed the entry that mlops/promote/${model} carried (${head.sha.slice(0, 12)})`);
    }
    checks[model] = 'git';
  }
  return {
    facts: {
      pullRequest: number ? { number, url: null } : null,
      mergedBy: gitMerger(c),
      mergedAt: isoUtc(c.date),
      reason: landingReason(c),
      approvedBy: [],
      source: 'git',
      checks,
    },
    problems,
  };
}

/**
 * The pipeline's commit under a merged head: GitHub's "Update branch" (required when branches must
 * be up to date) puts merges of the base on top of it (`Merge branch 'main' into ...`, the branch
 * as first parent); those are stepped over, anything else is what it is.
 */
async function promotionCommitBelow(repo: Repo, head: string): Promise<CommitInfo> {
  let c = await commitInfo(repo, head);
  for (let i = 0; i < 50 && c.parents.length === 2 && /^Merge (remote-tracking )?branch '[^']+'( of \S+)? into /.test(c.subject); i++)
    c = await commitInfo(repo, c.parents[0]);
  return c;
}

async function entryText(repo: Repo, commit: string, model: string): Promise<string | null> {
  const raw = await readBlobAt(repo, commit, REGISTRY_FILE);
  if (!raw) return null;
  try {
    const e = (JSON.parse(raw.toString('utf8')) as { models?: Record<string, unknown> }).models?.[model];
    return e === undefined ? null : JSON.stringify(e);
  } catch {
    return null;
  }
}

interface PullFacts {
  number: number;
  html_url: string;
  title: string;
  body: string | null;
  merged_at: string | null;
  merged_by: { login: string } | null;
  merge_commit_sha: string | null;
  head: { sha: string; ref: string };
}

async function fromGitHub(t: GitHubTarget, c: CommitInfo, changed: Record<string, RegistryEntry>): Promise<Checked> {
  const { owner, repo } = t.repo;
  let number = pullRequestOf(c.subject);
  if (number === null) {
    // a squash or rebase merge whose subject was edited: ask GitHub which pull request landed the commit
    const assoc = await gitHubCall(t, `list the pull requests of commit ${c.sha.slice(0, 12)}`, () =>
      t.client.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: c.sha }),
    );
    number = assoc.data.find((p) => p.merged_at && p.merge_commit_sha === c.sha)?.number ?? null;
  }
  const checks: Record<string, string> = {};
  if (number === null) {
    for (const model of Object.keys(changed)) checks[model] = 'not checked: no pull request landed this commit';
    return {
      facts: { pullRequest: null, mergedBy: gitMerger(c), mergedAt: isoUtc(c.date), reason: c.subject, approvedBy: [], source: 'github', checks },
      problems: [],
    };
  }
  const pull = (await gitHubCall(t, `read pull request #${number}`, () => t.client.rest.pulls.get({ owner, repo, pull_number: number! }))).data as PullFacts;
  const reviews = await gitHubCall(t, `list the reviews of pull request #${number}`, () =>
    t.client.paginate(t.client.rest.pulls.listReviews, { owner, repo, pull_number: number!, per_page: 100 }),
  );
  // A reviewer's latest verdict counts (an approval later dismissed or changed does not).
  const latest = new Map<string, { state: string; commit_id: string | null }>();
  for (const r of reviews) {
    if (!r.user || !['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(r.state)) continue;
    latest.set(r.user.login, { state: r.state, commit_id: r.commit_id ?? null });
  }
  const approvals = [...latest].filter(([, r]) => r.state === 'APPROVED');
  const approvedBy = approvals
    .filter(([, r]) => r.commit_id === pull.head.sha)
    .map(([login]) => login)
    .sort();

  const problems: string[] = [];
  if (!pull.merged_at) problems.push(`pull request #${number} is not merged, yet its commit is on the default branch`);
  if (c.parents.length > 1 && c.subject.startsWith('Merge pull request #') && c.parents[1] !== pull.head.sha)
    problems.push(`pull request #${number}: its head is ${pull.head.sha.slice(0, 12)}, but the merge commit merged ${c.parents[1].slice(0, 12)}`);
  const marker = parsePromotionMarker(pull.body);
  for (const [model, entry] of Object.entries(changed)) {
    const where = `${model} v${entry.version}`;
    if (marker?.model !== model) {
      checks[model] = `not checked: pull request #${number} is not the promotion of ${model}`;
      continue;
    }
    checks[model] = 'github';
    const reviewed = candidateOf(marker);
    if (!reviewed || !reviewed.sha256) {
      problems.push(
        `${where}: pull request #${number}'s promotion marker does not say which run and artifact sha256 it carries, so what was reviewed cannot be told`,
      );
      continue;
    }
    if (reviewed.run !== entry.run_id || reviewed.sha256 !== entry.artifact.sha256)
      problems.push(
        `${where}: pull request #${number} was reviewed as run ${reviewed.run} (sha256 ${reviewed.sha256.slice(0, 12)}), but the merged entry is run ${entry.run_id} (sha256 ${entry.artifact.sha256.slice(0, 12)}): the branch was changed after the pipeline wrote it`,
      );
    if (approvals.length > 0 && approvedBy.length === 0) {
      const of = [...new Set(approvals.map(([, r]) => (r.commit_id ?? 'unknown').slice(0, 12)))].join(', ');
      problems.push(
        `${where}: pull request #${number} was approved at ${of}, but ${pull.head.sha.slice(0, 12)} was merged: commits were pushed after the approval (enable "Dismiss stale pull request approvals")`,
      );
    }
  }
  return {
    facts: {
      pullRequest: { number, url: pull.html_url },
      mergedBy: pull.merged_by?.login ?? gitMerger(c),
      mergedAt: isoUtc(pull.merged_at ?? c.date),
      reason: pull.title,
      approvedBy,
      source: 'github',
      checks,
    },
    problems,
  };
}

function isoUtc(date: string): string {
  return new Date(date).toISOString();
}
