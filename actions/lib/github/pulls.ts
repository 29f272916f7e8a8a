import { gitHubCall, type GitHubTarget } from './client.ts';

/**
 * One open pull request per head branch (promotions and rollbacks alike): found by its head
 * branch, created when there is none (labels, reviewers), its title, body and labels brought up to
 * date when they differ, left alone (no call beyond the lookup) when identical.
 */

export type PullRequestOutcome = 'created' | 'updated' | 'unchanged';

export interface OpenPullRequest {
  number: number;
  /** the GraphQL node id (auto-merge is a GraphQL mutation) */
  nodeId: string;
  url: string;
  title: string;
  body: string;
  labels: string[];
}

export interface PullRequestSpec {
  head: string;
  base: string;
  /** owner of the head branch's repository (default: the target's owner) */
  headOwner?: string;
  title: string;
  body: string;
  labels?: string[];
  /** users asked to review when the pull request is created */
  reviewers?: string[];
  /** team slugs asked to review when the pull request is created */
  teamReviewers?: string[];
}

export interface PullRequestResult {
  outcome: PullRequestOutcome;
  number: number;
  nodeId: string;
  url: string;
  /** what went wrong without stopping (e.g. a reviewer GitHub would not request) */
  warnings: string[];
}

/** GitHub refuses bodies over 65,536 characters. */
export const MAX_BODY = 65_536;

/** The open pull requests from `head` (one GET), oldest first. */
export async function openPullRequestsFrom(t: GitHubTarget, head: string, headOwner = t.repo.owner): Promise<OpenPullRequest[]> {
  const pulls = await gitHubCall(t, 'list pull requests', () =>
    t.client.rest.pulls.list({ ...t.repo, head: `${headOwner}:${head}`, state: 'open', per_page: 100 }),
  );
  return pulls.data
    .filter((p) => p.head.ref === head && p.state === 'open')
    .sort((a, b) => a.number - b.number)
    .map((p) => ({
      number: p.number,
      nodeId: p.node_id,
      url: p.html_url,
      title: p.title,
      body: p.body ?? '',
      labels: p.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter(Boolean),
    }));
}

/** Create the pull request, or bring its title, body and labels up to date. `open` is the one found for its head (or null). */
export async function createOrUpdatePullRequest(t: GitHubTarget, spec: PullRequestSpec, open: OpenPullRequest | null): Promise<PullRequestResult> {
  const { owner, repo } = t.repo;
  const body = fitBody(spec.body);
  const labels = [...new Set(spec.labels ?? [])];
  const warnings: string[] = [];

  if (!open) {
    const created = await gitHubCall(t, 'create pull request', () =>
      t.client.rest.pulls.create({ owner, repo, head: spec.head, base: spec.base, title: spec.title, body, maintainer_can_modify: false }),
    );
    const number = created.data.number;
    if (labels.length > 0) await gitHubCall(t, 'add labels', () => t.client.rest.issues.addLabels({ owner, repo, issue_number: number, labels }));
    const reviewers = spec.reviewers ?? [];
    const teams = spec.teamReviewers ?? [];
    if (reviewers.length > 0 || teams.length > 0) {
      try {
        await gitHubCall(t, 'request reviewers', () =>
          t.client.rest.pulls.requestReviewers({ owner, repo, pull_number: number, reviewers, team_reviewers: teams }),
        );
      } catch (e) {
        warnings.push((e as Error).message);
      }
    }
    return { outcome: 'created', number, nodeId: created.data.node_id, url: created.data.html_url, warnings };
  }

  let changed = false;
  if (open.title !== spec.title || normalize(open.body) !== normalize(body)) {
    await gitHubCall(t, 'update pull request', () => t.client.rest.pulls.update({ owner, repo, pull_number: open.number, title: spec.title, body }));
    changed = true;
  }
  const missing = labels.filter((l) => !open.labels.includes(l));
  if (missing.length > 0) {
    await gitHubCall(t, 'add labels', () => t.client.rest.issues.addLabels({ owner, repo, issue_number: open.number, labels: missing }));
    changed = true;
  }
  return { outcome: changed ? 'updated' : 'unchanged', number: open.number, nodeId: open.nodeId, url: open.url, warnings };
}

/** find (the oldest open one from the head branch) -> create or update. */
export async function ensurePullRequest(t: GitHubTarget, spec: PullRequestSpec): Promise<PullRequestResult> {
  const [open] = await openPullRequestsFrom(t, spec.head, spec.headOwner);
  return createOrUpdatePullRequest(t, spec, open ?? null);
}

/** The body cut to what GitHub accepts; a marker on the first line survives the cut. */
function fitBody(body: string): string {
  if (body.length <= MAX_BODY) return body;
  const note = '\n\n_(cut: the full report is in the workflow run)_\n';
  return body.slice(0, MAX_BODY - note.length) + note;
}

/** GitHub may hand bodies back with CRLF and trailing blanks. */
function normalize(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .trimEnd();
}
