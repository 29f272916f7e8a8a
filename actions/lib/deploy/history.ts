import { REGISTRY_FILE } from '../registry/schema.ts';
import { commitsTouching, readBlobAt, resolveCommit, type CommitInfo } from './git-read.ts';

/**
 * The promotion and rollback history of the registry, read from git: every commit on the
 * first-parent line of a ref (the base branch's own history: merges of promotion pull requests,
 * their reverts, direct commits) that changed registry/production.json, with each model's version
 * before and after it.
 */

/** promote: new or higher version; rollback: lower version; retire: entry removed; edit: entry changed, same version */
export type ModelChangeKind = 'promote' | 'rollback' | 'retire' | 'edit';

export interface ModelChange {
  model: string;
  kind: ModelChangeKind;
  from: number | null;
  to: number | null;
}

export interface RegistryHistoryRecord {
  commit: string;
  /** committer date, ISO 8601 */
  date: string;
  subject: string;
  /** the pull request that landed this commit: `Merge pull request #N from ...` or squash style `... (#N)` */
  pullRequest: number | null;
  /** when this commit is a revert: the commit and the pull request it reverts (as far as the message says) */
  reverts: { commit: string | null; pullRequest: number | null } | null;
  /** the changes' kind when they agree; `mixed` when they do not; `invalid` when the file did not parse */
  kind: ModelChangeKind | 'mixed' | 'invalid';
  changes: ModelChange[];
  /** version per model before and after this commit */
  before: Record<string, number>;
  after: Record<string, number>;
  /** why the file at this commit could not be read (kind `invalid`) */
  problem?: string;
}

export interface RegistryHistoryOptions {
  /** only commits that changed this model, and only its change */
  model?: string;
  ref?: string;
}

/** Newest first, like `git log`. */
export async function registryHistory(repoDir: string, options: RegistryHistoryOptions = {}): Promise<RegistryHistoryRecord[]> {
  const head = await resolveCommit(repoDir, options.ref ?? 'HEAD');
  const commits = (await commitsTouching(repoDir, head, REGISTRY_FILE, { firstParent: true })).reverse();

  const records: RegistryHistoryRecord[] = [];
  let state: Snapshot = { versions: {}, entries: {} };
  for (const c of commits) {
    const raw = await readBlobAt(repoDir, c.sha, REGISTRY_FILE);
    const read = raw ? snapshot(raw.toString('utf8')) : { snapshot: { versions: {}, entries: {} } };
    const base = describeCommit(c);
    if ('problem' in read) {
      records.push({ ...base, kind: 'invalid', changes: [], before: state.versions, after: state.versions, problem: read.problem });
      continue; // the next commit is compared with the last state that parsed
    }
    const next = read.snapshot;
    const changes = diff(state, next);
    records.push({ ...base, kind: overallKind(changes), changes, before: state.versions, after: next.versions });
    state = next;
  }
  records.reverse();

  if (!options.model) return records;
  const model = options.model;
  return records
    .map((r) => ({ ...r, changes: r.changes.filter((ch) => ch.model === model) }))
    .filter((r) => r.changes.length > 0)
    .map((r) => ({ ...r, kind: overallKind(r.changes) }));
}

interface Snapshot {
  versions: Record<string, number>;
  /** each entry's JSON text, to tell an edit from no change */
  entries: Record<string, string>;
}

/** Reads versions leniently: history must still be listable when an old commit broke the schema. */
function snapshot(text: string): { snapshot: Snapshot } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problem: `${REGISTRY_FILE} is not valid JSON: ${(e as Error).message}` };
  }
  const models = json && typeof json === 'object' ? (json as { models?: unknown }).models : undefined;
  if (!models || typeof models !== 'object' || Array.isArray(models)) return { problem: `${REGISTRY_FILE}: models is not an object` };
  const versions: Record<string, number> = {};
  const entries: Record<string, string> = {};
  for (const [name, entry] of Object.entries(models as Record<string, unknown>)) {
    const v = entry && typeof entry === 'object' ? (entry as { version?: unknown }).version : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) return { problem: `${REGISTRY_FILE}: models.${name}.version is not an integer` };
    versions[name] = v;
    entries[name] = JSON.stringify(entry);
  }
  return { snapshot: { versions, entries } };
}

function diff(before: Snapshot, after: Snapshot): ModelChange[] {
  const names = [...new Set([...Object.keys(before.versions), ...Object.keys(after.versions)])].sort();
  const changes: ModelChange[] = [];
  for (const model of names) {
    const from = before.versions[model] ?? null;
    const to = after.versions[model] ?? null;
    if (from === null && to !== null) changes.push({ model, kind: 'promote', from, to });
    else if (from !== null && to === null) changes.push({ model, kind: 'retire', from, to });
    else if (from !== null && to !== null) {
      if (to > from) changes.push({ model, kind: 'promote', from, to });
      else if (to < from) changes.push({ model, kind: 'rollback', from, to });
      else if (before.entries[model] !== after.entries[model]) changes.push({ model, kind: 'edit', from, to });
    }
  }
  return changes;
}

function overallKind(changes: ModelChange[]): ModelChangeKind | 'mixed' {
  const kinds = new Set(changes.map((c) => c.kind));
  if (kinds.size === 0) return 'edit';
  return kinds.size === 1 ? [...kinds][0] : 'mixed';
}

function describeCommit(c: CommitInfo): Pick<RegistryHistoryRecord, 'commit' | 'date' | 'subject' | 'pullRequest' | 'reverts'> {
  return { commit: c.sha, date: c.date, subject: c.subject, pullRequest: pullRequestOf(c.subject), reverts: revertOf(c.subject, c.body) };
}

/** `Merge pull request #12 from acme/branch` (merge) or `Subject (#12)` (squash); null otherwise. */
export function pullRequestOf(subject: string): number | null {
  const merge = /^Merge pull request #(\d+) from /.exec(subject);
  if (merge) return Number(merge[1]);
  const squash = /\(#(\d+)\)\s*$/.exec(subject);
  return squash ? Number(squash[1]) : null;
}

/** `Revert "<subject>"` with `This reverts commit <sha>.` in the body (what `git revert` writes). */
export function revertOf(subject: string, body: string): { commit: string | null; pullRequest: number | null } | null {
  const reverted = /^Revert "(.*)"/.exec(subject);
  const commit = /This reverts commit ([0-9a-f]{7,64})/.exec(body)?.[1] ?? null;
  if (!reverted && !commit) return null;
  return { commit, pullRequest: reverted ? pullRequestOf(reverted[1]) : null };
}
