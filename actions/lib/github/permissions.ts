/**
 * The one list of what the engine asks of GitHub: per workflow job that writes, the repository
 * permissions its token needs and why. The workflows mint each job's GitHub App token with exactly
 * these (`permission-<name>: <level>` inputs of actions/create-github-app-token), the GitHub App and
 * the fine-grained token alternative are set up from the union, and docs/operations.md shows the
 * table rendered here (test/workflows.test.ts checks all three against this list).
 */

export type PermissionLevel = 'read' | 'write';

export interface TokenPermission {
  /** the name in a workflow's `permissions:` and in create-github-app-token's `permission-<name>` */
  name: 'contents' | 'pull-requests' | 'issues';
  level: PermissionLevel;
  /** what the engine does with it */
  why: string;
}

export interface WritingJob {
  /** `.github/workflows/<file>` */
  workflow: string;
  job: string;
  permissions: TokenPermission[];
}

export const WRITING_JOBS: readonly WritingJob[] = [
  {
    workflow: 'weekly-retrain.yml',
    job: 'retrain',
    permissions: [
      { name: 'contents', level: 'write', why: 'push the promotion branch mlops/promote/<model>' },
      { name: 'pull-requests', level: 'write', why: 'open and update the promotion pull request: labels, reviewers, comments' },
    ],
  },
  {
    workflow: 'daily-drift.yml',
    job: 'monitor',
    permissions: [
      { name: 'contents', level: 'write', why: 'send the repository_dispatch `retrain` on severe drift or a stale champion' },
      { name: 'issues', level: 'write', why: 'open, update and close the drift and health alert issues' },
    ],
  },
  {
    workflow: 'deploy-model.yml',
    job: 'deploy',
    permissions: [
      { name: 'issues', level: 'write', why: 'close the alert issue whose dispatched retrain the deploy put in production' },
      { name: 'pull-requests', level: 'read', why: 'who merged and approved the pull request, and the run its review covered' },
    ],
  },
  {
    workflow: 'daily-quality.yml',
    job: 'quality',
    permissions: [{ name: 'issues', level: 'write', why: 'open, update and close the data-quality alert issues' }],
  },
];

/** What the GitHub App (or the bot's fine-grained token) must be granted: every job's permissions together, plus Metadata: read, which GitHub always requires. */
export function appPermissions(): { name: string; level: PermissionLevel }[] {
  const out = new Map<string, PermissionLevel>([['metadata', 'read']]);
  for (const job of WRITING_JOBS) for (const p of job.permissions) if (out.get(p.name) !== 'write') out.set(p.name, p.level);
  return [...out].map(([name, level]) => ({ name, level })).sort((a, b) => a.name.localeCompare(b.name));
}

const title = (name: string) =>
  name
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ');

/** The Markdown table of docs/operations.md (between its `mlops:permissions` markers). */
export function permissionsMarkdown(): string {
  const rows = WRITING_JOBS.flatMap((j) => j.permissions.map((p) => `| \`${j.workflow}\` / \`${j.job}\` | ${title(p.name)}: ${p.level} | ${p.why} |`));
  return [
    '| workflow / job | permission | what for |',
    '|---|---|---|',
    ...rows,
    '',
    `The GitHub App (or the bot's fine-grained token) needs, on this repository only: ${appPermissions()
      .map((p) => `**${title(p.name)}: ${p.level === 'write' ? 'read and write' : 'read'}**`)
      .join(', ')}.`,
  ].join('\n');
}
