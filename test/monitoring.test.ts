import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { GitHubIssuesStandIn } from './helpers/github-issues-standin.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema, type PipelineConfig } from '../actions/lib/config/schema.ts';
import { trainerSchema } from '../actions/lib/train/params.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { parseAlertMarker, runDailyMonitoring, runDrift, runQuality } from '../actions/lib/monitoring/index.ts';
import { gitHubTarget } from '../actions/lib/github/client.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const START = new Date('2026-10-01T00:00:00Z');
const DRIFT_FROM = new Date(START.getTime() + 25 * DAY_MS);
const TOKEN = 'ghs_monitoringT0kenForTheStandIn012345';
const base = loadPipelineFile('pipelines/tank-level-forecast.yaml');
// The champion is trained on days 0-18 (a ridge: fast); the drift starts on day 25 of 35.
const pipeline: PipelineConfig = pipelineSchema.parse({
  ...base,
  trainer: trainerSchema.parse({ algorithm: 'ridge', params: {} }),
  source: { ...base.source, window_days: 18 },
  quality: { ...base.quality, min_days: 15, min_rows: 20_000 },
});
const DRIFTING = ['inflow_m3h', 'outflow_m3h', 'pump_power_kw', 'pump_speed_rpm'];

describeDb('daily monitoring on seeded drift', ({ db }) => {
  let work: string;
  let repo: string;
  let end: Date;
  let gh: GitHubIssuesStandIn;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-monitoring-'));
    repo = join(work, 'repo');
    const seeded = await seedReadings(db(), { days: 35, stations: 1, seed: 35, start: START, driftFrom: DRIFT_FROM });
    end = seeded.end;
    const champion = await retrain(db(), {
      pipeline,
      pipelineFile: 'pipelines/tank-level-forecast.yaml',
      asOf: new Date(START.getTime() + 18 * DAY_MS),
      runsDir: join(work, 'runs'),
      repoDir: repo,
    });
    expect(champion.decision).toBe('promote');
    writeRegistryEdit(repo, planRegistryEdit(readRegistry(repo), promotionFromRunDir(champion.lineage.run_dir)));
    gh = await GitHubIssuesStandIn.start({ token: TOKEN });
  });
  afterAll(async () => {
    await gh?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('on clean data (the week before the drift) nothing is flagged and no alert is raised', async () => {
    const lines: string[] = [];
    const r = await runDailyMonitoring(db(), { pipelines: [pipeline], repoDir: repo, asOf: DRIFT_FROM, log: (l) => lines.push(l) });
    const [d] = r.drift;
    expect(d.outcome).toBe('reported');
    expect(d.columns).toEqual(base.source.columns);
    expect(d.result!.features.filter((f) => f.drifted)).toEqual([]);
    expect(d.result!.datasetDrift).toBe(false);
    expect(d.prediction).toMatchObject({ status: 'compared', drift: { drifted: false } });
    expect(r.quality[0].report.passed).toBe(true);
    expect(r.rules.filter((x) => x.status === 'firing')).toEqual([]);
    expect(r.alerts.raised).toEqual([]);
    expect(r.dispatches).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('with drift, the drifted input columns are flagged, the others not; reported, alerted and a retrain dispatched', async () => {
    const target = gitHubTarget({ token: TOKEN, repository: 'plant/ops', apiUrl: gh.baseUrl, paceWrites: false, retries: 0 });
    const r = await runDailyMonitoring(db(), { pipelines: [pipeline], repoDir: repo, asOf: end, github: target });
    const d = r.drift[0];
    const flagged = d
      .result!.features.filter((f) => f.drifted)
      .map((f) => f.feature)
      .sort();
    expect(flagged).toEqual(DRIFTING);
    expect(d.result!.features.find((f) => f.feature === 'tank_level_m')).toMatchObject({ testable: true, drifted: false });
    for (const f of d.result!.features) {
      expect(f.test).toBe('wasserstein'); // auto: large samples
      expect(f.psi).toBeGreaterThanOrEqual(0);
      expect(f.ksPvalue).not.toBeNull();
    }
    expect(d.result!.datasetDrift).toBe(true);
    expect(d.severe).toBe(true);
    expect(d.reference).toMatchObject({ start: START.toISOString(), end: new Date(START.getTime() + 18 * DAY_MS).toISOString() });
    expect(d.current).toMatchObject({ start: new Date(end.getTime() - 7 * DAY_MS).toISOString(), end: end.toISOString() });
    // The Markdown report: drifted features first, the effect size beside every p-value, then the predictions.
    const rows = d.markdown.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.slice(0, 4).every((l) => l.endsWith('⚠️ |'))).toBe(true);
    expect(rows[4]).toMatch(/^\| `tank_level_m` .*✅ \|$/);
    expect(d.markdown).toContain('| feature | test | statistic | p-value | effect size | PSI | drifted |');
    expect(d.markdown).toContain('#### Predictions of the champion');
    expect(r.driftMarkdown).toBe(d.markdown);
    // Stored in mlops.drift_reports.
    const stored = (
      await db().query<{
        dataset_drift: boolean;
        drifted_share: number;
        model_version: number;
        features: { columns: { feature: string; drifted: boolean }[] };
        report_md: string;
      }>('SELECT dataset_drift, drifted_share, model_version, features, report_md FROM mlops.drift_reports WHERE id = $1', [d.reportId])
    ).rows[0];
    expect(stored).toMatchObject({ dataset_drift: true, drifted_share: 0.8, model_version: 1, report_md: d.markdown });
    expect(
      stored.features.columns
        .filter((c) => c.drifted)
        .map((c) => c.feature)
        .sort(),
    ).toEqual(DRIFTING);
    // One alert issue, one dispatch with both reasons (drift, and the champion is 17 days old).
    expect(r.alerts.raised.map((a) => [a.key, a.outcome])).toContainEqual(['tank-level-forecast/data-drift', 'opened']);
    expect(gh.issues.filter((i) => parseAlertMarker(i.body) === 'tank-level-forecast/data-drift')).toHaveLength(1);
    expect(r.dispatches).toMatchObject([{ outcome: 'dispatched', trigger: 'drift+stale' }]);
    expect(gh.dispatches).toHaveLength(1);
    expect(gh.dispatches[0].client_payload).toMatchObject({
      pipeline: 'tank-level-forecast',
      reason: expect.stringMatching(/^dataset drift: 4 of 5 input columns drifted \(.+\) against champion v1's training window; stale champion: /),
    });
    expect(gh.violations).toEqual([]);

    // Re-running the same day: the report is updated in place, the alert updated, no second dispatch.
    const again = await runDailyMonitoring(db(), { pipelines: [pipeline], repoDir: repo, asOf: end, github: target, checks: ['drift'] });
    expect(again.drift[0].reportId).toBe(d.reportId);
    expect(again.alerts.raised.find((a) => a.key === 'tank-level-forecast/data-drift')).toMatchObject({
      outcome: 'updated',
      issue: { number: gh.issues.find((i) => parseAlertMarker(i.body) === 'tank-level-forecast/data-drift')!.number },
    });
    expect(again.dispatches).toMatchObject([{ outcome: 'cooldown' }]);
    expect(gh.dispatches).toHaveLength(1);
    expect((await db().query<{ n: number }>("SELECT count(*)::int AS n FROM mlops.drift_reports WHERE pipeline = 'tank-level-forecast'")).rows[0].n).toBe(2);
    expect(gh.violations).toEqual([]);
  });

  it('quality: one row per check for the last day, recorded without a run id', async () => {
    const q = await runQuality(db(), pipeline, { asOf: end, sinceMs: DAY_MS });
    expect(q.report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['completeness', 'null_share', 'range', 'gaps', 'duplicate_timestamps', 'staleness']),
    );
    expect(q.report.checks.map((c) => c.name)).not.toContain('rows');
    const n = (
      await db().query<{ n: number }>('SELECT count(*)::int AS n FROM mlops.quality_checks WHERE pipeline = $1 AND run_id IS NULL AND window_end = $2', [
        pipeline.name,
        end,
      ])
    ).rows[0].n;
    expect(n).toBeGreaterThanOrEqual(q.report.checks.length);
    // Two days later the data is stale: the quality rule fires.
    const late = await runQuality(db(), pipeline, { asOf: new Date(end.getTime() + 2 * DAY_MS) });
    expect(late.rule).toMatchObject({ status: 'firing', severity: 'critical' });
    expect(late.rule.message).toContain('no rows at all');
  });

  it('no champion: drift says so and records nothing', async () => {
    const other = pipelineSchema.parse({ ...pipeline, name: 'not-in-registry' });
    const d = await runDrift(db(), other, { repoDir: repo, asOf: end });
    expect(d).toMatchObject({ outcome: 'no-champion', reportId: null, result: null });
  });
});
