import { metricValue, type MetricName } from '../actions/lib/evaluate/metrics.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { featureSpecFromPipeline, splitRecordedSpec } from '../actions/lib/features/spec.ts';
import { readRunState, type RunState } from '../actions/lib/retrain/run-dir.ts';
import { FileRunStore, MemoryRunStore } from '../actions/lib/retrain/store.ts';
import { openRun } from '../actions/lib/actions-io/stage.ts';

const config = loadPipelineFile('pipelines/tank-level-forecast.yaml');
const spec = featureSpecFromPipeline(config);
const metrics = { rows: 10, rmse: 0.5, mae: 0.4, r2: Number.NaN, bias: 0, max_abs_error: Number.POSITIVE_INFINITY, nan_predictions: 0 };
const span = { rows: 10, start: '2026-10-01T00:00:00.000Z', end: '2026-10-02T00:00:00.000Z' };

function state(): RunState {
  return {
    run_id: 'r1',
    pipeline: config.name,
    pipeline_file: 'pipelines/tank-level-forecast.yaml',
    config,
    as_of: '2026-10-03T00:00:00.000Z',
    trigger: 'manual',
    trigger_reason: null,
    forced: false,
    repo_dir: '/tmp/repo',
    code_sha: null,
    workflow_run_url: null,
    started_at: '2026-10-03T00:00:01.000Z',
    stage_timings: { extract: 1.5 },
    features: {
      spec,
      zscore_stats: { version: 1, names: ['a'], mean: [1], std: [2] },
      names: ['a'],
      rows: 20,
      dropped: { no_target: 1 },
      warnings: [],
      train: span,
      holdout: span,
      gap_rows: 0,
    },
    train: { algorithm: 'ridge', params: { alpha: 1 }, sha256: 'a'.repeat(64), bytes: 100, wall_ms: 5, train_metrics: metrics },
    gate: { decision: 'reject', reasons: ['x'], gates: [], improvement_pct: Number.NEGATIVE_INFINITY },
  };
}

describe('run.json, read back through the run-state schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlops-run-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes NaN and Infinity as null and reads them back as NaN (null where the field may be null)', () => {
    const runDir = join(dir, 'nan');
    new FileRunStore(runDir).save(state());
    expect(readFileSync(join(runDir, 'run.json'), 'utf8')).toContain('"r2": null');
    const back = readRunState(runDir);
    expect(metricValue(back.train!.train_metrics!, 'r2' as MetricName)).toBeNaN();
    expect(metricValue(back.train!.train_metrics!, 'max_abs_error' as MetricName)).toBeNaN();
    expect(metricValue(back.train!.train_metrics!, 'rmse')).toBe(0.5);
    expect(back.gate!.improvement_pct).toBeNull();
    expect(back.config).toEqual(config);
    expect(back.features!.spec).toEqual(spec);
  });

  it('names the field of a damaged run.json, and says when it is not JSON at all', () => {
    const runDir = join(dir, 'damaged');
    new FileRunStore(runDir).save(state());
    const file = join(runDir, 'run.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.train.sha256 = 'not-a-sha';
    json.gate.decision = 'maybe';
    writeFileSync(file, JSON.stringify(json));
    expect(() => readRunState(runDir)).toThrow(new RegExp(`^${file} is not a valid run state: train\\.sha256: .+; gate\\.decision: .+`));
    // The actions' reader passes the reason on instead of claiming there is no run.json.
    expect(() => openRun(runDir)).toThrow(/is not a valid run state: train\.sha256/);
    writeFileSync(file, '{"run_id": "r1", ');
    expect(() => readRunState(runDir)).toThrow(`${file} is not valid JSON`);
  });

  it('the memory store holds only what run.json could hold', () => {
    const store = new MemoryRunStore('mem');
    expect(() => store.load()).toThrow('run mem has no state yet: begin the run first');
    store.save(state());
    expect(metricValue(store.load().train!.train_metrics!, 'r2' as MetricName)).toBeNaN();
    expect(() => store.model()).toThrow('run mem has no model yet: run the train step first');
    expect(() => store.save({ ...state(), stage_timings: { extract: 'fast' as unknown as number } })).toThrow(
      /run mem is not a valid run state: stage_timings\.extract/,
    );
  });
});

describe('a recorded feature spec', () => {
  it('splits into the spec and its z-score statistics; older specs without valid_range still read', () => {
    const { target, ...rest } = spec;
    const older = { ...rest, target: { column: target.column, horizon_minutes: target.horizon_minutes }, zscore_stats: null };
    expect(splitRecordedSpec(older, 'v1').spec.target.valid_range).toBeUndefined();
    const stats = { version: 1, names: ['a'], mean: [1], std: [null] };
    const split = splitRecordedSpec({ ...spec, zscore_stats: stats }, 'v2');
    expect(split.spec).toEqual(spec);
    expect(split.stats!.std[0]).toBeNaN();
  });

  it('refuses what is not a spec, saying whose it is', () => {
    expect(() => splitRecordedSpec({ ...spec, lags: 'none' }, 'pump v3')).toThrow(
      "pump v3: the registry entry's features.spec is not a feature spec (columns, lags, rolling, target)",
    );
    expect(() => splitRecordedSpec(null, 'pump v3')).toThrow('pump v3: the registry entry');
  });
});
