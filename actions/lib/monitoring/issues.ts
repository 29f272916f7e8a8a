/**
 * Alert issues on GitHub (one module per protocol): one issue per alert key, labelled
 * `mlops-alert`, identified by a hidden marker in its body so that re-runs find and update it
 * instead of opening another:
 *
 *   <!-- mlops:alert key=tank-level-forecast%2Fdata-drift -->
 *
 * Repository dispatch (the triggered retrain) goes through the same client.
 */
import { type GitHubTarget } from '../github/client.ts';

export const ALERT_LABEL = 'mlops-alert';
/** GitHub refuses issue bodies above 65,536 characters. */
const MAX_BODY = 60_000;
const MARKER = /<!--\s*mlops:alert\s+key=(\S+?)\s*-->/;

export function alertMarker(key: string): string {
  return `<!-- mlops:alert key=${encodeURIComponent(key)} -->`;
}

export function parseAlertMarker(body: string | null | undefined): string | null {
  const m = MARKER.exec(body ?? '');
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** The body with exactly one marker, first line, cut to what GitHub accepts. */
export function withAlertMarker(key: string, body: string): string {
  const rest = body.replace(MARKER, '').replace(/^\s*\n/, '');
  const text = `${alertMarker(key)}\n${rest}`;
  return text.length <= MAX_BODY ? text : `${text.slice(0, MAX_BODY)}\n\n_(cut: the full report is in mlops.drift_reports / the job summary)_\n`;
}

export interface AlertIssue {
  number: number;
  url: string;
  title: string;
  body: string;
}

/** The open alert issues of the repository, by alert key (one listing per monitoring run). */
export async function openAlertIssues(gh: GitHubTarget): Promise<Map<string, AlertIssue>> {
  const items = await gh.client.paginate(gh.client.rest.issues.listForRepo, {
    ...gh.repo,
    labels: ALERT_LABEL,
    state: 'open',
    per_page: 100,
  });
  const out = new Map<string, AlertIssue>();
  // Oldest first, so that if a person duplicated an issue, the original one is kept.
  for (const it of [...items].sort((a, b) => a.number - b.number)) {
    if (it.pull_request) continue;
    const key = parseAlertMarker(it.body);
    if (key && !out.has(key)) out.set(key, { number: it.number, url: it.html_url, title: it.title, body: it.body ?? '' });
  }
  return out;
}

export type IssueOutcome = 'opened' | 'updated' | 'closed' | 'unchanged';

/** Opens the alert's issue, or updates the open one (title and body) when it differs. */
export async function upsertAlertIssue(
  gh: GitHubTarget,
  existing: AlertIssue | undefined,
  key: string,
  title: string,
  body: string,
): Promise<{ outcome: IssueOutcome; issue: AlertIssue }> {
  const text = withAlertMarker(key, body);
  if (existing) {
    if (existing.title === title && existing.body === text) return { outcome: 'unchanged', issue: existing };
    const { data } = await gh.client.rest.issues.update({ ...gh.repo, issue_number: existing.number, title, body: text });
    return { outcome: 'updated', issue: { number: data.number, url: data.html_url, title: data.title, body: data.body ?? text } };
  }
  const { data } = await gh.client.rest.issues.create({ ...gh.repo, title, body: text, labels: [ALERT_LABEL] });
  return { outcome: 'opened', issue: { number: data.number, url: data.html_url, title: data.title, body: data.body ?? text } };
}

/** Closes the alert's issue with a comment that says why. */
export async function closeAlertIssue(gh: GitHubTarget, issue: AlertIssue, comment: string): Promise<IssueOutcome> {
  await gh.client.rest.issues.createComment({ ...gh.repo, issue_number: issue.number, body: comment });
  await gh.client.rest.issues.update({ ...gh.repo, issue_number: issue.number, state: 'closed', state_reason: 'completed' });
  return 'closed';
}

/**
 * `repository_dispatch` of type `retrain` (the weekly-retrain workflow listens for it), with the
 * alert it answers: `alert_id` and `alert_issue` become the extract step's inputs.
 */
export async function sendRetrainDispatch(
  gh: GitHubTarget,
  pipeline: string,
  reason: string,
  alert: { id: number; issueUrl: string | null } | null = null,
): Promise<void> {
  const payload: Record<string, string | number> = { pipeline, reason };
  if (alert) {
    payload.alert_id = alert.id;
    if (alert.issueUrl) payload.alert_issue = alert.issueUrl;
  }
  await gh.client.rest.repos.createDispatchEvent({ ...gh.repo, event_type: 'retrain', client_payload: payload });
}
