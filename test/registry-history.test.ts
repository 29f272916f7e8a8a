import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullRequestOf, registryHistory, revertOf } from '../actions/lib/registry/history.ts';
import { artifactPath, REGISTRY_FILE, serializeRegistry } from '../actions/lib/registry/schema.ts';
import { modelBytes, registryEntry, ScratchRepo } from './helpers/onnx-models.ts';

const TANK = 'tank-level-forecast';
const PUMP = 'pump-efficiency';

describe('registryHistory: promotions and rollbacks from the first-parent line of main', () => {
  let repo: ScratchRepo;
  const sha: Record<string, string> = {};
  beforeAll(() => {
    repo = ScratchRepo.create('mlops-history-');
    sha.tank1 = repo.promote(TANK, 1, 1);
    sha.tank2 = repo.promote(TANK, 2, 2);
    // a squash merge: one commit on main, "(#3)" at the end of the subject
    const reg = repo.registry();
    const pump = modelBytes(1);
    reg.models[PUMP] = registryEntry(PUMP, 1, pump);
    sha.pump1 = repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg), [artifactPath(PUMP, 1)]: pump }, `Promote ${PUMP} v1 (#3)`);
    repo.commitToMain({ 'README.md': '# plant, now with docs\n' }, 'Docs only'); // not a registry change
    sha.revert = repo.revertMerge(sha.tank2);
    sha.broken = repo.commitToMain({ [REGISTRY_FILE]: '{ nope' }, 'Oops');
    const fixed = repo.git('show', `${sha.revert}:${REGISTRY_FILE}`);
    sha.fixed = repo.commitToMain({ [REGISTRY_FILE]: `${fixed}\n` }, 'Fix the registry');
    const noPump = repo.registry();
    delete noPump.models[PUMP];
    sha.retire = repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(noPump) }, `Retire ${PUMP} (#4)`);
  });
  afterAll(() => repo?.cleanup());

  it('lists every registry change on main, newest first, with kinds, versions and pull requests', async () => {
    const h = await registryHistory(repo.work);
    expect(h.map((r) => [r.subject, r.kind, r.pullRequest])).toEqual([
      [`Retire ${PUMP} (#4)`, 'retire', 4],
      ['Fix the registry', 'edit', null],
      ['Oops', 'invalid', null],
      [`Revert "Merge pull request #2 from acme/mlops/promote/${TANK}"`, 'rollback', null],
      [`Promote ${PUMP} v1 (#3)`, 'promote', 3],
      [`Merge pull request #2 from acme/mlops/promote/${TANK}`, 'promote', 2],
      [`Merge pull request #1 from acme/mlops/promote/${TANK}`, 'promote', 1],
      ['Initial registry', 'edit', null],
    ]);
    const byCommit = new Map(h.map((r) => [r.commit, r]));
    expect(byCommit.get(sha.tank2)).toMatchObject({ before: { [TANK]: 1 }, after: { [TANK]: 2 }, changes: [{ model: TANK, kind: 'promote', from: 1, to: 2 }] });
    expect(byCommit.get(sha.revert)).toMatchObject({
      kind: 'rollback',
      reverts: { commit: sha.tank2, pullRequest: 2 },
      before: { [TANK]: 2, [PUMP]: 1 },
      after: { [TANK]: 1, [PUMP]: 1 },
      changes: [{ model: TANK, kind: 'rollback', from: 2, to: 1 }],
    });
    expect(byCommit.get(sha.broken)?.problem).toMatch(/not valid JSON/);
    expect(byCommit.get(sha.fixed)?.changes).toEqual([]); // compared with the last state that parsed
    expect(byCommit.get(sha.retire)?.changes).toEqual([{ model: PUMP, kind: 'retire', from: 1, to: null }]);
    expect(byCommit.get(sha.tank1)?.date).toMatch(/^\d{4}-\d\d-\d\dT/);
    // branch commits inside the merges are not on the first-parent line
    expect(h.some((r) => r.subject.startsWith('Promote tank-level-forecast'))).toBe(false);
  });

  it('filters by model', async () => {
    const tank = await registryHistory(repo.work, { model: TANK });
    expect(tank.map((r) => `${r.kind} ${r.changes[0].from ?? '-'}->${r.changes[0].to ?? '-'} #${r.pullRequest ?? r.reverts?.pullRequest ?? ''}`)).toEqual([
      'rollback 2->1 #2',
      'promote 1->2 #2',
      'promote -->1 #1',
    ]);
    const pump = await registryHistory(repo.work, { model: PUMP });
    expect(pump.map((r) => r.kind)).toEqual(['retire', 'promote']);
  });

  it('reads history as of a ref', async () => {
    const h = await registryHistory(repo.work, { ref: sha.tank2 });
    expect(h.map((r) => r.pullRequest)).toEqual([2, 1, null]);
  });
});

describe('pull request numbers and reverts from commit messages', () => {
  it('parses merge and squash subjects, and not the PR a revert reverts', () => {
    expect(pullRequestOf('Merge pull request #12 from acme/mlops/promote/x')).toBe(12);
    expect(pullRequestOf('Promote x v3 (#41)')).toBe(41);
    expect(pullRequestOf('Revert "Merge pull request #12 from acme/mlops/promote/x"')).toBeNull();
    expect(pullRequestOf('Revert "Promote x v3 (#41)" (#43)')).toBe(43);
    expect(pullRequestOf('Fix typo')).toBeNull();
    expect(revertOf('Revert "Promote x v3 (#41)"', `This reverts commit ${'a'.repeat(40)}.`)).toEqual({ commit: 'a'.repeat(40), pullRequest: 41 });
    expect(revertOf('Promote x v3', '')).toBeNull();
  });
});

describe("reverts of reverts: by git, by squash-merged pull requests, by GitHub's Revert button", () => {
  const RIVER = 'river-flow';
  let repo: ScratchRepo;
  const sha: Record<string, string> = {};
  /** `git revert` of `commit` on main, committed with `subject` (what a squash merge or a newer git writes), pushed. */
  const revertAs = (commit: string, subject: (reverted: string) => string): string => {
    const reverted = repo.git('log', '-1', '--format=%s', commit);
    repo.git('revert', '--no-commit', commit);
    repo.git('commit', '--quiet', '-m', subject(reverted), '-m', `This reverts commit ${commit}.`);
    repo.git('push', '--quiet', 'origin', 'main');
    return repo.head();
  };
  const promoteSquashed = (model: string, pr: number): string => {
    const reg = repo.registry();
    const bytes = modelBytes(1);
    reg.models[model] = registryEntry(model, 1, bytes);
    return repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(reg), [artifactPath(model, 1)]: bytes }, `Promote ${model} v1 (#${pr})`);
  };
  beforeAll(() => {
    repo = ScratchRepo.create('mlops-history-reapply-');
    sha.tank1 = repo.promote(TANK, 1, 1);
    sha.tank2 = repo.promote(TANK, 2, 2);
    sha.revert = repo.revertMerge(sha.tank2); // Revert "Merge pull request #2 ..."
    sha.reapply = repo.revertMerge(sha.revert); // Revert "Revert "Merge pull request #2 ..."" (git before 2.43)
    // GitHub's Revert button: a branch with the revert, merged as a pull request of its own
    repo.git('checkout', '--quiet', '-b', 'revert-reapply', 'main');
    repo.git('revert', '--no-edit', sha.reapply);
    repo.git('checkout', '--quiet', 'main');
    repo.git('merge', '--quiet', '--no-ff', '-m', 'Merge pull request #6 from acme/revert-reapply', 'revert-reapply');
    repo.git('push', '--quiet', 'origin', 'main');
    sha.buttonRevert = repo.head();

    sha.pump1 = promoteSquashed(PUMP, 3);
    sha.pumpRevert = revertAs(sha.pump1, (s) => `Revert "${s}" (#4)`);
    sha.pumpReapply = revertAs(sha.pumpRevert, (s) => `Revert "${s}" (#5)`); // squash-merged revert of a squash-merged revert
    sha.river1 = promoteSquashed(RIVER, 8);
    sha.riverRevert = revertAs(sha.river1, (s) => `Revert "${s}" (#9)`);
    // git 2.43 and later word a revert of a revert "Reapply": here made on main, after the squash-merged #9
    sha.riverReapply = revertAs(sha.riverRevert, (s) => `Reapply "${s.slice('Revert "'.length)}`);
  });
  afterAll(() => repo?.cleanup());

  it('names the pull request that landed each commit and the one each revert undid', async () => {
    const byCommit = new Map((await registryHistory(repo.work)).map((r) => [r.commit, r]));
    const facts = (k: string) => {
      const r = byCommit.get(sha[k])!;
      return { subject: r.subject, kind: r.kind, pullRequest: r.pullRequest, reverts: r.reverts };
    };
    expect(facts('revert')).toMatchObject({ kind: 'rollback', pullRequest: null, reverts: { commit: sha.tank2, pullRequest: 2 } });
    // made with git revert on main: no pull request landed it, and the revert it undoes was no pull request either
    expect(facts('reapply')).toEqual({
      subject: `Revert "Revert "Merge pull request #2 from acme/mlops/promote/${TANK}""`,
      kind: 'promote',
      pullRequest: null,
      reverts: { commit: sha.revert, pullRequest: null },
    });
    expect(facts('buttonRevert')).toMatchObject({ kind: 'rollback', pullRequest: 6, reverts: { commit: sha.reapply, pullRequest: null } });
    expect(facts('pumpRevert')).toMatchObject({ kind: 'retire', pullRequest: 4, reverts: { commit: sha.pump1, pullRequest: 3 } });
    expect(facts('pumpReapply')).toEqual({
      subject: `Revert "Revert "Promote ${PUMP} v1 (#3)" (#4)" (#5)`,
      kind: 'promote',
      pullRequest: 5,
      reverts: { commit: sha.pumpRevert, pullRequest: 4 },
    });
    // "(#9)" here is the reverted commit's, carried into git's wording: no pull request landed the reapply
    expect(facts('riverReapply')).toEqual({
      subject: `Reapply "Promote ${RIVER} v1 (#8)" (#9)`,
      kind: 'promote',
      pullRequest: null,
      reverts: { commit: sha.riverRevert, pullRequest: 9 },
    });
  });

  it('from the subjects alone (the reverted commit not in the clone): the best reading of the words', () => {
    expect(pullRequestOf(`Revert "Revert "Promote ${PUMP} v1 (#3)" (#4)" (#5)`)).toBe(5);
    expect(pullRequestOf('Revert "Revert "Merge pull request #2 from acme/mlops/promote/x""')).toBeNull();
    expect(revertOf(`Revert "Revert "Promote ${PUMP} v1 (#3)" (#4)" (#5)`, '')).toEqual({ commit: null, pullRequest: 4 });
    expect(revertOf('Revert "Revert "Merge pull request #2 from acme/x""', `This reverts commit ${'b'.repeat(40)}.`)).toEqual({
      commit: 'b'.repeat(40),
      pullRequest: null,
    });
  });
});
