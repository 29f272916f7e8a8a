import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { classificationPipelineSchema, type ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { seedCredit } from '../actions/lib/demo-data/index.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { column } from '../actions/lib/source/frame.ts';
import { retrain, type RetrainOptions } from '../actions/lib/retrain/retrain.ts';
import type { RetrainResult } from '../actions/lib/retrain/result.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { readOnnxMetadata } from '../actions/lib/onnx/metadata.ts';
import { scoreWindow } from '../actions/lib/score/index.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const FILE = 'test/fixtures/pipelines/credit-small.yaml';
const base = loadPipelineFile(FILE) as ClassificationPipeline;
const START = new Date('2026-01-01T00:00:00Z');
const pipeline = (over: Record<string, unknown> = {}): ClassificationPipeline => classificationPipelineSchema.parse({ ...base, ...over });

describeDb('classification retrain with delayed labels', ({ db }) => {
  let work: string;
  let repo: string;
  let asOf: Date;
  const run = (over: Partial<RetrainOptions> & { pipeline: ClassificationPipeline }): Promise<RetrainResult> =>
    retrain(db(), { pipelineFile: FILE, asOf, runsDir: join(work, 'runs'), repoDir: repo, ...over });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-classify-'));
    repo = join(work, 'repo');
    // 160 days of applications with every outcome: the runs as of day 150 must see neither the
    // later applications nor the outcomes not yet known then.
    const seeded = await seedCredit(db(), { days: 160, perDay: 40, seed: 3, start: START, labelsUntil: new Date(START.getTime() + 200 * DAY_MS) });
    asOf = new Date(seeded.start.getTime() + 150 * DAY_MS);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('extracts each row with its key, its category text and only the label known at as-of', async () => {
    const p = pipeline();
    const frame = await extractFrame(db(), p.source, asOf, { labels: p.labels });
    expect(frame.names).toEqual(['income', 'debt_ratio', 'age', 'history_months', 'region', 'defaulted']);
    expect(frame.keys![0]).toMatch(/^A\d{8}-\d{5}$/);
    expect(new Set(frame.keys).size).toBe(frame.rows);
    expect(frame.categories!.region.sort()).toEqual(['central', 'east', 'north', 'south', 'west']);
    const y = column(frame, 'defaulted');
    const { rows } = await db().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM loan_outcomes o JOIN loan_applications a USING (application_id)
       WHERE a.applied_at >= $1 AND a.applied_at < $2 AND o.known_at <= $2`,
      [new Date(asOf.getTime() - 120 * DAY_MS), asOf],
    );
    let labelled = 0;
    for (let i = 0; i < frame.rows; i++) {
      if (y[i] === y[i]) {
        labelled++;
        expect(frame.labelTimes![i]).toBeLessThanOrEqual(asOf.getTime());
      } else expect(frame.labelTimes![i]).toBeNaN();
    }
    expect(labelled).toBe(rows[0].n);
    // A label that arrives after as-of (or a correction after it) is not seen at as-of.
    const key = frame.keys![frame.rows - 1];
    await db().query('INSERT INTO loan_outcomes (application_id, defaulted, known_at) VALUES ($1, 1, $2)', [key, new Date(asOf.getTime() + 3_600_000)]);
    const labelledKey = frame.keys![y.findIndex((v) => v === 0)];
    await db().query('INSERT INTO loan_outcomes (application_id, defaulted, known_at) VALUES ($1, 1, $2)', [labelledKey, new Date(asOf.getTime() + 1000)]);
    const again = await extractFrame(db(), p.source, asOf, { labels: p.labels });
    expect(again.fingerprint).toBe(frame.fingerprint);
    const later = await extractFrame(db(), p.source, asOf, { labels: p.labels, labelsAsOf: new Date(asOf.getTime() + 2 * 3_600_000) });
    const yl = column(later, 'defaulted');
    expect(yl[later.keys!.indexOf(key)]).toBe(1);
    expect(yl[later.keys!.indexOf(labelledKey)]).toBe(1); // the newest label known then wins
    await db().query('DELETE FROM loan_outcomes WHERE known_at > $1', [asOf]);
  });

  it('names the labels that are neither 0/1 nor true/false, and a missing labels table', async () => {
    await db().exec('CREATE TABLE text_outcomes (application_id text, outcome text, known_at timestamptz)');
    await db().query("INSERT INTO text_outcomes SELECT application_id, CASE WHEN defaulted = 1 THEN 'default' ELSE 'repaid' END, known_at FROM loan_outcomes");
    const p = pipeline();
    const labels = { ...p.labels, table: 'text_outcomes', label_column: 'outcome' };
    await expect(extractFrame(db(), p.source, asOf, { labels })).rejects.toThrow(
      /^labels\.label_column: \d+ row\(s\) of the window have a label that is neither 1\/true nor 0\/false \("repaid" \(\d+ rows\), "default" \(\d+ rows\)\); set labels.positive to the value of the positive class \(e\.g\. positive: "repaid"\)$/,
    );
    const named = await extractFrame(db(), p.source, asOf, { labels: { ...labels, positive: 'default' } });
    const direct = await extractFrame(db(), p.source, asOf, { labels: p.labels });
    expect(Array.from(column(named, 'outcome'))).toEqual(Array.from(column(direct, 'defaulted')));
    await expect(extractFrame(db(), p.source, asOf, { labels: { ...p.labels, table: 'nope' } })).rejects.toThrow('labels.table: table "nope" does not exist');
  });

  let first: RetrainResult;
  it('trains on the labelled rows only, gates the first model on the classification gates and records it', async () => {
    first = await run({ pipeline: pipeline() });
    expect(first.decision).toBe('promote');
    expect(first.task).toBe('classification');
    expect(first.primary_metric).toBe('f1');
    const labels = first.labels!;
    expect(labels.coverage).toBeGreaterThan(0.7);
    expect(labels.coverage).toBeLessThan(0.8); // the newest 30 days have no label yet
    expect(first.features!.dropped.no_target).toBe(first.data!.rows - labels.labelled);
    expect(first.features!.names).toEqual(expect.arrayContaining(['income', 'region=north', 'region=east']));
    const c = first.scores.challenger!.metrics;
    expect(c).toMatchObject({ task: 'classification', threshold: 0.3, rows: first.holdout!.rows });
    expect(first.scores.baseline!.label).toBe('prior baseline');
    expect(first.gates.map((g) => g.name)).toEqual([
      'improvement',
      'min_auc',
      'labelled_holdout',
      'label_coverage',
      'nan_predictions',
      'beats_baseline',
      'training_time',
      'cooldown',
      'degenerate_holdout',
    ]);
    const perf = (
      await db().query<{ task: string; f1_val: number; roc_auc_val: number; brier_val: number; label_coverage: number; rmse_val: number | null }>(
        'SELECT task, f1_val, roc_auc_val, brier_val, label_coverage, rmse_val FROM mlops.model_performance WHERE run_id = $1',
        [first.run_id],
      )
    ).rows[0];
    expect(perf).toMatchObject({ task: 'classification', rmse_val: null });
    expect(perf.f1_val).toBeCloseTo((c as { f1: number }).f1, 9);
    expect(perf.label_coverage).toBeCloseTo(labels.coverage, 9);
    const md = readFileSync(join(first.lineage.run_dir, 'report.md'), 'utf8');
    expect(md).toContain('| metric (labelled holdout,');
    expect(md).toMatch(/\| roc auc \| \*\*|\| roc auc \| 0\./);
    expect(md).toContain('| label coverage | >= 30.0% |');
    // The promotion: a classification registry entry with its threshold, labels and ONNX outputs.
    const promotion = promotionFromRunDir(first.lineage.run_dir);
    writeRegistryEdit(repo, planRegistryEdit(readRegistry(repo), promotion));
    const entry = readRegistry(repo).models['credit-default'];
    expect(entry).toMatchObject({ task: 'classification', decision_threshold: 0.3, baseline: { kind: 'prior' }, labels: { table: 'loan_outcomes' } });
    expect((entry.features.spec as { categorical: { categories: string[] }[] }).categorical[0].categories).toHaveLength(5);
    expect(readOnnxMetadata(promotion.onnx).outputs.map((o) => o.name)).toEqual(['label', 'probabilities']);
  });

  it('batch-scores the champion: one probability per application, with its key for the label join', async () => {
    const start = new Date(asOf.getTime() + DAY_MS);
    const r = await scoreWindow(db(), pipeline(), { repoDir: repo, start, end: new Date(start.getTime() + 2 * DAY_MS) });
    expect(r).toMatchObject({ outcome: 'scored', model_version: 1, nan: 0 });
    expect(r.scored).toBe(r.rows);
    const rows = (
      await db().query<{ row_key: string; prediction: number }>(
        "SELECT row_key, prediction FROM mlops.predictions WHERE pipeline = 'credit-default' ORDER BY row_key",
      )
    ).rows;
    expect(rows).toHaveLength(r.scored);
    const { rows: apps } = await db().query<{ application_id: string }>(
      'SELECT application_id FROM loan_applications WHERE applied_at >= $1 AND applied_at < $2 ORDER BY application_id',
      [start, new Date(start.getTime() + 2 * DAY_MS)],
    );
    expect(rows.map((x) => x.row_key)).toEqual(apps.map((a) => a.application_id));
    for (const x of rows) expect(x.prediction > 0 && x.prediction < 1).toBe(true);
    // Idempotent: the same window again replaces, never duplicates.
    await scoreWindow(db(), pipeline(), { repoDir: repo, start, end: new Date(start.getTime() + 2 * DAY_MS) });
    expect((await db().query<{ n: number }>("SELECT count(*)::int AS n FROM mlops.predictions WHERE pipeline = 'credit-default'")).rows[0].n).toBe(rows.length);
  });

  it('skips before training inside the 7-day cooldown, unless forced', async () => {
    const r = await run({ pipeline: pipeline(), asOf: new Date(asOf.getTime() + 3 * DAY_MS) });
    expect(r.decision).toBe('skip');
    expect(r.reasons).toEqual(['before training: last promotion 3.0 days ago, cooldown is 7 days']);
    expect(r.scores.challenger).toBeNull();
    expect(existsSync(join(r.lineage.run_dir, 'model.onnx'))).toBe(false);
    const ev = (
      await db().query<{ decision: string; gates: { name: string; passed: boolean }[] }>('SELECT decision, gates FROM mlops.evaluations WHERE run_id = $1', [
        r.run_id,
      ])
    ).rows[0];
    expect(ev.decision).toBe('skip');
    expect(ev.gates.find((g) => g.name === 'cooldown')).toMatchObject({ passed: false });
    const forced = await run({ pipeline: pipeline(), asOf: new Date(asOf.getTime() + 3 * DAY_MS), force: true });
    expect(forced.decision).not.toBe('skip');
    expect(forced.scores.champion!.label).toBe('champion v1');
    expect(forced.gates.find((g) => g.name === 'cooldown')).toMatchObject({ passed: false, overridden: true });
  });

  it('skips before training when the labels cannot give enough labelled holdout rows or coverage', async () => {
    const later = new Date(asOf.getTime() + 10 * DAY_MS);
    const few = await run({ pipeline: pipeline({ gates: { min_labelled_holdout: 5000 } }), asOf: later });
    expect(few.decision).toBe('skip');
    expect(few.reasons).toEqual([expect.stringMatching(/^before training: the holdout would have only \d+ labelled rows; 5000 needed/)]);
    const sparse = await run({ pipeline: pipeline({ gates: { min_label_coverage: 0.95 } }), asOf: later });
    expect(sparse.reasons).toEqual([
      expect.stringMatching(/^before training: only \d+\.\d% of the window's rows have a label known at as-of; 95\.0% required/),
    ]);
  });

  it("scores the challenger against the champion on the same labelled holdout rows after the cooldown, and on the first run's holdout", async () => {
    const later = new Date(asOf.getTime() + 10 * DAY_MS);
    const r = await run({
      pipeline: pipeline({
        trainer: { algorithm: 'gbdt', params: { trees: 30, max_depth: 3, learning_rate: 0.2, threads: 1 } },
        reference_set: { from_run: first.run_id, tolerance_pct: 5 },
      }),
      asOf: later,
    });
    expect(r.decision).not.toBe('skip');
    expect(r.scores.champion!.metrics.rows).toBe(r.scores.challenger!.metrics.rows);
    expect(r.gates.map((g) => g.name)).toEqual([
      'improvement',
      'brier_increase',
      'recall_drop',
      'min_auc',
      'labelled_holdout',
      'label_coverage',
      'nan_predictions',
      'beats_baseline',
      'training_time',
      'cooldown',
      'reference_set',
      'degenerate_holdout',
    ]);
    expect(r.gates.find((g) => g.name === 'cooldown')).toMatchObject({ passed: true });
    // Double evaluation: the first run's holdout, its labels as known now, scored by both models.
    const ref = r.reference!;
    expect(ref).toMatchObject({ from_run: first.run_id, start: first.holdout!.start });
    expect(ref.rows).toBe(first.holdout!.rows);
    expect(ref.champion!.metrics).toMatchObject({ task: 'classification', rows: ref.rows });
    expect(ref.challenger.metrics).toMatchObject({ task: 'classification', rows: ref.rows });
    expect(r.gates.find((g) => g.name === 'reference_set')!.label).toBe('f1 on the reference set vs champion');
  });
});
