import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { classifierMetrics } from './helpers/onnx-models.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import type { ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { generateCredit, seedCredit, type CreditData } from '../actions/lib/demo-data/index.ts';
import { classificationMetrics } from '../actions/lib/evaluate/metrics.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { emptyRegistry } from '../actions/lib/registry/schema.ts';
import { lateLabelsStory, type LateLabelsShown } from '../scripts/demo-credit.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

/**
 * The demo's step C5 (scripts/demo-credit.ts) on a small credit history: the late outcomes arrive
 * as a CSV and go through `labels import`; the daily health check before and after it prints the
 * label coverage, the champion's live F1 / ROC AUC / Brier and the alert that opens and resolves.
 * The figures are recomputed here from the generator's outcomes, independently of the label join.
 */
const FILE = 'pipelines/credit-default.yaml';
const config = loadPipelineFile(FILE) as ClassificationPipeline;
const START = new Date('2026-01-01T00:00:00Z');
const OPTIONS = { days: 70, perDay: 30, seed: 11, start: START, driftFrom: new Date(START.getTime() + 56 * DAY_MS) };
const WEEK1 = new Date(START.getTime() + 56 * DAY_MS);
/** outcomes known before this are seeded; the later ones come by CSV */
const LABELS_FROM = new Date(START.getTime() + 70 * DAY_MS);
const AS_OF = new Date(WEEK1.getTime() + 38 * DAY_MS);
const THRESHOLD = config.target.decision_threshold;

/** The champion's probability of an application: a fixed function of its debt ratio, so the test can recompute it. */
const probability = (data: CreditData, i: number): number => Math.min(0.95, Math.max(0.02, data.debtRatio[i] - 0.05));

describeDb('demo: late labels by labels import, label coverage and live accuracy', ({ db }) => {
  let work: string;
  let lines: string[];
  let shown: LateLabelsShown;
  let data: CreditData;
  /** the predicted applications: week 1 and week 2 */
  const predicted: number[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'demo-credit-'));
    const repo = join(work, 'checkout');
    const { metrics, baseline } = classifierMetrics();
    writeRegistryEdit(
      repo,
      planRegistryEdit(emptyRegistry(), {
        model: config.name,
        entry: {
          task: 'classification',
          decision_threshold: THRESHOLD,
          run_id: 'run-c1',
          pipeline: FILE,
          metrics,
          baseline,
          labels: { table: config.labels.table, labelled_rows: 1200, coverage: 0.8 },
          data: { start: START.toISOString(), end: WEEK1.toISOString(), rows: 1600, fingerprint: `sha256:${'a'.repeat(64)}` },
          holdout: { start: new Date(WEEK1.getTime() - 10 * DAY_MS).toISOString(), end: WEEK1.toISOString(), rows: 300 },
          features: { names: ['income'], spec: {} },
          trainer: { algorithm: 'gbdt', params: {} },
          code_sha: 'b'.repeat(40),
          workflow_run_url: null,
          promoted_at: WEEK1.toISOString(),
          pull_request: null,
        },
        onnx: new Uint8Array([1, 2, 3]),
        card: {},
      }),
    );
    await seedCredit(db(), { ...OPTIONS, labelsUntil: LABELS_FROM });
    data = generateCredit(OPTIONS);
    // v1's predictions of weeks 1 and 2, each with its application's key (as scoring writes them).
    const values: string[] = [];
    for (let i = 0; i < data.rows; i++) {
      if (data.appliedAt[i] < WEEK1.getTime()) continue;
      predicted.push(i);
      values.push(`('${config.name}', 1, 'all', '${new Date(data.appliedAt[i]).toISOString()}', ${probability(data, i)}, '${data.ids[i]}')`);
    }
    await db().exec(`INSERT INTO mlops.predictions (pipeline, model_version, entity, ts, prediction, row_key) VALUES ${values.join(', ')}`);
    lines = [];
    shown = await lateLabelsStory({
      db: db(),
      pipeline: { file: FILE, config },
      checkout: repo,
      dir: work,
      data,
      labelsFrom: LABELS_FROM,
      asOf: AS_OF,
      say: (line = '') => lines.push(line),
      rel: (p) => p.replace(`${work}/`, ''),
    });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('imports the outcomes known since the seeding, from the CSV it wrote, with the command path', () => {
    const late = [];
    for (let i = 0; i < data.rows; i++) if (data.knownAt[i] >= LABELS_FROM.getTime() && data.knownAt[i] < AS_OF.getTime()) late.push(i);
    expect(late.length).toBeGreaterThan(100);
    const csv = readFileSync(shown.csv, 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('application_id,defaulted,known_at');
    expect(csv).toHaveLength(late.length + 1);
    expect(shown.imported).toMatchObject({
      rows: late.length,
      inserted: late.length,
      unchanged: 0,
      skipped: 0,
      positives: late.filter((i) => data.defaulted[i] === 1).length,
    });
    expect(lines).toContain(`   npm run mlops -- labels import --csv outcomes-${AS_OF.toISOString().slice(0, 10)}.csv --pipeline credit-default`);
    expect(lines).toContain(
      `   ${late.length.toLocaleString('en-US')} new label(s) from outcomes-${AS_OF.toISOString().slice(0, 10)}.csv into loan_outcomes for credit-default ` +
        `(${late.length.toLocaleString('en-US')} in the file: 0 already there; ${shown.imported.positives} positive)`,
    );
  });

  it('before the import: no coverage, the label-coverage alert opens', () => {
    expect(shown.before).toMatchObject({ predictions: predicted.length, labelled: 0, label_coverage: 0 });
    expect(lines.some((l) => l.includes('label-coverage: credit-default: only 0.0% of the') && l.includes('have the labels stopped arriving?'))).toBe(true);
    expect(lines).toContain('   alert opened: [warning] credit-default/label-coverage');
  });

  it('after it: the coverage, live F1 / ROC AUC / Brier of the champion as recomputed from the outcomes, recorded, and the alert resolved', () => {
    const y: number[] = [];
    const p: number[] = [];
    for (const i of predicted) {
      if (data.knownAt[i] < AS_OF.getTime()) {
        y.push(data.defaulted[i]);
        p.push(probability(data, i));
      }
    }
    expect(y.length).toBeGreaterThan(100);
    const want = classificationMetrics(Float64Array.from(y), Float64Array.from(p), THRESHOLD);
    const after = shown.after!;
    expect(after.labelled).toBe(y.length);
    expect(after.label_coverage).toBeCloseTo(y.length / predicted.length, 12);
    expect(after.champion!.metrics).toEqual(want);
    const pct = ((y.length / predicted.length) * 100).toFixed(1);
    expect(
      lines.some((l) =>
        l.startsWith(`   label coverage ${pct}%: ${y.length.toLocaleString('en-US')} of the ${predicted.length.toLocaleString('en-US')} applications`),
      ),
    ).toBe(true);
    const f = (x: number): string => String(Number(x.toPrecision(4)));
    expect(lines).toContain(
      `   v1's live accuracy on its ${y.length.toLocaleString('en-US')} labelled predictions: F1 ${f(want.f1)}, ROC AUC ${f(want.roc_auc)}, Brier ${f(want.brier)} ` +
        '(on its holdout at promotion: F1 0.514, ROC AUC 0.81, Brier 0.07)',
    );
    expect(lines).toContain(
      `   mlops.model_performance (kind live, credit-default v1, ${AS_OF.toISOString().slice(0, 10)}): label_coverage ${f(y.length / predicted.length)}, ` +
        `f1_val ${f(want.f1)}, roc_auc_val ${f(want.roc_auc)}, brier_val ${f(want.brier)}`,
    );
    expect(lines).toContain('   alert resolved: [warning] credit-default/label-coverage');
  });
});
