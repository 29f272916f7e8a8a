import { sha256Hex } from '../util/sha256.ts';
import { MODEL_NAME } from '../config/schema.ts';
import { artifactPath, parseRegistry, REGISTRY_FILE, REGISTRY_SCHEMA_REF, type Registry, type RegistryEntry } from '../registry/schema.ts';
import { assertRepoPath, readBlobAt, resolveCommit } from '../git/read.ts';
import { smokeScore } from './smoke.ts';

/**
 * Verifies registry/production.json as it is AT A COMMIT (from git objects, not the working tree):
 * the file parses, and every entry's artifact is present at that commit, has the recorded sha256,
 * sits at a safe path, loads in onnxruntime-node and scores a smoke sample with finite outputs.
 */

export interface EntryVerification {
  model: string;
  /** null when the entry is too malformed to have one */
  version: number | null;
  sha256: string | null;
  ok: boolean;
  /** what is wrong, naming the model; absent when ok */
  problem?: string;
}

export interface RegistryVerification {
  ok: boolean;
  /** the commit verified */
  gitSha: string;
  /** a problem with the file as a whole (missing, not JSON, not an object, models unsorted) */
  problem?: string;
  entries: EntryVerification[];
  /** the parsed registry when the whole file is valid (entries may still fail their artifact checks) */
  registry: Registry | null;
}

export async function verifyRegistry(repoDir: string, ref = 'HEAD'): Promise<RegistryVerification> {
  const gitSha = await resolveCommit(repoDir, ref);
  const short = gitSha.slice(0, 12);
  const fail = (problem: string): RegistryVerification => ({ ok: false, gitSha, problem, entries: [], registry: null });

  const raw = await readBlobAt(repoDir, gitSha, REGISTRY_FILE);
  if (!raw) return fail(`${REGISTRY_FILE} does not exist at ${short}`);
  const text = raw.toString('utf8');

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`${REGISTRY_FILE} at ${short} is not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return fail(`${REGISTRY_FILE} at ${short}: expected an object with "models"`);
  const models = (json as { models?: unknown }).models;
  if (!models || typeof models !== 'object' || Array.isArray(models)) return fail(`${REGISTRY_FILE} at ${short}: models: expected an object of model entries`);

  // Schema: the whole file first; when it fails, each entry alone (so each problem names its
  // model), then the file without the failing entries (what is left is the file's own problem).
  const file = `${REGISTRY_FILE}@${short}`;
  let registry: Registry | null = null;
  let valid: Registry | null = null;
  let fileProblem: string | undefined;
  const schemaProblems = new Map<string, string>();
  try {
    registry = parseRegistry(text, file);
    valid = registry;
  } catch (e) {
    const kept: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(models as Record<string, unknown>)) {
      try {
        parseRegistry(JSON.stringify({ $schema: REGISTRY_SCHEMA_REF, models: { [name]: value } }), file);
        kept[name] = value;
      } catch (own) {
        schemaProblems.set(name, `${name}: ${(own as Error).message.split('\n').join('; ')}`);
      }
    }
    try {
      valid = parseRegistry(JSON.stringify({ ...(json as object), models: kept }), file);
      if (schemaProblems.size === 0) fileProblem = (e as Error).message.split('\n').join('; ');
    } catch (rest) {
      fileProblem = (rest as Error).message.split('\n').join('; ');
    }
  }

  const entries: EntryVerification[] = [];
  for (const [model, value] of Object.entries(models as Record<string, unknown>)) {
    const loose = value as Partial<RegistryEntry> | null;
    const version = typeof loose?.version === 'number' ? loose.version : null;
    const sha256 = typeof loose?.artifact?.sha256 === 'string' ? loose.artifact.sha256 : null;
    const schemaProblem = schemaProblems.get(model);
    if (schemaProblem) {
      entries.push({ model, version, sha256, ok: false, problem: schemaProblem });
      continue;
    }
    const entry = valid?.models[model];
    if (!entry) {
      entries.push({ model, version, sha256, ok: false, problem: `${model}: not checked: ${fileProblem ?? 'the file does not parse'}` });
      continue;
    }
    const problem = await verifyEntry(repoDir, gitSha, model, entry);
    entries.push(problem ? { model, version, sha256, ok: false, problem } : { model, version, sha256, ok: true });
  }

  const ok = !fileProblem && entries.every((e) => e.ok);
  return { ok, gitSha, ...(fileProblem ? { problem: fileProblem } : {}), entries, registry };
}

/** Checks one schema-valid entry's artifact at `commit`; returns the problem naming the model, or null. */
export async function verifyEntry(repoDir: string, commit: string, model: string, entry: RegistryEntry): Promise<string | null> {
  const where = `${model} v${entry.version}`;
  // Defence in depth: the schema already refuses these, but nothing here relies on it.
  if (!MODEL_NAME.test(model)) return `${JSON.stringify(model)}: invalid model name (expected [a-z0-9-]+)`;
  try {
    assertRepoPath(entry.artifact.path);
  } catch (e) {
    return `${where}: artifact rejected: ${(e as Error).message}`;
  }
  const expected = artifactPath(model, entry.version);
  if (entry.artifact.path !== expected) return `${where}: artifact path "${entry.artifact.path}" is not "${expected}"`;

  const bytes = await readBlobAt(repoDir, commit, entry.artifact.path);
  if (!bytes) return `${where}: artifact ${entry.artifact.path} is missing at ${commit.slice(0, 12)}`;
  const actual = sha256Hex(bytes);
  if (actual !== entry.artifact.sha256)
    return `${where}: artifact ${entry.artifact.path} has sha256 ${actual} but the registry records ${entry.artifact.sha256}`;
  if (bytes.length !== entry.artifact.bytes)
    return `${where}: artifact ${entry.artifact.path} has ${bytes.length} bytes but the registry records ${entry.artifact.bytes}`;

  const smoke = await smokeScore(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), entry.features.names.length);
  if (smoke.outcome === 'failed') return `${where}: ${smoke.problem}`;
  return null;
}

/** One line per failing model (and the file problem), for errors and summaries. */
export function describeFailures(v: RegistryVerification): string[] {
  return [...(v.problem ? [v.problem] : []), ...v.entries.filter((e) => !e.ok).map((e) => e.problem ?? `${e.model}: failed`)];
}
