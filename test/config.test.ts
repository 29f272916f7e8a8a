import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { categoricalFeatureColumns, featureColumns } from '../actions/lib/config/schema.ts';
import { loadPipelineFile, loadPipelines, PipelineConfigError, selectPipelines, UnknownPipelineError } from '../actions/lib/config/load.ts';
import { UsageError } from '../actions/lib/util/usage-error.ts';
import { formatIssue, validatePipelines } from '../actions/lib/config/validate.ts';
import { openDb, type Db } from '../actions/lib/db/index.ts';
import { ensureReadingsTable } from '../actions/lib/demo-data/table.ts';
import { ensureCreditTables } from '../actions/lib/demo-data/credit.ts';
import { checkSource, formatSourceIssues, sourceIssues } from '../actions/lib/source/check.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { pipelineErrors } from './helpers/pipeline-errors.ts';

/** One embedded database for the file's source checks: the (empty) demo table, and `missing` without it. */
let shared: Promise<{ db: Db; missing: Db }> | null = null;
function databases(): Promise<{ db: Db; missing: Db }> {
  shared ??= (async () => {
    const db = await openDb({ ignoreEnv: true });
    await ensureReadingsTable(db);
    await ensureCreditTables(db);
    await db.exec('CREATE SCHEMA empty_schema');
    // The same database, seen from a schema without the table (the search path decides what "readings_wide" is).
    const missing: Db = {
      ...db,
      readSource: (fn) =>
        db.readSource(async (tx) => {
          await tx.query('SET LOCAL search_path TO empty_schema');
          return fn(tx);
        }),
      close: async () => undefined,
    };
    return { db, missing };
  })();
  return shared;
}
const demoTableDb = async (): Promise<Db> => ({ ...(await databases()).db, close: async () => undefined });
afterAll(async () => {
  if (shared) await (await shared).db.close();
});

const F = 'pipelines/x.yaml';

const MINIMAL = `name: x
source:
  table: readings_wide
  columns: [tank_level_m, inflow_m3h]
target:
  column: tank_level_m
  horizon_minutes: 60
trainer:
  algorithm: gbdt
`;

/** The formatted lines of the error thrown for `text`. */
const errorsOf = (text: string, file = F): string[] => pipelineErrors(text, file);

describe('loadPipelineFile', () => {
  it('loads a minimal pipeline with defaults filled in', () => {
    const p = loadPipelineFile(F, MINIMAL);
    expect(p.name).toBe('x');
    expect(p.source.time_column).toBe('ts');
    expect(p.baseline).toEqual({ kind: 'mean', season_minutes: 1440 });
    expect(p.trainer.algorithm).toBe('gbdt');
    expect(p.gates.min_improvement_pct).toBe(2);
  });

  it('reports malformed YAML with its position', () => {
    expect(errorsOf('name: x\nsource:\n  columns: [a, b\n')).toEqual([
      'pipelines/x.yaml:4:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    const lines = errorsOf('name: x\nname: y\n');
    expect(lines).toEqual(['pipelines/x.yaml:2:1 YAML syntax error: Map keys must be unique']);
  });

  it('reports an unknown key at the key, with the allowed keys', () => {
    const text = MINIMAL + 'gates:\n  min_improvment_pct: 2\n';
    expect(errorsOf(text)).toEqual([
      'pipelines/x.yaml:11:3 gates.min_improvment_pct: unknown key "min_improvment_pct" (allowed: metric, min_improvement_pct, max_nan_predictions, max_training_minutes, must_beat_baseline_pct, cooldown_days, max_rmse, min_r2)',
    ]);
  });

  it('reports a wrong type with the value found', () => {
    expect(errorsOf(MINIMAL + 'gates:\n  min_improvement_pct: two\n')).toEqual([
      'pipelines/x.yaml:11:24 gates.min_improvement_pct: expected a number >= 0, got "two"',
    ]);
    expect(errorsOf(MINIMAL + 'gates:\n  cooldown_days: [1]\n')).toEqual([
      'pipelines/x.yaml:11:18 gates.cooldown_days: expected a number >= 0 or null, got a list',
    ]);
    expect(errorsOf(MINIMAL + 'features:\n  zscore: yes\n')).toEqual(['pipelines/x.yaml:11:11 features.zscore: expected true or false, got "yes"']);
    expect(errorsOf(MINIMAL.replace('columns: [tank_level_m, inflow_m3h]', 'columns: tank_level_m'))).toEqual([
      'pipelines/x.yaml:4:12 source.columns: expected a list, got "tank_level_m"',
    ]);
  });

  it('reports values out of range', () => {
    expect(errorsOf(MINIMAL + 'gates:\n  min_improvement_pct: -1\n')).toEqual([
      'pipelines/x.yaml:11:24 gates.min_improvement_pct: expected a number >= 0, got -1',
    ]);
    expect(errorsOf(MINIMAL.replace('algorithm: gbdt', 'algorithm: gbdt\n  params: { trees: 0, max_depth: 2.5 }'))).toEqual([
      'pipelines/x.yaml:10:20 trainer.params.trees: expected an integer >= 1, got 0',
      'pipelines/x.yaml:10:34 trainer.params.max_depth: expected an integer >= 1 and <= 16, got 2.5',
    ]);
    expect(errorsOf(MINIMAL + 'quality:\n  ranges: { tank_level_m: [0, 1, 2] }\n')).toEqual([
      'pipelines/x.yaml:11:27 quality.ranges.tank_level_m: expected a list of exactly 2 values, got 3 items',
    ]);
  });

  it('reports a missing required field at the mapping that should hold it', () => {
    expect(errorsOf(MINIMAL.replace('  column: tank_level_m\n', ''))).toEqual(['pipelines/x.yaml:6:3 target.column: required field is missing']);
    expect(errorsOf('name: x\n')).toEqual([
      'pipelines/x.yaml:1:1 source: required field is missing',
      'pipelines/x.yaml:1:1 target: required field is missing',
      'pipelines/x.yaml:1:1 trainer: required field is missing',
    ]);
  });

  it('reports a bad enum value with the allowed values', () => {
    expect(errorsOf(MINIMAL + 'baseline: lstm\n')).toEqual(['pipelines/x.yaml:10:11 baseline: expected one of persistence, seasonal_naive, mean, got "lstm"']);
    expect(errorsOf(MINIMAL + 'baseline: { kind: naive }\n')).toEqual([
      'pipelines/x.yaml:10:19 baseline.kind: expected one of persistence, seasonal_naive, mean, got "naive"',
    ]);
    expect(errorsOf(MINIMAL.replace('algorithm: gbdt', 'algorithm: xgboost'))).toEqual([
      'pipelines/x.yaml:9:14 trainer.algorithm: expected one of ridge, gbdt, logistic, command, got "xgboost"',
    ]);
    expect(errorsOf(MINIMAL + 'features:\n  calendar: [hour_of_day, month]\n')).toEqual([
      'pipelines/x.yaml:11:27 features.calendar[1]: expected one of hour_of_day, day_of_week, got "month"',
    ]);
  });

  it('reports a regex failure with the schema message', () => {
    expect(errorsOf(MINIMAL.replace('name: x', 'name: Tank_Level'))).toEqual([
      'pipelines/x.yaml:1:7 name: expected a name of lowercase letters, digits and dashes ([a-z0-9-]+), got "Tank_Level"',
    ]);
    expect(errorsOf(MINIMAL + 'quality:\n  ranges: { tank-level: [0, 1] }\n')).toEqual([
      'pipelines/x.yaml:11:13 quality.ranges.tank-level: invalid key "tank-level": expected a column or table name ([A-Za-z_][A-Za-z0-9_]*)',
    ]);
  });

  it('reports every problem of a file, sorted by line', () => {
    const text = MINIMAL.replace('horizon_minutes: 60', 'horizon_minutes: -5').replace('name: x', 'name: X') + 'extra: 1\n';
    expect(errorsOf(text)).toEqual([
      'pipelines/x.yaml:1:7 name: expected a name of lowercase letters, digits and dashes ([a-z0-9-]+), got "X"',
      'pipelines/x.yaml:7:20 target.horizon_minutes: expected an integer >= 0, got -5',
      'pipelines/x.yaml:10:1 extra: unknown key "extra" (allowed: name, description, task, source, quality, target, features, split, trainer, baseline, gates, reference_set, promotion, drift, health, sweep, schedule)',
    ]);
    try {
      loadPipelineFile(F, text);
    } catch (e) {
      const err = e as PipelineConfigError;
      expect(err.message.split('\n')).toHaveLength(3);
      expect(err.issues[1]).toEqual({ file: F, line: 7, col: 20, path: 'target.horizon_minutes', message: 'expected an integer >= 0, got -5' });
    }
  });

  it('rejects an empty file and a document that is not a mapping', () => {
    expect(errorsOf('')).toEqual(['pipelines/x.yaml:1:1 the file is empty: expected a mapping with name, source, target, trainer, ...']);
    expect(errorsOf('# only a comment\n')).toEqual(['pipelines/x.yaml:1:1 the file is empty: expected a mapping with name, source, target, trainer, ...']);
    expect(errorsOf('- name: x\n')).toEqual(['pipelines/x.yaml:1:1 expected a mapping with name, source, target, trainer, ..., got a list']);
    expect(errorsOf('hello\n')).toEqual(['pipelines/x.yaml:1:1 expected a mapping with name, source, target, trainer, ..., got "hello"']);
  });

  it('checks across fields without a database', () => {
    const text =
      MINIMAL.replace('column: tank_level_m', 'column: outflow_m3h') +
      'features:\n  columns: [inflow_m3h, head_m]\n  lags: [1, 50000]\nquality:\n  ranges: { pump_speed_rpm: [0, 3600], tank_level_m: [12, 0] }\n';
    expect(errorsOf(text)).toEqual([
      'pipelines/x.yaml:6:11 target.column: column "outflow_m3h" is not in source.columns or source.derive (available: tank_level_m, inflow_m3h)',
      'pipelines/x.yaml:11:25 features.columns[1]: column "head_m" is not in source.columns or source.derive (available: tank_level_m, inflow_m3h)',
      'pipelines/x.yaml:12:13 features.lags[1]: lag of 50000 steps of 1 min = 50000 minutes (plus the 60-minute horizon) does not fit in the data window (source.window_days: 30, 43200 minutes)',
      'pipelines/x.yaml:14:13 quality.ranges.pump_speed_rpm: column "pump_speed_rpm" is not in source.columns or source.derive (available: tank_level_m, inflow_m3h)',
      'pipelines/x.yaml:14:54 quality.ranges.tank_level_m: expected [min, max] with min <= max, got [12, 0]',
    ]);
  });

  it('refuses the target as a feature when the horizon is 0', () => {
    const text = MINIMAL.replace('horizon_minutes: 60', 'horizon_minutes: 0') + 'features:\n  columns: [inflow_m3h, tank_level_m]\n';
    expect(errorsOf(text)).toEqual([
      'pipelines/x.yaml:11:25 features.columns[1]: "tank_level_m" is the target with horizon 0: as a feature it would leak the answer',
    ]);
  });
});

describe('the demo pipelines', () => {
  it('load cleanly, sorted by file name', () => {
    const all = loadPipelines('pipelines');
    expect(all.map((p) => p.file)).toEqual(['pipelines/credit-default.yaml', 'pipelines/pump-efficiency.yaml', 'pipelines/tank-level-forecast.yaml']);
    const [credit, pump, tank] = all.map((p) => p.config);
    if (tank.task !== 'regression' || pump.task !== 'regression' || credit.task !== 'classification') throw new Error('unexpected tasks');
    expect(credit).toMatchObject({ name: 'credit-default', target: { decision_threshold: 0.3 }, labels: { table: 'loan_outcomes', time_column: 'known_at' } });
    expect(credit.source).toMatchObject({ key_column: 'application_id', categorical: ['region'] });

    expect(tank.name).toBe('tank-level-forecast');
    expect(tank.target).toEqual({ column: 'tank_level_m', horizon_minutes: 60, valid_range: [0, 12] });
    expect(tank.source.columns).toEqual(['tank_level_m', 'inflow_m3h', 'outflow_m3h', 'pump_speed_rpm', 'pump_power_kw']);
    expect(tank.features.lags).toEqual([1, 5, 15, 60]);
    expect(tank.features.rolling).toEqual({ windows: [15, 60], stats: ['mean', 'std'] });
    expect(tank.features.zscore).toBe(false);
    expect(tank.trainer).toMatchObject({ algorithm: 'gbdt', params: { trees: 200, max_depth: 6, learning_rate: 0.05 } });
    expect(tank.baseline.kind).toBe('persistence');
    expect(tank.quality).toMatchObject({ min_rows: 36000, min_days: 25, max_gap_minutes: 30 });
    expect(tank.quality.ranges).toEqual({ tank_level_m: [0, 12], pump_speed_rpm: [0, 3600], inflow_m3h: [0, 2000], outflow_m3h: [0, 2000] });

    expect(pump.name).toBe('pump-efficiency');
    expect(pump.target).toEqual({ column: 'efficiency', horizon_minutes: 0, valid_range: [0, 1] });
    expect(Object.keys(pump.source.derive)).toEqual(['head_m', 'efficiency']);
    expect(pump.features.columns).toEqual(['inflow_m3h', 'pump_speed_rpm', 'head_m']);
    expect(featureColumns(pump)).not.toContain('pump_power_kw');
    expect(pump.baseline.kind).toBe('mean');
  });

  it('pass the database checks against the demo table', async () => {
    const db = await demoTableDb();
    try {
      const { pipelines, errors } = await validatePipelines('pipelines', { checkSource: (s) => checkSource(db, s) });
      expect(errors.map(formatIssue)).toEqual([]);
      expect(pipelines).toHaveLength(3);
    } finally {
      await db.close();
    }
  });
});

const DEMO_COLUMNS = [
  'ts',
  'station_id',
  'tank_level_m',
  'inflow_m3h',
  'outflow_m3h',
  'pump_speed_rpm',
  'pump_power_kw',
  'suction_pressure_bar',
  'discharge_pressure_bar',
  'pump_on',
  'sensor_fault',
];

function dirWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'pipelines-'));
  mkdirSync(join(root, 'pipelines'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'pipelines', name), text);
  return join(root, 'pipelines');
}

describe('selectPipelines', () => {
  const all = loadPipelines('pipelines');
  it('keeps every pipeline, or the one named', () => {
    expect(selectPipelines(all, undefined, 'pipelines').map((p) => p.config.name)).toEqual(['credit-default', 'pump-efficiency', 'tank-level-forecast']);
    expect(selectPipelines(all, 'pump-efficiency', 'pipelines').map((p) => p.file)).toEqual([join('pipelines', 'pump-efficiency.yaml')]);
  });
  it('refuses an unknown name, listing the ones there are, and an empty directory, as a usage error', () => {
    expect(() => selectPipelines(all, 'pump', 'pipelines')).toThrow(
      'no pipeline named "pump" in pipelines/ (have: credit-default, pump-efficiency, tank-level-forecast)',
    );
    const err = (() => {
      try {
        selectPipelines([], undefined, 'elsewhere');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnknownPipelineError);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('no pipeline files (*.yaml) in elsewhere/: is that the pipelines directory?');
  });
});

describe('validatePipelines', () => {
  it('reports duplicate names across files and the problems of every file', async () => {
    const dir = dirWith({ 'a.yaml': MINIMAL, 'b.yaml': MINIMAL, 'c.yaml': MINIMAL.replace('name: x', 'name: c') + 'split: { holdout_fraction: 1 }\n' });
    const { pipelines, errors } = await validatePipelines(dir);
    expect(errors.map(formatIssue)).toEqual([
      `${dir}/b.yaml:1:7 name: duplicate pipeline name "x" (also in ${dir}/a.yaml)`,
      `${dir}/c.yaml:10:28 split.holdout_fraction: expected a number < 1, got 1`,
    ]);
    expect(pipelines.map((p) => p.file)).toEqual([`${dir}/a.yaml`]);
    expect(() => loadPipelines(dir)).toThrow(PipelineConfigError);
  });

  it('names the file relative to the working directory as given', async () => {
    const { missing } = await databases();
    const { errors } = await validatePipelines('test/../pipelines', { checkSource: (s) => checkSource(missing, s) });
    expect(errors.map(formatIssue)).toEqual([
      'pipelines/credit-default.yaml:12:10 source.table: table "loan_applications" does not exist',
      'pipelines/pump-efficiency.yaml:8:10 source.table: table "readings_wide" does not exist',
      'pipelines/tank-level-forecast.yaml:14:10 source.table: table "readings_wide" does not exist',
    ]);
  });

  it('checks columns against the source table', async () => {
    const text = MINIMAL.replace('columns: [tank_level_m, inflow_m3h]', 'columns: [tank_level_m, inflow_m3h, foo]') + 'quality:\n  ranges: { bar: [0, 1] }\n';
    const dir = dirWith({ 'x.yaml': text.replace('source:\n', 'source:\n  derive: { bar: suction_pressure_bar * 2 }\n') });
    const db = await demoTableDb();
    const { errors } = await validatePipelines(dir, { checkSource: (s) => checkSource(db, s) }).finally(() => db.close());
    expect(errors.map(formatIssue)).toEqual([
      `${dir}/x.yaml:3:18 source.derive.bar: expression uses column "suction_pressure_bar", which is not in source.columns; add it there`,
      `${dir}/x.yaml:5:39 source.columns[2]: column "foo" does not exist in table readings_wide (has: ${DEMO_COLUMNS.join(', ')})`,
    ]);
  });

  it("runs exactly the retrain's checks on derive expressions: what validate accepts, the extract accepts", async () => {
    const derive = (d: string) => MINIMAL.replace('source:\n', `source:\n  derive: ${d}\n`);
    const dir = dirWith({
      'files.yaml': derive(`{ leak: "length(pg_catalog.pg_read_file('/etc/hostname'))" }`),
      'quoted.yaml': derive(`{ leak: 'length("pg_read_file"(''/etc/hostname''))' }`).replace('name: x', 'name: q'),
      'typo.yaml': derive('{ head: (discharge_pressure_bar - suction_presure_bar) * 10 }')
        .replace('name: x', 'name: t')
        .replace('columns: [tank_level_m, inflow_m3h]', 'columns: [tank_level_m, inflow_m3h, discharge_pressure_bar, suction_pressure_bar]'),
      'escape.yaml': derive("{ x: '1) FROM pg_authid UNION SELECT (1' }").replace('name: x', 'name: e'),
    });
    const db = await demoTableDb();
    try {
      const { errors } = await validatePipelines(dir, { checkSource: (s) => checkSource(db, s) });
      expect(errors.map(formatIssue)).toEqual([
        `${dir}/escape.yaml:3:16 source.derive.x: unbalanced ")" in derive expression`,
        `${dir}/files.yaml:3:19 source.derive.leak: calls pg_read_file(), which reads files on the database server; a derive expression may only compute on the row's columns`,
        `${dir}/quoted.yaml:3:19 source.derive.leak: calls pg_read_file(), which reads files on the database server; a derive expression may only compute on the row's columns`,
        expect.stringMatching(new RegExp(`^${dir}/typo\\.yaml:3:19 source\\.derive\\.head: column "suction_presure_bar" does not exist`)),
      ]);
      // Without a database, the same screen still runs.
      const offline = await validatePipelines(dir, { checkSource: (s) => sourceIssues(null, s) });
      expect(offline.errors.map(formatIssue)).toEqual(errors.map(formatIssue).slice(0, 3));
      // And the retrain's extract refuses each with the same words, since it is the same function.
      for (const file of ['files', 'typo']) {
        const config = loadPipelineFile(`${dir}/${file}.yaml`);
        const issues = await checkSource(db, config.source);
        await expect(extractFrame(db, config.source, new Date('2026-10-01T00:00:00Z'))).rejects.toThrow(formatSourceIssues(issues));
      }
    } finally {
      await db.close();
    }
  });

  it('reports a missing time column and a missing table column in one pass with schema problems elsewhere', async () => {
    const dir = dirWith({
      'x.yaml': MINIMAL.replace('table: readings_wide', 'table: readings_wide\n  time_column: time'),
      'y.yaml': MINIMAL.replace('name: x', 'name: y').replace('algorithm: gbdt', 'algorithm: 7'),
    });
    const db = await demoTableDb();
    const { errors } = await validatePipelines(dir, { checkSource: (s) => checkSource(db, s) }).finally(() => db.close());
    expect(errors.map(formatIssue)).toEqual([
      `${dir}/x.yaml:4:16 source.time_column: column "time" does not exist in table readings_wide (has: ${DEMO_COLUMNS.join(', ')})`,
      `${dir}/y.yaml:9:14 trainer.algorithm: expected one of ridge, gbdt, logistic, command, got 7`,
    ]);
  });
});

const CLASSIFICATION = `name: credit
task: classification
source:
  table: applications
  time_column: applied_at
  key_column: application_id
  window_days: 120
  columns: [income, debt_ratio]
  categorical: [region]
labels:
  table: outcomes
  key_column: application_id
  label_column: defaulted
  time_column: known_at
trainer:
  algorithm: logistic
`;

describe('classification pipelines', () => {
  it('load with the classification defaults: gates, cooldown, event-data quality, prior baseline', () => {
    const p = loadPipelineFile(F, CLASSIFICATION);
    if (p.task !== 'classification') throw new Error('expected a classification pipeline');
    expect(p.gates).toEqual({
      metric: 'f1',
      min_improvement_pct: 2,
      max_brier_increase: 0.01,
      max_recall_drop: 0.02,
      min_auc: 0.72,
      min_labelled_holdout: 200,
      min_label_coverage: 0.3,
      max_nan_predictions: 0,
      max_training_minutes: 30,
      must_beat_baseline_pct: 0,
      cooldown_days: 7,
    });
    expect(p.target).toEqual({ decision_threshold: 0.5 });
    expect(p.baseline).toEqual({ kind: 'prior' });
    expect(p.labels.positive).toBeNull();
    expect(p.quality).toMatchObject({ min_completeness: null, max_duplicate_timestamps: null, max_gap_minutes: 1440, max_staleness_minutes: 1440 });
    expect(p.trainer).toEqual({ algorithm: 'logistic', params: { C: 1, class_weight: 'none', max_iter: 100, tol: 1e-8 } });
    expect(featureColumns(p)).toEqual(['income', 'debt_ratio']);
    expect(categoricalFeatureColumns(p)).toEqual(['region']);
    // A regression pipeline keeps its own defaults.
    const r = loadPipelineFile(F, MINIMAL);
    expect(r.task).toBe('regression');
    expect(r.quality).toMatchObject({ min_completeness: 0.95, max_duplicate_timestamps: 0 });
  });

  it('report what a classification pipeline is missing or gets wrong, at its line', () => {
    expect(errorsOf(CLASSIFICATION.replace(/labels:\n(  .*\n){4}/, ''))).toEqual(['pipelines/x.yaml:1:1 labels: required field is missing']);
    expect(errorsOf(CLASSIFICATION.replace('task: classification', 'task: ranking'))).toEqual([
      'pipelines/x.yaml:2:7 task: expected one of regression, classification, got "ranking"',
    ]);
    expect(errorsOf(CLASSIFICATION + 'gates:\n  min_auc: 1.5\n  max_rmse: 3\n')).toEqual([
      'pipelines/x.yaml:18:12 gates.min_auc: expected a number <= 1, got 1.5',
      'pipelines/x.yaml:19:3 gates.max_rmse: unknown key "max_rmse" (allowed: metric, min_improvement_pct, max_brier_increase, max_recall_drop, min_auc, min_labelled_holdout, min_label_coverage, max_nan_predictions, max_training_minutes, must_beat_baseline_pct, cooldown_days)',
    ]);
    const text = CLASSIFICATION.replace('  key_column: application_id\n  window_days', '  window_days')
      .replace('label_column: defaulted', 'label_column: income')
      .replace('algorithm: logistic', 'algorithm: ridge');
    expect(errorsOf(text)).toEqual([
      'pipelines/x.yaml:4:3 source.key_column: a classification pipeline needs source.key_column: the column its labels (labels.key_column) join on',
      'pipelines/x.yaml:12:17 labels.label_column: "income" is also a source column: the label is read from the labels table alone; rename one of them (a derive alias works)',
      'pipelines/x.yaml:15:14 trainer.algorithm: ridge is a regression trainer; a classification pipeline uses logistic (its counterpart), gbdt or command',
    ]);
    expect(errorsOf(MINIMAL.replace('algorithm: gbdt', 'algorithm: gbdt\n  params: { class_weight: balanced }'))).toEqual([
      'pipelines/x.yaml:10:27 trainer.params.class_weight: class_weight weighs classes: it applies to classification pipelines only',
    ]);
    expect(errorsOf(MINIMAL.replace('algorithm: gbdt', 'algorithm: logistic'))).toEqual([
      'pipelines/x.yaml:9:14 trainer.algorithm: logistic is a classification trainer; a regression pipeline uses ridge, gbdt or command',
    ]);
    expect(errorsOf(CLASSIFICATION.replace('categorical: [region]', 'categorical: [region, income]') + 'quality:\n  ranges: { region: [0, 1] }\n')).toEqual([
      'pipelines/x.yaml:9:25 source.categorical[1]: column "income" is listed twice (source.columns and source.categorical are read differently: numbers and text)',
      'pipelines/x.yaml:18:13 quality.ranges.region: "region" is categorical (source.categorical): it has no numeric range',
    ]);
  });

  it('checks the reference set of double evaluation: a time range or an earlier run', () => {
    const ref = (yaml: string) => CLASSIFICATION + `reference_set:\n${yaml}`;
    expect(loadPipelineFile(F, ref('  from_run: 20261111T0200-abc\n')).reference_set).toEqual({ from_run: '20261111T0200-abc', tolerance_pct: 2 });
    expect(loadPipelineFile(F, ref('  start: 2026-06-01\n  end: 2026-07-01T00:00:00Z\n  tolerance_pct: 1\n')).reference_set).toMatchObject({
      start: '2026-06-01',
      tolerance_pct: 1,
    });
    expect(errorsOf(ref('  start: 2026-06-01\n  from_run: x\n'))).toEqual([
      'pipelines/x.yaml:19:13 reference_set.from_run: give either a time range (start, end) or from_run, not both',
    ]);
    expect(errorsOf(ref('  start: 2026-06-01\n'))).toEqual(['pipelines/x.yaml:18:3 reference_set.end: a reference time range needs both start and end']);
    expect(errorsOf(ref('  start: 2026-06-01\n  end: 2026-05-01\n'))).toEqual([
      'pipelines/x.yaml:19:8 reference_set.end: expected the end after the start (2026-06-01)',
    ]);
    expect(errorsOf(ref('  tolerance_pct: 1\n'))).toEqual([
      'pipelines/x.yaml:18:3 reference_set: expected a time range (start and end) or from_run (a run whose holdout to reuse)',
    ]);
  });
});
