import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { deploymentHistory } from '../actions/lib/tracking/deployments.ts';
import { ReviewMismatchError } from '../actions/lib/deploy/approval.ts';
import { gitHubTarget, type GitHubTarget } from '../actions/lib/github/client.ts';
import { commitInfo } from '../actions/lib/git/read.ts';
import { promotionCommitMessage, promotionMarker } from '../actions/lib/promotion/marker.ts';
import { REGISTRY_FILE, serializeRegistry } from '../actions/lib/registry/schema.ts';
import { mlops } from './helpers/cli.ts';
import { describeDbOnce } from './helpers/db.ts';
import { openDb } from '../actions/lib/db/index.ts';
import { migrate } from '../actions/lib/db/migrate.ts';
import { GitHubStandIn } from './helpers/github-standin.ts';
import { modelBytes, registryEntry, ScratchRepo, sha256 } from './helpers/onnx-models.ts';

/**
 * The deploy refuses a merge whose registry entry is not what the promotion's review covered
 * (#11.7), and records who approved each deployment (#11.9): from GitHub with a token (the stand-in,
 * checked against the OpenAPI description), from the merge commit without one. Real git, real
 * merges, a real database.
 */

const MODEL = 'tank-level-forecast';

// Who merged and what was reviewed is read from git and GitHub; the deploy's SQL is proven on both backends by deploy.test.ts: once.
describeDbOnce('deploy without a token: who merged and what was reviewed, from git', ({ db }) => {
  let repo: ScratchRepo;
  beforeAll(() => {
    repo = ScratchRepo.create();
  });
  afterAll(() => repo?.cleanup());

  it("records the pull request, the merge commit's author and time (the promotion time) and the title as why", async () => {
    const merge = repo.promote(MODEL, 1, 11, { title: 'Promote tank-level-forecast v1: rmse 0.3 -> 0.2 (-33.3%)' });
    const res = await deploy(db(), repo.work);
    const c = await commitInfo(repo.work, merge);
    expect(res.recorded[0]).toMatchObject({
      model: MODEL,
      version: 1,
      pull_request: 11,
      pull_request_url: null,
      merged_by: `${c.author.name} <${c.author.email}>`,
      promoted_at: new Date(c.date).toISOString(),
      reason: 'Promote tank-level-forecast v1: rmse 0.3 -> 0.2 (-33.3%)',
      approved_by: [],
      review_check: 'git',
      approval_source: 'git',
    });
  });

  it('steps over GitHub\'s "Update branch" merges of main into the promotion branch', async () => {
    const merge = repo.promote(MODEL, 2, 14, {
      beforeMerge: (branch) => {
        repo.git('checkout', '--quiet', 'main');
        repo.write({ 'README.md': '# plant, meanwhile\n' });
        repo.commit('docs meanwhile');
        repo.git('checkout', '--quiet', branch);
        repo.git('merge', '--quiet', '--no-ff', '-m', `Merge branch 'main' into ${branch}`, 'main');
      },
    });
    const res = await deploy(db(), repo.work);
    expect(res.gitSha).toBe(merge);
    expect(res.recorded[0]).toMatchObject({ version: 2, pull_request: 14, review_check: 'git' });
  });

  it('refuses a merge of a promotion branch that someone pushed onto after the pipeline, and records nothing', async () => {
    const before = await deploymentHistory(db());
    // a person edits the entry on the branch (another run's numbers) after the pipeline's commit
    const merge = repo.promote(MODEL, 3, 12, {
      beforeMerge: () => {
        const reg = repo.registry();
        reg.models[MODEL] = { ...reg.models[MODEL], run_id: 'run-hand-edited' };
        repo.write({ [REGISTRY_FILE]: serializeRegistry(reg) });
        repo.commit('tweak the entry');
      },
    });
    const err = await deploy(db(), repo.work).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReviewMismatchError);
    expect((err as Error).message).toContain(`deploy of ${merge.slice(0, 12)} refused, nothing recorded`);
    expect((err as Error).message).toMatch(/tank-level-forecast v3: the merged head [0-9a-f]{12} \("tweak the entry"\) is not the pipeline's promotion commit/);
    expect(await deploymentHistory(db())).toEqual(before);
  });

  it('refuses a promotion commit whose trailers name another run than the merged entry (a force-push of a look-alike)', async () => {
    const revert = repo.revertMerge(repo.head()); // undo the refused merge first: main back to v2
    expect(revert).toMatch(/^[0-9a-f]{40}$/);
    const before = await deploymentHistory(db());
    repo.promote(MODEL, 4, 13, {
      beforeMerge: () => {
        const reg = repo.registry();
        reg.models[MODEL] = { ...reg.models[MODEL], run_id: 'run-other' };
        repo.write({ [REGISTRY_FILE]: serializeRegistry(reg) });
        // the reviewed run's trailers, on a commit that carries another entry
        repo.git('commit', '--quiet', '-a', '--amend', '-m', promotionCommitMessage(MODEL, 4, { run: `run-${MODEL}-4`, sha256: sha256(modelBytes(4)) }));
      },
    });
    await expect(deploy(db(), repo.work)).rejects.toThrow(
      /tank-level-forecast v4: the promotion commit [0-9a-f]{12} promotes run run-tank-level-forecast-4 \(sha256 [0-9a-f]{12}\), but the merged entry is run run-other/,
    );
    expect(await deploymentHistory(db())).toEqual(before);
  });
});

// Backend-independent, as above: once.
describeDbOnce('deploy with a token: the pull request, its merger and approvals from GitHub', ({ db }) => {
  let repo: ScratchRepo;
  let gh: GitHubStandIn;
  let target: GitHubTarget;
  beforeAll(async () => {
    repo = ScratchRepo.create();
    gh = await GitHubStandIn.start({ owner: 'acme', repo: 'plant' });
    target = gitHubTarget({ token: gh.options.token, repository: 'acme/plant', apiUrl: gh.baseUrl, paceWrites: false })!;
  });
  afterAll(async () => {
    await gh?.close();
    repo?.cleanup();
  });
  afterEach(() => expect(gh.violations).toEqual([]));

  /** The promotion pull request as the pipeline opened it: its marker names `reviewed`. */
  function openPull(version: number, reviewed: { run: string; sha256: string }): number {
    const number = gh.pulls.length + 1;
    gh.pulls.push({
      number,
      title: `Promote ${MODEL} v${version}`,
      head: `mlops/promote/${MODEL}`,
      headOwner: 'acme',
      base: 'main',
      state: 'open',
      body: `${promotionMarker(MODEL, { run: reviewed.run, version, metric: 'rmse', value: 0.1, sha256: reviewed.sha256 })}\n### ${MODEL} v${version} is ready for review`,
      labels: [],
      reviewers: [],
      teamReviewers: [],
      comments: [],
    });
    return number;
  }
  const reviewedOf = (version: number) => ({ run: `run-${MODEL}-${version}`, sha256: sha256(modelBytes(version)) });

  it('records the number, url, merger, merge time and the approvers of the merged head', async () => {
    const n = openPull(1, reviewedOf(1));
    const at = '2026-11-29T10:15:00.000Z';
    const merge = repo.promote(MODEL, 1, n, {
      beforeMerge: (branch) => {
        gh.pulls[n - 1].headSha = repo.git('rev-parse', branch);
        gh.review(n, 'carol', 'COMMENTED');
        gh.review(n, 'alice', 'APPROVED');
      },
    });
    gh.merge(n, 'bob', merge, at);
    const res = await deploy(db(), repo.work, { github: target });
    expect(res.recorded[0]).toMatchObject({
      pull_request: n,
      pull_request_url: `https://github.test/acme/plant/pull/${n}`,
      merged_by: 'bob',
      promoted_at: at,
      reason: `Promote ${MODEL} v1`,
      approved_by: ['alice'],
      review_check: 'github',
      approval_source: 'github',
    });
    expect(gh.requests.filter((r) => r.method === 'GET').map((r) => r.operationId)).toEqual(['pulls/get', 'pulls/list-reviews']);
  });

  it('refuses a merge approved before a force-push: the approval is of another head, and the marker names the reviewed run', async () => {
    const before = await deploymentHistory(db());
    const n = openPull(2, reviewedOf(2));
    const merge = repo.promote(MODEL, 2, n, {
      entry: { run_id: 'run-pushed-later' },
      beforeMerge: (branch) => {
        gh.review(n, 'alice', 'APPROVED', repo.git('rev-parse', `${branch}~1`)); // approved the commit before
        gh.pulls[n - 1].headSha = repo.git('rev-parse', branch);
      },
    });
    gh.merge(n, 'bob', merge);
    const err = await deploy(db(), repo.work, { github: target }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReviewMismatchError);
    const problems = (err as ReviewMismatchError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe(
      `${MODEL} v2: pull request #${n} was reviewed as run run-${MODEL}-2 (sha256 ${sha256(modelBytes(2)).slice(0, 12)}), but the merged entry is run run-pushed-later (sha256 ${sha256(modelBytes(2)).slice(0, 12)}): the branch was changed after the pipeline wrote it`,
    );
    expect(problems[1]).toMatch(
      new RegExp(`^${MODEL} v2: pull request #${n} was approved at [0-9a-f]{12}, but [0-9a-f]{12} was merged: commits were pushed after the approval`),
    );
    expect(await deploymentHistory(db())).toEqual(before);
  });

  it('a squash merge without "(#N)" is found through the commit\'s pull requests', async () => {
    repo.revertMerge(repo.head());
    const n = openPull(3, reviewedOf(3));
    const entry = registryEntry(MODEL, 3, modelBytes(3), { previous_version: 1 });
    const reg = repo.registry();
    reg.models[MODEL] = entry;
    const squash = repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg), [entry.artifact.path]: modelBytes(3) }, 'Promote the better tank model');
    gh.merge(n, 'dave', squash, '2026-11-30T08:00:00.000Z');
    gh.reset();
    const res = await deploy(db(), repo.work, { github: target });
    expect(res.recorded.find((r) => r.version === 3)).toMatchObject({
      pull_request: n,
      merged_by: 'dave',
      promoted_at: '2026-11-30T08:00:00.000Z',
      review_check: 'github',
      approved_by: [],
    });
    expect(gh.requests.map((r) => r.operationId)).toEqual(['repos/list-pull-requests-associated-with-commit', 'pulls/get', 'pulls/list-reviews']);
  });
});

describe('npm run mlops -- registry history: who, when, why', () => {
  let repo: ScratchRepo;
  let dataDir: string;
  beforeAll(() => {
    repo = ScratchRepo.create();
    dataDir = join(repo.root, 'db');
  });
  afterAll(() => repo?.cleanup());

  it("shows each change with its merge time, pull request, merger, approvers and the pull request's title", async () => {
    const merge = repo.promote(MODEL, 1, 21, { title: 'Promote tank-level-forecast v1: rmse 0.2 (first model)' });
    const c = await commitInfo(repo.work, merge);
    const row = (out: string): string[] =>
      out
        .trim()
        .split('\n')[1]
        .split(/\s{2,}/);
    // merged, not deployed yet: the merge time from git, and the deploy column says so
    const before = await mlops(['registry', 'show', '--repo', repo.work, '--data-dir', dataDir]);
    expect(before.code, before.stderr).toBe(0);
    expect(row(before.stdout)[4]).toBe(new Date(c.date).toISOString().slice(0, 16).replace('T', ' '));
    expect(row(before.stdout).at(-1)).toBe('not yet');
    // the deploy in-process (deploy-model's library call) on the database the command line reads
    const db = await openDb({ dataDir, ignoreEnv: true });
    try {
      await migrate(db);
      expect((await deploy(db, repo.work)).recorded).toHaveLength(1);
    } finally {
      await db.close();
    }
    const shown = await mlops(['registry', 'show', '--repo', repo.work, '--data-dir', dataDir]);
    expect(shown.code, shown.stderr).toBe(0);
    // promoted is the merge time the deploy recorded, not the entry's (training-time) promoted_at
    expect(row(shown.stdout).slice(4, 6)).toEqual([new Date(c.date).toISOString().slice(0, 16).replace('T', ' '), '#21']);
    const revert = repo.revertMerge(merge);

    const r = await mlops(['registry', 'history', '--repo', repo.work, '--data-dir', dataDir]);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['when (merged)', 'commit', 'kind', 'changes', 'pull request', 'merged by', 'approved by', 'why']);
    expect(rows[0]).toContain(revert.slice(0, 10));
    expect(rows[0]).toContain(`retire   ${MODEL} v1 -> -`);
    expect(rows[0]).toContain(`Revert "Merge pull request #21 from acme/mlops/promote/`);
    expect(rows[1].split(/\s{2,}/)).toEqual([
      new Date(c.date).toISOString().slice(0, 16).replace('T', ' '),
      merge.slice(0, 10),
      'promote',
      `${MODEL} - -> v1`,
      '#21',
      'Test Bot <bot@example.test>',
      '-',
      'Promote tank-level-forecast v1: rmse 0.2 (first model)',
    ]);
  });
});
