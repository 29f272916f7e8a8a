import { redactSecrets, type GitHub, type RepoRef } from './github.ts';
import { candidateOf, hasKeptMarker, keptMarker, parsePromotionMarker, withPromotionMarker, type Candidate } from './marker.ts';

/**
 * Exactly one open pull request per model. Found by its head branch (`mlops/promote/<model>`) and
 * the hidden promotion marker in its body; created when there is none, its title and body updated
 * when they differ, left alone (no call beyond the lookup) when identical. A challenger that is
 * not better than the candidate of the open pull request leaves it as it is, with a comment.
 */

export type PullRequestOutcome = 'created' | 'updated' | 'unchanged' | 'kept-better-candidate';

export interface PromotionPullRequestSpec {
  repo: RepoRef;
  model: string;
  /** the head branch, `mlops/promote/<model>` */
  head: string;
  base: string;
  /** owner of the head branch's repository (default: repo.owner) */
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

export interface OpenPromotion {
  number: number;
  url: string;
  title: string;
  body: string;
  labels: string[];
  candidate: Candidate | null;
}

export interface PullRequestResult {
  outcome: PullRequestOutcome;
  number: number;
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
export async function findPromotionPullRequest(gh: GitHub, spec: Pick<PromotionPullRequestSpec, 'repo' | 'model' | 'head' | 'headOwner'>): Promise<OpenPromotion | null> {
  const { owner, repo } = spec.repo;
  const pulls = await call(gh, 'list pull requests', () =>
    gh.rest.pulls.list({ owner, repo, head: `${spec.headOwner ?? owner}:${spec.head}`, state: 'open', per_page: 100 }),
  );
  const fromBranch = pulls.data.filter((p) => p.head.ref === spec.head && p.state === 'open');
  // Ours first (marker of this model), oldest first; a pull request from the branch without the marker is adopted.
  const ranked = [...fromBranch].sort((a, b) => rank(a.body, spec.model) - rank(b.body, spec.model) || a.number - b.number);
  const pr = ranked[0];
  if (!pr) return null;
  return {
    number: pr.number,
    url: pr.html_url,
    title: pr.title,
    body: pr.body ?? '',
    labels: pr.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter(Boolean),
    candidate: candidateOf(parsePromotionMarker(pr.body)),
  };
}

/**
 * When an open pull request holds a candidate at least as good as the challenger: leave it, say
 * so in a comment (once per challenger run) and return `kept-better-candidate`. Otherwise null.
 * Call it before pushing the branch, so that the branch keeps the better candidate too.
 */
export async function keepBetterCandidate(
  gh: GitHub,
  spec: PromotionPullRequestSpec,
  open: OpenPromotion | null,
  isBetter: IsBetter = isBetterByMetric,
): Promise<PullRequestResult | null> {
  if (!open || !open.candidate) return null;
  if (open.candidate.run === spec.candidate.run) return null; // the same run again: an update, not a rival
  if (isBetter(spec.candidate, open.candidate)) return null;
  const { owner, repo } = spec.repo;
  const comments = await call(gh, 'list comments', () =>
    gh.paginate(gh.rest.issues.listComments, { owner, repo, issue_number: open.number, per_page: 100 }),
  );
  if (!comments.some((c) => hasKeptMarker(c.body, spec.model, spec.candidate.run))) {
    await call(gh, 'comment', () => gh.rest.issues.createComment({ owner, repo, issue_number: open.number, body: keptComment(spec, open.candidate!) }));
  }
  return { outcome: 'kept-better-candidate', number: open.number, url: open.url, kept: open.candidate, warnings: [] };
}

/** Create the pull request, or bring its title, body and labels up to date. `open` comes from findPromotionPullRequest. */
export async function createOrUpdatePullRequest(gh: GitHub, spec: PromotionPullRequestSpec, open: OpenPromotion | null): Promise<PullRequestResult> {
  const { owner, repo } = spec.repo;
  const body = fitBody(withPromotionMarker(spec.body, spec.model, spec.candidate));
  const labels = promotionLabels(spec.model, spec.labels);
  const warnings: string[] = [];

  if (!open) {
    const created = await call(gh, 'create pull request', () =>
      gh.rest.pulls.create({ owner, repo, head: spec.head, base: spec.base, title: spec.title, body, maintainer_can_modify: false }),
    );
    const number = created.data.number;
    await call(gh, 'add labels', () => gh.rest.issues.addLabels({ owner, repo, issue_number: number, labels }));
    const reviewers = spec.reviewers ?? [];
    const teams = spec.teamReviewers ?? [];
    if (reviewers.length > 0 || teams.length > 0) {
      try {
        await call(gh, 'request reviewers', () => gh.rest.pulls.requestReviewers({ owner, repo, pull_number: number, reviewers, team_reviewers: teams }));
      } catch (e) {
        warnings.push((e as Error).message);
      }
    }
    return { outcome: 'created', number, url: created.data.html_url, warnings };
  }

  let changed = false;
  if (open.title !== spec.title || normalize(open.body) !== normalize(body)) {
    await call(gh, 'update pull request', () => gh.rest.pulls.update({ owner, repo, pull_number: open.number, title: spec.title, body }));
    changed = true;
  }
  const missing = labels.filter((l) => !open.labels.includes(l));
  if (missing.length > 0) {
    await call(gh, 'add labels', () => gh.rest.issues.addLabels({ owner, repo, issue_number: open.number, labels: missing }));
    changed = true;
  }
  return { outcome: changed ? 'updated' : 'unchanged', number: open.number, url: open.url, warnings };
}

/** find -> keep a better open candidate -> create or update: for callers whose branch is already pushed. */
export async function ensurePromotionPullRequest(gh: GitHub, spec: PromotionPullRequestSpec, isBetter: IsBetter = isBetterByMetric): Promise<PullRequestResult> {
  const open = await findPromotionPullRequest(gh, spec);
  return (await keepBetterCandidate(gh, spec, open, isBetter)) ?? (await createOrUpdatePullRequest(gh, spec, open));
}

function keptComment(spec: PromotionPullRequestSpec, open: Candidate): string {
  const c = spec.candidate;
  return [
    keptMarker(spec.model, c.run),
    `A newer challenger for **${spec.model}** (run \`${c.run}\`, ${c.metric} ${c.value}) is not better than this pull request's candidate ` +
      `v${open.version} (run \`${open.run}\`, ${open.metric} ${open.value}), so this pull request is left as it is.`,
  ].join('\n');
}

function rank(body: string | null | undefined, model: string): number {
  return parsePromotionMarker(body)?.model === model ? 0 : 1;
}

/** GitHub refuses bodies over 65,536 characters; the marker is on the first line, so the cut keeps it. */
export const MAX_BODY = 65_536;
function fitBody(body: string): string {
  if (body.length <= MAX_BODY) return body;
  const note = '\n\n_(cut: the full report is in the workflow run)_\n';
  return body.slice(0, MAX_BODY - note.length) + note;
}

/** GitHub may hand bodies back with CRLF and trailing blanks. */
function normalize(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/[ \t]+$/gm, '').trimEnd();
}

/** One GitHub call; whatever it throws leaves without the token. */
async function call<T>(gh: GitHub, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error & { status?: number };
    const auth = (await gh.auth().catch(() => ({}))) as { token?: string };
    const status = err.status ? ` (HTTP ${err.status})` : '';
    const out = new Error(redactSecrets(`GitHub: could not ${what}${status}: ${err.message}`, [auth.token]));
    (out as Error & { status?: number }).status = err.status;
    throw out;
  }
}
