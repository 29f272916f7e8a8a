import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  artifactPath,
  emptyRegistry,
  parseRegistry,
  serializeRegistry,
  REGISTRY_FILE,
  type RegressionEntry,
  type Registry,
} from '../../actions/lib/registry/schema.ts';
import { promotionCommitMessage } from '../../actions/lib/promotion/marker.ts';
import type { ClassificationMetrics } from '../../actions/lib/evaluate/metrics.ts';

/**
 * Tiny ONNX models for the deploy tests, built directly with onnx-proto (opset 17): a linear model
 * `prediction = features · w + b` (MatMul + Add) and one that emits NaN on every row.
 * Input `features` [N, n_features] float, output `prediction` [N, 1], metadata feature_names.
 */

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function tensorType(dims: (number | string)[]) {
  return {
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

function initializer(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dataType: FLOAT, dims, floatData: values });
}

export interface LinearModelOptions {
  weights: number[];
  bias?: number;
  /** feature_names metadata (defaults to f0, f1, ...) */
  featureNames?: string[];
  /** make every prediction NaN: adds Log(-1) to the output */
  emitNaN?: boolean;
  /** leave the feature dimension symbolic (n_features then comes from feature_names) */
  symbolicFeatures?: boolean;
}

export function linearModel(options: LinearModelOptions): Uint8Array {
  const n = options.weights.length;
  const names = options.featureNames ?? options.weights.map((_, i) => `f${i}`);
  const nodes = [onnx.NodeProto.create({ opType: 'MatMul', input: ['features', 'w'], output: ['mm'], name: 'matmul' })];
  const inits = [initializer('w', [n, 1], options.weights), initializer('b', [1], [options.bias ?? 0])];
  if (options.emitNaN) {
    inits.push(initializer('minus_one', [1], [-1]));
    nodes.push(onnx.NodeProto.create({ opType: 'Log', input: ['minus_one'], output: ['nan'], name: 'log_of_negative' }));
    nodes.push(onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'nan'], output: ['mm_nan'], name: 'add_nan' }));
    nodes.push(onnx.NodeProto.create({ opType: 'Add', input: ['mm_nan', 'b'], output: ['prediction'], name: 'add_bias' }));
  } else {
    nodes.push(onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'b'], output: ['prediction'], name: 'add_bias' }));
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'mlops-tests',
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'feature_names', value: JSON.stringify(names) }],
    graph: {
      name: 'linear',
      node: nodes,
      initializer: inits,
      input: [{ name: 'features', type: tensorType(['N', options.symbolicFeatures ? 'n_features' : n]) }],
      output: [{ name: 'prediction', type: tensorType(['N', 1]) }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Registry fixtures for the deploy, rollback and history suites: a real bare repository as
// `origin`, a work clone, and promotions that arrive as `git merge --no-ff` of a branch, the way
// a merged pull request lands on main.
// ---------------------------------------------------------------------------------------------

// Keep the machine's and the user's git configuration out of the scratch repositories.
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

/**
 * A classifier's holdout metrics (2,000 rows, 180 positives at threshold 0.3) and its prior
 * baseline's, consistent with each other, for registry entries of classification models.
 */
export function classifierMetrics(): { metrics: ClassificationMetrics; baseline: { kind: 'prior'; metrics: ClassificationMetrics } } {
  const metrics: ClassificationMetrics = {
    task: 'classification',
    rows: 2000,
    positives: 180,
    positive_rate: 0.09,
    threshold: 0.3,
    accuracy: 0.9,
    precision: 0.45,
    recall: 0.6,
    f1: 0.514,
    roc_auc: 0.81,
    pr_auc: 0.42,
    brier: 0.07,
    log_loss: 0.25,
    tp: 108,
    fp: 132,
    tn: 1688,
    fn: 72,
    nan_predictions: 0,
  };
  return { metrics, baseline: { kind: 'prior', metrics: { ...metrics, f1: 0, precision: 0, recall: 0, roc_auc: 0.5, tp: 0, fp: 0, tn: 1820, fn: 180 } } };
}

/** A schema-valid registry entry for `model` v`version` whose artifact is `onnx`. */
export function registryEntry(model: string, version: number, onnx: Uint8Array, overrides: Partial<RegressionEntry> = {}): RegressionEntry {
  const nFeatures = overrides.features?.names.length ?? 3;
  const metrics = { rmse: 0.2 / version, mae: 0.1 / version, r2: 0.9, bias: 0, max_abs_error: 0.5, nan_predictions: 0, rows: 1000 };
  return {
    version,
    run_id: `run-${model}-${version}`,
    pipeline: `pipelines/${model}.yaml`,
    artifact: { path: artifactPath(model, version), sha256: sha256(onnx), bytes: onnx.byteLength },
    metrics,
    baseline: { kind: 'persistence', metrics: { ...metrics, rmse: 0.4 } },
    data: { start: '2024-04-01T00:00:00Z', end: '2024-05-01T00:00:00Z', rows: 5000, fingerprint: `sha256:${'b'.repeat(64)}` },
    holdout: { start: '2024-04-25T00:00:00Z', end: '2024-05-01T00:00:00Z', rows: 1000 },
    features: { names: Array.from({ length: nFeatures }, (_, i) => `f${i}`), spec: {} },
    trainer: { algorithm: 'ridge', params: {} },
    code_sha: 'c'.repeat(40),
    workflow_run_url: null,
    promoted_at: `2024-05-0${Math.min(version, 9)}T02:00:00Z`,
    pull_request: null,
    previous_version: version > 1 ? version - 1 : null,
    ...overrides,
  };
}

/** A working linear model with `n` features, distinct per version (so each version has its own sha256). */
export function modelBytes(version: number, n = 3): Uint8Array {
  return linearModel({ weights: Array.from({ length: n }, (_, i) => (i + 1) * 0.1 * version), bias: version });
}

export class ScratchRepo {
  readonly root: string;
  readonly origin: string;
  readonly work: string;

  private constructor(root: string, origin: string, work: string) {
    this.root = root;
    this.origin = origin;
    this.work = work;
  }

  /** origin (bare) + a work clone on main with an empty registry committed and pushed. */
  static create(prefix = 'mlops-deploy-'): ScratchRepo {
    const root = mkdtempSync(join(tmpdir(), prefix));
    const origin = join(root, 'origin.git');
    const work = join(root, 'work');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
    execFileSync('git', ['clone', '--quiet', origin, work], { stdio: 'pipe' });
    const repo = new ScratchRepo(root, origin, work);
    repo.git('config', 'user.name', 'Test Bot');
    repo.git('config', 'user.email', 'bot@example.test');
    repo.git('config', 'commit.gpgsign', 'false');
    repo.git('checkout', '--quiet', '-B', 'main');
    repo.write({ [REGISTRY_FILE]: serializeRegistry(emptyRegistry()), 'README.md': '# plant\n' });
    repo.commit('Initial registry');
    repo.git('push', '--quiet', '-u', 'origin', 'main');
    return repo;
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.work, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  }

  /** git with the commit it makes dated `at` (author and committer): a merge made at a time of the test's choosing. */
  gitAt(at: string, ...args: string[]): string {
    const env = { ...process.env, GIT_AUTHOR_DATE: at, GIT_COMMITTER_DATE: at };
    return execFileSync('git', args, { cwd: this.work, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env }).trim();
  }

  /** Writes (or with null deletes) files in the work tree. */
  write(files: Record<string, string | Uint8Array | null>): void {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
  }

  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.head();
  }

  head(): string {
    return this.git('rev-parse', 'HEAD');
  }

  registry(): Registry {
    const file = join(this.work, REGISTRY_FILE);
    return existsSync(file) ? parseRegistry(readFileSync(file, 'utf8')) : emptyRegistry();
  }

  /**
   * Promotes `model` v`version` the GitOps way: a branch with the registry edit, artifact and card,
   * merged into main with `--no-ff` as "Merge pull request #<pr> from acme/mlops/promote/<model>",
   * pushed. Returns the merge commit.
   */
  promote(
    model: string,
    version: number,
    pr: number,
    options: { onnx?: Uint8Array; entry?: Partial<RegressionEntry>; title?: string; beforeMerge?: (branch: string) => void; mergedAt?: string } = {},
  ): string {
    const onnx = options.onnx ?? modelBytes(version);
    const branch = `mlops/promote/${model}`;
    this.git('checkout', '--quiet', '-B', branch, 'main');
    const reg = this.registry();
    const previous = reg.models[model]?.version ?? null;
    const entry = registryEntry(model, version, onnx, {
      previous_version: previous,
      pull_request: { number: pr, url: `https://github.com/acme/plant/pull/${pr}` },
      ...options.entry,
    });
    reg.models[model] = entry;
    this.write({
      [REGISTRY_FILE]: serializeRegistry(reg),
      [entry.artifact.path]: onnx,
      [`registry/models/${model}/${version}/card.json`]: `${JSON.stringify({ model, version }, null, 2)}\n`,
    });
    // the pipeline's promotion commit, with the trailers the deploy checks the merge against
    this.commit(promotionCommitMessage(model, version, { run: entry.run_id, sha256: entry.artifact.sha256 }));
    options.beforeMerge?.(branch);
    this.git('checkout', '--quiet', 'main');
    const merge = options.mergedAt ? (...args: string[]) => this.gitAt(options.mergedAt!, ...args) : (...args: string[]) => this.git(...args);
    merge('merge', '--quiet', '--no-ff', '-m', `Merge pull request #${pr} from acme/${branch}`, '-m', options.title ?? `Promote ${model} v${version}`, branch);
    this.git('push', '--quiet', 'origin', 'main');
    this.git('branch', '--quiet', '-D', branch);
    return this.head();
  }

  /** `git revert -m 1 <merge>` on main, pushed (the documented rollback). */
  revertMerge(merge: string, at?: string): string {
    if (at) this.gitAt(at, 'revert', '--no-edit', '-m', '1', merge);
    else this.git('revert', '--no-edit', '-m', '1', merge);
    this.git('push', '--quiet', 'origin', 'main');
    return this.head();
  }

  /** A direct commit on main (pushed) with these files. */
  commitToMain(files: Record<string, string | Uint8Array | null>, message: string): string {
    this.git('checkout', '--quiet', 'main');
    this.write(files);
    const sha = this.commit(message);
    this.git('push', '--quiet', 'origin', 'main');
    return sha;
  }

  /** main as origin has it now (after a push from elsewhere). */
  pull(): void {
    this.git('checkout', '--quiet', 'main');
    this.git('pull', '--quiet', '--ff-only', 'origin', 'main');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
