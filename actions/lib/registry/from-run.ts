import { readFileSync } from 'node:fs';
import { readRunState, runFile, type RunState } from '../retrain/run-dir.ts';
import type { HoldoutMetrics } from '../retrain/result.ts';
import type { Promotion, ArtifactRef } from './edit.ts';
import type { RegistryClassificationMetrics, RegistryMetrics } from './schema.ts';
import { isClassificationMetrics } from '../evaluate/metrics.ts';

/**
 * A promoted run as a registry promotion: the entry of DESIGN §6 and the model card a reviewer
 * reads. Everything comes from the run directory, so the PR shows exactly what was evaluated.
 */
export interface PromotionContext {
  /** the pull request, once known (null in local mode) */
  pullRequest?: { number: number; url: string } | null;
  promotedAt?: Date;
}

const finite =
  (where: string) =>
  (x: number | null | undefined, name: string): number => {
    if (x === null || x === undefined || !Number.isFinite(x))
      throw new Error(`${where}: ${name} is not a finite number; a model with undefined metrics cannot be promoted`);
    return x;
  };

function metrics(m: HoldoutMetrics, where: string): RegistryMetrics {
  if (isClassificationMetrics(m)) throw new Error(`${where}: classification metrics where regression metrics were expected`);
  const fin = finite(where);
  return {
    rmse: fin(m.rmse, 'rmse'),
    mae: fin(m.mae, 'mae'),
    r2: fin(m.r2, 'r2'),
    bias: fin(m.bias, 'bias'),
    max_abs_error: fin(m.max_abs_error, 'max_abs_error'),
    nan_predictions: m.nan_predictions,
    rows: m.rows,
  };
}

function classMetrics(m: HoldoutMetrics, where: string): RegistryClassificationMetrics {
  if (!isClassificationMetrics(m)) throw new Error(`${where}: regression metrics where classification metrics were expected`);
  const fin = finite(where);
  const { task, rows, positives, tp, fp, tn, fn, nan_predictions, ...scores } = m;
  const checked = Object.fromEntries(Object.entries(scores).map(([k, v]) => [k, fin(v, k)])) as Omit<
    typeof m,
    'task' | 'rows' | 'positives' | 'tp' | 'fp' | 'tn' | 'fn' | 'nan_predictions'
  >;
  return { task, rows, positives, ...checked, tp, fp, tn, fn, nan_predictions };
}

export function promotionFromRunState(state: RunState, onnx: Uint8Array, ctx: PromotionContext = {}): Promotion {
  const where = `run ${state.run_id}`;
  if (state.gate?.decision !== 'promote') throw new Error(`${where} decided ${state.gate?.decision ?? 'nothing yet'}, not promote: nothing to promote`);
  const ev = state.evaluate!;
  const tr = state.train!;
  const ex = state.extract!;
  const ft = state.features!;
  if (!state.code_sha || !/^[0-9a-f]{40}$/.test(state.code_sha)) {
    throw new Error(`${where}: the code sha is unknown (the retrain did not run in a git checkout); a promotion must name the code that trained it`);
  }
  const config = state.config;
  const common = {
    run_id: state.run_id,
    pipeline: state.pipeline_file,
    data: { start: ex.start, end: ex.end, rows: ex.rows, fingerprint: ex.fingerprint },
    holdout: { start: ev.holdout.start, end: ev.holdout.end, rows: ev.holdout.rows },
    features: { names: ft.names, spec: { ...ft.spec, zscore_stats: ft.zscore_stats } as unknown as Record<string, unknown> },
    trainer: { algorithm: tr.algorithm, params: tr.params },
    code_sha: state.code_sha,
    workflow_run_url: state.workflow_run_url,
    promoted_at: (ctx.promotedAt ?? new Date(state.as_of)).toISOString(),
    pull_request: ctx.pullRequest ?? null,
  };
  let entry: Promotion['entry'];
  if (config.task === 'classification') {
    const labels = ex.labels;
    if (!labels) throw new Error(`${where}: a classification run without label statistics (run the extract step again)`);
    entry = {
      ...common,
      task: 'classification',
      decision_threshold: config.target.decision_threshold,
      metrics: classMetrics(ev.challenger.metrics, `${where} challenger`),
      baseline: { kind: 'prior', metrics: classMetrics(ev.baseline.metrics, `${where} baseline`) },
      labels: { table: labels.table, labelled_rows: labels.labelled, coverage: labels.coverage },
    };
  } else {
    entry = {
      ...common,
      task: undefined,
      metrics: metrics(ev.challenger.metrics, `${where} challenger`),
      baseline: { kind: config.baseline.kind, metrics: metrics(ev.baseline.metrics, `${where} baseline`) },
    };
  }
  const card = (version: number, artifact: ArtifactRef): object => ({
    model: state.pipeline,
    version,
    description: state.config.description ?? null,
    task: state.config.task,
    target: state.config.target,
    artifact,
    metrics: { holdout: ev.challenger.metrics, train: tr.train_metrics, baseline: ev.baseline.metrics, champion: ev.champion?.metrics ?? null },
    replaces: ev.champion_info ? { version: ev.champion_info.version, sha256: ev.champion_info.sha256 } : null,
    improvement_pct: state.gate?.improvement_pct ?? null,
    gates: state.gate?.gates ?? [],
    data: { window: { start: ex.start, end: ex.end }, rows: ex.rows, fingerprint: ex.fingerprint, entities: ex.entities },
    quality: state.quality
      ? {
          passed: state.quality.passed,
          checks: state.quality.checks.map((c) => ({ name: c.name, column: c.column, value: c.value, threshold: c.threshold, passed: c.passed })),
        }
      : null,
    holdout: ev.holdout,
    training_rows: ft.train.rows,
    features: { names: ft.names, spec: ft.spec, zscore_stats: ft.zscore_stats },
    trainer: { algorithm: tr.algorithm, params: tr.params, wall_ms: tr.wall_ms, trees_used: tr.trees_used ?? null },
    lineage: {
      run_id: state.run_id,
      code_sha: state.code_sha,
      workflow_run_url: state.workflow_run_url,
      trigger: state.trigger,
      trigger_reason: state.trigger_reason,
    },
    ...(config.task === 'classification' ? { decision_threshold: config.target.decision_threshold, labels: ex.labels } : {}),
    onnx: {
      input: 'features',
      shape: ['N', ft.names.length],
      opset: 17,
      ml_opset: 3,
      ...(config.task === 'classification' ? { outputs: { label: ['N'], probabilities: ['N', 2] } } : { output: 'prediction' }),
    },
  });
  return { model: state.pipeline, entry, onnx, card };
}

/** The promotion of the run in `runDir` (its run.json and model.onnx). */
export function promotionFromRunDir(runDir: string, ctx: PromotionContext = {}): Promotion {
  const state = readRunState(runDir);
  return promotionFromRunState(state, new Uint8Array(readFileSync(runFile(runDir, 'model'))), ctx);
}
