import { createOrUpdateBranch, DEFAULT_BOT, type BranchFile } from '../git/branch.ts';
import { Git, type GitIdentity } from '../git/git.ts';
import { gitOf, readBlobAt, type Repo } from '../git/read.ts';
import { entryAtVersion, landingOf, registryHistory, versionBefore, versionsSeen } from '../registry/history.ts';
import { sha256Hex } from '../util/sha256.ts';
import { MODEL_NAME } from '../config/schema.ts';
import {
  artifactPath,
  headlineMetrics,
  parseRegistry,
  REGISTRY_FILE,
  REGISTRY_SCHEMA_REF,
  serializeRegistry,
  type Registry,
  type RegistryEntry,
} from '../registry/schema.ts';

/**
 * Prepares the rollback of ONE model: its registry entry goes back to the version that ran before
 * the current one (from the registry's history on the base branch: for v1 -> v2 -> v1 (reverted)
 * -> v3 that is v1, never the v2 that was itself rolled back), taken verbatim from the commit where
 * the registry had it, while every other model keeps what the base branch says now. The artifact
 * and model card of that version come back from that commit when they were deleted since. `--to`
 * names any version the history had; one above the live version is a roll-forward and is named so.
 * The commit is made by the one branch algorithm (lib/git/branch.ts) on `mlops/rollback/<model>`
 * (`mlops/roll-forward/<model>`), or with `push: true` straight onto the base branch. Merging it
 * deploys; deploy-model records a `rollback` (a forward move: a `deploy`).
 */

export type RollbackDirection = 'back' | 'forward';

export interface RollbackOptions {
  model: string;
  /** default: the version that ran before the current one */
  toVersion?: number;
  /** default `main` */
  base?: string;
  /** commit directly onto the base branch instead of a rollback branch (no pull request) */
  push?: boolean;
  /** default `origin` */
  remote?: string;
  /** the commit's author; default: the repository's git identity (user.name/user.email), else the Actions bot */
  author?: GitIdentity;
  /** why, in the operator's words (goes into the commit and the PR body) */
  reason?: string;
}

/** created/updated/unchanged: the rollback branch on the remote; pushed: the commit went straight onto base */
export type RollbackOutcome = 'created' | 'updated' | 'unchanged' | 'pushed';

export interface RollbackResult {
  outcome: RollbackOutcome;
  /** back: to an older version (a rollback); forward: to a newer one than the live version (a roll-forward) */
  direction: RollbackDirection;
  model: string;
  fromVersion: number;
  toVersion: number;
  /** the branch pushed: `mlops/rollback/<model>` (`mlops/roll-forward/<model>`), or the base branch with `push: true` */
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

export function rollbackBranchName(model: string, direction: RollbackDirection = 'back'): string {
  return direction === 'back' ? `mlops/rollback/${model}` : `mlops/roll-forward/${model}`;
}

export const ROLLBACK_MARKER = 'mlops:rollback';
export const ROLL_FORWARD_MARKER = 'mlops:roll-forward';

export async function prepareRollback(repo: Repo, options: RollbackOptions): Promise<RollbackResult> {
  const { model } = options;
  if (!MODEL_NAME.test(model)) throw new Error(`invalid model name ${JSON.stringify(model)}: expected [a-z0-9-]+`);
  const git = gitOf(repo);
  const base = options.base ?? 'main';
  const remote = options.remote ?? 'origin';
  if (options.toVersion !== undefined && (!Number.isInteger(options.toVersion) || options.toVersion < 1))
    throw new Error(`toVersion must be a positive integer, got ${String(options.toVersion)}`);

  // 1. The base as the remote has it now.
  await git.fetchBranches(remote, [base]);
  const baseRef = `refs/remotes/${remote}/${base}`;
  const baseSha = await git.revParse(baseRef);
  if (!baseSha) throw new Error(`${remote} has no branch ${base}`);
  const currentText = await readBlobAt(git, baseSha, REGISTRY_FILE);
  if (!currentText) throw new Error(`${REGISTRY_FILE} does not exist on ${base} (${baseSha.slice(0, 12)})`);
  const current = parseRegistry(currentText.toString('utf8'), `${REGISTRY_FILE} on ${base}`);
  const live = current.models[model];
  if (!live) throw new Error(`${model} is not in ${REGISTRY_FILE} on ${base}; nothing to roll back`);

  // 2. Which version, and its entry from the newest commit on the base's line whose registry had it.
  const records = await registryHistory(git, { ref: baseSha, model });
  let toVersion = options.toVersion;
  if (toVersion === undefined) {
    const before = versionBefore(records, model, live.version);
    if (before === null) throw new Error(`${model} v${live.version} is the first version ${base} ever had; there is no earlier version to roll back to`);
    toVersion = before;
  }
  if (toVersion === live.version) throw new Error(`${model} is already at v${live.version} on ${base}`);
  const found = await entryAtVersion(git, records, model, toVersion);
  if (!found)
    throw new Error(
      `${model} v${toVersion} is not in the history of ${REGISTRY_FILE} on ${base} (versions found: ${
        versionsSeen(records, model)
          .map((v) => `v${v}`)
          .join(', ') || 'none'
      })`,
    );
  const target = found.entry;
  const direction: RollbackDirection = target.version < live.version ? 'back' : 'forward';

  // 3. The files of the new commit: the registry with only this model's entry replaced, and the
  //    target version's artifact and card when the base no longer has them.
  const registry: Registry = { $schema: current.$schema ?? REGISTRY_SCHEMA_REF, models: { ...current.models, [model]: target } };
  const text = serializeRegistry(parseRegistry(serializeRegistry(registry), `${REGISTRY_FILE} (rollback of ${model})`));
  const files: BranchFile[] = [{ path: REGISTRY_FILE, bytes: Buffer.from(text, 'utf8') }];
  const restoredFiles: string[] = [];

  const artifact = target.artifact.path;
  if (artifact !== artifactPath(model, target.version)) throw new Error(`${model} v${target.version}: unexpected artifact path "${artifact}"`);
  const atBase = await readBlobAt(git, baseSha, artifact);
  if (!atBase || sha256Hex(atBase) !== target.artifact.sha256) {
    const old = await readBlobAt(git, found.commit, artifact);
    if (!old) throw new Error(`${model} v${target.version}: artifact ${artifact} is not in commit ${found.commit.slice(0, 12)} either; cannot restore it`);
    if (sha256Hex(old) !== target.artifact.sha256)
      throw new Error(
        `${model} v${target.version}: artifact ${artifact} at ${found.commit.slice(0, 12)} has sha256 ${sha256Hex(old)} but the entry records ${target.artifact.sha256}`,
      );
    files.push({ path: artifact, bytes: old });
    restoredFiles.push(artifact);
  }
  const card = `registry/models/${model}/${target.version}/card.json`;
  if (!(await readBlobAt(git, baseSha, card))) {
    const oldCard = await readBlobAt(git, found.commit, card);
    if (oldCard) {
      files.push({ path: card, bytes: oldCard });
      restoredFiles.push(card);
    }
  }

  // 4. The commit, made by the one branch algorithm: on the rollback branch, or straight onto base.
  const verb = direction === 'back' ? 'Roll back' : 'Roll forward';
  const title = `${verb} ${model} v${live.version} -> v${target.version}`;
  const others = Object.keys(current.models).filter((m) => m !== model);
  const message = commitMessage(title, model, live, target, found.commit, restoredFiles, options.reason);
  // promoted = when each version last landed on the base (its merge, or a revert), not its entry's training-time promoted_at
  const promoted = (e: RegistryEntry) => new Date(landingOf(records, model, e.version)?.date ?? e.promoted_at).toISOString();
  const body = pullRequestBody({
    direction,
    model,
    live,
    target,
    promotedAt: { live: promoted(live), target: promoted(target) },
    base,
    baseSha,
    sourceCommit: found.commit,
    restoredFiles,
    others,
    reason: options.reason,
  });
  const author = options.author ?? (await gitIdentity(git)) ?? DEFAULT_BOT;
  const branchName = options.push ? base : rollbackBranchName(model, direction);
  const made = await createOrUpdateBranch({ git, remote, base, branch: branchName, files, message, author });
  return {
    outcome: options.push ? 'pushed' : made.outcome,
    direction,
    model,
    fromVersion: live.version,
    toVersion: target.version,
    branch: branchName,
    base,
    baseSha: made.baseSha,
    commit: made.commit,
    sourceCommit: found.commit,
    restoredFiles,
    title,
    body,
  };
}

/** user.name and user.email of the repository, when both are set. */
async function gitIdentity(git: Git): Promise<GitIdentity | null> {
  const name = (await git.exec(['config', 'user.name'])).stdout.trim();
  const email = (await git.exec(['config', 'user.email'])).stdout.trim();
  return name && email ? { name, email } : null;
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
  direction: RollbackDirection;
  model: string;
  live: RegistryEntry;
  target: RegistryEntry;
  /** when each version landed on the base branch (registry history), ISO 8601 */
  promotedAt: { live: string; target: string };
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
  const row = (label: string, e: RegistryEntry, promoted: string) =>
    `| ${label} | v${e.version} | \`${e.run_id}\` | ${headlineMetrics(e)
      .map((m) => `${m.name} ${num(m.value)}`)
      .join(', ')} | ${promoted} | ${pr(e)} | \`${e.artifact.sha256.slice(0, 12)}\` |`;
  const back = b.direction === 'back';
  const verb = back ? 'Roll back' : 'Roll forward';
  return [
    `<!-- ${back ? ROLLBACK_MARKER : ROLL_FORWARD_MARKER} model=${model} from=${live.version} to=${target.version} -->`,
    `## ${verb} ${model}: v${live.version} → v${target.version}`,
    '',
    `**Why:** ${b.reason ?? (back ? `v${live.version} is to be taken out of production; v${target.version} is the version that ran before it.` : `v${target.version}, newer than the live v${live.version}, is to run again (a roll-forward, not a rollback).`)}`,
    '',
    '| | version | run | holdout metrics | promoted (merged) | pull request | sha256 |',
    '|---|---|---|---|---|---|---|',
    row('now (leaves production)', live, b.promotedAt.live),
    row('after merge', target, b.promotedAt.target),
    '',
    `The v${target.version} entry is restored verbatim from commit \`${b.sourceCommit.slice(0, 12)}\`; this branch is built on \`${b.base}\` at \`${b.baseSha.slice(0, 12)}\`.`,
    b.restoredFiles.length
      ? `Files restored from that commit: ${b.restoredFiles.map((f) => `\`${f}\``).join(', ')}.`
      : `The v${target.version} artifact is still in the tree.`,
    b.others.length ? `Other models keep their current entries: ${b.others.map((m) => `\`${m}\``).join(', ')}.` : 'No other model is in the registry.',
    '',
    '### What merging does',
    `deploy-model verifies every entry at the merge commit (schema, sha256, loads in onnxruntime-node, smoke score) and records ${back ? `a \`rollback\` of ${model} to v${target.version}` : `a \`deploy\` of ${model} v${target.version}`}.`,
    '',
    '### How to undo',
    `Revert the merge of this pull request (\`git revert -m 1 <merge commit>\`, or GitHub's Revert button): v${live.version} comes back and is recorded as ${back ? 'a deploy' : 'a rollback'}.`,
    '',
  ].join('\n');
}
