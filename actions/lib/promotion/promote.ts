import { emptyRegistry, parseRegistry, REGISTRY_FILE, type Registry } from '../registry/schema.ts';
import { planRegistryEdit, type Promotion, type RegistryEditPlan } from '../registry/edit.ts';
import { createOrUpdateBranch, type BranchResult } from '../git/branch.ts';
import { Git, type GitIdentity } from '../git/git.ts';
import { readBlobAt } from '../git/read.ts';
import type { GitHubTarget } from '../github/client.ts';
import { enableAutoMerge } from '../github/automerge.ts';
import { highestVersionEver } from '../registry/history.ts';
import { prepareScratchClone, writeLocalPullRequest } from './local.ts';
import { promotionCommitMessage, type Candidate } from './marker.ts';
import {
  createOrUpdatePromotionPullRequest,
  findPromotionPullRequest,
  isBetterByMetric,
  keepBetterCandidate,
  type IsBetter,
  type PromotionPullRequestSpec,
  type PullRequestResult,
} from './pr.ts';

/**
 * The promotion stage as one story: read the registry on the base -> plan the edit -> (GitHub) keep
 * a better open candidate -> branch -> pull request. With a token it pushes and opens or updates
 * the pull request; without one it does the same git work in a scratch clone and writes the
 * pull request's text to a file.
 */

export interface PromotionText {
  title: string;
  body: string;
}

export interface PromoteSpec {
  base: string;
  promotion: Omit<Promotion, 'highestVersionEver'>;
  /** the challenger as the open pull request's marker will carry it (version is filled in from the plan) */
  candidate: Omit<Candidate, 'version'>;
  /** title and body once the version is known */
  render: (plan: RegistryEditPlan) => PromotionText;
  author?: GitIdentity;
  committer?: GitIdentity;
  labels?: string[];
  reviewers?: string[];
  teamReviewers?: string[];
  isBetter?: IsBetter;
  /** turn on GitHub's auto-merge once the pull request is open (autoMergeDecision) */
  autoMerge?: AutoMergeDecision;
}

export interface AutoMergeDecision {
  enable: boolean;
  /** why, in words, for the pull request's body and the job summary */
  why: string;
}

/**
 * Whether a promotion may merge itself (promotion.auto_merge_min_improvement_pct): only a challenger
 * that beats a champion by at least the threshold, never a first model (nothing to compare with)
 * nor a forced promotion (it failed the improvement gate). Branch protection still applies.
 */
export function autoMergeDecision(thresholdPct: number | null, improvementPct: number | null, forced: boolean): AutoMergeDecision {
  if (thresholdPct === null) return { enable: false, why: 'auto-merge is off for this pipeline (promotion.auto_merge_min_improvement_pct: null)' };
  if (forced) return { enable: false, why: 'a forced promotion is never merged automatically' };
  if (improvementPct === null || !Number.isFinite(improvementPct))
    return { enable: false, why: 'a first model (no champion to improve on) is never merged automatically' };
  const at = `improvement ${improvementPct.toFixed(1)}%`;
  return improvementPct >= thresholdPct
    ? { enable: true, why: `${at} >= ${thresholdPct}% (promotion.auto_merge_min_improvement_pct): GitHub merges it once the required checks and reviews pass` }
    : { enable: false, why: `${at} < ${thresholdPct}% (promotion.auto_merge_min_improvement_pct): a person merges it` };
}

export function promotionBranchName(model: string): string {
  return `mlops/promote/${model}`;
}

export interface GitHubPromotionTarget {
  kind: 'github';
  github: GitHubTarget;
  /** a clone of the repository whose `origin` is GitHub (the action's checkout) */
  workDir: string;
  /**
   * For git's fetches and pushes over HTTPS (sent as http.extraheader, redacted from errors). Leave
   * it out after actions/checkout with persist-credentials (its default): the checkout already
   * holds a URL-scoped header, and git would send two Authorization headers.
   */
  gitToken?: string;
}

export interface LocalTarget {
  kind: 'local';
  /** the repository to clone from (path or URL); it is never modified */
  repository: string;
  /** where `.mlops/promotion/` goes (default: the current directory) */
  root?: string;
}

export type PromoteResult =
  | {
      mode: 'github';
      outcome: PullRequestResult['outcome'];
      version: number;
      branch: BranchResult | null;
      pullRequest: PullRequestResult;
      /** enabled: GitHub will merge it; off: not eligible (or kept); failed: eligible, GitHub refused (a warning) */
      autoMerge: 'enabled' | 'off' | 'failed';
    }
  | {
      mode: 'local';
      outcome: BranchResult['outcome'];
      version: number;
      branch: BranchResult;
      clone: string;
      bodyFile: string;
    };

export type PromotionTarget = GitHubPromotionTarget | LocalTarget;

export async function promote(target: PromotionTarget, spec: PromoteSpec): Promise<PromoteResult> {
  const git =
    target.kind === 'github'
      ? new Git(target.workDir, { token: target.gitToken, secrets: [target.github.token] })
      : await prepareScratchClone(target.repository, target.root);
  const model = spec.promotion.model;
  const branchName = promotionBranchName(model);

  // 1. The registry as the base has it, and the edit of this promotion.
  await git.fetchBranches('origin', [spec.base]);
  const baseRef = `refs/remotes/origin/${spec.base}`;
  const current = await registryAt(git, baseRef);
  const highest = await highestVersionEver(git, baseRef, model);
  // The entry names its pull request once there is one (null in local mode and before the first push).
  const planFor = (pullRequest: { number: number; url: string } | null): RegistryEditPlan =>
    planRegistryEdit(current, { ...spec.promotion, entry: { ...spec.promotion.entry, pull_request: pullRequest }, highestVersionEver: highest });
  const plan = planFor(spec.promotion.entry.pull_request);
  const text = spec.render(plan);
  const candidate: Candidate = { ...spec.candidate, version: plan.version, sha256: plan.artifact.sha256 };
  const branchSpecOf = (p: RegistryEditPlan) => ({
    git,
    base: spec.base,
    branch: branchName,
    files: p.files,
    // the trailers let the deploy check from git alone that the merged branch is this commit
    message: promotionCommitMessage(model, p.version, { run: spec.candidate.run, sha256: p.artifact.sha256 }),
    author: spec.author,
    committer: spec.committer,
  });
  const branchSpec = branchSpecOf(plan);

  if (target.kind === 'local') {
    const branch = await createOrUpdateBranch({ ...branchSpec, push: false });
    const root = target.root ?? process.cwd();
    const bodyFile = writeLocalPullRequest(root, model, text.title, text.body);
    return { mode: 'local', outcome: branch.outcome, version: plan.version, branch, clone: git.dir, bodyFile };
  }

  // 2. A better candidate already open: leave branch and pull request as they are.
  const prSpec: PromotionPullRequestSpec = {
    model,
    head: branchName,
    base: spec.base,
    title: text.title,
    body: text.body,
    candidate,
    labels: spec.labels,
    reviewers: spec.reviewers,
    teamReviewers: spec.teamReviewers,
  };
  const open = await findPromotionPullRequest(target.github, prSpec);
  const kept = await keepBetterCandidate(target.github, prSpec, open, spec.isBetter ?? isBetterByMetric);
  if (kept) return { mode: 'github', outcome: kept.outcome, version: plan.version, branch: null, pullRequest: kept, autoMerge: 'off' };

  // 3. The branch, then the pull request. The entry names the pull request: known before the push
  // when one is open; a new one is known only once created, and the branch is written again with it.
  const known = open ? { number: open.number, url: open.url } : null;
  let branch = await createOrUpdateBranch(branchSpecOf(known ? planFor(known) : plan));
  const pullRequest = await createOrUpdatePromotionPullRequest(target.github, prSpec, open);
  if (!known) {
    const named = await createOrUpdateBranch(branchSpecOf(planFor({ number: pullRequest.number, url: pullRequest.url })));
    // one outcome for the run: what the branch was before it (created stays created)
    branch = { ...named, outcome: branch.outcome === 'unchanged' ? named.outcome : branch.outcome, previousSha: branch.previousSha };
  }
  // 4. Auto-merge of exactly the commit just pushed; a refusal (the repository does not allow it) is a warning.
  let autoMerge: 'enabled' | 'off' | 'failed' = 'off';
  if (spec.autoMerge?.enable) {
    try {
      await enableAutoMerge(target.github, { nodeId: pullRequest.nodeId, expectedHeadOid: branch.commit });
      autoMerge = 'enabled';
    } catch (e) {
      autoMerge = 'failed';
      pullRequest.warnings.push(`auto-merge was not enabled (${spec.autoMerge.why}): ${(e as Error).message}`);
    }
  }
  return { mode: 'github', outcome: pullRequest.outcome, version: plan.version, branch, pullRequest, autoMerge };
}

async function registryAt(git: Git, ref: string): Promise<Registry> {
  const bytes = await readBlobAt(git, ref, REGISTRY_FILE);
  return bytes ? parseRegistry(bytes.toString('utf8'), `${REGISTRY_FILE} at ${ref}`) : emptyRegistry();
}
