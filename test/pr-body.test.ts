import { describe, expect, it } from 'vitest';
import { bodyPreview, metricChart, PR_BODY_LIMIT, promotionBody, promotionTitle } from '../actions/lib/report/pr-body.ts';
import type { RetrainResult, ModelScore } from '../actions/lib/retrain/result.ts';
import type { PerformancePoint } from '../actions/lib/tracking/runs.ts';
import { classifierMetrics } from './helpers/onnx-models.ts';
import type { GateResult } from '../actions/lib/gates/gates.ts';

const metrics = (rmse: number) => ({ rows: 8640, rmse, mae: rmse * 0.66, r2: 0.99, bias: 0.001, max_abs_error: rmse * 5, nan_predictions: 0 });
const score = (role: ModelScore['role'], label: string, rmse: number): ModelScore => ({
  role,
  label,
  version: null,
  sha256: null,
  metrics: metrics(rmse),
  scoring_ms: 3,
});

function result(over: Partial<RetrainResult> = {}): RetrainResult {
  return {
    run_id: '4f2c9e1a',
    pipeline: 'tank-level-forecast',
    status: 'succeeded',
    decision: 'promote',
    reasons: [],
    error: null,
    forced: false,
    trigger: 'schedule',
    trigger_reason: null,
    as_of: '2026-11-22T02:00:00.000Z',
    primary_metric: 'rmse',
    data: { start: '2026-10-23T02:00:00.000Z', end: '2026-11-22T02:00:00.000Z', rows: 43020, fingerprint: 'sha256:' + 'ab'.repeat(32), entities: ['PS-001'] },
    quality: null,
    features: { names: ['a', 'b'], rows: 43000, dropped: {}, warnings: [] },
    train: { rows: 34000, start: '2026-10-23T02:00:00.000Z', end: '2026-11-16T00:00:00.000Z' },
    holdout: { rows: 8640, start: '2026-11-16T01:00:00.000Z', end: '2026-11-22T01:59:00.000Z' },
    trainer: { algorithm: 'gbdt', params: { trees: 200 } },
    scores: {
      champion: score('champion', 'champion v7', 0.0712),
      challenger: score('challenger', 'challenger', 0.0655),
      baseline: score('baseline', 'persistence baseline', 0.446),
    },
    train_metrics: null,
    gates: [
      {
        name: 'improvement',
        label: 'improvement over champion',
        threshold: '>= 2%',
        value: '8.0%',
        raw: 8,
        passed: true,
        hard: false,
        overridden: false,
        reason: 'ok',
      },
    ],
    improvement_pct: 8,
    training_ms: 2400,
    stage_timings: {},
    artifact: null,
    champion: { version: 7, sha256: 'c'.repeat(64), run_id: 'old', promoted_at: '2026-11-01T02:00:00.000Z' },
    lineage: { code_sha: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2', workflow_run_url: 'https://github.com/plant/models/actions/runs/412', run_dir: '/x' },
    ...over,
  };
}
const history: PerformancePoint[] = [0.081, 0.078, 0.0712, 0.074, 0.0655].map((v, i) => ({
  run_id: `r${i}`,
  training_date: new Date(Date.UTC(2026, 9, 25 + 7 * i)),
  rmse_val: v,
  mae_val: v * 0.7,
  f1_val: null,
  roc_auc_val: null,
  brier_val: null,
  metrics: null,
  promoted: 0,
}));

describe('the promotion pull request', () => {
  it('has a title with model, version and the metric change', () => {
    expect(promotionTitle('tank-level-forecast', 8, result())).toBe('Promote tank-level-forecast v8: rmse 0.0712 -> 0.0655 (-8.0%)');
    expect(
      promotionTitle('tank-level-forecast', 1, result({ scores: { champion: null, challenger: score('challenger', 'challenger', 0.0655), baseline: null } })),
    ).toBe('Promote tank-level-forecast v1: rmse 0.0655 (first model)');
  });

  it('has the marker, the tables, a mermaid chart of the metric history, lineage and how to roll back', () => {
    const body = promotionBody({
      result: result({ trigger: 'repository_dispatch', trigger_reason: 'drift: 3 of 5 features drifted' }),
      version: 8,
      previousVersion: 7,
      artifact: { path: 'registry/models/tank-level-forecast/8/model.onnx', sha256: 'e'.repeat(64), bytes: 212_000 },
      history,
      marker: '<!-- mlops:promotion model=tank-level-forecast run=4f2c9e1a -->',
      model: 'tank-level-forecast',
    });
    expect(body.startsWith('<!-- mlops:promotion model=tank-level-forecast run=4f2c9e1a -->\n')).toBe(true);
    expect(body).toContain('Merging this pull request deploys v8; reverting the merge rolls back to v7.');
    expect(body).toMatch(
      /Approving this pull request approves run `[^`]+` \(artifact sha256 `[0-9a-f]{12}`\)\. A later retrain that updates this branch replaces the run: review it again\./,
    );
    expect(body).toContain('(repository_dispatch: drift: 3 of 5 features drifted)');
    expect(body).toContain('| metric (holdout, 8,640 rows) | champion v7 | challenger | persistence baseline |');
    expect(body).toContain('| rmse | 0.0712 | **0.0655** (-8.0%) | 0.446 |');
    expect(body).toContain('| improvement over champion | >= 2% | 8.0% | ✅ |');
    expect(body).toContain('```mermaid\nxychart-beta\n  title "rmse on holdout, last 5 runs (lower is better)"');
    expect(body).toContain('  line [0.081, 0.078, 0.0712, 0.074, 0.0655]\n  line [0.0712, 0.0712, 0.0712, 0.0712, 0.0712]');
    expect(body).toContain('[workflow run](https://github.com/plant/models/actions/runs/412)');
    expect(body).toContain('`git revert -m 1 <merge commit>`');
    expect(body).toContain('npm run mlops -- rollback --model tank-level-forecast');
    expect(body.length).toBeLessThan(PR_BODY_LIMIT);

    // what the demo prints: everything above the collapsed details, never cut after a table's header (#11.14)
    const preview = bodyPreview(body);
    expect(body.startsWith(preview)).toBe(true);
    expect(preview).toContain('| rmse | 0.0712 | **0.0655** (-8.0%) | 0.446 |');
    expect(preview).toContain('| improvement over champion | >= 2% | 8.0% | ✅ |');
    expect(preview).toMatch(/ {2}line \[0\.0712, 0\.0712, 0\.0712, 0\.0712, 0\.0712\]\n```$/);
    expect(preview).not.toContain('<details>');
    expect(bodyPreview('no details\n\nat all\n')).toBe('no details\n\nat all');
  });

  it("draws no chart from fewer than two runs and stays under GitHub's body limit", () => {
    expect(metricChart(result(), history.slice(0, 1))).toBeNull();
    // A command trainer may carry any amount of configuration; the body is cut, never refused.
    const long = result({ trainer: { algorithm: 'command', params: { env: { NOTES: 'x'.repeat(100_000) } } } });
    const body = promotionBody({
      result: long,
      version: 2,
      previousVersion: 1,
      artifact: { path: 'p', sha256: 'e'.repeat(64), bytes: 1 },
      history,
      marker: '<!-- m -->',
      model: 'm',
    });
    expect(body.startsWith('<!-- m -->')).toBe(true);
    expect(body).toContain('(truncated; the full report is in the run artifact)');
    expect(body.length).toBeLessThan(PR_BODY_LIMIT);
  });

  it('a classifier: the classification metrics of champion, challenger and prior baseline, its gates and its labels', () => {
    const { metrics, baseline } = classifierMetrics();
    const cscore = (role: ModelScore['role'], label: string, f1: number): ModelScore => ({
      role,
      label,
      version: null,
      sha256: null,
      metrics: role === 'baseline' ? baseline.metrics : { ...metrics, f1 },
      scoring_ms: 2,
    });
    const gate = (name: GateResult['name'], label: string, threshold: string, value: string): GateResult => ({
      name,
      label,
      threshold,
      value,
      raw: 0,
      passed: true,
      hard: true,
      overridden: false,
      reason: 'ok',
    });
    const r = result({
      pipeline: 'credit-default',
      task: 'classification',
      primary_metric: 'f1',
      holdout: { rows: 2000, start: '2026-11-01T00:00:00.000Z', end: '2026-11-22T00:00:00.000Z' },
      scores: {
        champion: cscore('champion', 'champion v1', 0.5),
        challenger: cscore('challenger', 'challenger', 0.514),
        baseline: cscore('baseline', 'prior baseline', 0),
      },
      gates: [
        gate('improvement', 'improvement over champion', '>= 2%', '2.8%'),
        gate('min_auc', 'roc auc', '>= 0.72', '0.81'),
        gate('label_coverage', 'label coverage', '>= 30.0%', '78.9%'),
      ],
      labels: { table: 'loan_outcomes', as_of: '2026-11-22T02:00:00.000Z', labelled: 14155, coverage: 0.789, positives: 1565 },
      data: { start: '2026-06-01T00:00:00.000Z', end: '2026-11-22T02:00:00.000Z', rows: 17930, fingerprint: 'sha256:' + 'ab'.repeat(32), entities: ['all'] },
    });
    expect(promotionTitle('credit-default', 2, r)).toBe('Promote credit-default v2: f1 0.5 -> 0.514 (+2.8%)');
    const body = promotionBody({
      result: r,
      version: 2,
      previousVersion: 1,
      artifact: { path: 'registry/models/credit-default/2/model.onnx', sha256: 'e'.repeat(64), bytes: 90_000 },
      history: [],
      marker: '<!-- mlops:promotion model=credit-default run=4f2c9e1a -->',
      model: 'credit-default',
    });
    expect(body).toContain('| metric (labelled holdout, 2,000 rows) | champion v1 | challenger | prior baseline |');
    for (const row of [
      '| f1 | 0.5 | **0.514**',
      '| roc auc | 0.81 | 0.81 | 0.5 |',
      '| brier | 0.07 | 0.07 | 0.07 |',
      '| log loss |',
      '| pr auc |',
      '| recall |',
    ]) {
      expect(body).toContain(row);
    }
    expect(body).toContain('| roc auc | >= 0.72 | 0.81 | ✅ |');
    expect(body).toContain('| label coverage | >= 30.0% | 78.9% | ✅ |');
    expect(body).toContain('- Labels: 78.9% of 17,930 rows have a label known at');
    expect(body).toContain('(14,155 labelled, 1,565 positive = 11.1%; from loan_outcomes); only labels known then were trained and scored on');
  });
});
