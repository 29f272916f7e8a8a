import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { openDb } from '../actions/lib/db/index.ts';
import { appPermissions, permissionsMarkdown, WRITING_JOBS } from '../actions/lib/github/permissions.ts';
import { baseEnv, condition, interpolate, makeWorkspace, REPO_ROOT, runComposite, type Json, type Workspace } from './helpers/runner.ts';

/**
 * How the workflows use GitHub, checked on the workflow files as GitHub's parser reads them
 * (test/workflows.test.ts parses them) and by evaluating their expressions as the runner does:
 * required checks that report on every pull request, forks and the database, App tokens with the
 * one list of permissions, deploys only from the default branch.
 */

interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  if?: string;
  run?: string;
}
interface Job {
  if?: string;
  needs?: string | string[];
  steps: Step[];
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
  'runs-on': unknown;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}
const read = (f: string) => parseYaml(readFileSync(join(REPO_ROOT, '.github/workflows', f), 'utf8')) as Workflow;

describe('registry-check: required checks that report on every pull request', () => {
  const wf = read('registry-check.yml');
  const pr = (fork: boolean): Json => ({
    repository: 'acme/plant',
    event: { pull_request: { number: 7, head: { repo: { full_name: fork ? 'someone/plant' : 'acme/plant' } } } },
  });

  it('runs on every pull request: no paths filter could leave a required check waiting', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect(wf.on.pull_request).toBeNull();
  });

  it('claims is skipped (reported as success) only when files said registry/ is unchanged; when files could not tell, it runs', () => {
    const claims = wf.jobs.claims;
    expect(claims.needs).toBe('files');
    const when = (result: string, changed: string) =>
      condition(claims.if, { github: pr(false), needs: { files: { result, outputs: { 'registry-changed': changed } } } });
    expect(when('success', 'false')).toBe(false);
    expect(when('success', 'true')).toBe(true);
    expect(when('failure', '')).toBe(true);
    expect(wf.jobs.files.outputs?.['registry-changed']).toBe('${{ steps.verify.outputs.changed }}');
    expect(wf.jobs.files.steps.find((s) => s.id === 'verify')?.with).toMatchObject({ 'base-ref': 'HEAD^1', 'only-if-changed': true });
  });

  it("a fork that touches registry/ fails closed, on a GitHub-hosted runner; this repository's branches are checked next to the database", () => {
    const claims = wf.jobs.claims;
    const refuse = claims.steps[0];
    expect(refuse.run).toMatch(/exit 1/);
    expect(condition(refuse.if, { github: pr(true) })).toBe(true);
    expect(condition(refuse.if, { github: pr(false) })).toBe(false);
    const runsOn = (fork: boolean) =>
      JSON.parse(
        interpolate(
          `\${{ toJSON(${String(claims['runs-on'])
            .trim()
            .replace(/^\$\{\{|\}\}$/g, '')}) }}`,
          { github: pr(fork) },
        ),
      ) as unknown;
    expect(runsOn(true)).toBe('ubuntu-latest');
    expect(runsOn(false)).toEqual(['self-hosted', 'mlops']);
  });

  it("claims runs the base branch's code, reads the pull request from git objects, and only reads the database", () => {
    const steps = wf.jobs.claims.steps;
    const [base, head] = steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(base.with).toMatchObject({ ref: '${{ github.event.pull_request.base.sha }}', 'persist-credentials': false });
    expect(head.with).toMatchObject({ path: '.mlops/pull-request', 'fetch-depth': 2 });
    const check = steps.find((s) => s.id === 'claims')!;
    expect(check.uses).toBe('./actions/verify-registry');
    expect(check.with).toMatchObject({
      'repo-dir': '.mlops/pull-request',
      'check-claims': true,
      'database-url': '${{ secrets.MLOPS_READONLY_DATABASE_URL || secrets.DATABASE_URL }}',
    });
    expect(steps.indexOf(check)).toBeGreaterThan(steps.indexOf(head));
  });
});

describe('verify-registry only-if-changed, run as the files job runs it', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await makeWorkspace({ 'registry/production.json': readFileSync(join(REPO_ROOT, 'registry/production.json'), 'utf8'), 'README.md': '# plant\n' });
  });
  afterAll(() => ws && rmSync(ws.dir, { recursive: true, force: true }));

  const run = () =>
    runComposite(join(REPO_ROOT, 'actions/verify-registry'), { ref: 'HEAD', 'base-ref': 'HEAD^1', 'only-if-changed': 'true' }, { env: baseEnv(), cwd: ws.dir });

  it('a pull request that does not touch registry/ passes without checking anything', async () => {
    ws.git('commit', '--quiet', '--allow-empty', '-m', 'docs');
    const res = await run();
    expect(res.code, res.stderr).toBe(0);
    expect(res.outputs).toMatchObject({ ok: 'true', changed: 'false', models: '0' });
  });

  it('one that does is checked, and a broken registry fails', async () => {
    ws.git('rm', '--quiet', 'registry/production.json');
    ws.git('commit', '--quiet', '-m', 'remove the registry');
    const res = await run();
    expect(res.code).not.toBe(0);
    expect(res.outputs).toMatchObject({ ok: 'false', changed: 'true' });
  });
});

describe('tokens: an App token per writing job, with exactly the permissions of the one list', () => {
  it.each(WRITING_JOBS.map((j) => [`${j.workflow} / ${j.job}`, j] as const))('%s', (_name, spec) => {
    const job = read(spec.workflow).jobs[spec.job];
    const mint = job.steps.find((s) => s.id === 'app-token');
    expect(mint?.uses).toMatch(/^actions\/create-github-app-token@[0-9a-f]{40}$/);
    expect(mint?.if).toBe("vars.MLOPS_APP_CLIENT_ID != ''");
    const asked = Object.fromEntries(
      Object.entries(mint?.with ?? {})
        .filter(([k]) => k.startsWith('permission-'))
        .map(([k, v]) => [k.slice('permission-'.length), v]),
    );
    expect(asked).toEqual(Object.fromEntries(spec.permissions.map((p) => [p.name, p.level])));
    // the token is minted before anything uses it, and every token input prefers it, then the bot's PAT, then GITHUB_TOKEN
    const uses = job.steps.flatMap((s, i) =>
      Object.entries(s.with ?? {})
        .filter(([k]) => k === 'token' || k === 'github-token')
        .map(([, v]) => ({ i, v })),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) {
      expect(u.i).toBeGreaterThan(job.steps.indexOf(mint!));
      expect(u.v).toBe('${{ steps.app-token.outputs.token || secrets.MLOPS_BOT_TOKEN || github.token }}');
    }
    // GITHUB_TOKEN, the last fallback, gets no more than the list either
    for (const [name, level] of Object.entries(job.permissions ?? {})) {
      if (level === 'write')
        expect(
          spec.permissions.some((p) => p.name === name && p.level === 'write'),
          `${spec.workflow} ${spec.job}: ${name}: write`,
        ).toBe(true);
    }
  });

  it('no other job mints a token or writes', () => {
    for (const f of ['registry-check.yml', 'deploy-model.yml', 'score.yml', 'ci.yml', 'weekly-retrain.yml', 'daily-drift.yml', 'daily-quality.yml']) {
      for (const [id, job] of Object.entries(read(f).jobs)) {
        if (WRITING_JOBS.some((j) => j.workflow === f && j.job === id)) continue;
        expect(
          job.steps.some((s) => s.uses?.startsWith('actions/create-github-app-token@')),
          `${f} ${id}`,
        ).toBe(false);
        expect(Object.values(job.permissions ?? {}).includes('write'), `${f} ${id}`).toBe(false);
      }
    }
  });

  it('docs/operations.md shows the list as this module renders it', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    const m = /<!-- mlops:permissions -->\n([\s\S]*?)\n<!-- \/mlops:permissions -->/.exec(doc);
    expect(m?.[1]).toBe(permissionsMarkdown());
    expect(appPermissions()).toEqual([
      { name: 'contents', level: 'write' },
      { name: 'issues', level: 'write' },
      { name: 'metadata', level: 'read' },
      { name: 'pull-requests', level: 'write' },
    ]);
  });
});

describe('deploy-model deploys only from the default branch', () => {
  it("passes the repository's default branch to the deploy step, which refuses any other commit", () => {
    const wf = read('deploy-model.yml');
    const deploy = wf.jobs.deploy.steps.find((s) => s.id === 'deploy')!;
    expect(deploy.with).toMatchObject({ ref: '${{ github.sha }}', branch: '${{ github.event.repository.default_branch }}' });
    expect(wf.jobs.deploy.steps.find((s) => s.uses?.startsWith('actions/checkout@'))!.with).toMatchObject({ 'fetch-depth': 0 }); // origin/<default branch> is in the clone
  });

  it('reads who merged and approved, and closes answered alerts, with a token that may read pull requests and write issues only', () => {
    const job = read('deploy-model.yml').jobs.deploy;
    expect(job.steps.find((s) => s.id === 'deploy')!.with).toMatchObject({
      'github-token': '${{ steps.app-token.outputs.token || secrets.MLOPS_BOT_TOKEN || github.token }}',
    });
    expect(job.permissions).toEqual({ contents: 'read', 'pull-requests': 'read', issues: 'write' });
  });
});

describe('the actions from another repository: an early, clear error (#11.13)', () => {
  let root: string;
  let ws: Workspace;
  beforeAll(async () => {
    // As the runner lays out `uses: plant/ops/actions/plan@v1` in a job of another repository:
    // the repository's files under _actions/<owner>/<repo>/<ref>/, no node_modules, and a workspace
    // of that other repository (which has its own node_modules, without this engine's).
    root = mkdtempSync(join(tmpdir(), 'mlops-actions-'));
    cpSync(join(REPO_ROOT, 'actions'), join(root, '_actions/plant/ops/v1/actions'), { recursive: true });
    ws = await makeWorkspace({ 'pipelines/.keep': '' });
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    if (ws) rmSync(ws.dir, { recursive: true, force: true });
  });

  it('used as owner/repo/actions/<step>@ref it fails before node, naming the cause and the fix', async () => {
    const res = await runComposite(join(root, '_actions/plant/ops/v1/actions/plan'), {}, { env: baseEnv({ GITHUB_WORKSPACE: ws.dir }), cwd: ws.dir });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('::error title=MLOps action plan cannot run::actions/plan cannot run: it is used from another repository');
    expect(res.stdout).toContain('use `uses: ./actions/plan`');
    expect(res.stderr).not.toContain('Cannot find package');
  });

  it('in this repository without npm ci it says to run npm ci', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'mlops-no-npm-ci-'));
    cpSync(join(REPO_ROOT, 'actions'), join(bare, 'actions'), { recursive: true });
    try {
      const res = await runComposite(join(bare, 'actions/plan'), {}, { env: baseEnv({ GITHUB_WORKSPACE: bare }), cwd: bare });
      expect(res.code).toBe(1);
      expect(res.stdout).toContain("actions/plan cannot run: this repository's node_modules are missing: run `npm ci`");
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('used as ./actions/<step> after npm ci it runs', async () => {
    const res = await runComposite(join(REPO_ROOT, 'actions/plan'), {}, { env: baseEnv({ GITHUB_WORKSPACE: ws.dir }), cwd: ws.dir });
    expect(res.stdout).not.toContain('cannot run');
    expect(res.stdout + res.stderr).toMatch(/no valid pipeline|planned 0 pipeline/);
  });

  it('runs when the checkout is reached through a symlink (a runner work directory linked to another disk)', async () => {
    const linkDir = mkdtempSync(join(tmpdir(), 'mlops-linked-'));
    const link = join(linkDir, 'checkout');
    symlinkSync(REPO_ROOT, link);
    try {
      const res = await runComposite(join(link, 'actions/plan'), {}, { env: baseEnv({ GITHUB_WORKSPACE: ws.dir }), cwd: ws.dir });
      expect(res.stdout).not.toContain('cannot run');
      expect(res.stdout + res.stderr).toMatch(/no valid pipeline|planned 0 pipeline/);
    } finally {
      rmSync(linkDir, { recursive: true, force: true });
    }
  });
});

describe('the extraction role: MLOPS_SOURCE_DATABASE_URL where the source is read, nowhere else', () => {
  const readsSource = new Set(['weekly-retrain.yml/retrain', 'daily-quality.yml/quality', 'daily-drift.yml/monitor', 'score.yml/score', 'sweep.yml/sweep']);
  it('each job that reads the source maps the secret next to DATABASE_URL; the others do not have it', () => {
    const seen: string[] = [];
    for (const f of [
      'registry-check.yml',
      'deploy-model.yml',
      'score.yml',
      'ci.yml',
      'weekly-retrain.yml',
      'daily-drift.yml',
      'daily-quality.yml',
      'sweep.yml',
    ]) {
      for (const [id, job] of Object.entries(read(f).jobs) as [string, Job & { env?: Record<string, string> }][]) {
        const mapped = job.env?.MLOPS_SOURCE_DATABASE_URL;
        if (readsSource.has(`${f}/${id}`)) {
          expect(mapped, `${f} ${id}`).toBe('${{ secrets.MLOPS_SOURCE_DATABASE_URL }}');
          expect(job.env?.DATABASE_URL, `${f} ${id}`).toBe('${{ secrets.DATABASE_URL }}');
          seen.push(`${f}/${id}`);
        } else expect(mapped, `${f} ${id}`).toBeUndefined();
      }
    }
    expect(seen.sort()).toEqual([...readsSource].sort());
    expect(readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8')).toContain('`MLOPS_SOURCE_DATABASE_URL` (recommended)');
  });

  it('an unset secret (the runner maps it as an empty variable) means no extraction role', async () => {
    const value = interpolate('${{ secrets.MLOPS_SOURCE_DATABASE_URL }}', { secrets: {} });
    expect(value).toBe('');
    const saved = process.env.MLOPS_SOURCE_DATABASE_URL;
    process.env.MLOPS_SOURCE_DATABASE_URL = value;
    try {
      const db = await openDb({ dataDir: 'memory' });
      try {
        expect(await db.readSource(async (tx) => (await tx.query<{ one: number }>('SELECT 1 AS one')).rows[0].one)).toBe(1);
      } finally {
        await db.close();
      }
    } finally {
      if (saved === undefined) delete process.env.MLOPS_SOURCE_DATABASE_URL;
      else process.env.MLOPS_SOURCE_DATABASE_URL = saved;
    }
  });
});
