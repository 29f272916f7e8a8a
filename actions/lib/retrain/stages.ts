import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Db, Queryable } from '../db/index.ts';
import { featureColumns, targetColumn, type PipelineConfig, type ReferenceSetConfig } from '../config/schema.ts';
import { extractFrame } from '../source/extract.ts';
import { column, type Frame } from '../source/frame.ts';
import { checkQuality, qualityReasons } from '../quality/checks.ts';
import { recordQualityChecks } from '../quality/record.ts';
import { featureNames, featureSpecFromPipeline, historyMinutes, splitRecordedSpec, type FeatureSpec } from '../features/spec.ts';
import { buildTrainingSet } from '../features/training-set.ts';
import { buildFeatures } from '../features/build.ts';
import { takeRows, type FeatureMatrix } from '../features/matrix.ts';
import type { ZScoreStats } from '../features/zscore.ts';
import { train } from '../train/index.ts';
import { baselinePredictions, targetMean } from '../train/baselines.ts';
import { scoreOnnx } from '../onnx/score.ts';
import {
  classificationMetrics,
  metricValue,
  regressionMetrics,
  type ClassificationMetrics,
  type ModelMetrics,
  type RegressionMetrics,
} from '../evaluate/metrics.ts';
import { evaluateGates } from '../gates/gates.ts';
import { summarizeHoldoutTarget } from '../gates/holdout.ts';
import { headCommit } from '../git/read.ts';
import { evaluateClassificationGates } from '../gates/classification.ts';
import { preflight } from '../gates/preflight.ts';
import { loadChampion, readRegistry } from '../registry/champion.ts';
import { promotionTime } from '../registry/promoted-at.ts';
import { failRun, finishRun, RunIdTakenError, startRun, storeArtifact } from '../tracking/runs.ts';
import { sha256Hex } from '../util/sha256.ts';
import { reapAbandonedRuns, type AbandonedRun } from '../tracking/lease.ts';
import { renderRunReport } from '../report/run-report.ts';
import type { ModelScore, RetrainResult } from './result.ts';
import { toJson } from '../util/json.ts';
import { newRunId, RUN_FILES, runDirFor, runFile, type LabelStats, type RunState } from './run-dir.ts';
import { FileRunStore, type RunStore } from './store.ts';

/**
 * The retrain as stages over a run directory (DESIGN §4): each stage reads what the one before it
 * left in the run directory and adds its own part, so a workflow can run them as separate steps
 * and the CLI can run them in one process. A run whose data fails quality is carried through the
 * later stages as skipped, never silently dropped, and the gate stage records it. Each stage loads
 * the typed run state from a RunStore and saves it with its own part added.
 */

export interface BeginOptions {
  pipeline: PipelineConfig;
  pipelineFile: string;
  asOf: Date;
  runsDir: string;
  repoDir: string;
  runId?: string;
  trigger?: string;
  triggerReason?: string | null;
  /** the alert whose dispatch started this run: its id in mlops.alerts and its issue */
  triggerAlert?: { id: number; issueUrl: string | null } | null;
  force?: boolean;
  /** where the run is kept (default: files in its run directory) */
  store?: (runDir: string) => RunStore;
}

export type StageName = 'extract' | 'quality' | 'features' | 'train' | 'evaluate' | 'gate';

/** The code version that ran: GITHUB_SHA in Actions, else the checkout's HEAD (null outside a git checkout). */
export async function codeSha(dir = process.cwd()): Promise<string | null> {
  if (process.env.GITHUB_SHA && /^[0-9a-f]{40}$/.test(process.env.GITHUB_SHA)) return process.env.GITHUB_SHA;
  return headCommit(dir);
}

/** The Actions run that did this, from the variables every runner sets. */
export function workflowRunUrl(env: NodeJS.ProcessEnv = process.env): string | null {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = env;
  return GITHUB_SERVER_URL && GITHUB_REPOSITORY && GITHUB_RUN_ID ? `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}` : null;
}

/** Times a stage; when it throws, its time is saved with the run so the failed run shows it too. */
async function timed<T>(state: RunState, store: RunStore, stage: StageName, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const stamp = (): void => {
    state.stage_timings[stage] = Math.round((performance.now() - t0) * 10) / 10;
  };
  try {
    const out = await fn();
    stamp();
    return out;
  } catch (err) {
    stamp();
    store.save(state);
    throw err;
  }
}

/**
 * Opens a run: its `running` row in the database (with this process holding its lease), then its
 * directory and state file. First, runs of the pipeline that were left `running` by a process that
 * is gone are marked abandoned (returned, to be reported). A run id that is taken, in the database
 * or as a run directory, is refused before anything is written.
 */
export async function beginRun(db: Db, o: BeginOptions): Promise<{ runDir: string; state: RunState; store: RunStore; abandoned: AbandonedRun[] }> {
  const runId = o.runId ?? newRunId(o.asOf);
  const runDir = runDirFor(o.runsDir, runId);
  if (existsSync(runFile(runDir, 'state'))) {
    throw new RunIdTakenError(
      `run id "${runId}" is taken: ${runDir} already holds a run (${RUN_FILES.state}); a run's files are never overwritten: omit --run-id (or the run-id input) to get a new one, or use another --runs-dir`,
    );
  }
  const abandoned = await reapAbandonedRuns(db, { pipeline: o.pipeline.name, by: `the next retrain of ${o.pipeline.name} (run ${runId})` });
  const store = o.store?.(runDir) ?? new FileRunStore(runDir);
  const state: RunState = {
    run_id: runId,
    pipeline: o.pipeline.name,
    pipeline_file: o.pipelineFile,
    config: o.pipeline,
    as_of: o.asOf.toISOString(),
    trigger: o.trigger ?? 'manual',
    trigger_reason: o.triggerReason ?? null,
    trigger_alert: o.triggerAlert ? { id: o.triggerAlert.id, issue_url: o.triggerAlert.issueUrl } : null,
    forced: o.force ?? false,
    repo_dir: o.repoDir,
    code_sha: await codeSha(),
    workflow_run_url: workflowRunUrl(),
    started_at: new Date().toISOString(),
    stage_timings: {},
  };
  await startRun(db, {
    runId,
    pipeline: state.pipeline,
    asOf: o.asOf,
    trigger: state.trigger,
    triggerReason: state.trigger_reason,
    triggerAlert: o.triggerAlert ?? null,
    forced: state.forced,
    codeSha: state.code_sha,
    workflowRunUrl: state.workflow_run_url,
    runDir,
  });
  store.save(state);
  return { runDir, state: store.load(), store, abandoned };
}

/** Stage 1: the pipeline's source window as a frame (frame.arrow), with its fingerprint. */
export async function extractStage(db: Db, store: RunStore): Promise<RunState> {
  const state = store.load();
  const config = state.config;
  const labels = config.task === 'classification' ? config.labels : undefined;
  const { frame, reference } = await timed(state, store, 'extract', async () => {
    // Classification: each row's label as known at as-of (never a later one), joined by key.
    const f = await extractFrame(db, config.source, new Date(state.as_of), { labels });
    await store.saveFrame(f);
    return { frame: f, reference: config.reference_set ? await extractReference(db, store, state, config.reference_set) : undefined };
  });
  state.extract = {
    rows: frame.rows,
    start: frame.window.start.toISOString(),
    end: frame.window.end.toISOString(),
    fingerprint: frame.fingerprint,
    entities: frame.entityIds,
    ...(labels ? { labels: labelStats(frame, labels.table, state.as_of, labels.label_column) } : {}),
  };
  if (reference) state.extract.reference = reference;
  store.save(state);
  return state;
}

/**
 * Double evaluation: the fixed reference set (reference.arrow), with the history its features look
 * back on (the current spec's and the champion's) and, for classification, the labels known at as-of.
 */
async function extractReference(db: Db, store: RunStore, state: RunState, ref: ReferenceSetConfig) {
  const config = state.config;
  const w = await referenceWindow(db, ref, state.pipeline);
  const champion = readRegistry(state.repo_dir).models[state.pipeline];
  const lookBack = Math.max(
    historyMinutes(featureSpecFromPipeline(config)),
    champion ? historyMinutes(splitRecordedSpec(champion.features.spec, `${state.pipeline} v${champion.version}`).spec) : 0,
  );
  const f = await extractFrame(db, config.source, new Date(state.as_of), {
    start: new Date(w.start.getTime() - lookBack * 60_000),
    end: w.end,
    labels: config.task === 'classification' ? config.labels : undefined,
    labelsAsOf: new Date(state.as_of),
  });
  await store.saveFrame(f, 'reference');
  let rows = 0;
  for (let i = 0; i < f.rows; i++) if (f.times[i] >= w.start.getTime()) rows++;
  return { start: w.start.toISOString(), end: w.end.toISOString(), from_run: w.fromRun, rows, fingerprint: f.fingerprint };
}

/**
 * The time range of a pipeline's reference set: as configured, or the holdout an earlier run of
 * the pipeline evaluated on (as mlops.evaluations recorded it; its end is the last row, inclusive).
 */
async function referenceWindow(db: Db, ref: ReferenceSetConfig, pipeline: string): Promise<{ start: Date; end: Date; fromRun: string | null }> {
  if (ref.from_run === undefined) return { start: new Date(ref.start!), end: new Date(ref.end!), fromRun: null };
  const { rows } = await db.query<{ holdout_start: Date | null; holdout_end: Date | null }>(
    'SELECT holdout_start, holdout_end FROM mlops.evaluations WHERE run_id = $1 AND pipeline = $2',
    [ref.from_run, pipeline],
  );
  const r = rows[0];
  if (!r?.holdout_start || !r.holdout_end) {
    throw new Error(
      `reference_set.from_run: run "${ref.from_run}" of ${pipeline} has no recorded holdout (see npm run mlops -- runs list --pipeline ${pipeline})`,
    );
  }
  return { start: new Date(r.holdout_start), end: new Date(new Date(r.holdout_end).getTime() + 1), fromRun: ref.from_run };
}

/** How many of the window's rows have a label known at as-of, and how many of those are positive. */
function labelStats(frame: Frame, table: string, asOf: string, labelColumn: string): LabelStats {
  const y = column(frame, labelColumn);
  let labelled = 0;
  let positives = 0;
  for (let i = 0; i < frame.rows; i++) {
    if (y[i] === y[i]) {
      labelled++;
      positives += y[i];
    }
  }
  return { table, as_of: asOf, labelled, coverage: frame.rows > 0 ? labelled / frame.rows : 0, positives };
}

/** The times of the rows with a label (classification), for the preflight's holdout estimate. */
function labelledTimes(frame: Frame, labelColumn: string): Float64Array {
  const y = column(frame, labelColumn);
  const out: number[] = [];
  for (let i = 0; i < frame.rows; i++) if (y[i] === y[i]) out.push(frame.times[i]);
  return Float64Array.from(out);
}

/**
 * Stage 2: the quality report (one row per check in mlops.quality_checks), then the preflight:
 * the gates that can rule the run out before anything is trained (the cooldown; for
 * classification the label coverage and the labelled holdout rows). Either failing makes the run
 * a skip, carried through the later stages and recorded by the gate stage.
 */
export async function qualityStage(db: Db, store: RunStore): Promise<RunState> {
  const state = store.load();
  const config = state.config;
  const { report, check } = await timed(state, store, 'quality', async () => {
    const frame = await store.frame();
    const r = checkQuality(frame, config.quality, {
      asOf: new Date(state.as_of),
      columns: [...config.source.columns, ...config.source.categorical],
      intervalMinutes: config.source.interval_minutes,
      learning: { target: targetColumn(config), task: config.task, featureColumns: featureColumns(config) },
    });
    await recordQualityChecks(db, state.pipeline, state.run_id, r);
    const champion = readRegistry(state.repo_dir).models[state.pipeline];
    const stats = state.extract?.labels;
    const p = preflight({
      config,
      // the merge that made it the champion, not its training (registry/promoted-at.ts)
      lastPromotionAt: champion ? new Date((await promotionTime(state.repo_dir, state.pipeline, champion, { db })).at) : null,
      asOf: new Date(state.as_of),
      force: state.forced,
      ...(config.task === 'classification' && stats
        ? { labels: { rows: frame.rows, labelled: stats.labelled, labelledTimes: labelledTimes(frame, config.labels.label_column) } }
        : {}),
    });
    return { report: r, check: p };
  });
  state.quality = report;
  state.preflight = check;
  store.save(state);
  return state;
}

/** A run that bad data or a preflight gate ruled out: the later stages pass it through, the gate stage records a skip. */
const skipped = (state: RunState): boolean =>
  (state.quality !== undefined && !state.quality.passed) || (state.preflight !== undefined && !state.preflight.passed);

function requireStage<K extends keyof RunState>(state: RunState, key: K, step: string): NonNullable<RunState[K]> {
  const v = state[key];
  if (v === undefined || v === null) throw new Error(`run ${state.run_id} has no ${String(key)} result yet: run the ${step} step first`);
  return v as NonNullable<RunState[K]>;
}

/** Stage 3: features, the temporal split with its horizon gap (train.arrow, holdout.arrow). */
export async function featuresStage(store: RunStore): Promise<RunState> {
  const state = store.load();
  requireStage(state, 'quality', 'check-data-quality');
  if (skipped(state)) return state;
  const set = await timed(state, store, 'features', async () => {
    const frame = await store.frame();
    // The spec comes back with its categorical vocabularies fitted on the training rows.
    const s = buildTrainingSet(frame, featureSpecFromPipeline(state.config), state.config.split);
    const meta = { spec: JSON.stringify(s.spec), zscore_stats: JSON.stringify(s.stats) };
    await store.saveMatrix('train', s.train, meta);
    await store.saveMatrix('holdout', s.holdout, meta);
    return s;
  });
  if (set.train.rows === 0)
    throw new Error(`no training rows left after the split (holdout ${set.holdout.rows} rows): widen window_days or lower holdout_fraction`);
  if (set.holdout.rows === 0) throw new Error('the holdout is empty: the window is too short for holdout_fraction');
  const span = (m: FeatureMatrix) => ({ rows: m.rows, start: new Date(m.times[0]).toISOString(), end: new Date(m.times[m.rows - 1]).toISOString() });
  state.features = {
    spec: set.spec,
    zscore_stats: set.stats,
    names: set.train.names,
    rows: set.train.rows + set.holdout.rows + set.split.gapRows,
    dropped: { ...set.dropped, horizon_gap: set.split.gapRows },
    warnings: set.warnings,
    train: span(set.train),
    holdout: span(set.holdout),
    gap_rows: set.split.gapRows,
  };
  store.save(state);
  return state;
}

/** Stage 4: the challenger, trained and exported to ONNX (model.onnx), stored by sha256. */
export async function trainStage(db: Db, store: RunStore): Promise<RunState> {
  const state = store.load();
  if (skipped(state)) return state;
  const features = requireStage(state, 'features', 'build-features');
  const trainSet = await store.matrix('train');
  const extract = requireStage(state, 'extract', 'extract-data');
  const t0 = performance.now();
  const artifact = await timed(state, store, 'train', () =>
    train(state.config.trainer, trainSet, {
      model_name: state.pipeline,
      feature_names: features.names,
      training_window: { start: extract.start, end: extract.end },
      data_fingerprint: extract.fingerprint,
      ...(state.config.task === 'classification' ? { classification: { decision_threshold: state.config.target.decision_threshold } } : {}),
    }),
  );
  const wallMs = performance.now() - t0;
  store.saveModel(artifact.onnx);
  const sha = await storeArtifact(db, artifact.onnx);
  state.train = {
    algorithm: state.config.trainer.algorithm,
    params: { ...artifact.params },
    sha256: sha,
    bytes: artifact.onnx.byteLength,
    wall_ms: Math.round(wallMs),
    train_metrics: artifact.train_metrics ?? null,
    ...(artifact.trees_used !== undefined ? { trees_used: artifact.trees_used } : {}),
  };
  store.save(state);
  return state;
}

/** How a run's task scores predictions against the holdout's targets. */
type Scorer = (target: Float64Array, predictions: ArrayLike<number>) => ModelMetrics;

async function score(
  role: ModelScore['role'],
  label: string,
  onnx: Uint8Array | null,
  predictions: ArrayLike<number> | null,
  m: FeatureMatrix,
  metricsOf: Scorer,
  extra: { version?: number | null; sha256?: string | null; file?: string } = {},
): Promise<ModelScore> {
  const t0 = performance.now();
  const pred = predictions ?? (await scoreOnnx(onnx!, m.values, m.rows, m.names.length, `the ${label}${extra.file ? ` (${extra.file})` : ''}`));
  return {
    role,
    label,
    version: extra.version ?? null,
    sha256: extra.sha256 ?? null,
    metrics: metricsOf(m.target, pred),
    scoring_ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}

/**
 * The champion's features for exactly the holdout's rows: the holdout itself when the champion
 * was trained on the same feature spec, else rebuilt from the frame with the champion's own
 * recorded spec and statistics and aligned row by row on (entity, time).
 */
function championMatrix(
  frame: Frame,
  holdout: FeatureMatrix,
  currentSpec: FeatureSpec,
  currentStats: ZScoreStats | null,
  recorded: { spec: unknown; names: string[] },
): { matrix: FeatureMatrix; rebuilt: boolean } {
  const { spec: bare, stats } = splitRecordedSpec(recorded.spec, 'the champion');
  if (isDeepStrictEqual(bare, currentSpec) && isDeepStrictEqual(stats, currentStats) && isDeepStrictEqual(recorded.names, holdout.names)) {
    return { matrix: holdout, rebuilt: false };
  }
  for (const c of bare.columns) {
    if (!frame.names.includes(c))
      throw new Error(`the champion's features use column "${c}", which the pipeline no longer extracts; add it back to source.columns to compare fairly`);
  }
  const built = buildFeatures(frame, bare, stats ?? undefined).matrix;
  const index = new Map<string, number>();
  for (let i = 0; i < built.rows; i++) index.set(`${built.entityIds[built.entities[i]]}\u0000${built.times[i]}`, i);
  const n = built.names.length;
  const values = new Float32Array(holdout.rows * n).fill(Number.NaN);
  for (let i = 0; i < holdout.rows; i++) {
    const j = index.get(`${holdout.entityIds[holdout.entities[i]]}\u0000${holdout.times[i]}`);
    if (j !== undefined) values.set(built.values.subarray(j * n, j * n + n), i * n);
  }
  return { matrix: { ...holdout, names: built.names, values }, rebuilt: true };
}

/** The reference set's rows with a target in [start, end), built with the challenger's own spec and statistics. */
function referenceRows(frame: Frame, spec: FeatureSpec, stats: ZScoreStats | null, start: number, end: number): FeatureMatrix {
  const none: FeatureMatrix = {
    rows: 0,
    names: featureNames(spec),
    values: new Float32Array(0),
    target: new Float64Array(0),
    times: new Float64Array(0),
    entities: new Int32Array(0),
    entityIds: frame.entityIds,
  };
  if (frame.rows === 0) return none;
  let built: FeatureMatrix;
  try {
    built = buildFeatures(frame, spec, stats ?? undefined).matrix;
  } catch {
    return none; // no row of the set has a target
  }
  const keep: number[] = [];
  for (let i = 0; i < built.rows; i++) if (built.times[i] >= start && built.times[i] < end) keep.push(i);
  return takeRows(built, keep);
}

/**
 * Stage 5: champion, challenger and baseline on the identical holdout rows, by onnxruntime-node.
 * `db` (mlops.deployments) tells the champion's promotion time when the checkout's git cannot.
 */
export async function evaluateStage(store: RunStore, db: Queryable | null = null): Promise<RunState> {
  const state = store.load();
  if (skipped(state)) return state;
  const features = requireStage(state, 'features', 'build-features');
  requireStage(state, 'train', 'train-model');
  const result = await timed(state, store, 'evaluate', async () => {
    const holdout = await store.matrix('holdout');
    const onnx = store.model();
    const frame = await store.frame();
    const config = state.config;
    // Classification: metrics at the pipeline's decision threshold (the champion's at its own).
    const scorer = (threshold: number | null): Scorer =>
      threshold === null ? (y, p) => regressionMetrics(y, p) : (y, p) => classificationMetrics(y, p, threshold);
    const threshold = config.task === 'classification' ? config.target.decision_threshold : null;
    const challenger = await score('challenger', 'challenger', onnx, null, holdout, scorer(threshold), {
      sha256: sha256Hex(onnx),
      file: runFile(store.dir, 'model'),
    });

    let baseline: ModelScore;
    if (config.task === 'classification') {
      // The prior baseline: the training rows' base rate as every row's probability.
      const prior = new Float64Array(holdout.rows).fill(targetMean(await store.matrix('train')));
      baseline = await score('baseline', 'prior baseline', null, prior, holdout, scorer(threshold));
    } else {
      const cfg = config.baseline;
      let trainMean: number | undefined;
      if (cfg.kind === 'mean') trainMean = targetMean(await store.matrix('train'));
      const basePred = baselinePredictions(cfg.kind, frame, holdout, features.spec, { trainTargetMean: trainMean, seasonMinutes: cfg.season_minutes });
      baseline = await score('baseline', `${cfg.kind.replace('_', ' ')} baseline`, null, basePred, holdout, scorer(null));
    }

    const champ = loadChampion(state.repo_dir, state.pipeline);
    let champion: ModelScore | null = null;
    let info: NonNullable<RunState['evaluate']>['champion_info'] = null;
    if (champ) {
      const champTask = champ.entry.task ?? 'regression';
      if (champTask !== config.task) {
        throw new Error(
          `the champion v${champ.entry.version} is a ${champTask} model and this pipeline is ${config.task}: ` +
            'the two cannot be scored on one holdout; retire the champion (remove its registry entry) to start the new task afresh',
        );
      }
      const { matrix, rebuilt } = championMatrix(frame, holdout, features.spec, features.zscore_stats, champ.entry.features);
      const champThreshold = champ.entry.task === 'classification' ? champ.entry.decision_threshold : null;
      champion = await score('champion', `champion v${champ.entry.version}`, champ.onnx, null, matrix, scorer(champThreshold), {
        version: champ.entry.version,
        sha256: champ.entry.artifact.sha256,
        file: champ.entry.artifact.path,
      });
      info = {
        version: champ.entry.version,
        sha256: champ.entry.artifact.sha256,
        run_id: champ.entry.run_id,
        promoted_at: (await promotionTime(state.repo_dir, state.pipeline, champ.entry, { db })).at,
        rebuilt_features: rebuilt,
      };
    }
    // Double evaluation: both models on the fixed reference set, each with its own features.
    const span = state.extract?.reference;
    let reference: NonNullable<RunState['evaluate']>['reference'];
    if (span) {
      const rf = await store.frame('reference');
      const m = referenceRows(rf, features.spec, features.zscore_stats, Date.parse(span.start), Date.parse(span.end));
      const onRef = async (role: ModelScore['role'], label: string, bytes: Uint8Array, x: FeatureMatrix, s: Scorer, extra = {}) =>
        x.rows > 0 ? score(role, label, bytes, null, x, s, extra) : score(role, label, null, new Float64Array(0), x, s, extra);
      reference = {
        start: span.start,
        end: span.end,
        from_run: span.from_run,
        rows: m.rows,
        challenger: await onRef('challenger', 'challenger', onnx, m, scorer(threshold), { sha256: sha256Hex(onnx) }),
        champion:
          champ && m.rows > 0
            ? await onRef(
                'champion',
                `champion v${champ.entry.version}`,
                champ.onnx,
                championMatrix(rf, m, features.spec, features.zscore_stats, champ.entry.features).matrix,
                scorer(champ.entry.task === 'classification' ? champ.entry.decision_threshold : null),
                { version: champ.entry.version, sha256: champ.entry.artifact.sha256 },
              )
            : null,
      };
    }
    return {
      challenger,
      champion,
      baseline,
      champion_info: info,
      holdout: { ...features.holdout, target: summarizeHoldoutTarget(holdout.target) },
      ...(reference ? { reference } : {}),
    };
  });
  state.evaluate = result;
  store.save(state);
  return state;
}

/** The result document of a run in any state: what report.json holds. */
export function resultOf(state: RunState, runDir: string, failure: string | null = null): RetrainResult {
  const e = state.evaluate;
  return {
    run_id: state.run_id,
    pipeline: state.pipeline,
    status: failure ? 'failed' : 'succeeded',
    decision: failure ? null : (state.gate?.decision ?? null),
    reasons: failure ? [failure] : (state.gate?.reasons ?? []),
    error: failure,
    forced: state.forced,
    trigger: state.trigger,
    trigger_reason: state.trigger_reason,
    trigger_alert: state.trigger_alert ?? null,
    as_of: state.as_of,
    task: state.config.task,
    primary_metric: state.config.gates.metric,
    data: state.extract ?? null,
    labels: state.extract?.labels ?? null,
    reference: e?.reference ?? null,
    quality: state.quality ?? null,
    features: state.features
      ? { names: state.features.names, rows: state.features.rows, dropped: state.features.dropped, warnings: state.features.warnings }
      : null,
    train: state.features?.train ?? null,
    holdout: e?.holdout ?? state.features?.holdout ?? null,
    trainer: { algorithm: state.config.trainer.algorithm, params: state.train?.params ?? state.config.trainer.params },
    scores: { champion: e?.champion ?? null, challenger: e?.challenger ?? null, baseline: e?.baseline ?? null },
    train_metrics: state.train?.train_metrics ?? null,
    gates: state.gate?.gates ?? [],
    improvement_pct: state.gate?.improvement_pct ?? null,
    training_ms: state.train?.wall_ms ?? null,
    stage_timings: state.stage_timings,
    artifact: state.train ? { sha256: state.train.sha256, bytes: state.train.bytes, path: runFile(runDir, 'model') } : null,
    champion: e?.champion_info
      ? { version: e.champion_info.version, sha256: e.champion_info.sha256, run_id: e.champion_info.run_id, promoted_at: e.champion_info.promoted_at }
      : null,
    lineage: { code_sha: state.code_sha, workflow_run_url: state.workflow_run_url, run_dir: runDir },
  };
}

function writeReports(store: RunStore, result: RetrainResult): void {
  store.saveReports(toJson(result, 2) + '\n', renderRunReport(result));
}

/**
 * Stage 6: the decision (skip on bad data, else the gates), recorded with everything above.
 * `guard` runs inside the recording transaction (the retrain verifies its pipeline lock there).
 */
export async function gateStage(db: Db, store: RunStore, guard?: (tx: Queryable) => Promise<void>): Promise<RetrainResult> {
  const state = store.load();
  requireStage(state, 'quality', 'check-data-quality');
  const t0 = performance.now();
  if (skipped(state)) {
    // Bad data, or a gate that ruled the run out before training: the preflight's gates are the record.
    const reasons = [...qualityReasons(state.quality!), ...(state.preflight?.reasons ?? [])];
    state.gate = { decision: 'skip', reasons, gates: state.preflight?.gates ?? [], improvement_pct: null };
  } else {
    const ev = requireStage(state, 'evaluate', 'evaluate-model');
    const tr = requireStage(state, 'train', 'train-model');
    const config = state.config;
    const ref = ev.reference;
    const common = {
      ...(ref && config.reference_set
        ? {
            reference: {
              rows: ref.rows,
              tolerancePct: config.reference_set.tolerance_pct,
              challenger: metricValue(ref.challenger.metrics, config.gates.metric),
              champion: ref.champion ? metricValue(ref.champion.metrics, config.gates.metric) : null,
            },
          }
        : {}),
      trainingMs: tr.wall_ms,
      lastPromotionAt: ev.champion_info ? new Date(ev.champion_info.promoted_at) : null,
      asOf: new Date(state.as_of),
      force: state.forced,
      holdout: ev.holdout.target,
      task: config.task,
    };
    const d =
      config.task === 'classification'
        ? evaluateClassificationGates({
            ...common,
            config: config.gates,
            challenger: ev.challenger.metrics as ClassificationMetrics,
            champion: (ev.champion?.metrics ?? null) as ClassificationMetrics | null,
            baseline: ev.baseline.metrics as ClassificationMetrics,
            labels: { coverage: state.extract?.labels?.coverage ?? 0, labelledHoldout: ev.holdout.rows },
          })
        : evaluateGates({
            ...common,
            config: config.gates,
            challenger: ev.challenger.metrics as RegressionMetrics,
            champion: (ev.champion?.metrics ?? null) as RegressionMetrics | null,
            baseline: ev.baseline.metrics as RegressionMetrics,
          });
    state.gate = { decision: d.decision, reasons: d.reasons, gates: d.gates, improvement_pct: d.improvementPct };
  }
  state.stage_timings.gate = Math.round((performance.now() - t0) * 10) / 10;
  store.save(state);
  const result = resultOf(state, store.dir);
  const ev = state.evaluate;
  await finishRun(
    db,
    {
      runId: state.run_id,
      pipeline: state.pipeline,
      decision: state.gate.decision,
      reasons: state.gate.reasons,
      data: state.extract
        ? { start: new Date(state.extract.start), end: new Date(state.extract.end), rows: state.extract.rows, fingerprint: state.extract.fingerprint }
        : null,
      trainer: state.config.trainer.algorithm,
      params: state.train?.params ?? state.config.trainer.params,
      featureSpec: state.features ? { ...state.features.spec, zscore_stats: state.features.zscore_stats } : null,
      metrics: {
        holdout: ev?.challenger.metrics ?? null,
        train: state.train?.train_metrics ?? null,
        baseline: ev?.baseline.metrics ?? null,
        champion: ev?.champion?.metrics ?? null,
      },
      stageTimings: state.stage_timings,
      artifactSha256: state.train?.sha256 ?? null,
      evaluation:
        state.gate.decision === 'skip'
          ? {
              primaryMetric: state.config.gates.metric,
              champion: null,
              challenger: null,
              baseline: null,
              gates: [...(state.quality?.failed ?? []).map((c) => ({ name: `quality:${c.name}`, passed: false, reason: c.message })), ...state.gate.gates],
              holdout: null,
            }
          : {
              primaryMetric: state.config.gates.metric,
              champion: ev?.champion ?? null,
              challenger: ev?.challenger ?? null,
              baseline: ev?.baseline ?? null,
              gates: state.gate.gates,
              holdout: ev ? { rows: ev.holdout.rows, start: new Date(ev.holdout.start), end: new Date(ev.holdout.end) } : null,
            },
      // One row per run, as the seed's table has it: a skipped run has no metrics.
      performance: {
        modelType: state.config.trainer.algorithm,
        task: state.config.task,
        rmseVal: ev ? metricValue(ev.challenger.metrics, 'rmse') : null,
        maeVal: ev ? metricValue(ev.challenger.metrics, 'mae') : null,
        rmseTrain: state.train?.train_metrics ? metricValue(state.train.train_metrics, 'rmse') : null,
        f1Val: ev ? metricValue(ev.challenger.metrics, 'f1') : null,
        rocAucVal: ev ? metricValue(ev.challenger.metrics, 'roc_auc') : null,
        brierVal: ev ? metricValue(ev.challenger.metrics, 'brier') : null,
        labelCoverage: state.extract?.labels?.coverage ?? null,
        metrics: ev?.challenger.metrics ?? null,
        promoted: state.gate.decision === 'promote',
        trainingDate: new Date(state.as_of),
      },
    },
    guard,
  );
  writeReports(store, result);
  return result;
}

/**
 * A stage that threw: the run stays on record as failed, with its error and its report. When the
 * run is no longer this process's (found abandoned, or another process holds it), its record is
 * left as it is and `recorded` is false.
 */
export async function failStage(db: Db, store: RunStore, error: unknown): Promise<RetrainResult & { recorded: boolean }> {
  const message = error instanceof Error ? error.message : String(error);
  const state = store.load();
  const recorded = await failRun(db, state.run_id, message, state.stage_timings);
  const result = resultOf(state, store.dir, message);
  if (recorded) writeReports(store, result);
  return { ...result, recorded };
}
