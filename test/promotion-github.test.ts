import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrUpdateBranch } from '../actions/lib/git/branch.ts';
import { Git } from '../actions/lib/git/git.ts';
import { createGitHubClient, resolveApiUrl, resolveGitHubToken, type GitHub, type GitHubTarget } from '../actions/lib/github/client.ts';
import { parsePromotionMarker, parsePromotionTrailers } from '../actions/lib/promotion/marker.ts';
import { commitInfo, readBlobAt } from '../actions/lib/git/read.ts';
import { REGISTRY_FILE, type Registry } from '../actions/lib/registry/schema.ts';
import { ensurePromotionPullRequest } from '../actions/lib/promotion/pr.ts';
import { autoMergeDecision, promote, type PromoteSpec } from '../actions/lib/promotion/promote.ts';
import { ENABLE_AUTO_MERGE } from '../actions/lib/github/automerge.ts';
import { checkAgainstGraphQLSchema } from './helpers/standin-server.ts';
import type { RegistryEditPlan } from '../actions/lib/registry/edit.ts';
import { sha256Hex } from '../actions/lib/util/sha256.ts';
import { createSandbox, promotionEntry as entry, type Sandbox } from './helpers/git.ts';
import { GitHubStandIn } from './helpers/github-standin.ts';

const TOKEN = 'ghs_s3cr3tT0kenForTheStandIn0123456789';
const BOT = { name: 'mlops-bot', email: 'mlops-bot@example.test' };
const MODEL = 'tank-level-forecast';
const REPO = { owner: 'plant', repo: 'ops' };

function spec(run: string, rmse: number, extra = ''): PromoteSpec {
  return {
    base: 'main',
    promotion: { model: MODEL, entry: entry(MODEL, run, rmse), onnx: new Uint8Array(Buffer.from(`onnx of ${run}`)), card: { run } },
    candidate: { run, metric: 'rmse', value: rmse },
    render: (plan: RegistryEditPlan) => ({
      title: `Promote ${MODEL} v${plan.version}: rmse ${rmse}`,
      body: `### ${MODEL} v${plan.version} is ready for review\n\n| metric | challenger |\n|---|---|\n| rmse | ${rmse} |\n${extra}`,
    }),
    author: BOT,
    labels: ['weekly-retrain'],
    reviewers: ['ml-lead'],
    teamReviewers: ['model-approvers'],
  };
}

describe('promotion pull request against a GitHub stand-in (checked against the OpenAPI description)', () => {
  let sb: Sandbox;
  let gh: GitHubStandIn;
  let client: GitHub;
  let work: Git;
  const warnings: string[] = [];

  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
    gh = await GitHubStandIn.start({
      ...REPO,
      token: TOKEN,
      prefix: '/api/v3', // as on GitHub Enterprise Server
      branchExists: async (branch) => `refs/heads/${branch}` in (await sb.originRefs()),
    });
    client = createGitHubClient({ token: TOKEN, baseUrl: gh.baseUrl, paceWrites: false, log: (m) => warnings.push(m) });
    work = await sb.clone('checkout');
  });
  afterAll(async () => {
    await gh.close();
    sb.cleanup();
  });
  afterEach(() => {
    // every request was a documented operation with a valid body
    expect(gh.violations).toEqual([]);
    expect(gh.requests.filter((r) => !r.operationId)).toEqual([]);
    gh.reset();
  });

  const target = (c: GitHub = client): GitHubTarget => ({ client: c, repo: REPO, token: TOKEN });
  const run = (s: PromoteSpec, c: GitHub = client) => promote({ kind: 'github', github: target(c), workDir: work.dir, gitToken: TOKEN }, s);
  const ops = () => gh.requests.map((r) => `${r.operationId} ${r.status}`);

  it('first run: pushes the branch and creates the pull request with labels and reviewers', async () => {
    const res = await run(spec('r1', 0.07));
    expect(res).toMatchObject({ mode: 'github', outcome: 'created', version: 1, branch: { outcome: 'created' }, pullRequest: { number: 1, warnings: [] } });
    expect(ops()).toEqual(['pulls/list 200', 'pulls/create 201', 'issues/add-labels 200', 'pulls/request-reviewers 201']);
    const list = gh.requests[0];
    expect(list.query).toEqual({ head: 'plant:mlops/promote/tank-level-forecast', state: 'open', per_page: '100' });
    const create = gh.requests[1].body as Record<string, string>;
    expect(create).toMatchObject({ head: 'mlops/promote/tank-level-forecast', base: 'main', title: 'Promote tank-level-forecast v1: rmse 0.07' });
    // the marker says what an approval approves: the run and its artifact's sha256
    expect(parsePromotionMarker(create.body)).toEqual({
      model: MODEL,
      run: 'r1',
      version: 1,
      metric: 'rmse',
      value: 0.07,
      lowerIsBetter: true,
      sha256: sha256Hex(Buffer.from('onnx of r1')),
    });
    const pr = gh.pulls[0];
    expect(pr.labels).toEqual(['model-promotion', 'model:tank-level-forecast', 'weekly-retrain']);
    expect(pr.reviewers).toEqual(['ml-lead']);
    expect(pr.teamReviewers).toEqual(['model-approvers']);
    expect(gh.requests.every((r) => r.headers.authorization === `token ${TOKEN}`)).toBe(true);
    expect((await sb.originRefs())['refs/heads/mlops/promote/tank-level-forecast']).toBe(res.branch?.commit);
    // the entry on the branch names its pull request; the commit carries what it promotes
    const onBranch = JSON.parse((await readBlobAt(work, res.branch!.commit, REGISTRY_FILE))!.toString('utf8')) as Registry;
    expect(onBranch.models[MODEL].pull_request).toEqual({ number: 1, url: 'https://github.test/plant/ops/pull/1' });
    expect(parsePromotionTrailers((await commitInfo(work, res.branch!.commit)).body)).toEqual({ run: 'r1', sha256: sha256Hex(Buffer.from('onnx of r1')) });
  });

  it('second run with a changed body: updates the same pull request, pushes nothing', async () => {
    const pushes = sb.pushLog().length;
    const res = await run(spec('r1', 0.07, '\nQuality: 0 gaps.\n'));
    expect(res).toMatchObject({ outcome: 'updated', branch: { outcome: 'unchanged' }, pullRequest: { number: 1 } });
    expect(ops()).toEqual(['pulls/list 200', 'pulls/update 200']);
    expect(gh.pulls).toHaveLength(1);
    expect(gh.pulls[0].body).toContain('Quality: 0 gaps.');
    expect(sb.pushLog()).toHaveLength(pushes);
  });

  it('third, identical run: no call beyond the lookup, nothing pushed', async () => {
    const pushes = sb.pushLog().length;
    const res = await run(spec('r1', 0.07, '\nQuality: 0 gaps.\n'));
    expect(res).toMatchObject({ outcome: 'unchanged', branch: { outcome: 'unchanged' } });
    expect(ops()).toEqual(['pulls/list 200']);
    expect(gh.writes()).toEqual([]);
    expect(sb.pushLog()).toHaveLength(pushes);
  });

  it('a challenger not better than the open candidate: the pull request and branch stay, one comment says so', async () => {
    const refs = await sb.originRefs();
    const before = { ...gh.pulls[0], comments: [...gh.pulls[0].comments] };
    const res = await run(spec('r2', 0.08));
    expect(res).toMatchObject({ outcome: 'kept-better-candidate', branch: null, pullRequest: { number: 1, kept: { run: 'r1', value: 0.07 } } });
    expect(ops()).toEqual(['pulls/list 200', 'issues/list-comments 200', 'issues/create-comment 201']);
    expect(gh.pulls[0].comments).toHaveLength(1);
    expect(gh.pulls[0].comments[0].body).toMatch(/run `r2`, rmse 0.08\) is not better than this pull request's candidate v1 \(run `r1`, rmse 0.07\)/);
    expect({ title: gh.pulls[0].title, body: gh.pulls[0].body }).toEqual({ title: before.title, body: before.body });
    expect(await sb.originRefs()).toEqual(refs);

    // the same challenger again: no second comment
    gh.reset();
    expect((await run(spec('r2', 0.08))).outcome).toBe('kept-better-candidate');
    expect(ops()).toEqual(['pulls/list 200', 'issues/list-comments 200']);
    expect(gh.pulls[0].comments).toHaveLength(1);
  });

  it('a better challenger replaces the candidate: branch and pull request updated', async () => {
    const res = await run(spec('r3', 0.06));
    expect(res).toMatchObject({ outcome: 'updated', version: 1, branch: { outcome: 'updated' } });
    expect(ops()).toEqual(['pulls/list 200', 'pulls/update 200']);
    expect(parsePromotionMarker(gh.pulls[0].body)).toMatchObject({ run: 'r3', value: 0.06 });
    expect(gh.pulls).toHaveLength(1);
  });

  it('a 502 is retried', async () => {
    gh.fault({ method: 'GET', path: /\/pulls$/, status: 502, body: { message: 'Bad Gateway' } });
    const res = await run(spec('r3', 0.06));
    expect(res.outcome).toBe('unchanged');
    expect(ops()).toEqual(['pulls/list 502', 'pulls/list 200']);
  });

  it('a 403 rate limit (x-ratelimit-remaining: 0) and a secondary limit (retry-after) are waited out and retried', async () => {
    // The limit resets 1-2 s after the 403 is served (not after the test starts: on a loaded
    // machine the push before it can take longer than that).
    const resetAfter = (at: number): number => Math.ceil(at / 1000) + 1;
    gh.fault({
      method: 'PATCH',
      path: /\/pulls\/1$/,
      status: 403,
      headers: (at) => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAfter(at)) }),
      body: { message: 'API rate limit exceeded for installation.' },
    });
    gh.fault({
      method: 'PATCH',
      path: /\/pulls\/1$/,
      status: 403,
      headers: { 'retry-after': '1' },
      body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
    });
    const res = await run(spec('r3', 0.06, '\nnew text\n'));
    expect(res.outcome).toBe('updated');
    expect(ops()).toEqual(['pulls/list 200', 'pulls/update 403', 'pulls/update 403', 'pulls/update 200']);
    const [, limited, secondary, ok] = gh.requests;
    expect(secondary.at).toBeGreaterThanOrEqual(resetAfter(limited.at) * 1000); // waited for the reset
    expect(secondary.at - limited.at).toBeGreaterThanOrEqual(900);
    expect(ok.at - secondary.at).toBeGreaterThanOrEqual(900); // waited retry-after: 1
    expect(warnings.some((w) => /rate limit/.test(w))).toBe(true);
  });

  it('a run interrupted after its push and run again: same branch, one pull request', async () => {
    const other = 'pump-efficiency';
    const s: PromoteSpec = {
      ...spec('p1', 0.2),
      promotion: { model: other, entry: entry(other, 'p1', 0.2), onnx: new Uint8Array(Buffer.from('onnx p1')), card: {} },
      render: (plan) => ({ title: `Promote ${other} v${plan.version}`, body: 'body' }),
    };
    // the first run dies after pushing (the pull request call fails and is not retried)
    gh.fault({ method: 'POST', path: /\/pulls$/, status: 500, body: { message: 'boom' } });
    const noRetry = createGitHubClient({ token: TOKEN, baseUrl: gh.baseUrl, paceWrites: false, retries: 0 });
    await expect(run(s, noRetry)).rejects.toThrow(/could not create pull request \(HTTP 500\)/);
    const branch = (await sb.originRefs())['refs/heads/mlops/promote/pump-efficiency'];
    expect(branch).toBeTruthy();
    const pushes = sb.pushLog().length;

    const res = await run(s);
    // the same tree as the first run's push; then, the pull request known, the entry names it
    expect(res).toMatchObject({ outcome: 'created', branch: { outcome: 'updated', previousSha: branch } });
    expect(sb.pushLog()).toHaveLength(pushes + 1);
    expect(gh.pulls.filter((p) => p.head === 'mlops/promote/pump-efficiency' && p.state === 'open')).toHaveLength(1);

    expect((await run(s)).outcome).toBe('unchanged');
    expect(gh.pulls.filter((p) => p.head === 'mlops/promote/pump-efficiency')).toHaveLength(1);
  });

  it('no error message carries the token', async () => {
    // GitHub echoing the credentials back in an error body
    gh.fault({ method: 'GET', path: /\/pulls$/, status: 422, body: { message: `Validation Failed for token ${TOKEN}` } });
    const err = await ensurePromotionPullRequest(target(), {
      model: MODEL,
      head: 'mlops/promote/tank-level-forecast',
      base: 'main',
      title: 't',
      body: 'b',
      candidate: { run: 'x', version: 1, metric: 'rmse', value: 1 },
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/HTTP 422/);
    expect(JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack })).not.toContain(TOKEN);

    // a wrong token: the stand-in's 401 echoes the Authorization header
    const wrong = createGitHubClient({ token: `${TOKEN}-wrong`, baseUrl: gh.baseUrl, paceWrites: false });
    const err401 = await run(spec('r3', 0.06), wrong).catch((e: Error) => e);
    expect((err401 as Error).message).toMatch(/HTTP 401/);
    expect((err401 as Error).message).not.toContain(TOKEN);

    // git with the token, failing against an unreachable remote
    const git = new Git(work.dir, { token: TOKEN, retry: { attempts: 1 } });
    const gitErr = await git.run(['push', 'http://127.0.0.1:9/none.git', 'HEAD:refs/heads/x']).catch((e: Error) => e);
    expect(gitErr).toBeInstanceOf(Error);
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    expect((gitErr as Error).message).not.toContain(TOKEN);
    expect((gitErr as Error).message).not.toContain(basic);
    gh.reset(); // the 401 request carried a wrong token on purpose; its shape is still checked above
  });

  it('token and API URL come from the input, else GITHUB_TOKEN and GITHUB_API_URL', () => {
    expect(resolveGitHubToken('', { GITHUB_TOKEN: 'env-token' })).toBe('env-token');
    expect(resolveGitHubToken(' input ', { GITHUB_TOKEN: 'env-token' })).toBe('input');
    expect(resolveGitHubToken(undefined, {})).toBeUndefined();
    expect(resolveApiUrl(undefined, { GITHUB_API_URL: 'https://ghe.example/api/v3/' })).toBe('https://ghe.example/api/v3');
    expect(resolveApiUrl(undefined, {})).toBe('https://api.github.com');
    expect(() => createGitHubClient({ token: '' })).toThrow(/no GitHub token/);
  });
});

describe('promotion branch helpers', () => {
  it('refuses paths outside the repository', async () => {
    const sb = await createSandbox({ 'README.md': 'x\n' });
    try {
      const work = await sb.clone('w');
      for (const path of ['../x', '/etc/passwd', 'a/../../b', '.git/config'])
        await expect(
          createOrUpdateBranch({ git: work, base: 'main', branch: 'b', files: [{ path, bytes: new Uint8Array([1]) }], message: 'm' }),
        ).rejects.toThrow(/refusing/);
    } finally {
      sb.cleanup();
    }
  });
});

describe("auto-merge above promotion.auto_merge_min_improvement_pct (GraphQL, checked against GitHub's schema)", () => {
  let sb: Sandbox;
  let gh: GitHubStandIn;
  let work: Git;
  let allowed = true;
  beforeAll(async () => {
    sb = await createSandbox({ 'README.md': '# plant\n' });
    gh = await GitHubStandIn.start({ ...REPO, token: TOKEN, branchExists: async (branch) => `refs/heads/${branch}` in (await sb.originRefs()) });
    work = await sb.clone('checkout');
  });
  afterAll(async () => {
    await gh.close();
    sb.cleanup();
  });
  afterEach(() => {
    expect(gh.violations).toEqual([]);
    gh.reset();
    allowed = true;
  });
  const client = () => createGitHubClient({ token: TOKEN, baseUrl: gh.baseUrl, paceWrites: false });
  const run = (model: string, improvementPct: number | null, forced = false) => {
    (gh.options as { autoMergeAllowed?: boolean }).autoMergeAllowed = allowed;
    const s = spec(`${model}-run`, 0.05);
    return promote(
      { kind: 'github', github: { client: client(), repo: REPO, token: TOKEN }, workDir: work.dir, gitToken: TOKEN },
      {
        ...s,
        promotion: { ...s.promotion, model, entry: entry(model, `${model}-run`, 0.05) },
        labels: [],
        reviewers: [],
        teamReviewers: [],
        autoMerge: autoMergeDecision(5, improvementPct, forced),
      },
    );
  };
  const graphqlCalls = () => gh.requests.filter((r) => r.path === '/graphql');

  it('an improvement above the threshold turns on auto-merge of exactly the pushed head, as a merge commit', async () => {
    const res = await run('model-a', 8.2);
    expect(res).toMatchObject({ mode: 'github', outcome: 'created', autoMerge: 'enabled' });
    const pull = gh.pulls.find((p) => p.head === 'mlops/promote/model-a')!;
    const head = (await sb.originRefs())['refs/heads/mlops/promote/model-a'];
    expect(pull.autoMerge).toMatchObject({ mergeMethod: 'MERGE', expectedHeadOid: head });
    expect(graphqlCalls().map((r) => [r.operationId, (r.body as { variables: Record<string, string> }).variables])).toEqual([
      ['graphql/EnableAutoMerge', { pullRequestId: gh.nodeId(pull), expectedHeadOid: head, mergeMethod: 'MERGE' }],
    ]);
  });

  it('below the threshold, for a first model or a forced promotion, a person merges: no GraphQL call', async () => {
    for (const [model, pct, forced] of [
      ['model-b', 4.9, false],
      ['model-c', null, false],
      ['model-d', 30, true],
    ] as const) {
      const res = await run(model, pct, forced);
      expect(res, model).toMatchObject({ outcome: 'created', autoMerge: 'off' });
    }
    expect(graphqlCalls()).toEqual([]);
    expect(autoMergeDecision(5, 4.9, false).why).toBe('improvement 4.9% < 5% (promotion.auto_merge_min_improvement_pct): a person merges it');
    expect(autoMergeDecision(null, 50, false).enable).toBe(false);
  });

  it('a repository that does not allow auto-merge: the pull request stands, with a warning saying why', async () => {
    allowed = false;
    const res = await run('model-e', 12);
    expect(res).toMatchObject({ outcome: 'created', autoMerge: 'failed' });
    if (res.mode !== 'github') throw new Error('expected github mode');
    expect(res.pullRequest.warnings).toEqual([
      expect.stringMatching(
        /^auto-merge was not enabled \(improvement 12\.0% >= 5% .*\): GitHub: could not enable auto-merge: Pull request Auto merge is not allowed for this repository$/,
      ),
    ]);
  });

  it("the stand-in's check refuses what GitHub would: an unknown input field, a variable of the wrong type", () => {
    const wrongField = checkAgainstGraphQLSchema({
      query: ENABLE_AUTO_MERGE.replace('expectedHeadOid: $expectedHeadOid', 'headOid: $expectedHeadOid'),
      variables: { pullRequestId: 'PR_1' },
    });
    expect(wrongField.violations.join('\n')).toMatch(/Field "headOid" is not defined by type "EnablePullRequestAutoMergeInput"/);
    const wrongVariable = checkAgainstGraphQLSchema({ query: ENABLE_AUTO_MERGE, variables: { pullRequestId: 'PR_1', mergeMethod: 'FAST_FORWARD' } });
    expect(wrongVariable.violations.join('\n')).toMatch(/Variable "\$mergeMethod" got invalid value "FAST_FORWARD"/);
    expect(checkAgainstGraphQLSchema({ query: ENABLE_AUTO_MERGE, variables: { pullRequestId: 'PR_1', mergeMethod: 'MERGE' } }).violations).toEqual([]);
  });
});
