import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deploy, DeployRefusedError, DeployVerificationError } from '../actions/lib/deploy/deploy.ts';
import { currentDeployments, DEPLOYMENTS_CHANNEL, deploymentHistory } from '../actions/lib/tracking/deployments.ts';
import { waitUntil } from './helpers/cli.ts';
import { verifyRegistry } from '../actions/lib/deploy/verify.ts';
import { artifactPath, REGISTRY_FILE, serializeRegistry } from '../actions/lib/registry/schema.ts';
import { describeDb } from './helpers/db.ts';
import { linearModel, modelBytes, registryEntry, ScratchRepo, sha256 } from './helpers/onnx-models.ts';

describeDb('deploy: what production.json says on main, recorded all or nothing', ({ db }) => {
  let repo: ScratchRepo;
  let mergeV2 = '';
  beforeAll(() => {
    repo = ScratchRepo.create();
  });
  afterAll(() => repo?.cleanup());

  it('records the first promotion as a deploy', async () => {
    const merge = repo.promote('tank-level-forecast', 1, 1);
    const res = await deploy(db(), repo.work);
    expect(res.gitSha).toBe(merge);
    expect(res.models).toEqual([{ model: 'tank-level-forecast', outcome: 'deploy', version: 1, previousVersion: null }]);
    expect(res.recorded).toHaveLength(1);
    expect(res.recorded[0]).toMatchObject({
      model: 'tank-level-forecast',
      version: 1,
      kind: 'deploy',
      previous_version: null,
      git_sha: merge,
      run_id: 'run-tank-level-forecast-1',
    });
  });

  it('records a merged promotion of v2 as a deploy with previous_version 1', async () => {
    mergeV2 = repo.promote('tank-level-forecast', 2, 2);
    const res = await deploy(db(), repo.work, { ref: 'main' });
    expect(res.models.map((m) => [m.model, m.outcome, m.version, m.previousVersion])).toEqual([['tank-level-forecast', 'deploy', 2, 1]]);
    expect(res.recorded[0]).toMatchObject({ kind: 'deploy', version: 2, previous_version: 1, sha256: sha256(modelBytes(2)) });
  });

  it('records `git revert -m 1 <merge>` as a rollback to v1, and a second deploy of that commit records nothing', async () => {
    const revert = repo.revertMerge(mergeV2);
    const res = await deploy(db(), repo.work);
    expect(res.gitSha).toBe(revert);
    expect(res.models).toEqual([{ model: 'tank-level-forecast', outcome: 'rollback', version: 1, previousVersion: 2 }]);
    expect(res.recorded[0]).toMatchObject({ kind: 'rollback', version: 1, previous_version: 2, git_sha: revert, sha256: sha256(modelBytes(1)) });

    const again = await deploy(db(), repo.work);
    expect(again.outcome).toBe('unchanged');
    expect(again.recorded).toEqual([]);
    expect(again.models[0]).toMatchObject({ model: 'tank-level-forecast', outcome: 'unchanged' });
    expect((await deploymentHistory(db(), 'tank-level-forecast')).map((r) => `${r.kind} v${r.version}`)).toEqual(['rollback v1', 'deploy v2', 'deploy v1']);
    expect((await currentDeployments(db())).map((r) => [r.model, r.version, r.kind])).toEqual([['tank-level-forecast', 1, 'rollback']]);
  });

  it('records only the model that changed when another model is promoted, and announces its commit once on commit', async () => {
    const heard: string[] = [];
    const listener = await db().listen(DEPLOYMENTS_CHANNEL, (p) => heard.push(p));
    try {
      repo.promote('pump-efficiency', 1, 3);
      const res = await deploy(db(), repo.work);
      expect(res.models.map((m) => `${m.model}:${m.outcome}`)).toEqual(['pump-efficiency:deploy', 'tank-level-forecast:unchanged']);
      expect(res.recorded.map((r) => r.model)).toEqual(['pump-efficiency']);
      // a re-run records nothing and announces nothing
      expect((await deploy(db(), repo.work)).outcome).toBe('unchanged');
      // notifications arrive in commit order: once this marker is heard, the deploys' have been
      await db().query('SELECT pg_notify($1, $2)', [DEPLOYMENTS_CHANNEL, 'marker']);
      await waitUntil('the marker', () => heard.includes('marker'));
      expect(heard).toEqual([res.gitSha, 'marker']);
    } finally {
      await listener.close();
    }
  });

  it('records nothing for a commit older than one already deployed (a re-run of an old deploy)', async () => {
    const first = repo.git('rev-list', '--first-parent', '--reverse', 'main').split('\n')[1]; // the v1 merge
    const res = await deploy(db(), repo.work, { ref: first });
    expect(res.outcome).toBe('stale');
    expect(res.recorded).toEqual([]);
    expect(res.models).toEqual([
      expect.objectContaining({ model: 'tank-level-forecast', outcome: 'unchanged', note: expect.stringContaining('already deployed') }),
    ]);
    expect((await currentDeployments(db())).map((r) => `${r.model}:${r.kind}:v${r.version}`)).toEqual([
      'pump-efficiency:deploy:v1',
      'tank-level-forecast:rollback:v1',
    ]);
  });

  it('refuses a commit that is not on main (an unmerged promotion branch), records nothing, and says why', async () => {
    repo.git('checkout', '--quiet', '-b', 'mlops/promote/tank-level-forecast', 'main');
    const reg = repo.registry();
    reg.models['tank-level-forecast'] = registryEntry('tank-level-forecast', 5, modelBytes(5), { previous_version: 1 });
    repo.write({ [REGISTRY_FILE]: serializeRegistry(reg), [artifactPath('tank-level-forecast', 5)]: modelBytes(5) });
    const unmerged = repo.commit('Promote tank v5 (not merged)');
    repo.git('push', '--quiet', 'origin', 'mlops/promote/tank-level-forecast');
    repo.git('checkout', '--quiet', 'main');
    const before = await deploymentHistory(db());
    for (const options of [{ ref: unmerged }, { ref: 'origin/mlops/promote/tank-level-forecast', branch: 'main' }]) {
      const err = await deploy(db(), repo.work, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeployRefusedError);
      expect((err as Error).message).toMatch(
        new RegExp(`deploy of ${unmerged.slice(0, 12)} refused: it is not on main \\(refs/remotes/origin/main is at [0-9a-f]{12}\\)`),
      );
    }
    // a clone that cannot tell (no such branch) refuses too
    await expect(deploy(db(), repo.work, { ref: 'main', branch: 'release' })).rejects.toThrow(/neither origin\/release nor release/);
    expect(await deploymentHistory(db())).toEqual(before);
  });

  it('refuses an artifact whose bytes do not match, naming the model and both hashes, and records nothing', async () => {
    const good = modelBytes(3);
    const other = modelBytes(4);
    const reg = repo.registry();
    reg.models['tank-level-forecast'] = registryEntry('tank-level-forecast', 3, good, { previous_version: 1 });
    const bad = repo.commitToMain(
      { [REGISTRY_FILE]: serializeRegistry(reg), [artifactPath('tank-level-forecast', 3)]: other },
      'Promote tank v3 with the wrong bytes',
    );

    const v = await verifyRegistry(repo.work, bad);
    expect(v.ok).toBe(false);
    const entry = v.entries.find((e) => e.model === 'tank-level-forecast')!;
    expect(entry.ok).toBe(false);
    expect(entry.problem).toContain('tank-level-forecast v3');
    expect(entry.problem).toContain(sha256(good));
    expect(entry.problem).toContain(sha256(other));
    expect(v.entries.find((e) => e.model === 'pump-efficiency')).toMatchObject({ ok: true });

    const before = await deploymentHistory(db());
    const err = await deploy(db(), repo.work).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployVerificationError);
    expect((err as Error).message).toMatch(/tank-level-forecast v3: artifact .* has sha256 [0-9a-f]{64} but the registry records [0-9a-f]{64}/);
    expect((err as Error).message).toContain('nothing recorded');
    expect(await deploymentHistory(db())).toEqual(before);
    expect((await currentDeployments(db())).find((r) => r.model === 'tank-level-forecast')).toMatchObject({ version: 1, kind: 'rollback' });
  });

  it('fails clearly on a malformed production.json and keeps the last good deployment current', async () => {
    repo.commitToMain({ [REGISTRY_FILE]: '{ "models": { "tank-level-forecast": ' }, 'Break the registry');
    const err = await deploy(db(), repo.work).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployVerificationError);
    expect((err as Error).message).toContain(`${REGISTRY_FILE} at`);
    expect((err as Error).message).toContain('is not valid JSON');
    const current = await currentDeployments(db());
    expect(current.map((r) => [r.model, r.version])).toEqual([
      ['pump-efficiency', 1],
      ['tank-level-forecast', 1],
    ]);
  });

  it('records a model removed from the registry as retired', async () => {
    // The working tree's registry is the malformed one: start from the last good commit's registry.
    const good = (await verifyRegistry(repo.work, 'HEAD~2')).registry!;
    delete good.models['pump-efficiency'];
    const sha = repo.commitToMain({ [REGISTRY_FILE]: serializeRegistry(good), [artifactPath('tank-level-forecast', 3)]: null }, 'Retire pump-efficiency');
    const res = await deploy(db(), repo.work);
    expect(res.gitSha).toBe(sha);
    expect(res.models.map((m) => `${m.model}:${m.outcome}`)).toEqual(['pump-efficiency:retire', 'tank-level-forecast:unchanged']);
    expect(res.recorded[0]).toMatchObject({ model: 'pump-efficiency', kind: 'retire', version: 1, previous_version: 1 });
    expect((await currentDeployments(db())).map((r) => r.model)).toEqual(['tank-level-forecast']);
    expect((await currentDeployments(db(), { includeRetired: true })).map((r) => `${r.model}:${r.kind}`)).toEqual([
      'pump-efficiency:retire',
      'tank-level-forecast:rollback',
    ]);
  });
});

describe('verifyRegistry: every entry at a commit, from git objects', () => {
  let repo: ScratchRepo;
  beforeAll(() => {
    repo = ScratchRepo.create('mlops-verify-');
    repo.promote('tank-level-forecast', 1, 1);
  });
  afterAll(() => repo?.cleanup());

  it('passes a good registry and reads the commit, not the working tree', async () => {
    // Garbage in the working tree does not matter: the commit's objects are what is verified.
    writeFileSync(join(repo.work, artifactPath('tank-level-forecast', 1)), 'not a model');
    writeFileSync(join(repo.work, REGISTRY_FILE), '{ broken');
    const v = await verifyRegistry(repo.work);
    expect(v.ok).toBe(true);
    expect(v.gitSha).toBe(repo.head());
    expect(v.entries).toEqual([{ model: 'tank-level-forecast', version: 1, sha256: sha256(modelBytes(1)), ok: true }]);
    repo.git('checkout', '--', '.');
  });

  it('names a missing artifact', async () => {
    const sha = repo.commitToMain({ [artifactPath('tank-level-forecast', 1)]: null }, 'Lose the artifact');
    const v = await verifyRegistry(repo.work, sha);
    expect(v.ok).toBe(false);
    expect(v.entries[0].problem).toMatch(/tank-level-forecast v1: artifact registry\/models\/tank-level-forecast\/1\/model.onnx is missing at [0-9a-f]{12}/);
    repo.git('revert', '--no-edit', 'HEAD');
  });

  it('rejects an artifact path with ".." or an absolute path, and a model name with "..", with a clear error', async () => {
    const onnx = modelBytes(1);
    const base = registryEntry('tank-level-forecast', 1, onnx);
    const cases: [string, unknown, RegExp][] = [
      [
        'tank-level-forecast',
        { ...base, artifact: { ...base.artifact, path: '../outside/model.onnx' } },
        /tank-level-forecast.*artifact\.path: expected a path without "\.\."/,
      ],
      [
        'tank-level-forecast',
        { ...base, artifact: { ...base.artifact, path: '/etc/passwd' } },
        /tank-level-forecast.*artifact\.path: expected a path relative to the repository root/,
      ],
      ['../tank', base, /invalid model name/],
    ];
    for (const [name, entry, expected] of cases) {
      const text = `${JSON.stringify({ $schema: './production.schema.json', models: { [name]: entry } }, null, 2)}\n`;
      const sha = repo.commitToMain({ [REGISTRY_FILE]: text }, `Unsafe entry ${name}`);
      const v = await verifyRegistry(repo.work, sha);
      expect(v.ok).toBe(false);
      expect(v.entries).toHaveLength(1);
      expect(v.entries[0].ok).toBe(false);
      expect(v.entries[0].problem).toMatch(expected);
    }
  });

  it('fails a model that emits NaN on the smoke sample', async () => {
    const nan = linearModel({ weights: [1, 2, 3], emitNaN: true });
    const good = modelBytes(1);
    const text = serializeRegistry({
      $schema: './production.schema.json',
      models: { 'pump-efficiency': registryEntry('pump-efficiency', 1, good), 'tank-level-forecast': registryEntry('tank-level-forecast', 1, nan) },
    });
    const sha = repo.commitToMain(
      { [REGISTRY_FILE]: text, [artifactPath('tank-level-forecast', 1)]: nan, [artifactPath('pump-efficiency', 1)]: good },
      'A model that scores NaN',
    );
    const v = await verifyRegistry(repo.work, sha);
    expect(v.ok).toBe(false);
    expect(v.entries.find((e) => e.model === 'pump-efficiency')).toMatchObject({ ok: true });
    expect(v.entries.find((e) => e.model === 'tank-level-forecast')?.problem).toMatch(
      /tank-level-forecast v1: smoke score: 32 of 32 predictions are not finite/,
    );
  });

  it('fails an artifact that is not an ONNX model, and one whose inputs disagree with the registry', async () => {
    const junk = new Uint8Array(Buffer.from('definitely not onnx'));
    const wide = modelBytes(1, 5);
    const text = serializeRegistry({
      $schema: './production.schema.json',
      models: { 'pump-efficiency': registryEntry('pump-efficiency', 1, junk), 'tank-level-forecast': registryEntry('tank-level-forecast', 1, wide) },
    });
    const sha = repo.commitToMain(
      { [REGISTRY_FILE]: text, [artifactPath('tank-level-forecast', 1)]: wide, [artifactPath('pump-efficiency', 1)]: junk },
      'Junk',
    );
    const v = await verifyRegistry(repo.work, sha);
    expect(v.entries.find((e) => e.model === 'pump-efficiency')?.problem).toMatch(/pump-efficiency v1: does not load in onnxruntime-node/);
    expect(v.entries.find((e) => e.model === 'tank-level-forecast')?.problem).toMatch(/takes 5 features but the registry entry lists 3/);
  });

  it('says when the registry file is missing or the ref does not exist', async () => {
    const sha = repo.commitToMain({ [REGISTRY_FILE]: null }, 'Remove the registry');
    const v = await verifyRegistry(repo.work, sha);
    expect(v).toMatchObject({ ok: false, problem: expect.stringContaining(`${REGISTRY_FILE} does not exist at`) });
    await expect(verifyRegistry(repo.work, 'no-such-branch')).rejects.toThrow(/does not name a commit/);
    await expect(verifyRegistry(repo.work, '--output=/tmp/x')).rejects.toThrow(/invalid git ref/);
  });
});
