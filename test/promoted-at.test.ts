import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeDbOnce } from './helpers/db.ts';
import { ScratchRepo } from './helpers/onnx-models.ts';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { prepareRollback } from '../actions/lib/deploy/rollback.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { classificationPipelineSchema, type ClassificationPipeline } from '../actions/lib/config/schema.ts';
import { staleChampionRule } from '../actions/lib/monitoring/health.ts';
import { promotionTime } from '../actions/lib/registry/promoted-at.ts';
import { readRegistry } from '../actions/lib/registry/champion.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { promotionFromRunDir } from '../actions/lib/registry/from-run.ts';
import { writeRegistryEdit } from '../actions/lib/registry/apply.ts';
import { REGISTRY_FILE } from '../actions/lib/registry/schema.ts';
import { seedCredit } from '../actions/lib/demo-data/index.ts';
import { retrain } from '../actions/lib/retrain/retrain.ts';
import { fmtTime } from '../actions/lib/report/format.ts';
import { DAY_MS } from '../actions/lib/util/duration.ts';

/**
 * `promoted_at` is the merge time, never the training time (#11.9): the promotion branch writes the
 * run's as-of into the entry before anyone merges it, and every reader of a champion's promotion
 * time (the cooldown gate, the stale-champion rule, the run report, the model server, a rollback's
 * pull request) takes the merge from git, else from mlops.deployments, the file's value only as a
 * last resort. Real git against a bare origin, merges dated apart from the entries' promoted_at.
 */

const TANK = 'tank-level-forecast';
const iso = (ms: number) => new Date(ms).toISOString();

// The merge time is read from git (mlops.deployments only as a fallback, its SQL proven on both backends by deploy.test.ts): once.
describeDbOnce('a champion was promoted when its promotion was merged', ({ db }) => {
  let repo: ScratchRepo;
  let scratch: string;
  const M1 = '2026-11-20T09:00:00.000Z';
  const M2 = '2026-11-25T16:30:00.000Z';
  const R = '2026-11-27T08:45:00.000Z';
  let merge1: string;
  beforeAll(() => {
    repo = ScratchRepo.create('mlops-promoted-at-');
    scratch = mkdtempSync(join(tmpdir(), 'mlops-promoted-at-plain-'));
    merge1 = repo.promote(TANK, 1, 21, { mergedAt: M1 });
  });
  afterAll(() => {
    repo?.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('from git: the committer time of the merge that brought the version in, not the entry’s as-of', async () => {
    const entry = repo.registry().models[TANK];
    expect(entry.promoted_at).toBe('2024-05-01T02:00:00Z'); // what the branch wrote
    expect(await promotionTime(repo.work, TANK, entry)).toEqual({ at: M1, source: 'git', commit: merge1 });
  });

  it('a checkout without history falls back to the file; a shallow clone to the deploy’s record, then the file', async () => {
    const plain = join(scratch, 'plain');
    mkdirSync(dirname(join(plain, REGISTRY_FILE)), { recursive: true });
    writeFileSync(join(plain, REGISTRY_FILE), readFileSync(join(repo.work, REGISTRY_FILE)));
    const entry = readRegistry(plain).models[TANK];
    expect(await promotionTime(plain, TANK, entry)).toEqual({ at: '2024-05-01T02:00:00.000Z', source: 'registry file', commit: null });

    // actions/checkout's default depth 1: the merge is the shallow boundary, git cannot tell
    const shallow = join(scratch, 'shallow');
    execFileSync('git', ['clone', '--quiet', '--depth', '1', `file://${repo.origin}`, shallow]);
    expect(await promotionTime(shallow, TANK, entry, { db: db() })).toMatchObject({ source: 'registry file' });
    await deploy(db(), repo.work);
    expect(await promotionTime(shallow, TANK, entry, { db: db() })).toEqual({ at: M1, source: 'deployments', commit: merge1 });
  });

  it('the stale-champion rule ages the champion from the merge', async () => {
    const config = { ...loadPipelineFile(`pipelines/${TANK}.yaml`), name: TANK };
    const { rule } = await staleChampionRule(db(), config, repo.work, new Date(Date.parse(M1) + 3 * DAY_MS));
    expect(rule.status).toBe('ok');
    expect(rule.details).toMatchObject({ promoted_at: M1, promoted_at_source: 'git', age_days: 3 });
    expect(rule.message).toContain(`promoted ${M1.slice(0, 10)}`);
    // from the entry's 2024 as-of it would have fired long ago; from the merge, after 14 days
    const late = await staleChampionRule(db(), config, repo.work, new Date(Date.parse(M1) + 15 * DAY_MS));
    expect(late.rule.status).toBe('firing');
  });

  it('a rollback’s pull request shows when each version was merged; after a revert, the version came back at the revert', async () => {
    const merge2 = repo.promote(TANK, 2, 22, { mergedAt: M2 });
    const v2 = repo.registry().models[TANK];
    expect(await promotionTime(repo.work, TANK, v2)).toEqual({ at: M2, source: 'git', commit: merge2 });

    const rollback = await prepareRollback(repo.work, { model: TANK });
    expect(rollback.body).toContain('| promoted (merged) |');
    expect(rollback.body).toMatch(new RegExp(`\\| now \\(leaves production\\) \\| v2 \\|[^\\n]*\\| ${M2} \\|`));
    expect(rollback.body).toMatch(new RegExp(`\\| after merge \\| v1 \\|[^\\n]*\\| ${M1} \\|`));

    const revert = repo.revertMerge(merge2, R);
    const v1 = repo.registry().models[TANK];
    expect(v1.version).toBe(1);
    expect(await promotionTime(repo.work, TANK, v1)).toEqual({ at: R, source: 'git', commit: revert });
    // read at the merge of v2's line, v1 is still the one merged at M1
    expect((await promotionTime(repo.work, TANK, v1, { ref: merge1 })).at).toBe(M1);
  });
});

const FILE = 'test/fixtures/pipelines/credit-small.yaml';
const CREDIT = 'credit-default';

// The cooldown's clock is backend-independent; the retrain itself runs on both backends in retrain-classification.test.ts: once.
describeDbOnce('the classification cooldown counts 7 days from the merge, not from the training as-of', ({ db }) => {
  let work: string;
  let repo: ScratchRepo;
  let asOf: Date;
  let merged: string;
  const pipeline = classificationPipelineSchema.parse(loadPipelineFile(FILE)) as ClassificationPipeline;
  const run = (at: Date) => retrain(db(), { pipelineFile: FILE, pipeline, asOf: at, runsDir: join(work, 'runs'), repoDir: repo.work });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlops-promoted-cooldown-'));
    repo = ScratchRepo.create('mlops-promoted-cooldown-repo-');
    const start = new Date('2026-01-01T00:00:00Z');
    const seeded = await seedCredit(db(), { days: 160, perDay: 40, seed: 3, start, labelsUntil: new Date(start.getTime() + 200 * DAY_MS) });
    asOf = new Date(seeded.start.getTime() + 145 * DAY_MS);
  });
  afterAll(() => {
    repo?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('a champion trained at as-of and merged 4 days later cools down until 7 days after the merge', async () => {
    const first = await run(asOf);
    expect(first.decision).toBe('promote');
    // the promotion branch, merged four days after the run's as-of
    const branch = `mlops/promote/${CREDIT}`;
    repo.git('checkout', '--quiet', '-B', branch, 'main');
    writeRegistryEdit(repo.work, planRegistryEdit(readRegistry(repo.work), promotionFromRunDir(first.lineage.run_dir)));
    repo.commit(`Promote ${CREDIT} v1`);
    repo.git('checkout', '--quiet', 'main');
    merged = iso(asOf.getTime() + 4 * DAY_MS);
    repo.gitAt(merged, 'merge', '--quiet', '--no-ff', '-m', `Merge pull request #31 from acme/${branch}`, branch);
    expect(readRegistry(repo.work).models[CREDIT].promoted_at).toBe(asOf.toISOString()); // the branch wrote the as-of

    // 8 days after the training (past a cooldown counted from it), 4 after the merge: inside the cooldown
    const cooling = await run(new Date(asOf.getTime() + 8 * DAY_MS));
    expect(cooling.decision).toBe('skip');
    expect(cooling.reasons).toEqual(['before training: last promotion 4.0 days ago, cooldown is 7 days']);

    // 8 days after the merge: the cooldown has passed, and the report names the merge
    const after = await run(new Date(asOf.getTime() + 12 * DAY_MS));
    expect(after.decision, after.reasons.join('; ')).not.toBe('skip');
    expect(after.gates.find((g) => g.name === 'cooldown')).toMatchObject({ passed: true, value: '8.0' });
    expect(after.champion).toMatchObject({ version: 1, promoted_at: merged });
    expect(readFileSync(join(after.lineage.run_dir, 'report.md'), 'utf8')).toContain(`promoted ${fmtTime(merged)})`);
  });
});
