import { sha256Hex } from '../util/sha256.ts';
import { MODEL_NAME } from '../config/schema.ts';
import { isRepoPath } from '../git/read.ts';
import { artifactPath, parseRegistry, serializeRegistry, REGISTRY_FILE, type Registry, type RegistryEntry } from './schema.ts';

/**
 * The registry edit of one promotion, as plain data: the new registry and every file the promotion
 * commit writes (production.json, the ONNX artifact, the model card). Pure: no git, no disk.
 */

/** What the caller knows of the new entry; version, artifact and previous_version are derived here. */
export type PromotedEntry = RegistryEntry extends infer E ? (E extends unknown ? Omit<E, 'version' | 'artifact' | 'previous_version'> : never) : never;

export interface ArtifactRef {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Promotion {
  model: string;
  entry: PromotedEntry;
  onnx: Uint8Array;
  /** the model card (card.json); a function gets the version and artifact once they are known */
  card: object | ((version: number, artifact: ArtifactRef) => object);
  /**
   * The highest version this model ever had on the base branch (from `listRegistryHistory`), so a
   * version rolled back by `git revert` is never handed out again. Optional.
   */
  highestVersionEver?: number | null;
}

export interface PlannedFile {
  /** relative to the repository root, `/`-separated */
  path: string;
  bytes: Uint8Array;
}

export interface RegistryEditPlan {
  registry: Registry;
  files: PlannedFile[];
  version: number;
  previousVersion: number | null;
  artifact: ArtifactRef;
  cardPath: string;
}

/** Throws unless `model` is a safe registry name: `[a-z0-9-]+`, no `..`, no path. */
export function assertModelName(model: string): void {
  if (typeof model !== 'string' || !MODEL_NAME.test(model) || model.includes('..') || model.startsWith('-'))
    throw new Error(`invalid model name ${JSON.stringify(model)}: expected lowercase letters, digits and dashes ([a-z0-9-]+), not starting with a dash`);
}

export function cardPath(model: string, version: number): string {
  return `registry/models/${model}/${version}/card.json`;
}

export function planRegistryEdit(current: Registry, promotion: Promotion): RegistryEditPlan {
  const { model } = promotion;
  assertModelName(model);
  if (!(promotion.onnx instanceof Uint8Array) || promotion.onnx.byteLength === 0) throw new Error(`promotion of ${model}: the ONNX artifact is empty`);

  const previous = current.models[model];
  const previousVersion = previous ? previous.version : null;
  const version = Math.max(previousVersion ?? 0, promotion.highestVersionEver ?? 0) + 1;

  const artifact: ArtifactRef = { path: artifactPath(model, version), sha256: sha256Hex(promotion.onnx), bytes: promotion.onnx.byteLength };
  assertInsideRegistry(artifact.path);
  const entry = { ...promotion.entry, version, artifact, previous_version: previousVersion } as RegistryEntry;
  const registry: Registry = { ...current, models: { ...current.models, [model]: entry } };

  // Validate the result with the registry's own schema: a bad entry fails here, not in review.
  // The file is written from the parsed registry, so its keys are in the schema's canonical order.
  const checked = parseRegistry(serializeRegistry(registry), `${REGISTRY_FILE} (promotion of ${model} v${version})`);
  const text = serializeRegistry(checked);

  const card = typeof promotion.card === 'function' ? promotion.card(version, artifact) : promotion.card;
  const cPath = cardPath(model, version);
  assertInsideRegistry(cPath);
  return {
    registry: checked,
    version,
    previousVersion,
    artifact,
    cardPath: cPath,
    files: [
      { path: REGISTRY_FILE, bytes: utf8(text) },
      { path: artifact.path, bytes: promotion.onnx },
      { path: cPath, bytes: utf8(`${JSON.stringify(card, null, 2)}\n`) },
    ],
  };
}

function assertInsideRegistry(path: string): void {
  if (!isRepoPath(path) || path.split('/')[0] !== 'registry') throw new Error(`refusing to write ${JSON.stringify(path)}: expected a path inside registry/`);
}

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
