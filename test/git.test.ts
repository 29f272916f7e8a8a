import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOrUpdateBranch } from '../actions/lib/git/branch.ts';
import { Git } from '../actions/lib/git/git.ts';
import { readBlobAt, readBlobsAt } from '../actions/lib/git/read.ts';
import { createSandbox, type Sandbox } from './helpers/git.ts';

/**
 * The one git layer against a real bare repository. Network failures are caused for real: the
 * clone's remote runs its upload-pack / receive-pack through a wrapper that hangs up the first N
 * times (what a dropped connection looks like to git), then runs git's own.
 */

const FAST = { attempts: 3, minDelayMs: 10, maxDelayMs: 30 };
const BOT = { name: 'mlops-bot', email: 'mlops-bot@example.test' };

/**
 * A clone whose remote runs `program` through a wrapper that fails its first `fails` calls (counted
 * in a file), then runs `git <program>`; its Git retries quickly and logs into `log`.
 */
async function flakyClone(sb: Sandbox, name: string, program: 'upload-pack' | 'receive-pack', fails: number) {
  const work = await sb.clone(name);
  const counter = join(sb.root, `${name}.count`);
  const path = join(sb.root, `${name}.sh`);
  writeFileSync(counter, '0');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      `n=$(( $(cat '${counter}') + 1 )); echo $n > '${counter}'`,
      `if [ $n -le ${fails} ]; then echo 'fatal: the remote end hung up unexpectedly' >&2; exit 128; fi`,
      `exec git ${program} "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  await work.run(['config', `remote.origin.${program.replace('-', '')}`, path]);
  const log: string[] = [];
  return { git: new Git(work.dir, { retry: FAST, log: (m) => log.push(m) }), log, calls: () => Number(readFileSync(counter, 'utf8').trim()) };
}

describe('Git: retries on fetch and push, none on answers that will not change', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' }, 'mlops-git-');
  });
  afterAll(() => sb.cleanup());

  it('a fetch whose connection drops twice succeeds on the third attempt, and says so', async () => {
    const { git, log, calls } = await flakyClone(sb, 'fetch', 'upload-pack', 2);
    const main = await sb.commitToMain({ 'a.txt': 'a\n' }, 'a');
    await git.fetchBranches('origin', ['main']);
    expect(await git.revParse('refs/remotes/origin/main')).toBe(main);
    expect(calls()).toBe(3);
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/^git fetch failed \(attempt 1 of 3: fatal: the remote end hung up unexpectedly\); trying again in \d+ ms$/);
  });

  it("gives up after the last attempt with git's own words", async () => {
    const { git, calls } = await flakyClone(sb, 'giveup', 'upload-pack', 99);
    await expect(git.remoteBranchSha('origin', 'main')).rejects.toThrow(/git ls-remote .* failed \(exit 128\).*hung up unexpectedly/s);
    expect(calls()).toBe(3);
  });

  it('a push whose connection drops once is retried; the branch lands once', async () => {
    const { git, log, calls } = await flakyClone(sb, 'push', 'receive-pack', 1);
    const pushes = sb.pushLog().length;
    const res = await createOrUpdateBranch({
      git,
      base: 'main',
      branch: 'mlops/promote/x',
      files: [{ path: 'registry/x.txt', bytes: new Uint8Array(Buffer.from('x\n')) }],
      message: 'x',
      author: BOT,
    });
    expect(res.outcome).toBe('created');
    expect(calls()).toBe(2);
    expect(log).toEqual([expect.stringMatching(/^git push failed \(attempt 1 of 3: fatal: the remote end hung up unexpectedly\)/)]);
    expect((await sb.originRefs())['refs/heads/mlops/promote/x']).toBe(res.commit);
    expect(sb.pushLog().length - pushes).toBe(1);
  });

  it('a push the remote refuses (the lease) is not retried', async () => {
    const { git, calls } = await flakyClone(sb, 'lease', 'receive-pack', 0);
    const main = await git.run(['rev-parse', 'origin/main']);
    // the lease expects the branch to be absent, but it exists: git refuses, once
    await expect(git.run(['push', '--force-with-lease=refs/heads/mlops/promote/x:', 'origin', `${main}:refs/heads/mlops/promote/x`])).rejects.toThrow(
      /stale info|rejected/,
    );
    expect(calls()).toBe(1);
  });

  it('a missing remote branch is not retried', async () => {
    const { git, calls } = await flakyClone(sb, 'missing', 'upload-pack', 0);
    await expect(git.fetchBranches('origin', ['no-such-branch'])).rejects.toThrow(/couldn't find remote ref/);
    expect(calls()).toBe(1);
  });

  it('local commands are never retried', async () => {
    const git = new Git(sb.root, {
      retry: FAST,
      log: () => {
        throw new Error('no retry expected');
      },
    });
    await expect(git.run(['rev-parse', '--verify', 'nothing-here'])).rejects.toThrow(/exit 128/);
  });
});

describe('the branch algorithm and checked-out branches', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' }, 'mlops-git-wt-');
  });
  afterAll(() => sb.cleanup());

  const spec = (git: Git) => ({
    git,
    base: 'main',
    branch: 'mlops/rollback/x',
    files: [{ path: 'registry/x.txt', bytes: new Uint8Array(Buffer.from('x\n')) }],
    message: 'x',
    author: BOT,
  });

  it('refuses, before pushing anything, a branch checked out here or in another worktree', async () => {
    const work = await sb.clone('checked-out');
    await work.run(['checkout', '--quiet', '-b', 'mlops/rollback/x']);
    const pushes = sb.pushLog().length;
    await expect(createOrUpdateBranch(spec(work))).rejects.toThrow(`mlops/rollback/x is checked out in ${work.dir}`);

    await work.run(['checkout', '--quiet', 'main']);
    const other = join(sb.root, 'other-worktree');
    await work.run(['worktree', 'add', '--quiet', other, 'mlops/rollback/x']);
    await expect(createOrUpdateBranch(spec(work))).rejects.toThrow(`mlops/rollback/x is checked out in ${other}`);
    expect(sb.pushLog().length).toBe(pushes);
    expect((await sb.originRefs())['refs/heads/mlops/rollback/x']).toBeUndefined();

    await work.run(['worktree', 'remove', '--force', other]);
    const made = await createOrUpdateBranch(spec(work));
    expect(made.outcome).toBe('created');
    expect(await work.revParse('refs/heads/mlops/rollback/x')).toBe(made.commit); // the local branch follows
  });

  it('onto the base itself: a fast-forward leased on the base it was built on; the checked-out base is left alone', async () => {
    const work = await sb.clone('onto-base');
    const before = await work.run(['rev-parse', 'HEAD']);
    const made = await createOrUpdateBranch({ ...spec(work), branch: 'main', files: [{ path: 'registry/y.txt', bytes: new Uint8Array(Buffer.from('y\n')) }] });
    expect(made).toMatchObject({ outcome: 'updated', previousSha: before, baseSha: before, pushed: true });
    expect((await sb.originRefs())['refs/heads/main']).toBe(made.commit);
    expect(await work.run(['rev-parse', 'HEAD'])).toBe(before); // the checkout did not move under the user
    expect(await work.run(['status', '--porcelain'])).toBe('');
  });
});

describe('reading files at commits: one cat-file process for many commits', () => {
  let sb: Sandbox;
  const first = new Uint8Array([0, 10, 255, 10, 13, 10]); // NUL, line breaks and a byte that is not UTF-8
  let c1: string;
  let c2: string;
  let c3: string;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' }, 'mlops-git-read-');
    c1 = await sb.commitToMain({ 'registry/production.json': first }, 'add');
    c2 = await sb.commitToMain({ 'registry/production.json': null, 'registry/other.json': '{}\n' }, 'remove');
    c3 = await sb.commitToMain({ 'registry/production.json': 'x'.repeat(100_000) }, 'again');
  });
  afterAll(() => sb.cleanup());

  it('gives each commit its bytes in order, null where the file is missing or is a directory', async () => {
    const git = await sb.clone('read');
    const blobs = await readBlobsAt(git, [c3, c1, c2, c1], 'registry/production.json');
    expect(blobs.map((b) => b?.length ?? null)).toEqual([100_000, first.length, null, first.length]);
    expect(new Uint8Array(blobs[1]!)).toEqual(first);
    expect(blobs[0]!.toString('utf8')).toBe('x'.repeat(100_000));
    expect(await readBlobsAt(git, [c2, 'main'], 'registry')).toEqual([null, null]);
    expect(await readBlobAt(git, 'main', 'registry/other.json')).toEqual(Buffer.from('{}\n'));
    expect(await readBlobAt(git, c1, 'registry/other.json')).toBeNull();
    expect(await readBlobsAt(git, [], 'registry/production.json')).toEqual([]);
  });

  it('refuses a path or a ref that could smuggle another request into the batch', async () => {
    const git = await sb.clone('read-bad');
    await expect(readBlobsAt(git, [c1], 'registry/a\nb.json')).rejects.toThrow(/line break/);
    await expect(readBlobsAt(git, [`${c1} ${c2}`], 'registry/production.json')).rejects.toThrow(/invalid git ref/);
    await expect(readBlobsAt(git, [c1], '../x')).rejects.toThrow(/escape the repository/);
  });
});
