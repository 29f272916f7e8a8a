import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { deploymentHistory } from '../actions/lib/tracking/deployments.ts';
import { RestoredEntryError } from '../actions/lib/deploy/restore.ts';
import { prepareRollback } from '../actions/lib/deploy/rollback.ts';
import { REGISTRY_FILE, serializeRegistry } from '../actions/lib/registry/schema.ts';
import { describeDbOnce } from './helpers/db.ts';
import { modelBytes, registryEntry, ScratchRepo, sha256 } from './helpers/onnx-models.ts';

/**
 * The deploy of a rollback (#11.7 for what no promotion review covers): a `git revert` of a
 * promotion's merge, or a rollback or roll-forward pull request from `mlops rollback`, may only put
 * back an entry that ran before: the version, run and artifact sha256 of a deployment of that
 * version (mlops.deployments), or of the entry the default branch had for it before. Anything else
 * is refused with nothing recorded. Real git against a bare origin, a real database.
 */

const TANK = 'tank-level-forecast';
const PUMP = 'pump-efficiency';

// Backend-independent (git history and one SELECT of mlops.deployments; deploy.test.ts proves the deploy's SQL on both): once.
describeDbOnce('deploying a rollback: only what ran before', ({ db }) => {
  let repo: ScratchRepo;
  let merge1 = '';
  let merge2 = '';
  beforeAll(async () => {
    repo = ScratchRepo.create('mlops-deploy-rollback-');
    merge1 = repo.promote(TANK, 1, 1);
    await deploy(db(), repo.work);
    merge2 = repo.promote(TANK, 2, 2);
    await deploy(db(), repo.work);
  });
  afterAll(() => repo?.cleanup());

  const idOf = async (version: number, gitSha: string) => (await deploymentHistory(db(), TANK)).find((r) => r.version === version && r.git_sha === gitSha)!.id;

  it('a git revert of a promotion merge restores v1 as it was deployed, and says so', async () => {
    const revert = repo.revertMerge(merge2);
    const res = await deploy(db(), repo.work);
    expect(res.recorded).toMatchObject([{ model: TANK, kind: 'rollback', version: 1, git_sha: revert }]);
    expect(res.recorded[0].review_check).toBe(`restored: v1 as deployed at ${merge1.slice(0, 12)} (deployment ${await idOf(1, merge1)})`);
  });

  it('a rollback pull request from mlops rollback, and the roll-forward that undoes it, pass the same check', async () => {
    const merge3 = repo.promote(TANK, 3, 3);
    expect((await deploy(db(), repo.work)).recorded[0].review_check).toBe('git'); // a promotion: the reviewed-run check
    const back = await prepareRollback(repo.work, { model: TANK });
    expect([back.fromVersion, back.toVersion]).toEqual([3, 1]); // v2 was itself rolled back
    repo.git('fetch', '--quiet', 'origin');
    repo.git('merge', '--quiet', '--no-ff', '-m', `Merge pull request #4 from acme/${back.branch}`, `origin/${back.branch}`);
    repo.git('push', '--quiet', 'origin', 'main');
    const rolled = await deploy(db(), repo.work);
    expect(rolled.recorded).toMatchObject([{ kind: 'rollback', version: 1, previous_version: 3, pull_request: 4 }]);
    expect(rolled.recorded[0].review_check).toMatch(/^restored: v1 as deployed at [0-9a-f]{12} \(deployment \d+\)$/);

    const forward = await prepareRollback(repo.work, { model: TANK, toVersion: 3 });
    expect(forward.direction).toBe('forward');
    repo.git('fetch', '--quiet', 'origin');
    repo.git('merge', '--quiet', '--no-ff', '-m', `Merge pull request #5 from acme/${forward.branch}`, `origin/${forward.branch}`);
    repo.git('push', '--quiet', 'origin', 'main');
    const again = await deploy(db(), repo.work);
    expect(again.recorded).toMatchObject([{ kind: 'deploy', version: 3, previous_version: 1, pull_request: 5 }]);
    expect(again.recorded[0].review_check).toBe(`restored: v3 as deployed at ${merge3.slice(0, 12)} (deployment ${await idOf(3, merge3)})`);
  });

  it('refuses a "rollback" whose entry names v1 with other bytes, or the v1 bytes under another run, and records nothing', async () => {
    const before = await deploymentHistory(db());
    const deployedV1 = (await deploymentHistory(db(), TANK)).find((r) => r.version === 1)!; // its latest deployment
    // a hand-made rollback: v1's path, a model nobody reviewed (verification passes: the bytes match the entry)
    const other = modelBytes(7);
    const reg = repo.registry();
    reg.models[TANK] = registryEntry(TANK, 1, other);
    const forged = repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg), [reg.models[TANK].artifact.path]: other }, `Roll back ${TANK} v3 -> v1`);
    const err = await deploy(db(), repo.work).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoredEntryError);
    expect((err as Error).message).toContain(`deploy of ${forged.slice(0, 12)} refused, nothing recorded`);
    expect((err as Error).message).toContain(
      `${TANK} v1 (run run-${TANK}-1, sha256 ${sha256(other).slice(0, 12)}): v1 ran as run run-${TANK}-1, sha256 ${deployedV1.sha256.slice(0, 12)} (deployed at ${deployedV1.git_sha.slice(0, 12)}); this entry is not that model`,
    );
    expect(await deploymentHistory(db())).toEqual(before);
    repo.git('revert', '--no-edit', 'HEAD');
    repo.git('push', '--quiet', 'origin', 'main');

    // the right bytes, another run: not what ran either
    const reg2 = repo.registry();
    reg2.models[TANK] = { ...registryEntry(TANK, 1, modelBytes(1)), run_id: 'run-from-elsewhere' };
    repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg2), [reg2.models[TANK].artifact.path]: modelBytes(1) }, `Roll back ${TANK} v3 -> v1`);
    await expect(deploy(db(), repo.work)).rejects.toThrow(
      /tank-level-forecast v1 \(run run-from-elsewhere, sha256 [0-9a-f]{12}\): v1 ran as run run-tank-level-forecast-1/,
    );
    expect(await deploymentHistory(db())).toEqual(before);
    repo.git('revert', '--no-edit', 'HEAD');
    repo.git('push', '--quiet', 'origin', 'main');
    expect(repo.registry().models[TANK].version).toBe(3);
  });

  it('a version never deployed on its own is checked against the default branch’s history; one the model never had is refused', async () => {
    repo.promote(PUMP, 1, 11);
    await deploy(db(), repo.work);
    const merge2p = repo.promote(PUMP, 2, 12); // merged, never deployed on its own
    const merge3p = repo.promote(PUMP, 3, 13);
    await deploy(db(), repo.work);
    const revert = repo.revertMerge(merge3p);
    const res = await deploy(db(), repo.work);
    expect(res.recorded).toMatchObject([{ model: PUMP, kind: 'rollback', version: 2, git_sha: revert }]);
    expect(res.recorded[0].review_check).toBe(`restored: v2 as the default branch had it at ${merge2p.slice(0, 12)}`);

    // a version below the newest that the model never had: nothing ran as it
    repo.promote(PUMP, 5, 15);
    expect((await deploy(db(), repo.work)).recorded).toMatchObject([{ kind: 'deploy', version: 5, review_check: 'git' }]);
    const before = await deploymentHistory(db());
    const reg = repo.registry();
    const bytes = modelBytes(9);
    reg.models[PUMP] = registryEntry(PUMP, 4, bytes, { run_id: 'run-never-reviewed' });
    repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg), [reg.models[PUMP].artifact.path]: bytes }, `Roll back ${PUMP} v5 -> v4`);
    await expect(deploy(db(), repo.work)).rejects.toThrow(
      /pump-efficiency v4 \(run run-never-reviewed, sha256 [0-9a-f]{12}\): v4 never ran: no deployment of it in mlops\.deployments and no entry for it in the history of the default branch before this change/,
    );
    expect(await deploymentHistory(db())).toEqual(before);
  });
});
