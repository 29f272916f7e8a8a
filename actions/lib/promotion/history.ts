import { REGISTRY_FILE } from '../registry/schema.ts';
import { Git } from './git.ts';

/** Reading the registry's past from git (for `registry history`, rollbacks and version numbering). */

/** The bytes of `path` at `ref` (a commit, branch or tag), or null when the file or the ref does not exist there. */
export async function readFileAtRef(repoDir: string, ref: string, path: string): Promise<Buffer | null> {
  const git = new Git(repoDir);
  const spec = `${ref}:${path.replace(/^\.?\//, '')}`;
  const type = await git.exec(['cat-file', '-t', spec]);
  if (type.code !== 0 || type.stdout.trim() !== 'blob') return null;
  return git.bytes(['cat-file', 'blob', spec]);
}

export interface RegistryHistoryEntry {
  commit: string;
  /** committer date, ISO 8601 */
  date: string;
  subject: string;
  /** from `Merge pull request #N from ...` or a squash merge's `... (#N)`; null otherwise */
  pullRequest: number | null;
  /** the commit this one reverts (`This reverts commit <sha>.`), null when it is no revert */
  reverts: string | null;
  /** version of each model in registry/production.json at this commit ({} when the file is gone or unreadable) */
  versions: Record<string, number>;
}

const FIELD = '\x1f';
const RECORD = '\x1e';

/**
 * Commits on the first-parent line of `ref` that changed registry/production.json, newest first:
 * on the base branch these are the merges of promotion pull requests and their reverts.
 */
export async function listRegistryHistory(repoDir: string, ref: string, file: string = REGISTRY_FILE): Promise<RegistryHistoryEntry[]> {
  const git = new Git(repoDir);
  const out = await git.run(['log', '--first-parent', `--format=%H${FIELD}%cI${FIELD}%s${FIELD}%b${RECORD}`, ref, '--', file], { raw: true });
  const entries: RegistryHistoryEntry[] = [];
  for (const record of out.split(RECORD)) {
    const trimmed = record.replace(/^\n+/, '');
    if (!trimmed) continue;
    const [commit, date, subject, body = ''] = trimmed.split(FIELD);
    const text = await readFileAtRef(repoDir, commit, file);
    entries.push({ commit, date, subject, pullRequest: pullRequestOf(subject), reverts: revertedCommit(body), versions: text ? versionsOf(text.toString('utf8')) : {} });
  }
  return entries;
}

/** The highest version `model` ever had in the file on `ref`'s first-parent line (0 when never). */
export async function highestVersionEver(repoDir: string, ref: string, model: string): Promise<number> {
  let max = 0;
  for (const h of await listRegistryHistory(repoDir, ref)) max = Math.max(max, h.versions[model] ?? 0);
  return max;
}

export function pullRequestOf(subject: string): number | null {
  const merge = /^Merge pull request #(\d+) from /.exec(subject);
  if (merge) return Number(merge[1]);
  const squash = /\(#(\d+)\)\s*$/.exec(subject);
  if (squash && !subject.startsWith('Revert ')) return Number(squash[1]);
  return null;
}

function revertedCommit(body: string): string | null {
  const m = /This reverts commit ([0-9a-f]{7,64})/.exec(body);
  return m ? m[1] : null;
}

/** Lenient on purpose: history may hold files written by older schemas. */
function versionsOf(text: string): Record<string, number> {
  try {
    const json = JSON.parse(text) as { models?: Record<string, { version?: unknown }> };
    const out: Record<string, number> = {};
    for (const [name, entry] of Object.entries(json.models ?? {})) if (typeof entry?.version === 'number') out[name] = entry.version;
    return out;
  } catch {
    return {};
  }
}
