import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { deploy } from '../actions/lib/deploy/deploy.ts';
import { prepareRollback } from '../actions/lib/deploy/rollback.ts';
import { verifyRegistry } from '../actions/lib/deploy/verify.ts';
import { artifactPath, parseRegistry, REGISTRY_FILE } from '../actions/lib/registry/schema.ts';
import { describeDbOnce } from './helpers/db.ts';
import { modelBytes, ScratchRepo } from './helpers/onnx-models.ts';

const TANK = 'tank-level-forecast';
const PUMP = 'pump-efficiency';

function registryAt(repo: ScratchRepo, ref: string) {
  return parseRegistry(repo.git('show', `${ref}:${REGISTRY_FILE}`));
}

function originSha(repo: ScratchRepo, branch: string): string {
  return execFileSync('git', ['--git-dir', repo.origin, 'rev-parse', `refs/heads/${branch}`], { encoding: 'utf8' }).trim();
}

// The rollback is git; its deploy records rows the way deploy.test.ts proves on both backends: once.
describeDbOnce('prepareRollback: one model back to an earlier version, the others untouched', ({ db }) => {
  let repo: ScratchRepo;
  let tankV1Merge = '';
  beforeAll(async () => {
    repo = ScratchRepo.create('mlops-rollback-');
    tankV1Merge = repo.promote(TANK, 1, 1);
    repo.promote(TANK, 2, 2);
    repo.promote(PUMP, 1, 3);
    repo.promote(PUMP, 2, 4); // promoted after tank v2
    await deploy(db(), repo.work);
  });
  afterAll(() => repo?.cleanup());

  it('restores tank v1 on mlops/rollback/<model> while keeping pump v2, without touching the working tree', async () => {
    const headBefore = repo.head();
    const res = await prepareRollback(repo.work, { model: TANK, reason: 'v2 over-predicts at night' });
    expect(res).toMatchObject({
      outcome: 'created',
      model: TANK,
      fromVersion: 2,
      toVersion: 1,
      branch: `mlops/rollback/${TANK}`,
      base: 'main',
      baseSha: headBefore,
    });
    expect(res.title).toBe(`Roll back ${TANK} v2 -> v1`);
    expect(originSha(repo, res.branch)).toBe(res.commit);
    expect(repo.git('log', '-1', '--format=%s', res.commit)).toBe(`Roll back ${TANK} v2 -> v1`);
    expect(repo.git('rev-parse', `${res.commit}^`)).toBe(headBefore);

    const after = registryAt(repo, res.commit);
    expect(after.models[TANK]).toEqual(registryAt(repo, tankV1Merge).models[TANK]); // verbatim
    expect(after.models[PUMP]).toEqual(registryAt(repo, headBefore).models[PUMP]);
    expect(after.models[PUMP].version).toBe(2);
    expect(repo.git('diff', '--name-only', headBefore, res.commit)).toBe(REGISTRY_FILE);

    expect(repo.head()).toBe(headBefore);
    expect(repo.git('status', '--porcelain')).toBe('');
    expect(res.body).toContain(`<!-- mlops:rollback model=${TANK} from=2 to=1 -->`);
    expect(res.body).toContain('v2 over-predicts at night');
    expect(res.body).toContain('git revert -m 1');
    expect(res.body).toContain(PUMP);
    expect((await verifyRegistry(repo.work, res.commit)).ok).toBe(true);
  });

  it('is idempotent: preparing the same rollback again leaves the branch as it is', async () => {
    const first = originSha(repo, `mlops/rollback/${TANK}`);
    const res = await prepareRollback(repo.work, { model: TANK });
    expect(res.outcome).toBe('unchanged');
    expect(res.commit).toBe(first);
    expect(originSha(repo, res.branch)).toBe(first);
  });

  it('merged, it deploys as a rollback of that model only', async () => {
    repo.git('fetch', '--quiet', 'origin');
    repo.git('merge', '--quiet', '--no-ff', '-m', `Merge pull request #5 from acme/mlops/rollback/${TANK}`, `origin/mlops/rollback/${TANK}`);
    repo.git('push', '--quiet', 'origin', 'main');
    const res = await deploy(db(), repo.work);
    expect(res.models.map((m) => `${m.model}:${m.outcome}`)).toEqual([`${PUMP}:unchanged`, `${TANK}:rollback`]);
    expect(res.recorded[0]).toMatchObject({ model: TANK, kind: 'rollback', version: 1, previous_version: 2 });
  });

  it('restores artifact and card from history when they were deleted from the tree', async () => {
    repo.commitToMain({ [artifactPath(PUMP, 1)]: null, [`registry/models/${PUMP}/1/card.json`]: null }, 'Prune old pump artifacts');
    const res = await prepareRollback(repo.work, { model: PUMP, toVersion: 1 });
    expect(res.outcome).toBe('created');
    expect(res.restoredFiles).toEqual([artifactPath(PUMP, 1), `registry/models/${PUMP}/1/card.json`]);
    expect(execFileSync('git', ['cat-file', 'blob', `${res.commit}:${artifactPath(PUMP, 1)}`], { cwd: repo.work })).toEqual(Buffer.from(modelBytes(1)));
    const v = await verifyRegistry(repo.work, res.commit);
    expect(v.ok).toBe(true);
    expect(registryAt(repo, res.commit).models[TANK].version).toBe(1);
    expect(res.body).toContain('Files restored from that commit');
  });

  it('commits straight onto main with push: true', async () => {
    const before = originSha(repo, 'main');
    const res = await prepareRollback(repo.work, { model: PUMP, push: true, author: { name: 'Operator', email: 'op@example.test' } });
    expect(res).toMatchObject({ outcome: 'pushed', branch: 'main', fromVersion: 2, toVersion: 1 });
    expect(originSha(repo, 'main')).toBe(res.commit);
    expect(repo.git('rev-parse', `${res.commit}^`)).toBe(before);
    expect(repo.git('log', '-1', '--format=%an <%ae>', res.commit)).toBe('Operator <op@example.test>');
  });

  it('says what is wrong (unknown version, already there, not in production); undoing a rollback is a roll-forward', async () => {
    repo.pull();
    await expect(prepareRollback(repo.work, { model: TANK, toVersion: 7 })).rejects.toThrow(
      /tank-level-forecast v7 is not in the history .*versions found: v1, v2/,
    );
    // the version that ran before v1 (since the rollback) is v2: undoing the rollback is a roll-forward, named so
    const forward = await prepareRollback(repo.work, { model: TANK });
    expect(forward).toMatchObject({
      direction: 'forward',
      fromVersion: 1,
      toVersion: 2,
      branch: `mlops/roll-forward/${TANK}`,
      title: `Roll forward ${TANK} v1 -> v2`,
    });
    expect(forward.body).toContain(`<!-- mlops:roll-forward model=${TANK} from=1 to=2 -->`);
    expect(forward.body).toContain('a roll-forward, not a rollback');
    await expect(prepareRollback(repo.work, { model: TANK, toVersion: 1 })).rejects.toThrow(/already at v1/);
    await expect(prepareRollback(repo.work, { model: 'no-such-model' })).rejects.toThrow(/not in registry\/production.json on main/);
    await expect(prepareRollback(repo.work, { model: '../etc' })).rejects.toThrow(/invalid model name/);
  });
});

describe('prepareRollback picks the version that ran before, never one that was itself rolled back', () => {
  let repo: ScratchRepo;
  beforeAll(() => {
    repo = ScratchRepo.create('mlops-rollback-before-');
    repo.promote(TANK, 1, 1);
    const v2 = repo.promote(TANK, 2, 2);
    repo.revertMerge(v2); // v2 was rolled back: v1 runs again
    repo.promote(TANK, 3, 3);
  });
  afterAll(() => repo?.cleanup());

  it('v1 -> v2 -> (revert) v1 -> v3: rolls v3 back to v1', async () => {
    const res = await prepareRollback(repo.work, { model: TANK });
    expect(res).toMatchObject({ direction: 'back', fromVersion: 3, toVersion: 1, title: `Roll back ${TANK} v3 -> v1` });
    expect(registryAt(repo, res.commit).models[TANK].version).toBe(1);
    expect(res.restoredFiles).toEqual([]); // v1's artifact never left the tree
  });

  it('--to a version above the live one is a roll-forward, on a branch of its own', async () => {
    repo.commitToMain({}, 'nothing'); // the user's checkout moves on; the rollback reads origin
    const back = await prepareRollback(repo.work, { model: TANK, toVersion: 1, push: true });
    expect(back).toMatchObject({ outcome: 'pushed', direction: 'back', toVersion: 1 });
    const forward = await prepareRollback(repo.work, { model: TANK, toVersion: 3 });
    expect(forward).toMatchObject({ direction: 'forward', fromVersion: 1, toVersion: 3, branch: `mlops/roll-forward/${TANK}` });
    expect(repo.git('log', '-1', '--format=%s', forward.commit)).toBe(`Roll forward ${TANK} v1 -> v3`);
    // v2 was never rolled forward to by default: it ran only until its revert
    await expect(prepareRollback(repo.work, { model: TANK, toVersion: 9 })).rejects.toThrow(/v9 is not in the history .*versions found: v1, v2, v3/);
  });

  it("refuses, and pushes nothing, when the rollback branch is checked out in the user's clone", async () => {
    repo.git('checkout', '--quiet', '-B', `mlops/roll-forward/${TANK}`, 'main');
    const before = originSha(repo, `mlops/roll-forward/${TANK}`);
    await expect(prepareRollback(repo.work, { model: TANK, toVersion: 3 })).rejects.toThrow(`mlops/roll-forward/${TANK} is checked out in ${repo.work}`);
    expect(originSha(repo, `mlops/roll-forward/${TANK}`)).toBe(before);
    repo.git('checkout', '--quiet', 'main');
  });
});
