import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactPath, parseRegistry, REGISTRY_FILE, REGISTRY_SCHEMA_REF, serializeRegistry, type Registry, type RegistryEntry } from '../registry/schema.ts';
import { commitsTouching, git, gitTry, readBlobAt, resolveCommit } from './git-read.ts';

/**
 * Prepares the rollback of ONE model: its registry entry goes back to an earlier version (default:
 * the highest version below the current one), taken verbatim from the commit where the registry had
 * it, while every other model keeps what the base branch says now. The artifact and model card of
 * that version come back from that commit when they were deleted since. The commit is built from
 * git objects (a temporary index, no checkout), so the caller's working tree is never touched, and
 * is pushed to `mlops/rollback/<model>` (or, with `push: true`, straight onto the base branch).
 * Merging it deploys; deploy-model records it as a `rollback`.
 */

export interface GitAuthor {
  name: string;
  email: string;
}

export interface RollbackOptions {
  model: string;
  /** default: the highest version below the current one that the registry ever had */
  toVersion?: number;
  /** default `main` */
  base?: string;
  /** commit directly onto the base branch instead of a rollback branch (no pull request) */
  push?: boolean;
  /** default `origin` */
  remote?: string;
  /** the commit's author; default: the repository's git config */
  author?: GitAuthor;
  /** why, in the operator's words (goes into the commit and the PR body) */
  reason?: string;
}

/** created/updated/unchanged: the rollback branch on the remote; pushed: the commit went straight onto base */
export type RollbackOutcome = 'created' | 'updated' | 'unchanged' | 'pushed';

export interface RollbackResult {
  outcome: RollbackOutcome;
  model: string;
  fromVersion: number;
  toVersion: number;
  /** the branch pushed: `mlops/rollback/<model>`, or the base branch with `push: true` */
  branch: string;
  base: string;
  /** the base commit the rollback is built on */
  baseSha: string;
  commit: string;
  /** the commit whose registry had the restored entry */
  sourceCommit: string;
  /** files brought back from sourceCommit because the base no longer had them */
  restoredFiles: string[];
  title: string;
  body: string;
}

export function rollbackBranchName(model: string): string {
  return `mlops/rollback/${model}`;
}

export const ROLLBACK_MARKER = 'mlops:rollback';

const MODEL_NAME = /^[a-z0-9-]+$/;

export async function prepareRollback(repoDir: string, options: RollbackOptions): Promise<RollbackResult> {
  const { model } = options;
  if (!MODEL_NAME.test(model)) throw new Error(`invalid model name ${JSON.stringify(model)}: expected [a-z0-9-]+`);
  const base = options.base ?? 'main';
  const remote = options.remote ?? 'origin';
  if (options.toVersion !== undefined && (!Number.isInteger(options.toVersion) || options.toVersion < 1))
    throw new Error(`toVersion must be a positive integer, got ${String(options.toVersion)}`);

  // 1. The base as the remote has it now.
  await git(repoDir, ['fetch', '--quiet', '--no-tags', remote, `+refs/heads/${base}:refs/remotes/${remote}/${base}`]);
  const baseSha = await resolveCommit(repoDir, `refs/remotes/${remote}/${base}`);
  const currentText = await readBlobAt(repoDir, baseSha, REGISTRY_FILE);
  if (!currentText) throw new Error(`${REGISTRY_FILE} does not exist on ${base} (${baseSha.slice(0, 12)})`);
  const current = parseRegistry(currentText.toString('utf8'), `${REGISTRY_FILE} on ${base}`);
  const live = current.models[model];
  if (!live) throw new Error(`${model} is not in ${REGISTRY_FILE} on ${base}; nothing to roll back`);

  // 2. The target version's entry, from the newest commit whose registry had it.
  const found = await findEntry(repoDir, baseSha, model, live.version, options.toVersion);
  const target = found.entry;
  if (target.version === live.version) throw new Error(`${model} is already at v${live.version} on ${base}`);

  // 3. The files of the new commit: the registry with only this model's entry replaced, and the
  //    target version's artifact and card when the base no longer has them.
  const registry: Registry = { $schema: current.$schema ?? REGISTRY_SCHEMA_REF, models: { ...current.models, [model]: target } };
  const text = serializeRegistry(parseRegistry(serializeRegistry(registry), `${REGISTRY_FILE} (rollback of ${model})`));
  const files: { path: string; bytes: Uint8Array }[] = [{ path: REGISTRY_FILE, bytes: Buffer.from(text, 'utf8') }];
  const restoredFiles: string[] = [];

  const artifact = target.artifact.path;
  if (artifact !== artifactPath(model, target.version)) throw new Error(`${model} v${target.version}: unexpected artifact path "${artifact}"`);
  const atBase = await readBlobAt(repoDir, baseSha, artifact);
  if (!atBase || sha256(atBase) !== target.artifact.sha256) {
    const old = await readBlobAt(repoDir, found.commit, artifact);
    if (!old) throw new Error(`${model} v${target.version}: artifact ${artifact} is not in commit ${found.commit.slice(0, 12)} either; cannot restore it`);
    if (sha256(old) !== target.artifact.sha256)
      throw new Error(`${model} v${target.version}: artifact ${artifact} at ${found.commit.slice(0, 12)} has sha256 ${sha256(old)} but the entry records ${target.artifact.sha256}`);
    files.push({ path: artifact, bytes: old });
    restoredFiles.push(artifact);
  }
  const card = `registry/models/${model}/${target.version}/card.json`;
  if (!(await readBlobAt(repoDir, baseSha, card))) {
    const oldCard = await readBlobAt(repoDir, found.commit, card);
    if (oldCard) {
      files.push({ path: card, bytes: oldCard });
      restoredFiles.push(card);
    }
  }

  // 4. The commit, built on baseSha from git objects.
  const title = `Roll back ${model} v${live.version} -> v${target.version}`;
  const others = Object.keys(current.models).filter((m) => m !== model);
  const message = commitMessage(title, model, live, target, found.commit, restoredFiles, options.reason);
  const tree = await writeTree(repoDir, baseSha, files);
  const body = pullRequestBody({ model, live, target, base, baseSha, sourceCommit: found.commit, restoredFiles, others, reason: options.reason });
  const env = options.author
    ? { GIT_AUTHOR_NAME: options.author.name, GIT_AUTHOR_EMAIL: options.author.email, GIT_COMMITTER_NAME: options.author.name, GIT_COMMITTER_EMAIL: options.author.email }
    : undefined;

  const result = { model, fromVersion: live.version, toVersion: target.version, base, baseSha, sourceCommit: found.commit, restoredFiles, title, body };

  // 5. Push: straight onto base (fast-forward only), or to the rollback branch, idempotently.
  if (options.push) {
    const commit = await git(repoDir, ['commit-tree', tree, '-p', baseSha, '-F', '-'], { input: message, env });
    await git(repoDir, ['push', '--quiet', remote, `${commit}:refs/heads/${base}`]);
    return { ...result, outcome: 'pushed', branch: base, commit };
  }

  const branch = rollbackBranchName(model);
  const existing = await remoteBranch(repoDir, remote, branch);
  if (existing) {
    await git(repoDir, ['fetch', '--quiet', '--no-tags', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`]);
    const [existingTree, existingParents] = (await git(repoDir, ['show', '-s', '--format=%T %P', existing])).split(' ', 2);
    if (existingTree === tree && existingParents === baseSha) return { ...result, outcome: 'unchanged', branch, commit: existing };
  }
  const commit = await git(repoDir, ['commit-tree', tree, '-p', baseSha, '-F', '-'], { input: message, env });
  const lease = `--force-with-lease=refs/heads/${branch}:${existing ?? ''}`;
  await git(repoDir, ['push', '--quiet', lease, remote, `${commit}:refs/heads/${branch}`]);
  await updateLocalBranch(repoDir, branch, commit);
  return { ...result, outcome: existing ? 'updated' : 'created', branch, commit };
}

interface FoundEntry {
  entry: RegistryEntry;
  commit: string;
}

/** Walks every commit that changed the registry (newest first) for the model's versions. */
async function findEntry(repoDir: string, baseSha: string, model: string, currentVersion: number, toVersion: number | undefined): Promise<FoundEntry> {
  const commits = await commitsTouching(repoDir, baseSha, REGISTRY_FILE);
  const byVersion = new Map<number, FoundEntry>();
  for (const c of commits) {
    const raw = await readBlobAt(repoDir, c.sha, REGISTRY_FILE);
    if (!raw) continue;
    let value: unknown;
    try {
      value = (JSON.parse(raw.toString('utf8')) as { models?: Record<string, unknown> }).models?.[model];
    } catch {
      continue; // a commit whose file did not parse has nothing to restore
    }
    const version = value && typeof value === 'object' ? (value as { version?: unknown }).version : undefined;
    if (typeof version !== 'number' || byVersion.has(version)) continue;
    let entry: RegistryEntry;
    try {
      entry = parseRegistry(JSON.stringify({ $schema: REGISTRY_SCHEMA_REF, models: { [model]: value } })).models[model];
    } catch {
      continue; // an entry that does not pass the schema today cannot be restored as is
    }
    byVersion.set(version, { entry, commit: c.sha });
    if (toVersion !== undefined && version === toVersion) break;
  }
  const seen = [...byVersion.keys()].sort((a, b) => a - b);
  if (toVersion !== undefined) {
    const hit = byVersion.get(toVersion);
    if (!hit) throw new Error(`${model} v${toVersion} is not in the history of ${REGISTRY_FILE} (versions found: ${seen.map((v) => `v${v}`).join(', ') || 'none'})`);
    return hit;
  }
  const lower = seen.filter((v) => v < currentVersion);
  if (lower.length === 0) throw new Error(`${model} has no version below v${currentVersion} in the history of ${REGISTRY_FILE}; nothing to roll back to`);
  return byVersion.get(lower[lower.length - 1])!;
}

/** A tree = baseSha's tree with `files` written over it, through a temporary index. */
async function writeTree(repoDir: string, baseSha: string, files: { path: string; bytes: Uint8Array }[]): Promise<string> {
  const index = join(tmpdir(), `mlops-rollback-index-${process.pid}-${randomBytes(6).toString('hex')}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    await git(repoDir, ['read-tree', baseSha], { env });
    for (const f of files) {
      const blob = await git(repoDir, ['hash-object', '-w', '--stdin'], { input: f.bytes });
      await git(repoDir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${f.path}`], { env });
    }
    return await git(repoDir, ['write-tree'], { env });
  } finally {
    rmSync(index, { force: true });
  }
}

async function remoteBranch(repoDir: string, remote: string, branch: string): Promise<string | null> {
  const res = await gitTry(repoDir, ['ls-remote', '--heads', remote, `refs/heads/${branch}`]);
  if (res.code !== 0) throw new Error(`git ls-remote ${remote} failed: ${res.stderr}`);
  const sha = res.stdout.split(/\s+/)[0];
  return sha && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
}

/** Points the local branch at the commit too, unless it is checked out (its worktree would go stale). */
async function updateLocalBranch(repoDir: string, branch: string, commit: string): Promise<void> {
  const head = await gitTry(repoDir, ['symbolic-ref', '-q', 'HEAD']);
  if (head.code === 0 && head.stdout === `refs/heads/${branch}`) return;
  await git(repoDir, ['update-ref', `refs/heads/${branch}`, commit]);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function commitMessage(title: string, model: string, live: RegistryEntry, target: RegistryEntry, source: string, restored: string[], reason?: string): string {
  const lines = [
    title,
    '',
    `Restores the registry entry of ${model} v${target.version} (run ${target.run_id}) as it was in ${source.slice(0, 12)},`,
    `replacing v${live.version} (run ${live.run_id}). Other models are unchanged.`,
  ];
  if (reason) lines.push('', `Reason: ${reason}`);
  if (restored.length) lines.push('', 'Restored from history:', ...restored.map((f) => `  ${f}`));
  lines.push('', `Undo: revert this change (for a merged pull request: git revert -m 1 <merge commit>).`);
  return `${lines.join('\n')}\n`;
}

interface BodyInput {
  model: string;
  live: RegistryEntry;
  target: RegistryEntry;
  base: string;
  baseSha: string;
  sourceCommit: string;
  restoredFiles: string[];
  others: string[];
  reason?: string;
}

/** The pull request body: why, the two versions side by side, what merging does, how to undo. */
export function pullRequestBody(b: BodyInput): string {
  const { model, live, target } = b;
  const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));
  const pr = (e: RegistryEntry) => (e.pull_request ? `[#${e.pull_request.number}](${e.pull_request.url})` : '—');
  const row = (label: string, e: RegistryEntry) =>
    `| ${label} | v${e.version} | \`${e.run_id}\` | ${num(e.metrics.rmse)} | ${num(e.metrics.mae)} | ${e.promoted_at} | ${pr(e)} | \`${e.artifact.sha256.slice(0, 12)}\` |`;
  return [
    `<!-- ${ROLLBACK_MARKER} model=${model} from=${live.version} to=${target.version} -->`,
    `## Roll back ${model}: v${live.version} → v${target.version}`,
    '',
    `**Why:** ${b.reason ?? `v${live.version} is to be taken out of production; v${target.version} was the version before it.`}`,
    '',
    '| | version | run | RMSE (holdout) | MAE (holdout) | promoted | pull request | sha256 |',
    '|---|---|---|---|---|---|---|---|',
    row('now (leaves production)', live),
    row('after merge', target),
    '',
    `The v${target.version} entry is restored verbatim from commit \`${b.sourceCommit.slice(0, 12)}\`; this branch is built on \`${b.base}\` at \`${b.baseSha.slice(0, 12)}\`.`,
    b.restoredFiles.length ? `Files restored from that commit: ${b.restoredFiles.map((f) => `\`${f}\``).join(', ')}.` : `The v${target.version} artifact is still in the tree.`,
    b.others.length ? `Other models keep their current entries: ${b.others.map((m) => `\`${m}\``).join(', ')}.` : 'No other model is in the registry.',
    '',
    '### What merging does',
    `deploy-model verifies every entry at the merge commit (schema, sha256, loads in onnxruntime-node, smoke score) and records a \`rollback\` of ${model} to v${target.version}.`,
    '',
    '### How to undo',
    `Revert the merge of this pull request (\`git revert -m 1 <merge commit>\`, or GitHub's Revert button): v${live.version} comes back and is recorded as a deploy.`,
    '',
  ].join('\n');
}
