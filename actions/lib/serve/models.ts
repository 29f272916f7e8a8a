import type * as ort from 'onnxruntime-node';
import { parse as parseYaml } from 'yaml';
import type { Queryable } from '../db/index.ts';
import { currentDeployments, type DeploymentRow } from '../tracking/deployments.ts';
import { splitRecordedSpec } from '../features/spec.ts';
import { Git } from '../git/git.ts';
import { readBlobAt } from '../git/read.ts';
import { loadSession, sessionTask } from '../onnx/score.ts';
import { promotionTime } from '../registry/promoted-at.ts';
import { parseRegistry, REGISTRY_FILE, type RegistryEntry } from '../registry/schema.ts';
import { requestEncoder, type RequestEncoder } from '../score/request.ts';
import { sha256Hex } from '../util/sha256.ts';

/**
 * The models the server answers with: exactly the deployed champions, as mlops.deployments records
 * them (deploy and rollback write a row naming the model, version, sha256 and the commit of main
 * that was verified). For each, the registry entry and the ONNX artifact are read from THAT commit
 * through git (never the working tree), the artifact's sha256 is checked against the entry and the
 * deployment row, and one onnxruntime session is created for the version and reused by every
 * request. A version that fails any check is never loaded: the version already loaded keeps
 * serving, and the failure is reported (/ready, the metrics, the log).
 *
 * Swaps are atomic: a request takes the model object once, and a reload replaces the map entry
 * only after the new version is fully loaded; requests in flight finish on the version they took.
 */

const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' } as const;

export interface LoadedModel {
  name: string;
  version: number;
  sha256: string;
  /** the commit of main the deployment recorded */
  gitSha: string;
  /** the mlops.deployments row this was loaded from */
  deploymentId: number;
  deployedAt: string;
  kind: DeploymentRow['kind'];
  entry: RegistryEntry;
  /** when the version was promoted: the merge the deploy recorded, else from git (registry/promoted-at.ts), never the training time */
  promotedAt: string;
  task: 'regression' | 'classification';
  /** classification: a row is positive when its probability is >= this */
  threshold: number | null;
  session: ort.InferenceSession;
  encoder: RequestEncoder;
  loadedAt: string;
}

export interface ModelProblem {
  model: string;
  /** the deployed version that could not be loaded */
  version: number;
  gitSha: string;
  error: string;
  at: string;
}

export interface RefreshResult {
  loaded: LoadedModel[];
  unloaded: string[];
  failed: ModelProblem[];
}

export interface ModelStoreOptions {
  /** a clone of the repository (fetched when a deployed commit is missing from it) */
  repoDir: string;
  log?: (line: string) => void;
}

export class ModelStore {
  private models = new Map<string, LoadedModel>();
  private problems = new Map<string, ModelProblem>();
  private deployed = new Map<string, DeploymentRow>();
  private refreshed = false;
  private readonly git: Git;
  private readonly log: (line: string) => void;

  private readonly options: ModelStoreOptions;

  constructor(options: ModelStoreOptions) {
    this.options = options;
    this.git = new Git(options.repoDir, { retry: { attempts: 1, minDelayMs: 0, maxDelayMs: 0 } });
    this.log = options.log ?? (() => undefined);
  }

  get(name: string): LoadedModel | undefined {
    return this.models.get(name);
  }

  list(): LoadedModel[] {
    return [...this.models.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Deployed models whose deployed version is not the one serving (or nothing serves). */
  problemsList(): ModelProblem[] {
    return [...this.problems.values()];
  }

  /** Every deployed model serves, and none has a deployed version that failed to load (after the first refresh). */
  readiness(): { ready: boolean; reason: string | null; models: { model: string; deployed: number; serving: number | null; problem: string | null }[] } {
    const models = [...this.deployed.values()].map((d) => {
      const m = this.models.get(d.model);
      const problem = this.problems.get(d.model);
      return { model: d.model, deployed: d.version, serving: m?.version ?? null, problem: problem?.error ?? null };
    });
    // A model between two versions (the new one loading) still serves the old one: ready. A deployed
    // version that failed to load, or a model with nothing to serve, is not.
    // Nothing deployed is not ready either: a load balancer must not send predicts to a server that
    // would answer every one with 404.
    const reason = !this.refreshed
      ? 'the deployments have not been read yet'
      : models.length === 0
        ? 'no model is deployed yet: merge a promotion pull request and deploy it (the deploy workflow, or npm run mlops -- deploy)'
        : null;
    return { ready: reason === null && models.every((m) => m.serving !== null && m.problem === null), reason, models };
  }

  /**
   * Reads the deployments table and loads every model whose latest deployment row is not the one
   * serving; unloads retired models. Not reentrant: the server runs its checks one at a time
   * (server.ts, `refresh`), which is where a check asked for during another waits for its turn.
   */
  async refresh(db: Queryable): Promise<RefreshResult> {
    const rows = await currentDeployments(db);
    const result: RefreshResult = { loaded: [], unloaded: [], failed: [] };
    const live = new Map(rows.map((r) => [r.model, r]));
    for (const name of [...this.models.keys()]) {
      if (!live.has(name)) {
        this.models.delete(name);
        this.problems.delete(name);
        result.unloaded.push(name);
        this.log(`serve: ${name} retired (no longer deployed): unloaded`);
      }
    }
    this.deployed = live;
    for (const row of rows) {
      const current = this.models.get(row.model);
      if (current && current.deploymentId === row.id) continue;
      // A failed version is retried on every refresh (a commit missing from the clone may arrive with the next fetch).
      const failedBefore = this.problems.get(row.model);
      try {
        const model = await this.load(row);
        this.models.set(row.model, model); // the swap: requests that already took the old one finish on it
        this.problems.delete(row.model);
        result.loaded.push(model);
        this.log(
          `serve: ${row.model} v${model.version} (${model.sha256.slice(0, 12)}, ${row.kind} at ${row.git_sha.slice(0, 12)}) loaded` +
            (current ? `, replacing v${current.version}` : ''),
        );
      } catch (err) {
        const problem: ModelProblem = {
          model: row.model,
          version: row.version,
          gitSha: row.git_sha,
          error: (err as Error).message,
          at: new Date().toISOString(),
        };
        const repeated = failedBefore?.error === problem.error && failedBefore.gitSha === problem.gitSha;
        this.problems.set(row.model, repeated ? failedBefore : problem);
        result.failed.push(problem);
        if (!repeated) {
          this.log(
            `serve: ${row.model} v${row.version} at ${row.git_sha.slice(0, 12)} NOT loaded: ${problem.error}` +
              (current ? `; v${current.version} keeps serving` : '; the model is not served'),
          );
        }
      }
    }
    this.refreshed = true;
    return result;
  }

  /** Loads one deployment: entry and artifact at its commit, both checked, then one session. */
  private async load(row: DeploymentRow): Promise<LoadedModel> {
    const where = `${row.model} v${row.version}`;
    await this.ensureCommit(row.git_sha);
    const registryText = await readBlobAt(this.git, row.git_sha, REGISTRY_FILE);
    if (!registryText) throw new Error(`${where}: ${REGISTRY_FILE} does not exist at ${row.git_sha.slice(0, 12)}`);
    const registry = parseRegistry(registryText.toString('utf8'), `${REGISTRY_FILE}@${row.git_sha.slice(0, 12)}`);
    const entry = registry.models[row.model];
    if (!entry) throw new Error(`${where}: ${REGISTRY_FILE} at ${row.git_sha.slice(0, 12)} has no entry for ${row.model}`);
    if (entry.version !== row.version || entry.artifact.sha256 !== row.sha256)
      throw new Error(
        `${where}: the registry at ${row.git_sha.slice(0, 12)} names v${entry.version} (${entry.artifact.sha256.slice(0, 12)}) but the deployment records v${row.version} (${row.sha256.slice(0, 12)})`,
      );
    const bytes = await readBlobAt(this.git, row.git_sha, entry.artifact.path);
    if (!bytes) throw new Error(`${where}: artifact ${entry.artifact.path} is missing at ${row.git_sha.slice(0, 12)}`);
    const actual = sha256Hex(bytes);
    if (actual !== entry.artifact.sha256)
      throw new Error(`${where}: artifact ${entry.artifact.path} has sha256 ${actual} but the registry records ${entry.artifact.sha256}; not loaded`);
    const label = `${where} (${entry.artifact.path} at ${row.git_sha.slice(0, 12)})`;
    const { spec, stats } = splitRecordedSpec(entry.features.spec, label);
    const encoder = requestEncoder(spec, stats, entry.features.names, await this.keyColumn(row.git_sha, entry.pipeline));
    // One thread per run: a request scores a row or a few, where a thread pool costs more than it
    // gives, and the event loop needs the other core.
    const session = await loadSession(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), label, SESSION_OPTIONS);
    const { task } = sessionTask(session);
    const threshold = entry.task === 'classification' ? entry.decision_threshold : (spec.decision_threshold ?? null);
    if (task === 'classification' && threshold === null) throw new Error(`${label}: a classifier without a decision threshold in its entry`);
    return {
      name: row.model,
      version: row.version,
      sha256: row.sha256,
      gitSha: row.git_sha,
      deploymentId: row.id,
      deployedAt: row.deployed_at,
      kind: row.kind,
      entry,
      promotedAt: row.promoted_at ?? (await promotionTime(this.git, row.model, entry, { ref: row.git_sha })).at,
      task,
      threshold: task === 'classification' ? threshold : null,
      session,
      encoder,
      loadedAt: new Date().toISOString(),
    };
  }

  /** The source's key column from the pipeline file at that commit, when it names one (else `row_key` alone keys rows). */
  private async keyColumn(commit: string, pipelinePath: string): Promise<string | null> {
    try {
      const text = await readBlobAt(this.git, commit, pipelinePath);
      if (!text) return null;
      const doc = parseYaml(text.toString('utf8')) as { source?: { key_column?: unknown } } | null;
      const key = doc?.source?.key_column;
      return typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : null;
    } catch {
      return null; // not a readable pipeline file: requests key rows with row_key
    }
  }

  /** Fetches from origin when the deployed commit is not in the clone yet. */
  private async ensureCommit(sha: string): Promise<void> {
    if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new Error(`the deployment records git sha ${JSON.stringify(sha)}, not a commit`);
    if ((await this.git.exec(['cat-file', '-e', `${sha}^{commit}`])).code === 0) return;
    const remotes = (await this.git.exec(['remote'])).stdout.split('\n').filter(Boolean);
    if (remotes.includes('origin')) await this.git.exec(['fetch', '--quiet', 'origin']);
    if ((await this.git.exec(['cat-file', '-e', `${sha}^{commit}`])).code !== 0)
      throw new Error(
        `commit ${sha.slice(0, 12)} is not in ${this.options.repoDir}${remotes.includes('origin') ? ' (even after fetching origin)' : ' (it has no origin to fetch from)'}`,
      );
  }
}
