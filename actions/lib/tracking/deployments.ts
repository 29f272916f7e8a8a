import type { Queryable } from '../db/index.ts';

/**
 * The deployments record (mlops.deployments): one row per model whose running version changed at
 * a deployed commit. Written by the deploy stage, read by everything that needs to know what runs
 * (the server, scoring, the sweep, the registry's promotion time), so it lives here and not in the
 * deploy stage that writes it.
 */

export type DeploymentKind = 'deploy' | 'rollback' | 'retire';
export interface DeploymentRow {
  id: number;
  model: string;
  version: number;
  sha256: string;
  git_sha: string;
  kind: DeploymentKind;
  previous_version: number | null;
  run_id: string | null;
  deployed_at: string;
  /** the pull request that landed this version, and who merged it when (the promotion time) */
  pull_request: number | null;
  pull_request_url: string | null;
  merged_by: string | null;
  promoted_at: string | null;
  /** why: the pull request's title, else the commit's subject */
  reason: string | null;
  /** who approved the merged head (GitHub only) */
  approved_by: string[];
  /** how the reviewed run was checked: github, git, or why not */
  review_check: string | null;
  approval_source: 'github' | 'git' | null;
}

/**
 * The channel a new deployment row is announced on (NOTIFY, payload: the deployed commit): the
 * model server LISTENs there and reloads at once, its poll of the table being the fallback.
 */
export const DEPLOYMENTS_CHANNEL = 'mlops_deployments';

/**
 * Announces deployments at `gitSha` on DEPLOYMENTS_CHANNEL. Inside a transaction it is delivered
 * when the transaction commits, and never if it rolls back; PostgreSQL folds the same payload sent
 * several times in one transaction into one notification.
 */
export async function notifyDeployments(tx: Queryable, gitSha: string): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [DEPLOYMENTS_CHANNEL, gitSha]);
}

/** What the deploy stage records for one model at one commit. */
export type DeploymentRecord = Omit<DeploymentRow, 'id' | 'deployed_at'>;

const COLUMNS =
  'id, model, version, sha256, git_sha, kind, previous_version, run_id, deployed_at, pull_request, pull_request_url, merged_by, promoted_at, reason, approved_by, review_check, approval_source';

/**
 * Records one deployment and announces it (notifyDeployments: on commit, when `tx` is a
 * transaction); null when the model already has a row at that commit (a re-run of the same
 * deploy), which is then left as it was and not announced.
 */
export async function recordDeployment(tx: Queryable, r: DeploymentRecord): Promise<DeploymentRow | null> {
  const res = await tx.query<RawRow>(
    `INSERT INTO mlops.deployments (model, version, sha256, git_sha, kind, previous_version, run_id,
       pull_request, pull_request_url, merged_by, promoted_at, reason, approved_by, review_check, approval_source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15)
     ON CONFLICT (model, git_sha) DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      r.model,
      r.version,
      r.sha256,
      r.git_sha,
      r.kind,
      r.previous_version,
      r.run_id,
      r.pull_request,
      r.pull_request_url,
      r.merged_by,
      r.promoted_at,
      r.reason,
      JSON.stringify(r.approved_by),
      r.review_check,
      r.approval_source,
    ],
  );
  if (res.rows.length !== 1) return null;
  await notifyDeployments(tx, r.git_sha);
  return toRow(res.rows[0]);
}

/** The latest deployment row of every model; retired models only with `includeRetired`. */
export async function currentDeployments(db: Queryable, options: { includeRetired?: boolean } = {}): Promise<DeploymentRow[]> {
  const rows = await latestRows(db);
  return options.includeRetired ? rows : rows.filter((r) => r.kind !== 'retire');
}

/** Every deployment row of a model (or all), newest first. */
export async function deploymentHistory(db: Queryable, model?: string): Promise<DeploymentRow[]> {
  const res = model
    ? await db.query<RawRow>(`SELECT ${COLUMNS} FROM mlops.deployments WHERE model = $1 ORDER BY id DESC`, [model])
    : await db.query<RawRow>(`SELECT ${COLUMNS} FROM mlops.deployments ORDER BY id DESC`);
  return res.rows.map(toRow);
}

/** The first deployment row recorded for each of `commits` (its merge facts are the commit's), by commit. */
export async function deploymentsByCommit(db: Queryable, commits: string[]): Promise<Map<string, DeploymentRow>> {
  if (commits.length === 0) return new Map();
  const res = await db.query<RawRow>(`SELECT ${COLUMNS} FROM mlops.deployments WHERE git_sha = ANY($1::text[]) ORDER BY id`, [commits]);
  const out = new Map<string, DeploymentRow>();
  for (const r of res.rows) if (!out.has(r.git_sha)) out.set(r.git_sha, toRow(r));
  return out;
}

async function latestRows(db: Queryable): Promise<DeploymentRow[]> {
  const res = await db.query<RawRow>(`SELECT DISTINCT ON (model) ${COLUMNS} FROM mlops.deployments ORDER BY model, id DESC`);
  return res.rows.map(toRow);
}

/** A row as the driver returns it: bigint ids as strings (pg) or bigints, timestamps as Dates. */
type RawRow = Omit<DeploymentRow, 'id' | 'deployed_at' | 'promoted_at' | 'approved_by'> & {
  id: number | string | bigint;
  deployed_at: Date | string;
  promoted_at: Date | string | null;
  approved_by: string[] | string | null;
};

/** The row with the driver's types converted (every query selects exactly COLUMNS). */
function toRow(r: RawRow): DeploymentRow {
  return {
    ...r,
    id: Number(r.id),
    version: Number(r.version),
    previous_version: r.previous_version === null ? null : Number(r.previous_version),
    deployed_at: r.deployed_at instanceof Date ? r.deployed_at.toISOString() : new Date(r.deployed_at).toISOString(),
    pull_request: r.pull_request === null ? null : Number(r.pull_request),
    promoted_at: r.promoted_at === null ? null : new Date(r.promoted_at).toISOString(),
    approved_by: typeof r.approved_by === 'string' ? (JSON.parse(r.approved_by) as string[]) : (r.approved_by ?? []),
  };
}
