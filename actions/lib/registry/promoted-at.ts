import type { Queryable } from '../db/index.ts';
import { deploymentHistory } from '../tracking/deployments.ts';
import { gitOf, type Repo } from '../git/read.ts';
import { landingOf, registryHistory } from './history.ts';
import type { RegistryEntry } from './schema.ts';

/**
 * When a champion was promoted: the merge, never the training (#11.9). Every reader of a
 * champion's promotion time (the cooldown gate, the stale-champion rule, the run report, the model
 * server, the rollback's pull request) asks here, in this order:
 *
 * 1. git: the commit on the first-parent line of `ref` (the default branch's own history) that last
 *    made the model's entry this version (registry/history.ts): a promotion's merge, or the revert
 *    or rollback that brought the version back. Its committer time is when it landed on the branch;
 *    for a merge made on GitHub, the merge time. Not trusted when the clone is shallow and that
 *    commit is the shallow boundary (every commit below it is missing, so any older version would
 *    look as if it landed there).
 * 2. mlops.deployments: the merge time the deploy recorded for this version and sha256 (from
 *    GitHub's merged_at with a token, else the merge commit's committer time).
 * 3. the entry's own `promoted_at`, which the promotion branch writes before anyone merges it (the
 *    run's as-of): a fallback for a checkout without history (not a git repository) and no record.
 */

export type PromotionTimeSource = 'git' | 'deployments' | 'registry file';

export interface PromotionTime {
  /** ISO 8601, UTC */
  at: string;
  source: PromotionTimeSource;
  /** the commit that brought the version in (source `git`, or the deployed commit for `deployments`) */
  commit: string | null;
}

export interface PromotionTimeOptions {
  /** the line to read (default HEAD: the checkout's branch) */
  ref?: string;
  /** the tracking database, for mlops.deployments when git cannot tell */
  db?: Queryable | null;
}

export async function promotionTime(repo: Repo, model: string, entry: RegistryEntry, options: PromotionTimeOptions = {}): Promise<PromotionTime> {
  const fromGit = await landedInGit(repo, model, entry, options.ref ?? 'HEAD');
  if (fromGit) return fromGit;
  if (options.db) {
    const row = (await deploymentHistory(options.db, model)).find(
      (r) => r.kind !== 'retire' && r.version === entry.version && r.sha256 === entry.artifact.sha256 && r.promoted_at !== null,
    );
    if (row?.promoted_at) return { at: row.promoted_at, source: 'deployments', commit: row.git_sha };
  }
  return { at: new Date(entry.promoted_at).toISOString(), source: 'registry file', commit: null };
}

async function landedInGit(repo: Repo, model: string, entry: RegistryEntry, ref: string): Promise<PromotionTime | null> {
  const git = gitOf(repo);
  let landed: ReturnType<typeof landingOf>;
  try {
    landed = landingOf(await registryHistory(git, { ref, model }), model, entry.version);
  } catch {
    return null; // not a git checkout (or no such ref): git cannot tell
  }
  if (!landed) return null;
  if (landed.parents.length === 0) {
    const shallow = await git.exec(['rev-parse', '--is-shallow-repository']);
    if (shallow.code !== 0 || shallow.stdout.trim() === 'true') return null; // the shallow boundary, or git cannot say
  }
  return { at: new Date(landed.date).toISOString(), source: 'git', commit: landed.commit };
}
