import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isDue, scheduleWindow } from '../actions/lib/config/schedule.ts';
import { validatePipelines } from '../actions/lib/config/validate.ts';
import { interpolate, makeWorkspace, pipelineYaml, REPO_ROOT, runEntry, type Json, type Workspace } from './helpers/runner.ts';

/**
 * The pipeline `schedule:` section (#11.10): weekly-retrain ticks hourly, and a scheduled run's
 * plan keeps the pipelines whose schedule.retrain is due in that tick. Fixed times throughout.
 */

const HOURLY = '0 * * * *';
const at = (iso: string) => new Date(iso);

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

  const plan = async (inputs: Record<string, string>) => {
    const run = await runEntry('plan', inputs, { cwd: ws.dir });
    expect(run.code, run.stderr).toBe(0);
    return { names: (JSON.parse(run.outputs.matrix) as { include: { pipeline: string }[] }).include.map((i) => i.pipeline), run };
  };

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
