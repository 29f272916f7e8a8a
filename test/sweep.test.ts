import { expect, it, describe } from 'vitest';
import { loadPipelineFile } from '../actions/lib/config/load.ts';
import { pipelineErrors } from './helpers/pipeline-errors.ts';
import { describeDb } from './helpers/db.ts';
import { runSweep, sweepMarkdown } from '../actions/lib/monitoring/sweep.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEntry } from './helpers/runner.ts';

/**
 * The 5-minute sweep's reading flags: configured in the pipeline YAML (checked with file and line
 * like every other section) and counted over the newest rows of the source table.
 */

const F = 'pipelines/pumps.yaml';
const YAML = (sweep: string): string => `name: pumps
source:
  table: sweep_readings
  entity_column: station_id
  columns: [inflow_m3h, sensor_fault, vibration_mm_s]
target:
  column: inflow_m3h
  horizon_minutes: 60
trainer:
  algorithm: ridge
sweep:
${sweep}`;

const errorsOf = (text: string): string[] => pipelineErrors(text, F);

describe('sweep settings in the pipeline YAML', () => {
  it('defaults to a 5-minute window without flags, and reads flags with their thresholds', () => {
    expect(loadPipelineFile(F, YAML('  max_silence_minutes: 15\n')).sweep).toEqual({
      window_minutes: 5,
      flags: [],
      max_error_rate: 0.05,
      min_requests: 20,
      max_silence_minutes: 15,
    });
    const p = loadPipelineFile(F, YAML('  flags:\n    - { column: sensor_fault, above: 0, severity: critical }\n'));
    expect(p.sweep.flags).toEqual([{ column: 'sensor_fault', above: 0, severity: 'critical', min_rows: 1 }]);
  });

  it('names file, line and field of a bad flag', () => {
    expect(errorsOf(YAML('  flags:\n    - column: pump_fault\n      above: 0\n'))).toEqual([
      `${F}:13:15 sweep.flags[0].column: column "pump_fault" is not in source.columns (inflow_m3h, sensor_fault, vibration_mm_s): a flag reads a numeric column of the source table`,
    ]);
    expect(errorsOf(YAML('  flags:\n    - column: sensor_fault\n      min_rows: 0\n'))).toEqual([
      expect.stringMatching(new RegExp(`^${F}:13:7 sweep\\.flags\\[0\\]: expected at least one of above, below or equals`)),
      expect.stringMatching(new RegExp(`^${F}:14:17 sweep\\.flags\\[0\\]\\.min_rows: .*(>=|at least) ?1`)),
    ]);
    expect(errorsOf(YAML('  max_error_rate: 2\n'))[0]).toMatch(new RegExp(`^${F}:12:19 sweep\\.max_error_rate: `));
  });
});

describeDb("the sweep's reading flags", ({ db }) => {
  it('fires on flagged rows of the window, at the highest severity, and resolves when they are gone', async () => {
    await db().exec(
      `CREATE TABLE public.sweep_readings (ts timestamptz NOT NULL, station_id text NOT NULL, inflow_m3h double precision, sensor_fault integer, vibration_mm_s double precision)`,
    );
    const asOf = new Date('2026-12-01T12:00:00Z');
    const at = (min: number): Date => new Date(asOf.getTime() - min * 60_000);
    // In the window: S1 reports a fault twice, S2 vibrates hard once; before the window: an old fault.
    const rows: [Date, string, number, number, number][] = [
      [at(4), 'S1', 100, 1, 2],
      [at(3), 'S1', 100, 1, 2],
      [at(2), 'S2', 90, 0, 12.5],
      [at(1), 'S2', 90, 0, 3],
      [at(30), 'S3', 80, 1, 2],
    ];
    for (const r of rows) await db().query('INSERT INTO public.sweep_readings VALUES ($1, $2, $3, $4, $5)', r);
    const p = loadPipelineFile(
      F,
      YAML(`  flags:
    - { column: sensor_fault, equals: 1, min_rows: 2, severity: warning, description: sensor fault bit }
    - { column: vibration_mm_s, above: 10, severity: critical }
    - { column: inflow_m3h, below: 0 }
`),
    );
    const first = await runSweep(db(), [p], { asOf });
    const flags = first.rules.find((r) => r.rule === 'reading-flags')!;
    expect(flags).toMatchObject({ status: 'firing', severity: 'critical' });
    expect(flags.message).toBe('pumps: 2 rows with sensor_fault = 1 (sensor fault bit) at S1; 1 row with vibration_mm_s > 10 at S2 in the last 5 min');
    expect(first.alerts.find((a) => a.rule === 'reading-flags')).toMatchObject({ key: 'pumps/reading-flags', outcome: 'opened', severity: 'critical' });
    expect(sweepMarkdown(first)).toContain('| pumps | reading-flags | **firing** (critical) |');
    const again = await runSweep(db(), [p], { asOf: new Date(asOf.getTime() + 60_000) });
    expect(again.alerts.find((a) => a.rule === 'reading-flags')).toMatchObject({ outcome: 'updated', occurrences: 2 });
    const quiet = await runSweep(db(), [p], { asOf: new Date(asOf.getTime() + 10 * 60_000) });
    expect(quiet.rules.find((r) => r.rule === 'reading-flags')?.status).toBe('ok');
    expect(quiet.alerts.find((a) => a.rule === 'reading-flags')?.outcome).toBe('resolved');
  });
});

describe('the sweep action, run as a runner runs it', () => {
  it("sweeps the repository's pipelines and sets its outputs; a source it cannot read is unknown, not a failure", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlops-sweep-action-'));
    try {
      const run = await runEntry(
        'sweep',
        { 'data-dir': join(dir, 'db'), 'pipelines-dir': 'pipelines', pipeline: 'pump-efficiency', 'as-of': '2026-12-01T12:00:00Z' },
        { env: { GITHUB_TOKEN: '' } },
      );
      expect(run.code, run.everything).toBe(0);
      expect(run.outputs).toEqual({ firing: '0', alerts: '[]' });
      expect(run.summary).toContain('### Alert sweep');
      expect(run.summary).toMatch(/\| pump-efficiency \| reading-flags \| unknown \| pump-efficiency: the flags could not be read: .*readings_wide/);
      expect(run.summary).toContain('| pump-efficiency | serving-errors | ok |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
