import { afterAll, beforeAll, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineSchema, type PipelineConfig } from '../actions/lib/config/schema.ts';
import { trainerSchema } from '../actions/lib/train/params.ts';
import { seedReadings } from '../actions/lib/demo-data/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import { loadChampion, readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { buildFeatures } from '../actions/lib/features/build.ts';
import { scoreOnnx } from '../actions/lib/onnx/score.ts';
import { scorePipelines, scoreSummaryMarkdown, scoreWindow, ScoreFailure } from '../actions/lib/score/index.ts';
import { splitRecordedSpec } from '../actions/lib/features/spec.ts';
import { missingScoresRule } from '../actions/lib/monitoring/scores-rule.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

const HOUR = 3_600_000;
const START = new Date('2026-10-01T00:00:00Z');
const TRAIN_END = new Date(START.getTime() + 8 * DAY_MS);
const SCORE_START = TRAIN_END;
const SCORE_END = new Date(START.getTime() + 9 * DAY_MS);
const base = loadPipelineFile('pipelines/tank-level-forecast.yaml');
// A ridge champion trained on days 0-8 of 10 (fast); two stations, so entities are exercised.
const pipeline: PipelineConfig = pipelineSchema.parse({
  ...base,
  trainer: trainerSchema.parse({ algorithm: 'ridge', params: {} }),
  source: { ...base.source, window_days: 8 },
  quality: { ...base.quality, min_days: 6, min_rows: 8_000 },
});

interface PredRow {
  id: string | number;
  entity: string;
  t: number;
  prediction: number | null;
  model_version: number;
  sha256: string;
}

describeDb('scoring with the deployed champion', ({ db }) => {
  let work: string;
  let repo: string;
  const predictions = async (): Promise<PredRow[]> =>
    (
      await db().query<PredRow>(
        `SELECT id, entity, (extract(epoch from ts) * 1000)::float8 AS t, prediction, model_version, sha256
     FROM mlops.predictions WHERE pipeline = $1 ORDER BY entity, ts`,
        [pipeline.name],
      )
    ).rows;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-score-'));
    repo = join(work, 'repo');
    await seedReadings(db(), { days: 10, stations: 2, seed: 10, start: START });
    const run = await retrain(db(), {
      pipeline,
      pipelineFile: 'pipelines/tank-level-forecast.yaml',
      asOf: TRAIN_END,
      runsDir: join(work, 'runs'),
      repoDir: repo,
    });
    expect(run.decision).toBe('promote');
    writeRegistryEdit(repo, planRegistryEdit(readRegistry(repo), promotionFromRunDir(run.lineage.run_dir)));
    const entry = readRegistry(repo).models[pipeline.name]!;
    await db().query(`INSERT INTO mlops.deployments (model, version, sha256, git_sha, kind) VALUES ($1, $2, $3, $4, 'deploy')`, [
      pipeline.name,
      entry.version,
      entry.artifact.sha256,
      'a'.repeat(40),
    ]);
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('missing-scores fires for a deployed model without predictions', async () => {
    const r = await missingScoresRule(db(), pipeline, SCORE_END);
    expect(r).toMatchObject({ pipeline: pipeline.name, rule: 'missing-scores', status: 'firing', severity: 'warning' });
    expect(r.message).toContain('none was ever recorded');
    const other = await missingScoresRule(db(), pipelineSchema.parse({ ...pipeline, name: 'never-deployed' }), SCORE_END);
    expect(other.status).toBe('ok');
  });

  it("scores a day: one prediction per row, equal to scoreOnnx on the champion's rebuilt features", async () => {
    const r = await scoreWindow(db(), pipeline, { repoDir: repo, start: SCORE_START, end: SCORE_END, batchSize: 1000 });
    const champion = loadChampion(repo, pipeline.name)!;
    expect(r).toMatchObject({
      pipeline: pipeline.name,
      outcome: 'scored',
      model_version: 1,
      sha256: champion.entry.artifact.sha256,
      window: { start: SCORE_START.toISOString(), end: SCORE_END.toISOString() },
      rows: 2 * 1440,
      scored: 2 * 1440,
      nan: 0,
      skipped: 0,
      history_minutes: 60,
      horizon_minutes: 60,
      deployed_version: 1,
      warnings: [],
    });
    const stored = await predictions();
    expect(stored).toHaveLength(2 * 1440);
    expect(new Set(stored.map((p) => p.entity)).size).toBe(2);
    expect(
      stored.every((p) => p.t >= SCORE_START.getTime() && p.t < SCORE_END.getTime() && p.model_version === 1 && p.sha256 === champion.entry.artifact.sha256),
    ).toBe(true);
    expect(stored.every((p) => p.prediction !== null && Number.isFinite(p.prediction))).toBe(true);

    // Independently: the champion's own spec (with its real target), features rebuilt over a frame
    // that reaches past the window (so the rows have targets), scored by scoreOnnx.
    const { spec, stats } = splitRecordedSpec(champion.entry.features.spec, 'champion');
    const frame = await extractFrame(db(), pipeline.source, SCORE_END, {
      start: new Date(SCORE_START.getTime() - 2 * HOUR),
      end: new Date(SCORE_END.getTime() + 2 * HOUR),
    });
    const m = buildFeatures(frame, spec, stats ?? undefined).matrix;
    expect(m.names).toEqual(champion.entry.features.names);
    const expected = await scoreOnnx(champion.onnx, m.values, m.rows, m.names.length);
    const byKey = new Map(stored.map((p) => [`${p.entity}|${p.t}`, p.prediction!]));
    let compared = 0;
    let maxDiff = 0;
    for (let i = 0; i < m.rows; i++) {
      if (m.times[i] < SCORE_START.getTime() || m.times[i] >= SCORE_END.getTime()) continue;
      const got = byKey.get(`${m.entityIds[m.entities[i]]}|${m.times[i]}`);
      expect(got, `a prediction for ${m.entityIds[m.entities[i]]} ${new Date(m.times[i]).toISOString()}`).toBeDefined();
      maxDiff = Math.max(maxDiff, Math.abs(got! - expected[i]));
      compared++;
    }
    expect(compared).toBeGreaterThan(2 * 1440 * 0.95);
    expect(maxDiff).toBeLessThan(1e-5);

    // The action's/CLI's table
    const md = scoreSummaryMarkdown([r]);
    expect(md).toContain(`| ${pipeline.name} | scored | v1 \`${champion.entry.artifact.sha256.slice(0, 12)}\` |`);
    expect(md).toContain('ts + 60 min');
  });

  it('re-scoring the same window writes no duplicates (rows updated in place)', async () => {
    const before = await predictions();
    const r = await scoreWindow(db(), pipeline, { repoDir: repo, start: SCORE_START, end: SCORE_END });
    expect(r.scored).toBe(2 * 1440);
    const after = await predictions();
    expect(after).toHaveLength(before.length);
    expect(after.map((p) => p.id)).toEqual(before.map((p) => p.id));
    // an overlapping window: only its new hour adds rows
    const more = await scorePipelines(db(), [pipeline], { repoDir: repo, asOf: new Date(SCORE_END.getTime() + HOUR), sinceMs: 2 * HOUR });
    expect(more[0]).toMatchObject({ outcome: 'scored', scored: 2 * 120 });
    expect(await predictions()).toHaveLength(before.length + 2 * 60);
  });

  it('missing-scores clears once predictions arrive, and fires again when they stop', async () => {
    const ok = await missingScoresRule(db(), pipeline, new Date(SCORE_END.getTime() + HOUR));
    expect(ok.status).toBe('ok');
    expect(ok.details).toMatchObject({ newest_prediction: { ts: new Date(SCORE_END.getTime() + HOUR - 60_000).toISOString(), model_version: 1 } });
    const late = await missingScoresRule(db(), pipeline, new Date(SCORE_END.getTime() + 5 * HOUR));
    expect(late.status).toBe('firing');
    expect(late.message).toMatch(/no prediction in the last 3 h/);
  });

  it('a tampered artifact is refused with both hashes named, and nothing is written', async () => {
    const tampered = join(work, 'tampered');
    cpSync(repo, tampered, { recursive: true });
    const entry = readRegistry(tampered).models[pipeline.name]!;
    const file = join(tampered, entry.artifact.path);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    const actual = createHash('sha256').update(bytes).digest('hex');
    const count = (await predictions()).length;
    const err = await scoreWindow(db(), pipeline, { repoDir: tampered, start: SCORE_START, end: SCORE_END }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(entry.artifact.sha256);
    expect((err as Error).message).toContain(actual);
    // several pipelines: the failure is reported after the others were scored
    const other = pipelineSchema.parse({ ...pipeline, name: 'not-in-registry' });
    const all = await scorePipelines(db(), [pipeline, other], { repoDir: tampered, asOf: SCORE_END, sinceMs: HOUR }).catch((e: unknown) => e);
    expect(all).toBeInstanceOf(ScoreFailure);
    expect((all as ScoreFailure).results.map((r) => r.outcome)).toEqual(['no-champion']);
    expect((all as ScoreFailure).failures[0].error).toContain(actual);
    expect(await predictions()).toHaveLength(count);
  });

  it('no champion -> no-champion; no rows -> no-data; nothing written', async () => {
    const count = (await predictions()).length;
    const none = await scoreWindow(db(), pipelineSchema.parse({ ...pipeline, name: 'not-in-registry' }), { repoDir: repo, start: SCORE_START, end: SCORE_END });
    expect(none).toMatchObject({ outcome: 'no-champion', model_version: null, sha256: null, scored: 0 });
    const later = new Date(START.getTime() + 20 * DAY_MS);
    const empty = await scoreWindow(db(), pipeline, { repoDir: repo, start: later, end: new Date(later.getTime() + HOUR) });
    expect(empty).toMatchObject({ outcome: 'no-data', model_version: 1, rows: 0, scored: 0 });
    expect(await predictions()).toHaveLength(count);
  });
});
