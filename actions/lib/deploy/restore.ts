import type { Queryable } from '../db/index.ts';
import type { Repo } from '../git/read.ts';
import { entryAtVersion, landingOf, registryHistory } from '../registry/history.ts';
import type { RegistryEntry } from '../registry/schema.ts';
import { deploymentHistory } from '../tracking/deployments.ts';

/**
 * The deploy's check of a version that is not new (#11.7 for rollbacks): a `git revert` of a
 * promotion's merge, a rollback or roll-forward pull request from `mlops rollback`, or anything else
 * that puts back a version the model already had. No review covered such an entry when it was
 * merged, but it can only be honest if it is what ran before: its version, run and artifact sha256
 * must be those of a deployment of that version in mlops.deployments or, for a version deployed
 * before the table recorded it, of the entry the default branch had for it before. Otherwise the
 * deploy is refused: a rollback must not smuggle in a model nobody reviewed.
 *
 * A version above every version the model had (on the branch before this change, and in the
 * deployments) is a promotion: the reviewed-run check (approval.ts) covers it.
 */

/** A deploy whose restored entry is not one that ran before. */
export class RestoredEntryError extends Error {
  readonly gitSha: string;
  readonly problems: string[];

  constructor(gitSha: string, problems: string[]) {
    super(
      `deploy of ${gitSha.slice(0, 12)} refused, nothing recorded (the last good deployment stays current): a version that is not new must be one that ran before\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\n  Roll back with `mlops rollback` (it restores the entry verbatim from the history) or `git revert -m 1 <merge>`; a new model needs a new version, through a promotion pull request.',
    );
    this.gitSha = gitSha;
    this.problems = problems;
    this.name = 'RestoredEntryError';
  }
}

/**
 * For each model of `entries` whose version is not new, the review check to record (`restored: ...`);
 * throws a RestoredEntryError naming every entry that matches nothing that ran. Models with a new
 * version are left out of the result.
 */
export async function checkRestoredEntries(db: Queryable, repo: Repo, gitSha: string, entries: Record<string, RegistryEntry>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const problems: string[] = [];
  for (const [model, entry] of Object.entries(entries)) {
    const records = await registryHistory(repo, { ref: gitSha, model });
    // the history before the commit that brought this version in
    const landed = landingOf(records, model, entry.version);
    const earlier = landed ? records.slice(records.indexOf(landed) + 1) : records;
    const deployed = (await deploymentHistory(db, model)).filter((r) => r.kind !== 'retire');
    const highest = Math.max(0, ...deployed.map((r) => r.version), ...earlier.flatMap((r) => [r.before[model] ?? 0, r.after[model] ?? 0]));
    if (entry.version > highest) continue; // a new version: a promotion

    const where = `${model} v${entry.version} (run ${entry.run_id}, sha256 ${entry.artifact.sha256.slice(0, 12)})`;
    const same = (v: { sha256: string; run_id: string | null }) => v.sha256 === entry.artifact.sha256 && v.run_id === entry.run_id;
    const ofVersion = deployed.filter((r) => r.version === entry.version);
    const match = ofVersion.find(same);
    if (match) {
      out.set(model, `restored: v${entry.version} as deployed at ${match.git_sha.slice(0, 12)} (deployment ${match.id})`);
      continue;
    }
    if (ofVersion.length > 0) {
      const d = ofVersion[0];
      problems.push(
        `${where}: v${entry.version} ran as run ${d.run_id ?? 'unknown'}, sha256 ${d.sha256.slice(0, 12)} (deployed at ${d.git_sha.slice(0, 12)}); this entry is not that model`,
      );
      continue;
    }
    const before = await entryAtVersion(repo, earlier, model, entry.version);
    if (before && same({ sha256: before.entry.artifact.sha256, run_id: before.entry.run_id })) {
      out.set(model, `restored: v${entry.version} as the default branch had it at ${before.commit.slice(0, 12)}`);
      continue;
    }
    problems.push(
      before
        ? `${where}: v${entry.version} was run ${before.entry.run_id}, sha256 ${before.entry.artifact.sha256.slice(0, 12)} on the default branch (${before.commit.slice(0, 12)}); this entry is not that model`
        : `${where}: v${entry.version} never ran: no deployment of it in mlops.deployments and no entry for it in the history of the default branch before this change`,
    );
  }
  if (problems.length > 0) throw new RestoredEntryError(gitSha, problems);
  return out;
}
