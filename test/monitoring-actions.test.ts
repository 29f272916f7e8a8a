import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeWorkspace, REPO_ROOT, runComposite, baseEnv, type Workspace } from './helpers/runner.ts';
import { GitHubIssuesStandIn } from './helpers/github-issues-standin.ts';
import { promotionEntry } from './helpers/git.ts';
import { planRegistryEdit } from '../actions/lib/registry/edit.ts';
import { emptyRegistry } from '../actions/lib/registry/schema.ts';
import { openMigratedDb } from '../actions/lib/db/index.ts';

const TOKEN = 'ghs_actionsT0kenForTheStandIn0123456789';

/** The actions as a runner runs them: composite step, INPUT_* variables, GITHUB_OUTPUT and the job summary. */
describe('check-health and check-drift actions', () => {
  let ws: Workspace;
  let gh: GitHubIssuesStandIn;
  let dataDir: string;
  beforeAll(async () => {
    const plan = planRegistryEdit(emptyRegistry(), {
      model: 'tank-level-forecast',
      entry: promotionEntry('tank-level-forecast', 'run-old', 0.1),
      onnx: new Uint8Array([1, 2, 3]),
      card: {},
    });
    const files: Record<string, string> = { 'pipelines/tank-level-forecast.yaml': readFileSync(join(REPO_ROOT, 'pipelines/tank-level-forecast.yaml'), 'utf8') };
    for (const f of plan.files) files[f.path] = Buffer.from(f.bytes).toString('utf8');
    // the champion merged when its entry says it was promoted: 18 days before the as-of below
    ws = await makeWorkspace(files, { commitDate: '2026-11-22T02:30:00Z' });
    dataDir = mkdtempSync(join(tmpdir(), 'mlops-actions-db-'));
    const { db } = await openMigratedDb({ dataDir, ignoreEnv: true });
    await db.close();
    gh = await GitHubIssuesStandIn.start({ token: TOKEN });
  });
  afterAll(async () => {
    await gh.close();
    rmSync(ws.dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = () => baseEnv({ GITHUB_TOKEN: TOKEN, GITHUB_REPOSITORY: 'plant/ops', GITHUB_API_URL: gh.baseUrl });

  it('check-health: a stale champion opens an issue, dispatches a retrain, and says so in outputs and summary', async () => {
    const run = await runComposite(
      join(REPO_ROOT, 'actions/check-health'),
      { 'data-dir': dataDir, 'as-of': '2026-12-10T01:00:00Z' },
      { env: env(), cwd: ws.dir },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs.firing).toBe('1');
    expect(JSON.parse(run.outputs.alerts)).toEqual([{ key: 'tank-level-forecast/stale-champion', outcome: 'opened', issue: 1 }]);
    expect(JSON.parse(run.outputs.dispatched)).toEqual([{ pipeline: 'tank-level-forecast', outcome: 'dispatched' }]);
    expect(gh.dispatches).toHaveLength(1);
    expect(run.summary).toContain('### Alerts');
    expect(run.summary).toContain('| tank-level-forecast | stale-champion | ⚠️ firing |');
    expect(run.annotations.map((a) => a.title)).toContain('health: stale-champion');
    expect(run.everything.split(`::add-mask::${TOKEN}`).join('')).not.toContain(TOKEN);
    expect(gh.violations).toEqual([]);
  });

  it('check-drift: a registry entry that is not a usable champion fails the step with a clear error, token masked', async () => {
    const run = await runComposite(
      join(REPO_ROOT, 'actions/check-drift'),
      { 'data-dir': dataDir, 'as-of': '2026-12-10T01:00:00Z', 'github-token': TOKEN },
      { env: baseEnv({ GITHUB_REPOSITORY: 'plant/ops', GITHUB_API_URL: gh.baseUrl }), cwd: ws.dir },
    );
    // The fixture entry has no feature spec (and three bytes for a model): nothing to compare with.
    expect(run.code).not.toBe(0);
    expect(run.annotations.map((a) => a.message)).toContain(
      "tank-level-forecast v1: the registry entry's features.spec is not a feature spec (columns, lags, rolling, target)",
    );
    expect(run.masks).toContain(TOKEN);
    expect(run.everything.split(`::add-mask::${TOKEN}`).join('')).not.toContain(TOKEN);
    expect(gh.writes().filter((w) => w.path.endsWith('/issues'))).toHaveLength(1); // only check-health's issue
  });
});
