import type { Git } from '../git/git.ts';
import { commitInfo, commitsTouching, gitOf, readBlobAt, readBlobsAt, resolveCommit, type CommitInfo, type Repo } from '../git/read.ts';
import { parseRegistry, REGISTRY_FILE, REGISTRY_SCHEMA_REF, type RegistryEntry } from './schema.ts';

/**
 * The one reader of the registry's past, from git: every commit on the first-parent line of a ref
 * (the base branch's own history: merges of promotion pull requests, their reverts, direct
 * commits) that changed registry/production.json, with each model's version before and after it,
 * the pull request that landed it and the commit it reverts. `registry history`, rollbacks (which
 * version ran before, and its entry) and version numbering (never hand a version out twice) all
 * read it here.
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
  parents: string[];
  /** committer date, ISO 8601: when the change landed on the branch (for a merge, the merge time) */
  date: string;
  /** who made the commit: for a merge made on GitHub, the person who merged */
  author: { name: string; email: string };
  subject: string;
  /** why: the pull request's title as GitHub writes it into a merge commit's body, else the subject */
  reason: string;
  /** the pull request that landed this commit: `Merge pull request #N from ...`, or a squash merge's `... (#N)` */
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
  /** default HEAD */
  ref?: string;
}

/** Newest first, like `git log`. */
export async function registryHistory(repo: Repo, options: RegistryHistoryOptions = {}): Promise<RegistryHistoryRecord[]> {
  const git = gitOf(repo);
  const head = await resolveCommit(git, options.ref ?? 'HEAD');
  const commits = (await commitsTouching(git, head, REGISTRY_FILE, { firstParent: true })).reverse();

  const files = await readBlobsAt(
    git,
    commits.map((c) => c.sha),
    REGISTRY_FILE,
  );
  const known = new Map(commits.map((c) => [c.sha, c]));

  const records: RegistryHistoryRecord[] = [];
  let state: Snapshot = { versions: {}, entries: {} };
  for (const [i, c] of commits.entries()) {
    const raw = files[i];
    const read = raw ? snapshot(raw.toString('utf8')) : { snapshot: { versions: {}, entries: {} } };
    const base = await describeCommit(git, c, known);
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

/** The highest version `model` ever had in the file on `ref`'s first-parent line (0 when never). */
export async function highestVersionEver(repo: Repo, ref: string, model: string): Promise<number> {
  let max = 0;
  for (const r of await registryHistory(repo, { ref, model })) for (const c of r.changes) max = Math.max(max, c.from ?? 0, c.to ?? 0);
  return max;
}

/**
 * The version that ran before `model` last became `version` (newest first `records`, as
 * registryHistory returns them): for v1 -> v2 -> v1 (revert) -> v3 that is v1, never the v2 that
 * was itself rolled back. Null when `version` was the model's first.
 */
export function versionBefore(records: readonly RegistryHistoryRecord[], model: string, version: number): number | null {
  const landed = landingOf(records, model, version);
  return landed ? (landed.changes.find((c) => c.model === model && c.to === version)?.from ?? null) : null;
}

/**
 * The commit that last made `model` become `version` (newest first `records`): the merge of its
 * promotion, or the revert or rollback that brought it back. Its date is when that version began to
 * run from the branch (promoted-at.ts). Null when the line never had it.
 */
export function landingOf(records: readonly RegistryHistoryRecord[], model: string, version: number): RegistryHistoryRecord | null {
  return records.find((r) => r.changes.some((c) => c.model === model && c.to === version && c.from !== version)) ?? null;
}

/**
 * The registry entry `model` had at `version`, verbatim from the newest commit on the line whose
 * file held it and passes today's schema, with that commit. Null when the history never had it.
 */
export async function entryAtVersion(
  repo: Repo,
  records: readonly RegistryHistoryRecord[],
  model: string,
  version: number,
): Promise<{ entry: RegistryEntry; commit: string } | null> {
  for (const r of records) {
    if (r.after[model] !== version || r.kind === 'invalid') continue;
    const raw = await readBlobAt(repo, r.commit, REGISTRY_FILE);
    if (!raw) continue;
    try {
      const value = (JSON.parse(raw.toString('utf8')) as { models?: Record<string, unknown> }).models?.[model];
      const entry = parseRegistry(JSON.stringify({ $schema: REGISTRY_SCHEMA_REF, models: { [model]: value } })).models[model];
      return { entry, commit: r.commit };
    } catch {
      continue; // an entry that does not pass the schema today cannot be restored as it is; try an older commit
    }
  }
  return null;
}

/** Every version `model` had on the line, ascending. */
export function versionsSeen(records: readonly RegistryHistoryRecord[], model: string): number[] {
  const seen = new Set<number>();
  for (const r of records) for (const v of [r.before[model], r.after[model]]) if (v !== undefined) seen.add(v);
  return [...seen].sort((a, b) => a - b);
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

type CommitFacts = Pick<RegistryHistoryRecord, 'commit' | 'parents' | 'date' | 'author' | 'subject' | 'reason' | 'pullRequest' | 'reverts'>;

/**
 * Who landed a commit and what it reverts. A revert names the commit it undoes in its body; that
 * commit's own subject (read from git, not guessed from the quoted text) says which pull request
 * landed it. A merge of a pull request made by GitHub's Revert button carries the revert in its
 * second parent's line.
 */
async function describeCommit(git: Git, c: CommitInfo, known: ReadonlyMap<string, CommitInfo>): Promise<CommitFacts> {
  const base = { commit: c.sha, parents: c.parents, date: c.date, author: c.author, subject: c.subject, reason: landingReason(c) };
  let revert = revertOf(c.subject, c.body);
  let pullRequest = pullRequestOf(c.subject);
  if (!revert && c.parents.length === 2) {
    // the revert is on the merged branch: `Revert "..."` commits between the two parents
    const merged = (await git.run(['log', '--format=%H%x1f%s%x1f%b%x1e', `${c.parents[0]}..${c.parents[1]}`], { raw: true }))
      .split('\x1e')
      .map((r) => r.replace(/^\n+/, ''))
      .filter((r) => r.trim())
      .map((r) => r.split('\x1f'));
    const reverts = merged.map(([, subject, body]) => revertOf(subject ?? '', body ?? '')).filter((r) => r?.commit);
    if (reverts.length === 1) revert = reverts[0];
  }
  if (!revert?.commit) return { ...base, pullRequest, reverts: revert };
  // usually an earlier commit of the same walk; else ask git (a commit off the line, or an abbreviated sha)
  const reverted = known.get(revert.commit) ?? (await commitInfo(git, revert.commit).catch(() => null));
  if (!reverted) return { ...base, pullRequest, reverts: revert }; // not in this clone: the subject's word is all there is
  const own = ownPullRequest(c.subject, reverted.subject);
  if (own !== undefined && c.parents.length < 2) pullRequest = own;
  return { ...base, pullRequest, reverts: { commit: reverted.sha, pullRequest: pullRequestOf(reverted.subject) } };
}

/**
 * The pull request of a revert commit whose reverted commit's subject is known: null when the
 * subject is exactly what `git revert` writes (`Revert "<s>"`, or `Reapply "..."` for a revert of
 * a revert), N when a squash merge appended ` (#N)` to it; undefined when it is neither.
 */
function ownPullRequest(subject: string, revertedSubject: string): number | null | undefined {
  const written = [`Revert "${revertedSubject}"`];
  if (revertedSubject.startsWith('Revert "') && !revertedSubject.startsWith('Revert "Revert "'))
    written.push(`Reapply "${revertedSubject.slice('Revert "'.length)}`);
  if (written.includes(subject)) return null;
  const squash = /^(.*) \(#(\d+)\)$/.exec(subject);
  return squash && written.includes(squash[1]) ? Number(squash[2]) : undefined;
}

/** Why a commit landed: a merged pull request's title (GitHub's merge commit body), else the subject. */
export function landingReason(c: Pick<CommitInfo, 'parents' | 'subject' | 'body'>): string {
  if (c.parents.length > 1 && /^Merge pull request #\d+ /.test(c.subject)) {
    const title = c.body.split('\n').find((l) => l.trim());
    if (title) return title.trim();
  }
  return c.subject;
}

/**
 * The pull request that landed a commit, from its subject as GitHub writes it: a merge commit's
 * `Merge pull request #12 from acme/branch`, or a squash or rebase merge's `<title> (#12)` (a
 * squash-merged revert too: `Revert "Promote x v3 (#41)" (#43)` is #43). A revert made with
 * `git revert` on the branch itself (`Revert "Promote x v3 (#41)"`) was landed by no pull request.
 */
export function pullRequestOf(subject: string): number | null {
  const merge = /^Merge pull request #(\d+) from /.exec(subject);
  if (merge) return Number(merge[1]);
  const squash = /\(#(\d+)\)\s*$/.exec(subject);
  return squash ? Number(squash[1]) : null;
}

/**
 * What a revert reverts, from what `git revert` writes: `Revert "<subject>"` (or, since git 2.43,
 * `Reapply "<subject>"` for a revert of a revert) with `This reverts commit <sha>.` in the body.
 * The pull request is the one that landed the reverted commit: for a revert of a revert made on
 * the branch, none.
 */
export function revertOf(subject: string, body: string): { commit: string | null; pullRequest: number | null } | null {
  const reverted = /^(?:Revert|Reapply) "(.*)"(?: \(#\d+\))?\s*$/.exec(subject);
  const commit = /This reverts commit ([0-9a-f]{7,64})/.exec(body)?.[1] ?? null;
  if (!reverted && !commit) return null;
  return { commit, pullRequest: reverted ? pullRequestOf(reverted[1]) : null };
}
