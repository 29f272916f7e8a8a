import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { testBackends } from './helpers/db.ts';
import { openDb } from '../actions/lib/db/index.ts';
import {
  condition,
  interpolate,
  parseWithGitHub,
  pipelineYaml,
  seededDatabase,
  makeWorkspace,
  readActionYaml,
  REPO_ROOT,
  runComposite,
  baseEnv,
  type Json,
  type Workspace,
} from './helpers/runner.ts';

/** Workflow lint: GitHub's own parser, then every local action use cross-checked against its action.yml. */

const WORKFLOWS = join(REPO_ROOT, '.github', 'workflows');
const ACTIONS = join(REPO_ROOT, 'actions');
const workflowFiles = readdirSync(WORKFLOWS)
  .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
  .sort();
const actionDirs = readdirSync(ACTIONS)
  .filter((d) => existsSync(join(ACTIONS, d, 'action.yml')))
  .sort();

interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  if?: string;
  run?: string;
  env?: Record<string, string>;
  name?: string;
}
interface Job {
  needs?: string | string[];
  outputs?: Record<string, string>;
  steps: Step[];
  env?: Record<string, string>;
  if?: string;
  strategy?: unknown;
  'runs-on': unknown;
  permissions?: unknown;
  concurrency?: unknown;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
  permissions?: unknown;
  concurrency?: unknown;
}

/** The third-party actions the workflows may use: releases whose action.yml says `runs.using: node24` (Node 20 is past its end of life). */
const NODE24_ACTIONS: Record<string, string> = {
  'actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8': 'v5.0.0',
  'actions/setup-node@a0853c24544627f65ddf259abe73b1d18a591444': 'v5.0.0',
  'actions/upload-artifact@330a01c490aca151604b8cf639adc76d48f6c5d4': 'v5.0.0',
  'actions/create-github-app-token@bcd2ba49218906704ab6c1aa796996da409d3eb1': 'v3.2.0',
};

const readWorkflow = (f: string) => parseYaml(readFileSync(join(WORKFLOWS, f), 'utf8')) as Workflow;

/** Every string anywhere in a value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

describe("workflows parse with GitHub's parser", () => {
  it('every workflow and action.yml has zero errors', async () => {
    const workflows = await parseWithGitHub(
      'workflow',
      workflowFiles.map((f) => ({ name: `.github/workflows/${f}`, content: readFileSync(join(WORKFLOWS, f), 'utf8') })),
    );
    expect(workflows.map((w) => w.file)).toEqual(workflowFiles.map((f) => `.github/workflows/${f}`));
    for (const w of workflows) {
      expect(w.errors, w.file).toEqual([]);
      expect(w.jobs.length, w.file).toBeGreaterThan(0);
    }
    const actions = await parseWithGitHub(
      'action',
      actionDirs.map((d) => ({ name: `actions/${d}/action.yml`, content: readFileSync(join(ACTIONS, d, 'action.yml'), 'utf8') })),
    );
    for (const a of actions) expect(a.errors, a.file).toEqual([]);
    // the parser does report errors (guards the lint itself)
    const [broken] = await parseWithGitHub('workflow', [
      { name: 'broken.yml', content: 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: x/y@v1\n        run: echo both\n' },
    ]);
    expect(broken.errors.length).toBeGreaterThan(0);
  });

  it.each(actionDirs)('actions/%s/action.yml documents every input and output, and maps each input to INPUT_*', (d) => {
    const a = readActionYaml(join(ACTIONS, d));
    expect(a.runs.using).toBe('composite');
    const step = a.runs.steps[0];
    expect(step.run).toBe('bash "$GITHUB_ACTION_PATH/../lib/actions-io/entry.sh"');
    expect(step.shell).toBe('bash'); // bash passes INPUT_RUN-DIR (a dash in the name) through; dash's sh drops it
    for (const [name, def] of Object.entries(a.inputs ?? {})) {
      expect(def.description, `${d}.${name}`).toBeTruthy();
      expect(typeof def.required, `${d}.${name}.required`).toBe('boolean');
      if (!def.required) expect(def.default, `${d}.${name}.default`).toBeTypeOf('string');
      expect(step.env?.[`INPUT_${name.toUpperCase()}`]).toBe(`\${{ inputs.${name} }}`);
    }
    expect(Object.keys(step.env ?? {}).length).toBe(Object.keys(a.inputs ?? {}).length);
    for (const [name, def] of Object.entries(a.outputs ?? {})) {
      expect(def.description, `${d}.${name}`).toBeTruthy();
      expect(def.value).toBe(`\${{ steps.${step.id}.outputs.${name} }}`);
      // the entry sets it
      expect(readFileSync(join(ACTIONS, d, 'main.ts'), 'utf8'), `${d} sets output ${name}`).toMatch(
        new RegExp(name.includes('-') ? `'${name}':` : `\\b${name}\\s*[:,}]`),
      );
    }
  });
});

describe('workflows cross-checked against the actions they use', () => {
  it.each(workflowFiles)('%s: local actions, inputs, step and job outputs', (f) => {
    const wf = readWorkflow(f);
    const problems: string[] = [];
    for (const [jobId, job] of Object.entries(wf.jobs)) {
      const stepOutputs = new Map<string, Set<string> | null>();
      for (const step of job.steps) {
        if (!step.uses?.startsWith('./')) {
          if (step.uses)
            expect(step.uses, `${f} ${jobId}: third-party actions are pinned to a full commit SHA with a version comment`).toMatch(
              /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/,
            );
          if (step.uses) expect(NODE24_ACTIONS[step.uses], `${f} ${jobId}: ${step.uses} is a release that runs on Node 24`).toBeDefined();
          if (step.uses?.startsWith('actions/setup-node@')) expect(step.with?.['node-version'], `${f} ${jobId}: setup-node`).toBe(24);
          if (step.id) stepOutputs.set(step.id, null);
          continue;
        }
        const dir = join(REPO_ROOT, step.uses);
        if (!existsSync(join(dir, 'action.yml'))) {
          problems.push(`${jobId}: ${step.uses} has no action.yml`);
          continue;
        }
        const a = readActionYaml(dir);
        const inputs = a.inputs ?? {};
        for (const k of Object.keys(step.with ?? {})) if (!(k in inputs)) problems.push(`${jobId}: ${step.uses} has no input ${k}`);
        for (const [k, def] of Object.entries(inputs)) if (def.required && !(k in (step.with ?? {}))) problems.push(`${jobId}: ${step.uses} needs input ${k}`);
        if (step.id) stepOutputs.set(step.id, new Set(Object.keys(a.outputs ?? {})));
      }
      const needs = new Set(job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);
      for (const s of strings(job)) {
        for (const m of s.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
          const outs = stepOutputs.get(m[1]);
          if (outs === undefined) problems.push(`${jobId}: ${m[0]}: no step with id ${m[1]}`);
          else if (outs && !outs.has(m[2])) problems.push(`${jobId}: ${m[0]}: the action declares no output ${m[2]}`);
        }
        for (const m of s.matchAll(/needs\.([\w-]+)\.outputs\.([\w-]+)/g)) {
          if (!needs.has(m[1])) problems.push(`${jobId}: ${m[0]}: ${m[1]} is not in needs`);
          else if (!(m[2] in (wf.jobs[m[1]]?.outputs ?? {}))) problems.push(`${jobId}: ${m[0]}: job ${m[1]} declares no output ${m[2]}`);
        }
      }
      // minimal permissions per job, self-hosted only where the database is
      expect(job.permissions, `${f} ${jobId} permissions`).toBeDefined();
      const runsOn = JSON.stringify(job['runs-on']);
      if (typeof job['runs-on'] === 'string' && job['runs-on'].includes('${{')) {
        // chosen per pull request: this repository's branches next to the database, forks never
        const inner = String(job['runs-on'])
          .trim()
          .replace(/^\$\{\{|\}\}$/g, '');
        const on = (full: string) =>
          JSON.parse(
            interpolate(`\${{ toJSON(${inner}) }}`, { github: { repository: 'acme/plant', event: { pull_request: { head: { repo: { full_name: full } } } } } }),
          ) as unknown;
        expect(on('acme/plant'), `${f} ${jobId} runs-on, own branch`).toEqual(['self-hosted', 'mlops']);
        expect(on('someone/fork'), `${f} ${jobId} runs-on, fork`).toBe('ubuntu-latest');
      } else {
        if (runsOn.includes('self-hosted')) expect(job['runs-on']).toEqual(['self-hosted', 'mlops']);
        if (runsOn.includes('self-hosted') && 'pull_request' in wf.on)
          expect(job.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
      }
    }
    expect(wf.permissions, `${f} top-level permissions`).toEqual({});
    expect(wf.concurrency, `${f} concurrency`).toBeDefined();
    expect(problems).toEqual([]);
  });

  it('the alert sweep runs every 5 minutes through the sweep action, with issues: write only', () => {
    const wf = readWorkflow('sweep.yml') as Workflow & { on: { schedule: { cron: string }[] } };
    expect(wf.on.schedule).toEqual([{ cron: '*/5 * * * *' }]);
    const job = wf.jobs.sweep as Workflow['jobs'][string] & { permissions: Record<string, string> };
    expect(job.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(job.steps.map((s) => s.uses).filter((u) => u?.startsWith('./'))).toEqual(['./actions/sweep']);
  });

  it('the cross-check catches a wrong input and a wrong output reference', () => {
    // (the same rules on a broken copy: guards the checker itself)
    const wf = readWorkflow('weekly-retrain.yml');
    const job = wf.jobs.retrain;
    const gate = job.steps.find((s) => s.id === 'gate')!;
    const outs = Object.keys(readActionYaml(join(REPO_ROOT, gate.uses!)).outputs ?? {});
    expect(outs).toContain('decision');
    expect(outs).not.toContain('decisions');
    expect(Object.keys(readActionYaml(join(REPO_ROOT, './actions/extract-data')).inputs ?? {})).not.toContain('pipeline');
  });
});

/**
 * The weekly retrain's jobs executed step by step as the workflow lists them: each `${{ }}` is
 * evaluated with @actions/expressions from the event, the matrix, the job env and the previous
 * steps' outputs; local actions run through their action.yml (composite step, INPUT_* env).
 * Third-party steps are stood in for: checkout = the workspace, setup-node/npm ci = the linked
 * node_modules, upload-artifact = the path it would upload must exist.
 */
const backend = testBackends().at(-1)!;
describe(`weekly-retrain executed end to end [${backend}]`, () => {
  let db: Awaited<ReturnType<typeof seededDatabase>>;
  let ws: Workspace;
  beforeAll(async () => {
    // data up to now: the scheduled retrain runs as of now (staleness is checked)
    const start = new Date(Math.floor((Date.now() - 30 * 86_400_000) / 60_000) * 60_000);
    db = await seededDatabase(backend, { days: 30, stations: 1, seed: 7, start });
    ws = await makeWorkspace({
      'pipelines/tank-small.yaml': pipelineYaml('tank-small'),
      'registry/production.json': readFileSync(join(REPO_ROOT, 'registry/production.json'), 'utf8'),
    });
  });
  afterAll(async () => {
    await db?.cleanup();
    if (ws) rmSync(ws.dir, { recursive: true, force: true });
  });

  async function runJob(job: Job, context: Record<string, Json>, runnerEnv: Record<string, string>) {
    const steps: Record<string, Json> = {};
    const env: Record<string, string> = { ...runnerEnv };
    for (const [k, v] of Object.entries(job.env ?? {})) env[k] = interpolate(v, { ...context, env });
    const log: string[] = [];
    for (const step of job.steps) {
      const ctx = { ...context, env, steps };
      if (!condition(step.if, ctx)) {
        log.push(`skip ${step.id ?? step.uses ?? step.run}`);
        continue;
      }
      if (step.run || !step.uses!.startsWith('./')) {
        if (step.uses?.startsWith('actions/upload-artifact@')) {
          const path = interpolate(String(step.with!.path), ctx);
          expect(existsSync(join(path, 'report.json')), `artifact path ${path}`).toBe(true);
          log.push(`upload ${interpolate(String(step.with!.name), ctx)}`);
        }
        continue;
      }
      const withInputs: Record<string, string> = {};
      for (const [k, v] of Object.entries(step.with ?? {})) withInputs[k] = interpolate(String(v), ctx);
      const run = await runComposite(join(REPO_ROOT, step.uses!), withInputs, { env: baseEnv(env), cwd: ws.dir, context: ctx });
      expect(run.code, `${step.id}: ${run.stdout}\n${run.stderr}`).toBe(0);
      for (const s of [db.secret])
        if (s)
          expect(
            run.everything
              .split('\n')
              .filter((l) => !l.startsWith('::add-mask::'))
              .join('\n'),
          ).not.toContain(s);
      if (step.id) steps[step.id] = { outputs: run.outputs, outcome: 'success', conclusion: 'success' };
      log.push(`${step.id} ${JSON.stringify(run.outputs)}`);
    }
    const outputs: Record<string, string> = {};
    for (const [k, v] of Object.entries(job.outputs ?? {})) outputs[k] = interpolate(v, { ...context, steps });
    return { steps, outputs, log };
  }

  it('repository_dispatch: plan -> matrix -> extract ... gate -> promotion PR (local mode), the reason and the alert carried through', async () => {
    const wf = readWorkflow('weekly-retrain.yml');
    const github: Json = {
      event_name: 'repository_dispatch',
      ref: 'refs/heads/main',
      token: '',
      repository: 'acme/plant',
      // as daily-drift sends it: the alert it answers (its mlops.alerts id and issue) rides along
      event: {
        action: 'retrain',
        client_payload: { reason: 'drift on inflow_m3h', pipeline: 'tank-small', alert_id: 12, alert_issue: 'https://github.test/acme/plant/issues/7' },
        repository: { default_branch: 'main' },
      },
    };
    const base = { github, inputs: {}, secrets: { DATABASE_URL: db.inputs['database-url'] ?? '', MLOPS_BOT_TOKEN: '' }, vars: {} };
    const runnerEnv: Record<string, string> = db.inputs['data-dir'] ? { MLOPS_DATA_DIR: db.inputs['data-dir'] } : {};

    const plan = await runJob(wf.jobs.plan, { ...base, needs: {}, matrix: {} }, runnerEnv);
    expect(JSON.parse(plan.outputs.matrix)).toEqual({ include: [{ pipeline: 'tank-small', file: 'pipelines/tank-small.yaml' }] });
    const needs = { plan: { outputs: plan.outputs, result: 'success' } };
    const retrain = wf.jobs.retrain;
    expect(condition(retrain.if, { ...base, needs })).toBe(true);

    const matrix = (JSON.parse(interpolate('${{ toJSON(fromJSON(needs.plan.outputs.matrix)) }}', { ...base, needs })) as { include: Json[] }).include;
    for (const m of matrix) {
      const job = await runJob(retrain, { ...base, needs, matrix: m }, runnerEnv);
      const out = (id: string) => (job.steps[id] as { outputs: Record<string, string> }).outputs;
      expect(out('gate').decision).toBe('promote');
      expect(out('promote')).toMatchObject({ mode: 'local', outcome: 'created', version: '1' });
      const runJson = JSON.parse(readFileSync(join(out('extract')['run-dir'], 'run.json'), 'utf8')) as {
        run_id: string;
        trigger: string;
        trigger_reason: string;
      };
      expect(runJson).toMatchObject({
        trigger: 'repository_dispatch',
        trigger_reason: 'drift on inflow_m3h',
        trigger_alert: { id: 12, issue_url: 'https://github.test/acme/plant/issues/7' },
      });
      // the run record keeps it for the deploy that will close the alert
      const tracking = await openDb({ url: db.inputs['database-url'], dataDir: db.inputs['data-dir'], ignoreEnv: true });
      const recorded = await tracking
        .query<{ trigger_alert_id: string | number; trigger_alert_issue: string }>(
          'SELECT trigger_alert_id, trigger_alert_issue FROM mlops.training_runs WHERE run_id = $1',
          [runJson.run_id],
        )
        .finally(() => tracking.close());
      expect(recorded.rows.map((r) => [Number(r.trigger_alert_id), r.trigger_alert_issue])).toEqual([[12, 'https://github.test/acme/plant/issues/7']]);
      expect(job.log.at(-1)).toMatch(/^upload run-tank-small-/);
      const body = readFileSync(out('promote')['body-file'], 'utf8');
      expect(body).toContain('repository_dispatch: drift on inflow_m3h');
      expect(body).toContain('This retrain answers alert 12 of `mlops.alerts` (https://github.test/acme/plant/issues/7); deploying this promotion closes it.');
    }
  });
});
