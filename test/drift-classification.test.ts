import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import type { ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { seedCredit } from '../actions/lib/demo-data/index.ts';
import { chiSquare } from '../actions/lib/drift/stats.ts';
import { runDailyMonitoring } from '../actions/lib/monitoring/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const FILE = 'test/fixtures/pipelines/credit-small.yaml';
const pipeline = loadPipelineFile(FILE) as ClassificationPipeline;
const START = new Date('2026-01-01T00:00:00Z');
const at = (d: number): Date => new Date(START.getTime() + d * DAY_MS);

describeDb('drift of a classification champion', ({ db }) => {
  let work: string;
  let repo: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'drift-classify-'));
    repo = join(work, 'repo');
    // The applicant population shifts from day 140 (more applicants from the east, lower incomes).
    await seedCredit(db(), { days: 170, perDay: 40, seed: 5, start: START, driftFrom: at(140), labelsUntil: at(400) });
    const first = await retrain(db(), { pipeline, pipelineFile: FILE, asOf: at(120), runsDir: join(work, 'runs'), repoDir: repo });
    expect(first.decision).toBe('promote');
    writeRegistryEdit(repo, planRegistryEdit(readRegistry(repo), promotionFromRunDir(first.lineage.run_dir)));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Applications per region in [from, to), by SQL. */
  async function regions(from: Date, to: Date): Promise<Map<string, number>> {
    const { rows } = await db().query<{ region: string; n: number }>(
      'SELECT region, count(*)::int AS n FROM loan_applications WHERE applied_at >= $1 AND applied_at < $2 AND region IS NOT NULL GROUP BY region',
      [from, to],
    );
    return new Map(rows.map((r) => [r.region, r.n]));
  }

  it('compares the numeric and categorical inputs, the probabilities and the share of positives', async () => {
    const asOf = at(168);
    const r = await runDailyMonitoring(db(), { pipelines: [pipeline], repoDir: repo, asOf, checks: ['drift'] });
    const d = r.drift[0];
    expect(d.outcome).toBe('reported');
    expect(d.columns).toEqual(['income', 'debt_ratio', 'age', 'history_months', 'region']);
    const region = d.result!.features.find((f) => f.feature === 'region')!;
    expect(region).toMatchObject({ kind: 'categorical', test: 'chi_square', testable: true, drifted: true });
    // The same statistic from counts by region name (SQL): each window's category codes were mapped onto one vocabulary.
    const ref = await regions(new Date(d.reference!.start), new Date(d.reference!.end));
    const cur = await regions(at(154), asOf);
    const names = [...new Set([...ref.keys(), ...cur.keys()])].sort();
    const expected = chiSquare(
      names.map((n) => ref.get(n) ?? 0),
      names.map((n) => cur.get(n) ?? 0),
    );
    expect(region.statistic).toBeCloseTo(expected.statistic, 6);
    expect(region.reference.count).toBe([...ref.values()].reduce((a, b) => a + b, 0));
    expect(region.current.count).toBe([...cur.values()].reduce((a, b) => a + b, 0));
    expect(d.result!.features.find((f) => f.feature === 'income')).toMatchObject({ kind: 'numeric', drifted: true });

    // The champion's probabilities over every application of both windows, labelled or not.
    const { rows: counts } = await db().query<{ ref: number; cur: number }>(
      'SELECT count(*) FILTER (WHERE applied_at >= $1 AND applied_at < $2)::int AS ref, count(*) FILTER (WHERE applied_at >= $3 AND applied_at < $4)::int AS cur FROM loan_applications',
      [d.reference!.start, d.reference!.end, at(154), asOf],
    );
    expect(d.prediction).toMatchObject({ status: 'compared', referenceRows: counts[0].ref, currentRows: counts[0].cur });
    expect(d.prediction!.drift!.current.mean!).toBeGreaterThan(d.prediction!.drift!.reference.mean!);

    // Labels: those the champion learnt from (known at day 120) against those of the last 60 days known at as-of.
    const share = async (from: Date, to: Date, known: Date): Promise<{ labelled: number; positives: number }> =>
      (
        await db().query<{ labelled: number; positives: number }>(
          `SELECT count(*)::int AS labelled, coalesce(sum(o.defaulted), 0)::int AS positives FROM loan_applications a JOIN loan_outcomes o USING (application_id)
       WHERE a.applied_at >= $1 AND a.applied_at < $2 AND o.known_at <= $3`,
          [from, to, known],
        )
      ).rows[0];
    const refLabels = await share(new Date(d.reference!.start), at(120), at(120));
    const curLabels = await share(at(108), asOf, asOf);
    expect(d.labels).toMatchObject({ status: 'compared', reference: refLabels, current: curLabels });
    expect(d.labels!.drift).toMatchObject({ test: 'chi_square', kind: 'categorical' });
    const expectedLabels = chiSquare(
      [refLabels.labelled - refLabels.positives, refLabels.positives],
      [curLabels.labelled - curLabels.positives, curLabels.positives],
    );
    expect(d.labels!.drift!.statistic).toBeCloseTo(expectedLabels.statistic, 6);
    expect(r.rules.map((x) => x.rule)).toEqual(['data-drift', 'prediction-drift', 'label-drift']);
    expect(d.markdown).toContain('#### Labels: share of positives');
    const stored = await db().query<{ label_drift: { status: string } }>('SELECT label_drift FROM mlops.drift_reports WHERE id = $1', [d.reportId]);
    expect(stored.rows[0].label_drift.status).toBe('compared');
  });

  it('says why the share of positives is not compared when no recent row has a label yet', async () => {
    const p = { ...pipeline, health: { ...pipeline.health, live_window_days: 20 } };
    const r = await runDailyMonitoring(db(), { pipelines: [p], repoDir: repo, asOf: at(150), checks: ['drift'] });
    expect(r.drift[0].labels).toMatchObject({ status: 'skipped', reason: 'no row of the last 20 days has a label yet (labels arrive later)' });
    expect(r.rules.find((x) => x.rule === 'label-drift')).toMatchObject({ status: 'unknown' });
  });
});
