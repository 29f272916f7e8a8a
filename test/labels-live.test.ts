import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { classificationPipelineSchema, type ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { ensureCreditTables } from '../actions/lib/demo-data/index.ts';
import { livePerformance } from '../actions/lib/labels/live.ts';
import { runDailyMonitoring } from '../actions/lib/monitoring/index.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { emptyRegistry } from '../actions/lib/registry/schema.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const base = loadPipelineFile('pipelines/credit-default.yaml') as ClassificationPipeline;
const AS_OF = new Date('2026-06-30T00:00:00Z');
const NEXT_DAY = new Date(AS_OF.getTime() + DAY_MS);
const before = (days: number): string => new Date(AS_OF.getTime() - days * DAY_MS).toISOString();

/** The champion's holdout metrics at promotion: F1 0.8. */
const HOLDOUT = {
  task: 'classification' as const,
  rows: 100,
  positives: 20,
  positive_rate: 0.2,
  threshold: 0.5,
  accuracy: 0.92,
  precision: 0.8,
  recall: 0.8,
  f1: 0.8,
  roc_auc: 0.85,
  pr_auc: 0.7,
  brier: 0.1,
  log_loss: 0.3,
  tp: 16,
  fp: 4,
  tn: 76,
  fn: 4,
  nan_predictions: 0,
};

function writeChampion(repo: string): void {
  writeRegistryEdit(
    repo,
    planRegistryEdit(emptyRegistry(), {
      model: 'credit-default',
      entry: {
        task: 'classification',
        decision_threshold: 0.5,
        run_id: 'run-c1',
        pipeline: 'pipelines/credit-default.yaml',
        metrics: HOLDOUT,
        baseline: { kind: 'prior', metrics: { ...HOLDOUT, f1: 0.2, roc_auc: 0.5 } },
        labels: { table: 'loan_outcomes', labelled_rows: 800, coverage: 0.8 },
        data: { start: '2026-01-01T00:00:00Z', end: '2026-05-01T00:00:00Z', rows: 1000, fingerprint: `sha256:${'a'.repeat(64)}` },
        holdout: { start: '2026-04-01T00:00:00Z', end: '2026-05-01T00:00:00Z', rows: 100 },
        features: { names: ['income'], spec: { columns: ['income'] } },
        trainer: { algorithm: 'gbdt', params: { trees: 20 } },
        code_sha: 'b'.repeat(40),
        workflow_run_url: null,
        promoted_at: '2026-05-01T02:00:00Z',
        pull_request: null,
      },
      onnx: new Uint8Array([1, 2, 3]),
      card: {},
    }),
  );
}

/**
 * Predictions of v1 (the champion) 40 days before as-of, each with its key, probability and label:
 * a label known at as-of, a corrected one (the newest known counts), one known only the day after,
 * one never known.
 */
const CHAMPION: [key: string, probability: number, label: number | null][] = [
  ['K01', 0.9, 1],
  ['K02', 0.8, 1],
  ['K03', 0.7, 0],
  ['K04', 0.6, 1],
  ['K05', 0.4, 0],
  ['K06', 0.3, 1],
  ['K07', 0.2, 0],
  ['K08', 0.1, 0],
  ['K09', 0.55, null],
  ['K10', 0.35, null],
];

describeDb('live performance: predictions joined to their labels', ({ db }) => {
  let work: string;
  let repo: string;
  const pipeline = (health: Record<string, unknown> = {}): ClassificationPipeline =>
    classificationPipelineSchema.parse({ ...base, health: { ...base.health, ...health } });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'labels-live-'));
    repo = join(work, 'repo');
    writeChampion(repo);
    await ensureCreditTables(db());
    const rows: string[] = [];
    const labels: string[] = [];
    for (const [key, p, y] of CHAMPION) {
      rows.push(`('credit-default', 1, '${key}', '${before(40)}', ${p}, '${key}')`);
      if (y !== null) labels.push(`('${key}', ${y}, '${before(5)}')`);
    }
    // K03 was first recorded as a default, then corrected; K09's outcome and K10's arrive after as-of.
    labels.push(
      `('K03', 1, '${before(10)}')`,
      `('K09', 1, '${NEXT_DAY.toISOString()}')`,
      `('K10', 0, '${new Date(NEXT_DAY.getTime() - 3_600_000).toISOString()}')`,
    );
    // An older version's prediction in the window (counts for coverage, not for the champion's metrics),
    // one before the window, and one without a key (nothing to join).
    rows.push(
      `('credit-default', 0, 'K12', '${before(50)}', 0.99, 'K12')`,
      `('credit-default', 1, 'K11', '${before(70)}', 0.99, 'K11')`,
      `('credit-default', 1, 'e', '${before(30)}', 0.5, NULL)`,
    );
    labels.push(`('K12', 0, '${before(20)}')`, `('K11', 0, '${before(20)}')`);
    await db().exec(`INSERT INTO mlops.predictions (pipeline, model_version, entity, ts, prediction, row_key) VALUES ${rows.join(', ')};
      INSERT INTO loan_outcomes (application_id, defaulted, known_at) VALUES ${labels.join(', ')};`);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('joins by key the labels known at as-of: coverage over every version, metrics of the champion', async () => {
    const live = await livePerformance(db(), pipeline(), { repoDir: repo, asOf: AS_OF });
    expect(live).toMatchObject({ pipeline: 'credit-default', window: { start: before(60), end: AS_OF.toISOString(), days: 60 }, predictions: 11, labelled: 9 });
    expect(live.label_coverage).toBeCloseTo(9 / 11, 12);
    // By hand: at 0.5, TP K01 K02 K04, FP K03, FN K06, TN K05 K07 K08; AUC 13 of 16 pairs ranked right;
    // Brier (0.01 + 0.04 + 0.49 + 0.16 + 0.16 + 0.49 + 0.04 + 0.01) / 8.
    const m = live.champion!.metrics!;
    expect(live.champion).toMatchObject({ version: 1, predictions: 10, labelled: 8, decision_threshold: 0.5 });
    expect(m).toMatchObject({ rows: 8, positives: 4, tp: 3, fp: 1, fn: 1, tn: 3 });
    expect(m.f1).toBeCloseTo(0.75, 12);
    expect(m.precision).toBeCloseTo(0.75, 12);
    expect(m.roc_auc).toBeCloseTo(13 / 16, 12);
    expect(m.brier).toBeCloseTo(1.4 / 8, 12);
    // A day later K09 (a default, predicted 0.55) and K10 (repaid, 0.35) are known too.
    const later = await livePerformance(db(), pipeline(), { repoDir: repo, asOf: NEXT_DAY });
    expect(later).toMatchObject({ predictions: 11, labelled: 11, champion: { labelled: 10, metrics: { tp: 4, fp: 1, fn: 1, tn: 4 } } });
    expect(later.champion!.metrics!.f1).toBeCloseTo(0.8, 12);
  });

  it('raises the live-metric-drop and label-coverage alerts, records the live row, and closes both when the labels arrive', async () => {
    const p = pipeline({ max_live_metric_drop_pct: 5, min_live_labelled: 5, min_label_coverage: 0.9 });
    const day = (asOf: Date) => runDailyMonitoring(db(), { pipelines: [p], repoDir: repo, asOf, checks: ['health'] });
    const first = await day(AS_OF);
    const rule = (r: typeof first, name: string) => r.rules.find((x) => x.rule === name)!;
    expect(rule(first, 'live-metric-drop')).toMatchObject({
      status: 'firing',
      message:
        "credit-default: v1's live f1 0.75 on 8 labelled predictions of the last 60 days, 0.8 on its holdout at promotion (6.3% worse); alert above 5% worse",
    });
    expect(rule(first, 'label-coverage')).toMatchObject({
      status: 'firing',
      message:
        'credit-default: only 81.8% of the 11 predictions of the last 60 days have a label in loan_outcomes (9), below 90.0%: have the labels stopped arriving?',
    });
    const opened = first.alerts.all.filter((a) => a.outcome === 'opened').map((a) => a.key);
    expect(opened).toEqual(expect.arrayContaining(['credit-default/live-metric-drop', 'credit-default/label-coverage']));
    // Re-running the day's check updates the alerts and the live row, adding none.
    const again = await day(AS_OF);
    expect(again.alerts.all.find((a) => a.key === 'credit-default/label-coverage')).toMatchObject({ outcome: 'updated', occurrences: 2 });
    const live = await db().query<{
      n: number;
      model_version: number;
      predictions: number;
      labelled: number;
      label_coverage: number;
      f1_val: number;
      roc_auc_val: number;
      brier_val: number;
      run_id: string | null;
    }>(
      `SELECT count(*) OVER ()::int AS n, model_version, predictions, labelled, label_coverage, f1_val, roc_auc_val, brier_val, run_id
       FROM mlops.model_performance WHERE kind = 'live' AND model_name = 'credit-default'`,
    );
    expect(live.rows).toHaveLength(1);
    expect(live.rows[0]).toMatchObject({ n: 1, model_version: 1, predictions: 11, labelled: 9, run_id: null });
    expect(live.rows[0].f1_val).toBeCloseTo(0.75, 12);
    expect(live.rows[0].roc_auc_val).toBeCloseTo(0.8125, 12);
    expect(live.rows[0].brier_val).toBeCloseTo(0.175, 12);
    expect(live.rows[0].label_coverage).toBeCloseTo(9 / 11, 12);

    const next = await day(NEXT_DAY);
    expect(rule(next, 'live-metric-drop')).toMatchObject({ status: 'ok' });
    expect(rule(next, 'label-coverage')).toMatchObject({
      status: 'ok',
      message: 'credit-default: 100.0% of the 11 predictions of the last 60 days have a label in loan_outcomes (11)',
    });
    const resolved = next.alerts.cleared.map((a) => a.key);
    expect(resolved).toEqual(expect.arrayContaining(['credit-default/live-metric-drop', 'credit-default/label-coverage']));
    const open = await db().query<{ n: number }>(
      "SELECT count(*)::int AS n FROM mlops.alerts WHERE pipeline = 'credit-default' AND rule IN ('live-metric-drop', 'label-coverage') AND resolved_at IS NULL",
    );
    expect(open.rows[0].n).toBe(0);
  });

  it('cannot tell with too few labelled predictions, and says why when the labels table is missing', async () => {
    const few = await runDailyMonitoring(db(), { pipelines: [pipeline({ min_live_labelled: 50 })], repoDir: repo, asOf: AS_OF, checks: ['health'] });
    expect(few.rules.find((r) => r.rule === 'live-metric-drop')).toMatchObject({
      status: 'unknown',
      message: "credit-default: 8 of v1's 10 predictions of the last 60 days have a label (the live metrics need 50)",
    });
    const gone = classificationPipelineSchema.parse({ ...base, labels: { ...base.labels, table: 'no_such_outcomes' } });
    const r = await runDailyMonitoring(db(), { pipelines: [gone], repoDir: repo, asOf: AS_OF, checks: ['health'] });
    expect(r.rules.find((x) => x.rule === 'label-coverage')).toMatchObject({
      status: 'unknown',
      message:
        'credit-default: the predictions could not be joined to their labels: labels.table: table "no_such_outcomes" does not exist (load labels with: npm run mlops -- labels import)',
    });
  });
});
