import { gitHubCall, type GitHubTarget } from '../github/client.ts';
import {
  createOrUpdatePullRequest as upsertPullRequest,
  openPullRequestsFrom,
  type OpenPullRequest,
  type PullRequestResult as PlainPullRequestResult,
} from '../github/pulls.ts';
import { candidateOf, hasKeptMarker, keptMarker, parsePromotionMarker, withPromotionMarker, type Candidate } from './marker.ts';

/**
 * Exactly one open pull request per model. Found by its head branch (`mlops/promote/<model>`) and
 * the hidden promotion marker in its body; created, updated or left alone by the one pull-request
 * routine of lib/github. A challenger that is not better than the candidate of the open pull
 * request leaves it as it is, with a comment.
 */

export type PullRequestOutcome = PlainPullRequestResult['outcome'] | 'kept-better-candidate';

export interface PromotionPullRequestSpec {
  model: string;
  /** the head branch, `mlops/promote/<model>` */
  head: string;
  base: string;
  /** owner of the head branch's repository (default: the target's owner) */
  headOwner?: string;
  title: string;
  /** the rendered body; the promotion marker for `candidate` is put on its first line */
  body: string;
  candidate: Candidate;
  /** configured labels; `model-promotion` and `model:<name>` are always added */
  labels?: string[];
  /** users asked to review when the pull request is created */
  reviewers?: string[];
  /** team slugs asked to review when the pull request is created */
  teamReviewers?: string[];
}

export interface OpenPromotion extends OpenPullRequest {
  candidate: Candidate | null;
}

export interface PullRequestResult {
  outcome: PullRequestOutcome;
  number: number;
  /** the GraphQL node id (auto-merge) */
  nodeId: string;
  url: string;
  /** the candidate of the open pull request that was kept (kept-better-candidate only) */
  kept?: Candidate;
  /** what went wrong without stopping the promotion (e.g. a reviewer GitHub would not request) */
  warnings: string[];
}

/** true when `challenger` should replace `open`; the default compares the primary metric. */
export type IsBetter = (challenger: Candidate, open: Candidate) => boolean;

export const isBetterByMetric: IsBetter = (challenger, open) => {
  if (challenger.metric !== open.metric) return true;
  const lower = open.lowerIsBetter ?? true;
  return lower ? challenger.value < open.value : challenger.value > open.value;
};

export function promotionLabels(model: string, configured: string[] = []): string[] {
  return [...new Set(['model-promotion', `model:${model}`, ...configured])];
}

/** The open promotion pull request of `spec.model`, or null. One GET. */
export async function findPromotionPullRequest(
  t: GitHubTarget,
  spec: Pick<PromotionPullRequestSpec, 'model' | 'head' | 'headOwner'>,
): Promise<OpenPromotion | null> {
  const open = await openPullRequestsFrom(t, spec.head, spec.headOwner);
  // Ours first (marker of this model), oldest first; a pull request from the branch without the marker is adopted.
  const rank = (body: string) => (parsePromotionMarker(body)?.model === spec.model ? 0 : 1);
  const pr = [...open].sort((a, b) => rank(a.body) - rank(b.body) || a.number - b.number)[0];
  return pr ? { ...pr, candidate: candidateOf(parsePromotionMarker(pr.body)) } : null;
}

/**
 * When an open pull request holds a candidate at least as good as the challenger: leave it, say
 * so in a comment (once per challenger run) and return `kept-better-candidate`. Otherwise null.
 * Call it before pushing the branch, so that the branch keeps the better candidate too.
 */
export async function keepBetterCandidate(
  t: GitHubTarget,
  spec: PromotionPullRequestSpec,
  open: OpenPromotion | null,
  isBetter: IsBetter = isBetterByMetric,
): Promise<PullRequestResult | null> {
  if (!open || !open.candidate) return null;
  if (open.candidate.run === spec.candidate.run) return null; // the same run again: an update, not a rival
  if (isBetter(spec.candidate, open.candidate)) return null;
  const { owner, repo } = t.repo;
  const comments = await gitHubCall(t, 'list comments', () =>
    t.client.paginate(t.client.rest.issues.listComments, { owner, repo, issue_number: open.number, per_page: 100 }),
  );
  if (!comments.some((c) => hasKeptMarker(c.body, spec.model, spec.candidate.run))) {
    await gitHubCall(t, 'comment', () =>
      t.client.rest.issues.createComment({ owner, repo, issue_number: open.number, body: keptComment(spec, open.candidate!) }),
    );
  }
  return { outcome: 'kept-better-candidate', number: open.number, nodeId: open.nodeId, url: open.url, kept: open.candidate, warnings: [] };
}

/** Create the pull request, or bring its title, body and labels up to date. `open` comes from findPromotionPullRequest. */
export async function createOrUpdatePromotionPullRequest(
  t: GitHubTarget,
  spec: PromotionPullRequestSpec,
  open: OpenPromotion | null,
): Promise<PullRequestResult> {
  return upsertPullRequest(
    t,
    {
      head: spec.head,
      base: spec.base,
      headOwner: spec.headOwner,
      title: spec.title,
      body: withPromotionMarker(spec.body, spec.model, spec.candidate),
      labels: promotionLabels(spec.model, spec.labels),
      reviewers: spec.reviewers,
      teamReviewers: spec.teamReviewers,
    },
    open,
  );
}

/** find -> keep a better open candidate -> create or update: for callers whose branch is already pushed. */
export async function ensurePromotionPullRequest(
  t: GitHubTarget,
  spec: PromotionPullRequestSpec,
  isBetter: IsBetter = isBetterByMetric,
): Promise<PullRequestResult> {
  const open = await findPromotionPullRequest(t, spec);
  return (await keepBetterCandidate(t, spec, open, isBetter)) ?? (await createOrUpdatePromotionPullRequest(t, spec, open));
}

function keptComment(spec: PromotionPullRequestSpec, open: Candidate): string {
  const c = spec.candidate;
  return [
    keptMarker(spec.model, c.run),
    `A newer challenger for **${spec.model}** (run \`${c.run}\`, ${c.metric} ${c.value}) is not better than this pull request's candidate ` +
      `v${open.version} (run \`${open.run}\`, ${open.metric} ${open.value}), so this pull request is left as it is.`,
  ].join('\n');
}
