import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRegistry, parseRegistry, serializeRegistry, REGISTRY_FILE, type Registry } from '../actions/lib/registry/schema.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { sha256Hex } from '../actions/lib/util/sha256.ts';
import { createOrUpdateBranch } from '../actions/lib/git/branch.ts';
import { Git } from '../actions/lib/git/git.ts';
import { readBlobAt } from '../actions/lib/git/read.ts';
import { highestVersionEver, registryHistory } from '../actions/lib/registry/history.ts';
import { promotionBranchName } from '../actions/lib/promotion/promote.ts';
import { mergePromotionBranch, revertMerge } from '../actions/lib/promotion/merge.ts';
import { promote } from '../actions/lib/promotion/promote.ts';
import { createSandbox, promotionEntry as entry, type Sandbox } from './helpers/git.ts';

const BOT = { name: 'mlops-bot', email: 'mlops-bot@example.test' };

const onnx = (seed: string) => new Uint8Array(Buffer.from(`fake onnx bytes of ${seed}`));

async function registryOn(sb: Sandbox, ref = 'main'): Promise<Registry> {
  const bytes = await readBlobAt(sb.origin, ref, REGISTRY_FILE);
  return bytes ? parseRegistry(bytes.toString('utf8')) : emptyRegistry();
}

/** Plan against origin's main (or `base` sha) and run the branch algorithm in `work`. */
async function promoteBranch(sb: Sandbox, work: Git, model: string, run: string, rmse: number) {
  const plan = planRegistryEdit(await registryOn(sb), { model, entry: entry(model, run, rmse), onnx: onnx(run), card: { model, run } });
  const result = await createOrUpdateBranch({
    git: work,
    base: 'main',
    branch: promotionBranchName(model),
    files: plan.files,
    message: `Promote ${model} v${plan.version}`,
    author: BOT,
  });
  return { plan, result };
}

describe('planRegistryEdit', () => {
  it('numbers versions, places the artifact and card, and hashes the bytes', () => {
    const bytes = onnx('r1');
    const first = planRegistryEdit(emptyRegistry(), {
      model: 'tank-level-forecast',
      entry: entry('tank-level-forecast', 'r1', 0.07),
      onnx: bytes,
      card: (v, a) => ({ v, a }),
    });
    expect(first.version).toBe(1);
    expect(first.previousVersion).toBeNull();
    expect(first.artifact).toEqual({ path: 'registry/models/tank-level-forecast/1/model.onnx', sha256: sha256Hex(bytes), bytes: bytes.byteLength });
    expect(first.files.map((f) => f.path)).toEqual([
      REGISTRY_FILE,
      'registry/models/tank-level-forecast/1/model.onnx',
      'registry/models/tank-level-forecast/1/card.json',
    ]);
    expect(JSON.parse(Buffer.from(first.files[2].bytes).toString())).toEqual({ v: 1, a: first.artifact });
    expect(Buffer.from(first.files[0].bytes).toString()).toBe(serializeRegistry(first.registry));

    const second = planRegistryEdit(first.registry, {
      model: 'tank-level-forecast',
      entry: entry('tank-level-forecast', 'r2', 0.06),
      onnx: onnx('r2'),
      card: {},
    });
    expect(second.version).toBe(2);
    expect(second.registry.models['tank-level-forecast'].previous_version).toBe(1);
    const skipped = planRegistryEdit(first.registry, {
      model: 'tank-level-forecast',
      entry: entry('tank-level-forecast', 'r2', 0.06),
      onnx: onnx('r2'),
      card: {},
      highestVersionEver: 4,
    });
    expect(skipped.version).toBe(5);
  });

  it('refuses unsafe model names', () => {
    for (const bad of ['../etc', '/abs', 'a/b', 'A', '', 'a..b', 'a b', '-x'])
      expect(() => planRegistryEdit(emptyRegistry(), { model: bad, entry: entry('x', 'r', 0.1), onnx: onnx('x'), card: {} }), bad).toThrow(
        /invalid model name/,
      );
  });
});

describe('promotion branch against a bare repository', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
  });
  afterAll(() => sb.cleanup());

  it('promoting the same content twice: created, then unchanged with nothing pushed', async () => {
    const work = await sb.clone('work');
    const { result: first } = await promoteBranch(sb, work, 'pump-efficiency', 'r1', 0.1);
    expect(first.outcome).toBe('created');
    expect(first.pushed).toBe(true);
    const refs = await sb.originRefs();
    expect(refs['refs/heads/mlops/promote/pump-efficiency']).toBe(first.commit);
    expect(sb.pushLog()).toHaveLength(1);

    // one commit on top of main, by the bot, with the expected message and files
    expect(await work.run(['rev-list', '--count', `${refs['refs/heads/main']}..${first.commit}`])).toBe('1');
    expect(await work.run(['log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', first.commit])).toBe(
      'mlops-bot <mlops-bot@example.test>|mlops-bot <mlops-bot@example.test>|Promote pump-efficiency v1',
    );
    expect((await work.run(['diff', '--name-only', `${first.commit}^`, first.commit])).split('\n').sort()).toEqual([
      'registry/models/pump-efficiency/1/card.json',
      'registry/models/pump-efficiency/1/model.onnx',
      'registry/production.json',
    ]);
    // the work clone's working tree and HEAD were not touched
    expect(await work.run(['status', '--porcelain'])).toBe('');
    expect(await work.run(['symbolic-ref', 'HEAD'])).toBe('refs/heads/main');

    // a second run, from another clone (no state between runs), same content
    const again = await sb.clone('again');
    const { result: second } = await promoteBranch(sb, again, 'pump-efficiency', 'r1', 0.1);
    expect(second.outcome).toBe('unchanged');
    expect(second.pushed).toBe(false);
    expect(second.commit).toBe(first.commit);
    expect(sb.pushLog()).toHaveLength(1);
    expect(await sb.originRefs()).toEqual(refs);
  });

  it('different content or a moved base: updated, rebuilt on the new base with force-with-lease', async () => {
    const work = await sb.clone('work');
    const before = (await sb.originRefs())['refs/heads/mlops/promote/pump-efficiency'];
    const { result: changed } = await promoteBranch(sb, work, 'pump-efficiency', 'r2', 0.09);
    expect(changed.outcome).toBe('updated');
    expect(changed.previousSha).toBe(before);

    const newMain = await sb.commitToMain({ 'docs/notes.md': 'unrelated change on main\n' }, 'Unrelated change');
    const { result: rebased } = await promoteBranch(sb, work, 'pump-efficiency', 'r2', 0.09);
    expect(rebased.outcome).toBe('updated');
    expect(await work.run(['rev-parse', `${rebased.commit}^`])).toBe(newMain);
    expect(await work.run(['rev-list', '--count', `${newMain}..${rebased.commit}`])).toBe('1');
  });

  it('the lease refuses to overwrite a branch that moved since it was looked at', async () => {
    const work = await sb.clone('work');
    const stale = (await sb.originRefs())['refs/heads/main'];
    class StaleGit extends Git {
      override async remoteBranchSha(): Promise<string | null> {
        return stale; // pretend the branch was still where main is
      }
    }
    const pushesBefore = sb.pushLog().length;
    const plan = planRegistryEdit(await registryOn(sb), { model: 'pump-efficiency', entry: entry('pump-efficiency', 'r3', 0.08), onnx: onnx('r3'), card: {} });
    await expect(
      createOrUpdateBranch({
        git: new StaleGit(work.dir),
        base: 'main',
        branch: 'mlops/promote/pump-efficiency',
        files: plan.files,
        message: 'Promote',
        author: BOT,
      }),
    ).rejects.toThrow(/stale info|rejected/);
    expect(sb.pushLog().length).toBe(pushesBefore);
  });

  it('a run interrupted after its push, run again: the same branch, unchanged', async () => {
    const work = await sb.clone('work');
    const { result: first } = await promoteBranch(sb, work, 'tank-level-forecast', 't1', 0.07);
    expect(first.outcome).toBe('created');
    // ... the process dies here, before the pull request; the re-run starts from scratch:
    rmSync(work.dir, { recursive: true, force: true });
    const rerun = await sb.clone('rerun');
    const { result: second } = await promoteBranch(sb, rerun, 'tank-level-forecast', 't1', 0.07);
    expect(second).toMatchObject({ outcome: 'unchanged', commit: first.commit, pushed: false });
  });
});

describe('parallel promotions merge with git defaults; revert rolls back; history reads it', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
  });
  afterAll(() => sb.cleanup());

  it('promote -> merge; two models promoted from one older base -> both merge without conflict', async () => {
    const work = await sb.clone('work');
    const merger = await sb.clone('merger');
    let pr = 0;
    const mergeIt = async (model: string) => {
      const res = await mergePromotionBranch({ git: merger, base: 'main', branch: promotionBranchName(model), pullNumber: ++pr, owner: 'plant', author: BOT });
      return res;
    };
    // a first model, merged
    await promoteBranch(sb, work, 'pump-efficiency', 'p1', 0.2);
    expect((await mergeIt('pump-efficiency')).outcome).toBe('merged');
    // a second model, merged (appended after the first)
    await promoteBranch(sb, work, 'tank-level-forecast', 't1', 0.07);
    expect((await mergeIt('tank-level-forecast')).outcome).toBe('merged');

    // both promoted from the same base, in parallel; one merges first, the other comes from the older base
    const base = (await sb.originRefs())['refs/heads/main'];
    const a = await promoteBranch(sb, work, 'pump-efficiency', 'p2', 0.19);
    const b = await promoteBranch(sb, work, 'tank-level-forecast', 't2', 0.06);
    expect(a.result.baseSha).toBe(base);
    expect(b.result.baseSha).toBe(base);
    expect((await mergeIt('tank-level-forecast')).outcome).toBe('merged');
    const second = await mergeIt('pump-efficiency');
    expect(second).toMatchObject({ outcome: 'merged' });

    const reg = await registryOn(sb);
    expect(Object.fromEntries(Object.entries(reg.models).map(([m, e]) => [m, e.version]))).toEqual({ 'pump-efficiency': 2, 'tank-level-forecast': 2 });
    // the merged file is exactly the canonical serialization
    const text = (await readBlobAt(sb.origin, 'main', REGISTRY_FILE))!.toString();
    expect(text).toBe(serializeRegistry(reg));
  });

  it('a new model promoted alongside an update of each neighbour merges without conflict', async () => {
    const work = await sb.clone('work');
    const merger = await sb.clone('merger');
    // sorted: pump-efficiency < river-flow (new, between) < tank-level-forecast < zeta-new (new, last)
    const jobs: [string, string, number][] = [
      ['pump-efficiency', 'p3', 0.18],
      ['river-flow', 'f1', 0.3],
      ['tank-level-forecast', 't3', 0.05],
    ];
    for (const [model, run, rmse] of jobs) await promoteBranch(sb, work, model, run, rmse);
    let n = 10;
    for (const [model] of [...jobs].reverse()) {
      const res = await mergePromotionBranch({ git: merger, base: 'main', branch: promotionBranchName(model), pullNumber: ++n, author: BOT });
      expect(res, model).toMatchObject({ outcome: 'merged' });
    }
    const reg = await registryOn(sb);
    expect(Object.keys(reg.models)).toEqual(['pump-efficiency', 'river-flow', 'tank-level-forecast']);
    expect(reg.models['tank-level-forecast'].version).toBe(3);
  });

  it('git revert -m 1 of a merge rolls the registry back; history lists it; the version is not handed out again', async () => {
    const merger = await sb.clone('merger');
    const work = await sb.clone('work');
    await promoteBranch(sb, work, 'tank-level-forecast', 't4', 0.045);
    const merged = await mergePromotionBranch({
      git: merger,
      base: 'main',
      branch: 'mlops/promote/tank-level-forecast',
      pullNumber: 42,
      owner: 'plant',
      title: 'Promote tank-level-forecast v4',
      author: BOT,
    });
    if (merged.outcome !== 'merged') throw new Error('expected a merge');
    expect((await registryOn(sb)).models['tank-level-forecast'].version).toBe(4);
    const { revert } = await revertMerge({ git: merger, base: 'main', merge: merged.merge, author: BOT });
    expect((await registryOn(sb)).models['tank-level-forecast'].version).toBe(3);
    expect(await readBlobAt(sb.origin, 'main', 'registry/models/tank-level-forecast/4/model.onnx')).toBeNull();
    expect((await readBlobAt(sb.origin, merged.merge, 'registry/models/tank-level-forecast/4/model.onnx'))!.toString()).toBe('fake onnx bytes of t4');

    const history = await registryHistory(sb.origin, { ref: 'main' });
    expect(history[0]).toMatchObject({ commit: revert, pullRequest: null, reverts: { commit: merged.merge, pullRequest: 42 }, kind: 'rollback' });
    expect(history[0].after['tank-level-forecast']).toBe(3);
    expect(history[1]).toMatchObject({ commit: merged.merge, pullRequest: 42, subject: 'Merge pull request #42 from plant/mlops/promote/tank-level-forecast' });
    expect(history[1].after).toEqual({ 'pump-efficiency': 3, 'river-flow': 1, 'tank-level-forecast': 4 });
    expect(history.every((h) => /^\d{4}-\d\d-\d\dT/.test(h.date))).toBe(true);
    expect(history.map((h) => h.pullRequest)).toEqual([null, 42, 13, 12, 11, 4, 3, 2, 1]);
    expect(await highestVersionEver(sb.origin, 'main', 'tank-level-forecast')).toBe(4);
  });
});

describe('a promotion that cannot merge any more', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
  });
  afterAll(() => sb.cleanup());

  it('is rebuilt from the new base by its next run and then merges', async () => {
    const work = await sb.clone('work');
    const merger = await sb.clone('merger');
    const merge = (model: string) => mergePromotionBranch({ git: merger, base: 'main', branch: promotionBranchName(model), author: BOT });
    for (const [model, run] of [
      ['pump-efficiency', 'p1'],
      ['tank-level-forecast', 't1'],
    ]) {
      await promoteBranch(sb, work, model, run, 0.1);
      expect((await merge(model)).outcome).toBe('merged');
    }
    // In parallel: the last model is updated and a new one is appended after it. With the
    // registry's current key order (previous_version last) these two edits touch adjacent lines.
    await promoteBranch(sb, work, 'tank-level-forecast', 't2', 0.09);
    await promoteBranch(sb, work, 'zeta-new', 'z1', 0.3);
    expect((await merge('tank-level-forecast')).outcome).toBe('merged');
    const attempt = await merge('zeta-new');
    if (attempt.outcome === 'conflict') {
      expect(attempt.files).toEqual([REGISTRY_FILE]);
      // nothing was pushed by the failed merge; the branch's next run regenerates it from main
      const rerun = await promoteBranch(sb, work, 'zeta-new', 'z1', 0.3);
      expect(rerun.result.outcome).toBe('updated');
      expect((await merge('zeta-new')).outcome).toBe('merged');
    }
    const reg = await registryOn(sb);
    expect(Object.fromEntries(Object.entries(reg.models).map(([m, e]) => [m, e.version]))).toEqual({
      'pump-efficiency': 1,
      'tank-level-forecast': 2,
      'zeta-new': 1,
    });
  });
});

describe('promotion without a token', () => {
  let sb: Sandbox;
  let root: string;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
    root = mkdtempSync(join(tmpdir(), 'mlops-local-root-'));
  });
  afterAll(() => {
    sb.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it('makes the branch and commit in a scratch clone and writes the body to a file; the user repository is untouched', async () => {
    const user = await sb.clone('user-checkout');
    const before = {
      refs: await user.run(['for-each-ref', '--format=%(refname) %(objectname)']),
      head: await user.run(['rev-parse', 'HEAD']),
      status: await user.run(['status', '--porcelain']),
    };
    const spec = {
      base: 'main',
      promotion: { model: 'tank-level-forecast', entry: entry('tank-level-forecast', 'L1', 0.07), onnx: onnx('L1'), card: { hello: 'card' } },
      candidate: { run: 'L1', metric: 'rmse', value: 0.07 },
      render: (plan: { version: number }) => ({ title: `Promote tank-level-forecast v${plan.version}`, body: 'the body\n' }),
      author: BOT,
    };
    const first = await promote({ kind: 'local', repository: user.dir, root }, spec);
    if (first.mode !== 'local') throw new Error('expected local mode');
    expect(first.outcome).toBe('created');
    expect(first.clone).toBe(join(root, '.mlops', 'promotion', user.dir.split('/').pop()!));
    expect(first.bodyFile).toBe(join(root, '.mlops', 'promotion', 'tank-level-forecast.md'));
    expect(readFileSync(first.bodyFile, 'utf8')).toBe('**Title:** Promote tank-level-forecast v1\n\nthe body\n');
    const scratch = new Git(first.clone);
    expect(await scratch.run(['log', '-1', '--format=%s', 'mlops/promote/tank-level-forecast'])).toBe('Promote tank-level-forecast v1');
    expect(await scratch.run(['rev-parse', 'mlops/promote/tank-level-forecast'])).toBe(first.branch.commit);

    const second = await promote({ kind: 'local', repository: user.dir, root }, spec);
    expect(second).toMatchObject({ mode: 'local', outcome: 'unchanged', version: 1 });
    expect(second.branch?.commit).toBe(first.branch.commit);

    // the user's clone and the origin have no new branch, commit or file
    expect(await user.run(['for-each-ref', '--format=%(refname) %(objectname)'])).toBe(before.refs);
    expect(await user.run(['rev-parse', 'HEAD'])).toBe(before.head);
    expect(await user.run(['status', '--porcelain'])).toBe(before.status);
    expect(Object.keys(await sb.originRefs())).toEqual(['refs/heads/main']);
    expect(existsSync(join(user.dir, '.mlops'))).toBe(false);

    // the demo then approves: merge the scratch clone's branch and push it (here, to the sandbox origin)
    const scratchToOrigin = new Git(first.clone);
    await scratchToOrigin.run(['remote', 'set-url', 'origin', sb.origin]);
    const merged = await mergePromotionBranch({
      git: scratchToOrigin,
      base: 'main',
      branch: 'mlops/promote/tank-level-forecast',
      localBranch: true,
      pullNumber: 1,
      author: BOT,
    });
    expect(merged.outcome).toBe('merged');
    expect((await registryOn(sb)).models['tank-level-forecast'].version).toBe(1);
  });
});
