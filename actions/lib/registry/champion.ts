import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { sha256Hex } from '../util/sha256.ts';
import { isRepoPath } from '../git/read.ts';
import { emptyRegistry, parseRegistry, REGISTRY_FILE, type Registry, type RegistryEntry } from './schema.ts';

/** The model in production for a pipeline: its registry entry and its verified ONNX bytes. */
export interface Champion {
  model: string;
  entry: RegistryEntry;
  onnx: Uint8Array;
  /** `tank-level-forecast v3 (registry/models/tank-level-forecast/3/model.onnx)`, for messages */
  label: string;
}

export class ArtifactIntegrityError extends Error {}

/** Reads registry/production.json of a checkout; a missing file is an empty registry. */
export function readRegistry(repoDir: string): Registry {
  const file = join(repoDir, REGISTRY_FILE);
  if (!existsSync(file)) return emptyRegistry();
  return parseRegistry(readFileSync(file, 'utf8'), REGISTRY_FILE);
}

/** Resolves an artifact path inside the checkout, refusing anything that escapes it. */
export function artifactFile(repoDir: string, path: string): string {
  const root = resolve(repoDir);
  const full = resolve(root, path);
  // The one path guard (git/read.ts), and the resolved file must still be under the root.
  if (!isRepoPath(path) || !full.startsWith(root + sep)) throw new ArtifactIntegrityError(`artifact path "${path}" is outside the repository`);
  return full;
}

/**
 * Reads an entry's artifact and checks its bytes against the recorded sha256 before anything uses
 * it: a model whose bytes changed is not the model that was reviewed.
 */
export function readVerifiedArtifact(repoDir: string, model: string, entry: RegistryEntry): Uint8Array {
  const file = artifactFile(repoDir, entry.artifact.path);
  if (!existsSync(file)) throw new ArtifactIntegrityError(`${model} v${entry.version}: artifact ${entry.artifact.path} is missing`);
  const bytes = new Uint8Array(readFileSync(file));
  const actual = sha256Hex(bytes);
  if (actual !== entry.artifact.sha256) {
    throw new ArtifactIntegrityError(
      `${model} v${entry.version}: artifact ${entry.artifact.path} has sha256 ${actual} but the registry records ${entry.artifact.sha256}`,
    );
  }
  return bytes;
}

export function loadChampion(repoDir: string, model: string): Champion | null {
  const entry = readRegistry(repoDir).models[model];
  if (!entry) return null;
  return { model, entry, onnx: readVerifiedArtifact(repoDir, model, entry), label: `${model} v${entry.version} (${entry.artifact.path})` };
}
