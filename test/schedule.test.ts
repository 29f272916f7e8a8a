import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isDue, scheduleWindow } from '../actions/lib/config/schedule.ts';
import { validatePipelines } from '../actions/lib/config/validate.ts';
import {
  baseEnv,
  condition,
  interpolate,
  makeWorkspace,
  pipelineYaml,
  REPO_ROOT,
  runComposite,
  runEntry,
  type Json,
  type Workspace,
} from './helpers/runner.ts';

/**
 * The pipeline `schedule:` section (#11.10): weekly-retrain, daily-quality and daily-drift tick
 * hourly, and a scheduled run's plan keeps the pipelines whose schedule.retrain, schedule.quality
 * or schedule.drift is due in that tick. Fixed times throughout.
 */

const HOURLY = '0 * * * *';
const at = (iso: string) => new Date(iso);

/** Runs the plan action in a workspace; the pipelines its matrix keeps, and the run. */
async function planIn(ws: Workspace, inputs: Record<string, string>) {
  const run = await runEntry('plan', inputs, { cwd: ws.dir });
  expect(run.code, run.stderr).toBe(0);
  return { names: (JSON.parse(run.outputs.matrix) as { include: { pipeline: string }[] }).include.map((i) => i.pipeline), run };
}

describe('when a retrain is due', () => {
  it('a tick covers the hour after the tick before it: each occurrence falls in exactly one tick', () => {
    // 2026-12-06 is a Sunday
    const sunday2 = scheduleWindow(HOURLY, at('2026-12-06T02:00:00Z'));
    expect(sunday2).toEqual({ from: at('2026-12-06T01:00:00Z'), to: at('2026-12-06T02:00:00Z') });
    expect(isDue('0 2 * * 0', sunday2)).toBe(true);
    expect(isDue('0 2 * * 0', scheduleWindow(HOURLY, at('2026-12-06T03:00:00Z')))).toBe(false);
    expect(isDue('0 2 * * 0', scheduleWindow(HOURLY, at('2026-12-07T02:00:00Z')))).toBe(false); // Monday
    // an occurrence between ticks belongs to the next tick, never to two
    expect(isDue('30 2 * * *', sunday2)).toBe(false);
    expect(isDue('30 2 * * *', scheduleWindow(HOURLY, at('2026-12-06T03:00:00Z')))).toBe(true);
    expect(isDue('30 1 * * *', sunday2)).toBe(true);
  });

  it('a run GitHub starts late still belongs to its tick, until the next tick', () => {
    for (const started of ['2026-12-06T02:00:59Z', '2026-12-06T02:17:00Z', '2026-12-06T02:59:59Z'])
      expect(scheduleWindow(HOURLY, at(started)).to, started).toEqual(at('2026-12-06T02:00:00Z'));
  });

  it('names, lists and steps as GitHub accepts them', () => {
    const w = scheduleWindow(HOURLY, at('2026-12-06T02:05:00Z'));
    expect(isDue('0 2 * * SUN', w)).toBe(true);
    expect(isDue('0 2 * DEC 0,3', w)).toBe(true);
    expect(isDue('0 */2 * * *', w)).toBe(true);
    expect(isDue('0 */3 * * *', w)).toBe(false);
  });
});

describe('pipelines validate refuses a schedule that is not a cron expression', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await makeWorkspace({ 'pipelines/late.yaml': pipelineYaml('late', (d) => d.setIn(['schedule', 'retrain'], '0 25 * * *')) });
  });
  afterAll(() => ws && rmSync(ws.dir, { recursive: true, force: true }));

  it('names file, line, field and the problem', async () => {
    const { errors } = await validatePipelines(join(ws.dir, 'pipelines'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: expect.stringMatching(/late\.yaml$/), path: 'schedule.retrain' });
    expect(errors[0].message).toMatch(/expected a cron expression \(UTC\) such as "0 2 \* \* 0": Invalid value for hour: 25/);
    const line = readFileSync(join(ws.dir, 'pipelines/late.yaml'), 'utf8').split('\n')[errors[0].line - 1];
    expect(line).toContain('0 25 * * *');
  });
});

describe('plan on a scheduled tick', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await makeWorkspace({
      'pipelines/weekly.yaml': pipelineYaml('weekly', (d) => d.setIn(['schedule', 'retrain'], '0 2 * * 0')),
      'pipelines/nightly.yaml': pipelineYaml('nightly', (d) => d.setIn(['schedule', 'retrain'], '0 3 * * *')),
    });
  });
  afterAll(() => ws && rmSync(ws.dir, { recursive: true, force: true }));

  const plan = (inputs: Record<string, string>) => planIn(ws, inputs);

  it('keeps only the pipelines due in the tick, and says when the others are next', async () => {
    const sunday2 = await plan({ schedule: HOURLY, now: '2026-12-06T02:04:00Z' });
    expect(sunday2.names).toEqual(['weekly']);
    expect(sunday2.run.summary).toContain('Scheduled run, the tick of 2026-12-06T02:00:00.000Z (after 2026-12-06T01:00:00.000Z)');
    expect(sunday2.run.summary).toContain('- `nightly`: not due (`0 3 * * *`, next 2026-12-06T03:00:00.000Z)');
    expect((await plan({ schedule: HOURLY, now: '2026-12-06T03:10:00Z' })).names).toEqual(['nightly']);
    const none = await plan({ schedule: HOURLY, now: '2026-12-06T04:00:00Z' });
    expect(none.names).toEqual([]);
    expect(none.run.outputs.count).toBe('0'); // the retrain job is skipped
  });

  it('a run by hand or by dispatch (no schedule) plans every pipeline, or the one asked for, whatever the time', async () => {
    expect((await plan({ now: '2026-12-06T04:00:00Z' })).names).toEqual(['nightly', 'weekly']);
    expect((await plan({ schedule: HOURLY, pipeline: 'nightly', now: '2026-12-06T04:00:00Z' })).names).toEqual(['nightly']);
  });

  it('weekly-retrain ticks hourly and hands the plan the cron that fired', () => {
    const wf = parseYaml(readFileSync(join(REPO_ROOT, '.github/workflows/weekly-retrain.yml'), 'utf8')) as {
      on: { schedule: { cron: string }[] };
      jobs: { plan: { steps: { id?: string; with?: Record<string, string> }[] } };
    };
    expect(wf.on.schedule).toEqual([{ cron: HOURLY }]);
    const step = wf.jobs.plan.steps.find((s) => s.id === 'plan')!;
    const github: Json = { event_name: 'schedule', event: { schedule: HOURLY } };
    expect(interpolate(step.with!.schedule, { github, inputs: {} })).toBe(HOURLY);
    expect(interpolate(step.with!.pipeline, { github, inputs: {} })).toBe('');
    // the default schedule of a pipeline is due once a week in that hourly tick
    const defaults = readFileSync(join(REPO_ROOT, 'pipelines/tank-level-forecast.yaml'), 'utf8');
    expect(defaults).toMatch(/retrain: "0 2 \* \* 0"/);
  });
});

interface WorkflowStep {
  id?: string;
  uses?: string;
  with?: Record<string, string>;
}
interface WorkflowJob {
  needs?: string;
  if?: string;
  outputs?: Record<string, string>;
  strategy?: { matrix: string };
  steps: WorkflowStep[];
}

describe("daily-quality and daily-drift follow each pipeline's schedule.quality and schedule.drift", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await makeWorkspace({
      // the defaults: quality 00:30, drift 01:00 every day
      'pipelines/usual.yaml': pipelineYaml('usual'),
      // its own: quality Mondays 06:30, drift every day at 06:15 (runs at the 07:00 tick)
      'pipelines/own.yaml': pipelineYaml('own', (d) => {
        d.setIn(['schedule', 'quality'], '30 6 * * 1');
        d.setIn(['schedule', 'drift'], '15 6 * * *');
      }),
    });
  });
  afterAll(() => ws && rmSync(ws.dir, { recursive: true, force: true }));

  const plan = (inputs: Record<string, string>) => planIn(ws, inputs);

  it('plan for: quality keeps the pipelines whose schedule.quality is due in the tick', async () => {
    // 2026-12-07 is a Monday; daily-quality ticks at :30
    const at = (iso: string) => plan({ for: 'quality', schedule: '30 * * * *', now: iso });
    expect((await at('2026-12-07T00:31:00Z')).names).toEqual(['usual']);
    const monday = await at('2026-12-07T06:30:00Z');
    expect(monday.names).toEqual(['own']);
    expect(monday.run.summary).toContain('the pipelines whose `schedule.quality` is due');
    expect(monday.run.summary).toContain('- `usual`: not due (`30 0 * * *`, next 2026-12-08T00:30:00.000Z)');
    expect((await at('2026-12-08T06:30:00Z')).names).toEqual([]); // Tuesday
  });

  it('plan for: drift keeps the pipelines whose schedule.drift is due; a cron between ticks runs at the next', async () => {
    const at = (iso: string) => plan({ for: 'drift', schedule: '0 * * * *', now: iso });
    expect((await at('2026-12-07T01:00:00Z')).names).toEqual(['usual']);
    expect((await at('2026-12-07T06:00:00Z')).names).toEqual([]);
    expect((await at('2026-12-07T07:00:00Z')).names).toEqual(['own']);
    // the retrain's schedule is not what a drift plan reads, nor the other way round
    expect((await plan({ schedule: '0 * * * *', now: '2026-12-07T01:00:00Z' })).names).toEqual([]);
    const wrong = await runEntry('plan', { for: 'train' }, { cwd: ws.dir });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toContain('expected retrain, quality or drift');
  });

  it.each([
    ['daily-quality.yml', 'quality', '30 * * * *', 'quality', ['./actions/check-data-quality'], '2026-12-07T06:30:00Z'],
    ['daily-drift.yml', 'drift', '0 * * * *', 'monitor', ['./actions/check-drift', './actions/check-health'], '2026-12-07T07:00:00Z'],
  ] as const)('%s ticks hourly, plans by schedule.%s and runs its checks once per due pipeline', async (file, key, tick, jobId, actions, now) => {
    const wf = parseYaml(readFileSync(join(REPO_ROOT, '.github/workflows', file), 'utf8')) as {
      on: { schedule: { cron: string }[]; workflow_dispatch: unknown };
      jobs: Record<string, WorkflowJob>;
    };
    expect(wf.on.schedule).toEqual([{ cron: tick }]);
    const github: Json = { event_name: 'schedule', event: { schedule: tick }, run_id: '77' };
    const context = { github, inputs: {} };
    // the plan job's step, through the plan action's action.yml, on a scheduled tick
    const step = wf.jobs.plan.steps.find((s) => s.id === 'plan')!;
    expect(step.uses).toBe('./actions/plan');
    const withInputs = Object.fromEntries(Object.entries(step.with!).map(([k, v]) => [k, interpolate(v, context)]));
    expect(withInputs).toEqual({ for: key, pipeline: '', schedule: tick });
    const run = await runComposite(join(REPO_ROOT, 'actions/plan'), { ...withInputs, now }, { env: baseEnv(), cwd: ws.dir, context });
    expect(run.code, run.stderr).toBe(0);
    const outputs = Object.fromEntries(
      Object.entries(wf.jobs.plan.outputs!).map(([k, v]) => [k, interpolate(v, { ...context, steps: { plan: { outputs: run.outputs } } })]),
    );
    const needs = { plan: { outputs, result: 'success' } };
    // the checking job: skipped when nothing is due, else one job per due pipeline, each checking only its pipeline
    const job = wf.jobs[jobId];
    expect(job.needs).toBe('plan');
    expect(condition(job.if, { ...context, needs })).toBe(true);
    expect(condition(job.if, { ...context, needs: { plan: { outputs: { ...outputs, count: '0' }, result: 'success' } } })).toBe(false);
    const matrix = JSON.parse(interpolate(`\${{ toJSON(${job.strategy!.matrix.replace(/^\$\{\{|\}\}$/g, '')}) }}`, { ...context, needs })) as {
      include: { pipeline: string }[];
    };
    expect(matrix.include.map((m) => m.pipeline)).toEqual(['own']);
    for (const uses of actions) {
      const check = job.steps.find((s) => s.uses === uses)!;
      expect(interpolate(check.with!.pipeline, { ...context, matrix: matrix.include[0] })).toBe('own');
    }
    // a run by hand: every pipeline, or the one asked for
    const byHand = { github: { event_name: 'workflow_dispatch', event: {} }, inputs: { pipeline: 'usual' } };
    expect(interpolate(step.with!.schedule, byHand)).toBe('');
    expect(interpolate(step.with!.pipeline, byHand)).toBe('usual');
  });
});
