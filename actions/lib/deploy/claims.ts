import type { Queryable } from '../db/index.ts';
import type { Registry, RegistryEntry } from '../registry/schema.ts';
import { getRun } from '../tracking/runs.ts';

/**
 * The claims of a registry entry against the run it names, as the database recorded it: the run
 * exists, succeeded and decided promote, and the entry's artifact sha256, data fingerprint and
 * holdout metrics are the recorded ones.
 */
export async function checkClaims(db: Queryable, model: string, entry: RegistryEntry): Promise<string[]> {
  const where = `${model} v${entry.version}`;
  const run = await getRun(db, entry.run_id);
  if (!run) return [`${where}: run ${entry.run_id} is not recorded in the tracking database`];
  const problems: string[] = [];
  if (run.pipeline !== model) problems.push(`${where}: run ${entry.run_id} belongs to ${run.pipeline}`);
  if (run.status !== 'succeeded' || run.decision !== 'promote')
    problems.push(`${where}: run ${entry.run_id} is ${run.status}/${run.decision ?? 'no decision'}, not a promoted run`);
  if (run.artifact_sha256 !== entry.artifact.sha256)
    problems.push(`${where}: artifact sha256 ${entry.artifact.sha256} is not the run's recorded ${run.artifact_sha256 ?? 'none'}`);
  if (run.fingerprint !== entry.data.fingerprint)
    problems.push(`${where}: data fingerprint ${entry.data.fingerprint} is not the run's recorded ${run.fingerprint ?? 'none'}`);
  const recorded = (run.metrics?.holdout ?? null) as Record<string, unknown> | null;
  for (const [name, claimed] of Object.entries(entry.metrics)) {
    const value = recorded?.[name];
    if (typeof claimed !== 'number') continue;
    if (typeof value !== 'number' || Math.abs(value - claimed) > 1e-9 * Math.max(1, Math.abs(claimed))) {
      problems.push(`${where}: metrics.${name} claims ${claimed} but run ${entry.run_id} recorded ${value ?? 'nothing'}`);
    }
  }
  return problems;
}

/** The models whose entry differs between two registries (all of `head` when there is no base). */
export function changedModels(head: Registry, base: Registry | null): string[] {
  return Object.keys(head.models).filter((m) => !base || JSON.stringify(base.models[m] ?? null) !== JSON.stringify(head.models[m]));
}
