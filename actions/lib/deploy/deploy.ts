import type { Db, Queryable } from '../db/index.ts';
import type { RegistryEntry } from '../registry/schema.ts';
import { branchTip, isAncestor, resolveCommit } from '../git/read.ts';
import { describeFailures, verifyRegistry, type RegistryVerification } from './verify.ts';
import type { GitHubTarget } from '../github/client.ts';
import { registryHistory } from '../registry/history.ts';
import { approvalOf, type MergeFacts } from './approval.ts';
import { checkRestoredEntries } from './restore.ts';
import { currentDeployments, recordDeployment, type DeploymentKind, type DeploymentRow } from '../tracking/deployments.ts';

/**
 * Deploy = make what registry/production.json says at a commit the recorded truth, all or nothing.
 * Every entry is verified first; when any fails, nothing is recorded and the last good deployment
 * stays current. Otherwise one transaction records one row per model whose version changed
 * against that model's latest deployment: `deploy` (newer), `rollback` (older), `retire` (gone).
 * Each row says who approved it (approval.ts): the pull request that landed the version, who
 * merged it and when, and the check that what was merged is what was reviewed, which refuses the
 * whole deploy when it fails. A version that is not new (a revert, a rollback) must be one that
 * ran before (restore.ts), or the deploy is refused too. Recording a row announces it
 * (NOTIFY mlops_deployments, tracking/deployments.ts) within the same transaction, so the model
 * server hears of the deploy when it commits and never of one rolled back.
 */

export type DeployOutcome = DeploymentKind | 'unchanged';

export interface ModelDeployment {
  model: string;
  outcome: DeployOutcome;
  /** the version running after this deploy (for `retire`, the version retired) */
  version: number;
  previousVersion: number | null;
  /** why `unchanged`: same version as the latest deployment, or this commit was already recorded */
  note?: string;
}

/** recorded: rows were written; unchanged: nothing changed; stale: the commit is older than one already deployed */
export type DeployRunOutcome = 'recorded' | 'unchanged' | 'stale';

export interface DeployResult {
  outcome: DeployRunOutcome;
  gitSha: string;
  models: ModelDeployment[];
  recorded: DeploymentRow[];
  verification: RegistryVerification;
}

export interface DeployOptions {
  ref?: string;
  /**
   * Deploy only a commit reachable from this branch (the default branch): a promotion branch that
   * was never merged is refused, whatever triggered the deploy. null: no such check (tests of the
   * recording alone). Default `main`.
   */
  branch?: string | null;
  /**
   * GitHub, to read who merged and approved and what the promotion pull request reviewed; null or
   * absent: the same facts, as far as they go, from git (approval.ts).
   */
  github?: GitHubTarget | null;
}

/** A deploy refused before anything was verified or recorded (a commit that is not on the default branch). */
export class DeployRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployRefusedError';
  }
}

/** Throws a DeployRefusedError unless `ref` is reachable from `branch` as this clone knows it. */
export async function assertOnBranch(repoDir: string, ref: string, branch: string): Promise<string> {
  const sha = await resolveCommit(repoDir, ref);
  const tip = await branchTip(repoDir, branch);
  if (!tip)
    throw new DeployRefusedError(
      `deploy of ${sha.slice(0, 12)} refused: this clone has neither origin/${branch} nor ${branch}, so it cannot tell that the commit was merged (fetch ${branch} first)`,
    );
  if (tip.sha !== sha && !(await isAncestor(repoDir, sha, tip.sha)))
    throw new DeployRefusedError(
      `deploy of ${sha.slice(0, 12)} refused: it is not on ${branch} (${tip.ref} is at ${tip.sha.slice(0, 12)}); only what was merged into ${branch} is deployed — merge the pull request instead`,
    );
  return sha;
}

export class DeployVerificationError extends Error {
  readonly verification: RegistryVerification;
  readonly failures: string[];

  constructor(verification: RegistryVerification, failures: string[]) {
    super(
      `deploy of ${verification.gitSha.slice(0, 12)} refused, nothing recorded (the last good deployment stays current):\n` +
        failures.map((f) => `  - ${f}`).join('\n'),
    );
    this.verification = verification;
    this.failures = failures;
    this.name = 'DeployVerificationError';
  }
}

/** A lock key of its own so two deploys cannot interleave their reads and writes. */
const DEPLOY_LOCK = 0x6d6c6f70; // "mlop"

export async function deploy(db: Db, repoDir: string, options: DeployOptions = {}): Promise<DeployResult> {
  const branch = options.branch === undefined ? 'main' : options.branch;
  if (branch !== null) await assertOnBranch(repoDir, options.ref ?? 'HEAD', branch);
  const verification = await verifyRegistry(repoDir, options.ref ?? 'HEAD');
  if (!verification.ok || !verification.registry) throw new DeployVerificationError(verification, describeFailures(verification));
  const { gitSha, registry } = verification;

  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [DEPLOY_LOCK]);
    const latest = new Map((await currentDeployments(tx, { includeRetired: true })).map((r) => [r.model, r]));
    const stale = await olderThanDeployed(tx, repoDir, gitSha);
    if (stale) {
      const note = `${gitSha.slice(0, 12)} is an ancestor of ${stale.slice(0, 12)}, which is already deployed; nothing recorded (roll back with a new commit: git revert)`;
      const models = Object.entries(registry.models).map(
        ([model, e]): ModelDeployment => ({ model, outcome: 'unchanged', version: e.version, previousVersion: null, note }),
      );
      return { outcome: 'stale' as const, gitSha, models, recorded: [], verification };
    }
    const already = new Set((await tx.query<{ model: string }>('SELECT model FROM mlops.deployments WHERE git_sha = $1', [gitSha])).rows.map((r) => r.model));

    const plans: {
      model: string;
      outcome: DeployOutcome;
      version: number;
      sha256: string;
      previousVersion: number | null;
      runId: string | null;
      note?: string;
    }[] = [];
    for (const [model, entry] of Object.entries(registry.models)) {
      const live = liveRow(latest.get(model));
      const plan = planModel(model, entry, live);
      if (plan.outcome !== 'unchanged' && already.has(model)) {
        plans.push({ ...plan, outcome: 'unchanged', note: `already recorded at ${gitSha.slice(0, 12)}` });
      } else plans.push(plan);
    }
    for (const row of latest.values()) {
      if (row.kind === 'retire' || row.model in registry.models) continue;
      const plan = { model: row.model, outcome: 'retire' as const, version: row.version, sha256: row.sha256, previousVersion: row.version, runId: row.run_id };
      plans.push(already.has(row.model) ? { ...plan, outcome: 'unchanged', note: `already recorded at ${gitSha.slice(0, 12)}` } : plan);
    }
    plans.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));

    // A version that is not new (a revert, a rollback or roll-forward) must be one that ran before:
    // refused here otherwise (restore.ts), before anything is written.
    const restored = await checkRestoredEntries(
      tx,
      repoDir,
      gitSha,
      Object.fromEntries(plans.filter((p) => p.outcome === 'deploy' || p.outcome === 'rollback').map((p) => [p.model, registry.models[p.model]])),
    );

    // Who approved each change, from the commit that landed it; a merge that is not what was
    // reviewed refuses the deploy here, before anything is written (the transaction rolls back).
    const approvals = await approvalsOf(
      repoDir,
      gitSha,
      plans.filter((p) => p.outcome !== 'unchanged'),
      registry.models,
      options.github ?? null,
    );

    const recorded: DeploymentRow[] = [];
    const models: ModelDeployment[] = [];
    for (const p of plans) {
      let outcome = p.outcome;
      let note = p.note;
      if (outcome !== 'unchanged') {
        const a = approvals.get(p.model)!;
        const row = await recordDeployment(tx, {
          model: p.model,
          version: p.version,
          sha256: p.sha256,
          git_sha: gitSha,
          kind: outcome,
          previous_version: p.previousVersion,
          run_id: p.runId,
          pull_request: a.pullRequest?.number ?? null,
          pull_request_url: a.pullRequest?.url ?? null,
          merged_by: a.mergedBy,
          promoted_at: a.mergedAt,
          reason: a.reason,
          approved_by: a.approvedBy,
          review_check: restored.get(p.model) ?? a.checks[p.model] ?? null,
          approval_source: a.source,
        });
        if (row) recorded.push(row);
        else {
          outcome = 'unchanged';
          note = `already recorded at ${gitSha.slice(0, 12)}`;
        }
      }
      models.push({
        model: p.model,
        outcome,
        version: p.version,
        previousVersion: outcome === 'unchanged' ? null : p.previousVersion,
        ...(note ? { note } : {}),
      });
    }
    return { outcome: recorded.length > 0 ? ('recorded' as const) : ('unchanged' as const), gitSha, models, recorded, verification };
  });
}

/**
 * The merge facts of each changing model, from the commit on the first-parent line of `gitSha`
 * that last changed its entry (the deploy of a commit that lands several merges at once, after a
 * skipped deploy, credits each version to its own pull request). One look-up per commit.
 */
async function approvalsOf(
  repoDir: string,
  gitSha: string,
  changing: { model: string; outcome: DeployOutcome }[],
  entries: Record<string, RegistryEntry>,
  github: GitHubTarget | null,
): Promise<Map<string, MergeFacts>> {
  const byCommit = new Map<string, string[]>();
  for (const p of changing) {
    const [landed] = await registryHistory(repoDir, { ref: gitSha, model: p.model });
    const commit = landed?.commit ?? gitSha;
    byCommit.set(commit, [...(byCommit.get(commit) ?? []), p.model]);
  }
  const out = new Map<string, MergeFacts>();
  for (const [commit, names] of byCommit) {
    // the reviewed-run check covers the entries a promotion put there (a retirement has none)
    const changed = Object.fromEntries(names.filter((m) => entries[m]).map((m) => [m, entries[m]]));
    const facts = await approvalOf(repoDir, commit, changed, github);
    for (const m of names) out.set(m, facts);
  }
  return out;
}

/**
 * The newest deployed commit when `gitSha` is a strict ancestor of it (a re-run of an old deploy
 * after a newer one): deploys move forward along the branch, a rollback is a new commit. When the
 * deployed commit is not in this clone (a shallow checkout), the order cannot be told: not stale.
 */
async function olderThanDeployed(tx: Queryable, repoDir: string, gitSha: string): Promise<string | null> {
  const res = await tx.query<{ git_sha: string }>('SELECT git_sha FROM mlops.deployments ORDER BY id DESC LIMIT 1');
  const last = res.rows[0]?.git_sha;
  if (!last || last === gitSha || !/^[0-9a-f]{40,64}$/.test(last)) return null;
  return (await isAncestor(repoDir, gitSha, last)) ? last : null;
}

function liveRow(row: DeploymentRow | undefined): DeploymentRow | undefined {
  return row && row.kind !== 'retire' ? row : undefined;
}

function planModel(model: string, entry: RegistryEntry, live: DeploymentRow | undefined) {
  const base = { model, version: entry.version, sha256: entry.artifact.sha256, runId: entry.run_id };
  if (!live) return { ...base, outcome: 'deploy' as DeployOutcome, previousVersion: null };
  if (live.version === entry.version && live.sha256 === entry.artifact.sha256)
    return { ...base, outcome: 'unchanged' as DeployOutcome, previousVersion: live.version, note: `v${entry.version} is already deployed` };
  // Same version with other bytes cannot come from a promotion (versions are monotonic); record
  // it as a deploy so that what runs is never different from what the table says.
  const outcome: DeployOutcome = entry.version < live.version ? 'rollback' : 'deploy';
  return { ...base, outcome, previousVersion: live.version };
}
