import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { onceBackend, testBackends } from './helpers/db.ts';
import { openDb } from '../actions/lib/db/index.ts';
import { makeWorkspace, pipelineYaml, runEntry, seededDatabase, type StepRun, type Workspace } from './helpers/runner.ts';

const TOKEN = `ghs_${randomBytes(18).toString('hex')}`;

function expectNoSecrets(run: StepRun, secrets: (string | null)[]): void {
  // The runner consumes ::add-mask:: lines and never logs them; everything else must be clean.
  const text = run.everything
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  for (const s of secrets) if (s) expect(text.includes(s), `secret leaked:\n${text.slice(0, 2000)}`).toBe(false);
}

const ok = (run: StepRun): StepRun => {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  return run;
};

describe('plan', () => {
  it('turns pipelines/*.yaml into a matrix, filtered by pipeline', async () => {
    const all = ok(await runEntry('plan', {}));
    expect(JSON.parse(all.outputs.matrix)).toEqual({
      include: [
        { pipeline: 'credit-default', file: 'pipelines/credit-default.yaml' },
        { pipeline: 'pump-efficiency', file: 'pipelines/pump-efficiency.yaml' },
        { pipeline: 'tank-level-forecast', file: 'pipelines/tank-level-forecast.yaml' },
      ],
    });
    expect(all.outputs.count).toBe('3');
    expect(all.summary).toContain('### Plan (retrain): 3 pipeline(s)');
    const one = ok(await runEntry('plan', { pipeline: 'tank-level-forecast' }));
    expect(JSON.parse(one.outputs.matrix).include).toHaveLength(1);
    const none = await runEntry('plan', { pipeline: 'no-such-model' });
    expect(none.code).toBe(1);
    expect(none.annotations.find((a) => a.level === 'error')?.message).toContain('no pipeline named no-such-model');
  });

  it('reports a pipeline YAML error as an annotation with file and line, and plans the valid ones', async () => {
    const ws = await makeWorkspace({
      'pipelines/good.yaml': pipelineYaml('good'),
      'pipelines/bad.yaml': pipelineYaml('bad', (d) => d.setIn(['gates', 'min_improvement_pct'], 'two')),
    });
    const run = ok(await runEntry('plan', {}, { cwd: ws.dir }));
    expect(JSON.parse(run.outputs.matrix).include).toEqual([{ pipeline: 'good', file: 'pipelines/good.yaml' }]);
    expect(run.outputs.errors).toBe('1');
    const ann = run.annotations.find((a) => a.level === 'error')!;
    expect(ann).toMatchObject({ file: 'pipelines/bad.yaml' });
    expect(ann.message).toContain('gates.min_improvement_pct');
    const line = readFileSync(join(ws.dir, 'pipelines/bad.yaml'), 'utf8').split('\n')[ann.line! - 1];
    expect(line).toContain('min_improvement_pct');
    rmSync(ws.dir, { recursive: true, force: true });
  });
});

for (const backend of testBackends()) {
  describe(`the retrain actions, run as a runner runs them [${backend}]`, () => {
    let db: Awaited<ReturnType<typeof seededDatabase>>;
    let ws: Workspace;
    let runsDir: string;
    beforeAll(async () => {
      db = await seededDatabase(backend);
      ws = await makeWorkspace({
        'pipelines/tank-small.yaml': pipelineYaml('tank-small'),
        'pipelines/tank-strict.yaml': pipelineYaml('tank-strict', (d) => d.setIn(['quality', 'min_rows'], 1_000_000)),
        'registry/production.json': readFileSync('registry/production.json', 'utf8'),
      });
      runsDir = join(ws.dir, '.mlops', 'runs');
    });
    afterAll(async () => {
      await db?.cleanup();
      if (ws) rmSync(ws.dir, { recursive: true, force: true });
    });
    const step = async (name: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<StepRun> => {
      const run = await runEntry(name, { ...db.inputs, ...inputs }, { cwd: ws.dir, env });
      expectNoSecrets(run, [db.secret, TOKEN]);
      return run;
    };

    it('chains extract -> quality -> features -> train -> evaluate -> gate -> promotion (local) -> verify -> deploy by the run directory', async () => {
      const extract = ok(
        await step('extract-data', {
          'pipeline-file': 'pipelines/tank-small.yaml',
          'as-of': db.asOf,
          'runs-dir': runsDir,
          trigger: 'repository_dispatch',
          reason: 'new sensor',
        }),
      );
      expect(extract.outputs['run-dir']).toBe(join(runsDir, extract.outputs['run-id']));
      expect(Number(extract.outputs.rows)).toBeGreaterThan(0.99 * 30 * 1440);
      expect(extract.summary).toContain('Trigger: repository_dispatch: new sensor');
      if (db.secret) expect(extract.masks).toContain(db.secret);
      const runDir = extract.outputs['run-dir'];

      const quality = ok(await step('check-data-quality', { 'run-dir': runDir }));
      expect(quality.outputs.passed).toBe('true');
      expect(quality.summary).toContain('| check | value |');
      const features = ok(await step('build-features', { 'run-dir': runDir }));
      expect(Number(features.outputs['holdout-rows'])).toBeGreaterThan(1000);
      const train = ok(await step('train-model', { 'run-dir': runDir }));
      expect(train.outputs.sha256).toMatch(/^[0-9a-f]{64}$/);
      const evaluate = ok(await step('evaluate-model', { 'run-dir': runDir }));
      expect(evaluate.outputs.metric).toBe('rmse');
      expect(Number(evaluate.outputs.challenger)).toBeGreaterThan(0);
      expect(evaluate.summary).toContain('| metric (holdout');
      const gate = ok(await step('gate-promotion', { 'run-dir': runDir }));
      expect(gate.outputs.decision).toBe('promote');
      expect(gate.summary).toBe(readFileSync(join(runDir, 'report.md'), 'utf8'));
      expect(gate.summary).toContain('### Gates');

      const localRoot = mkdtempSync(join(tmpdir(), 'mlops-promo-'));
      const pr = ok(await step('open-promotion-pr', { 'run-dir': runDir, 'repo-dir': ws.dir, 'local-root': localRoot, mode: 'local', 'github-token': TOKEN }));
      expect(pr.outputs).toMatchObject({ mode: 'local', outcome: 'created', version: '1', branch: 'mlops/promote/tank-small' });
      expect(pr.masks).toContain(TOKEN);
      expect(readFileSync(pr.outputs['body-file'], 'utf8')).toContain('**Title:** Promote tank-small v1: rmse');
      const clone = join(localRoot, '.mlops', 'promotion', ws.dir.split('/').pop()!);

      const verify = ok(await step('verify-registry', { 'repo-dir': clone, ref: 'mlops/promote/tank-small', 'base-ref': 'main', 'check-claims': 'true' }));
      expect(verify.outputs.ok).toBe('true');
      expect(verify.summary).toContain('Claims match the recorded runs');
      // Only what was merged into main is deployed: the unmerged branch is refused; merged as GitHub
      // merges a pull request, main deploys.
      const unmerged = await step('deploy-model', { 'repo-dir': clone, ref: 'mlops/promote/tank-small' });
      expect(unmerged.code).toBe(1);
      expect(unmerged.annotations.find((a) => a.level === 'error')?.message).toMatch(/refused: it is not on main/);
      ws.git('fetch', '--quiet', clone, 'mlops/promote/tank-small:mlops/promote/tank-small');
      ws.git('merge', '--quiet', '--no-ff', '-m', 'Merge pull request #1 from acme/mlops/promote/tank-small', 'mlops/promote/tank-small');
      execFileSync('git', ['-C', clone, 'fetch', '--quiet', 'origin'], { stdio: 'ignore' });
      const deploy = ok(await step('deploy-model', { 'repo-dir': clone, ref: 'origin/main' }));
      expect(deploy.outputs.outcome).toBe('recorded');
      expect(JSON.parse(deploy.outputs.deployed)).toEqual([{ model: 'tank-small', outcome: 'deploy', version: 1, previous_version: null }]);
      rmSync(localRoot, { recursive: true, force: true });
    });

    // Backend-independent behaviour runs once (onceBackend(): PostgreSQL when there is one, where a
    // step's process connects instead of booting PGlite), to keep the suite fast on 2 cores.
    const once = backend === onceBackend() ? it : it.skip;
    once('a failing quality check: failed-checks table in the summary, a warning on the threshold line, and a skip (not a failed job)', async () => {
      const extract = ok(await step('extract-data', { 'pipeline-file': 'pipelines/tank-strict.yaml', 'as-of': db.asOf, 'runs-dir': runsDir }));
      const runDir = extract.outputs['run-dir'];
      const quality = ok(await step('check-data-quality', { 'run-dir': runDir }));
      expect(quality.outputs).toMatchObject({ passed: 'false', 'failed-checks': '1' });
      expect(quality.summary).toContain('Data quality: **failed**');
      expect(quality.summary).toMatch(
        /#### Failed checks\n\n\| check \| value \|  \|\n\|---\|---\|---\|\n\| rows \| [\d,]+ rows in the window \(minimum 1,000,000\) \| ❌ \|/,
      );
      const warning = quality.annotations.find((a) => a.level === 'warning')!;
      expect(warning).toMatchObject({ file: 'pipelines/tank-strict.yaml', title: 'data quality: rows' });
      expect(warning.message).toMatch(/^tank-strict: [\d,]+ rows in the window \(minimum 1,000,000\)$/);
      expect(readFileSync(join(ws.dir, 'pipelines/tank-strict.yaml'), 'utf8').split('\n')[warning.line! - 1]).toContain('min_rows');
      for (const s of ['build-features', 'train-model', 'evaluate-model']) {
        const r = ok(await step(s, { 'run-dir': runDir }));
        expect(r.outputs.skipped).toBe('true');
      }
      const gate = ok(await step('gate-promotion', { 'run-dir': runDir }));
      expect(gate.outputs.decision).toBe('skip');
      expect(gate.summary).toContain('⏭️ **skip**');
      expect(gate.annotations.some((a) => a.level === 'warning' && a.title === 'retrain skipped (bad data)')).toBe(true);
      // the daily monitoring mode over the last day: the training minimums do not apply
      const daily = ok(await step('check-data-quality', { 'pipeline-file': 'pipelines/tank-strict.yaml', since: '1d', 'as-of': db.asOf }));
      expect(daily.outputs.passed).toBe('true');
      expect(daily.summary).toContain('### Data quality — tank-strict (last 24 h');
      expect(daily.summary).toContain('✅ passed');
      expect(JSON.parse(daily.outputs.alerts)).toEqual([]);
      // two days on without a reading: the shared monitoring code (as `mlops quality`) opens the
      // data-quality alert, recorded in mlops.alerts (an issue too, with a token)
      const stale = ok(
        await step('check-data-quality', {
          'pipeline-file': 'pipelines/tank-strict.yaml',
          since: '1d',
          'as-of': new Date(Date.parse(db.asOf) + 2 * 86_400_000).toISOString(),
        }),
      );
      expect(stale.outputs.passed).toBe('false');
      expect(JSON.parse(stale.outputs.alerts)).toEqual([{ key: 'tank-strict/data-quality', outcome: 'opened', issue: null }]);
      const conn = db.fresh ? await db.fresh.open() : await openDb({ dataDir: db.inputs['data-dir'], ignoreEnv: true });
      try {
        const alerts = await conn.query<{ alert_key: string; status: string }>(
          "SELECT alert_key, status FROM mlops.alerts WHERE alert_key = 'tank-strict/data-quality'",
        );
        expect(alerts.rows).toEqual([{ alert_key: 'tank-strict/data-quality', status: 'open' }]);
      } finally {
        await conn.close();
      }
    });

    once('fails with a message a user can act on', async () => {
      const missing = await step('train-model', { 'run-dir': join(ws.dir, 'nope') });
      expect(missing.code).toBe(1);
      expect(missing.annotations[0].message).toContain(`run-dir ${join(ws.dir, 'nope')} is not a run directory (no run.json); run the extract-data step first`);
      const noInput = await step('gate-promotion', {});
      expect(noInput.code).toBe(1);
      expect(noInput.annotations[0].message).toContain('input "run-dir": required');
      const badDb = await runEntry('extract-data', { 'pipeline-file': 'pipelines/tank-small.yaml' }, { cwd: ws.dir });
      expect(badDb.code).toBe(1);
      expect(badDb.annotations[0].message).toContain('no database: set the database-url input');
      const badYaml = await step('extract-data', { 'pipeline-file': 'pipelines/nope.yaml' });
      expect(badYaml.code).toBe(1);
    });
  });
}
