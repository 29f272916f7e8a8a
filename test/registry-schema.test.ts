import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registryJsonSchemaText } from '../actions/lib/registry/json-schema.ts';
import { classifierMetrics } from './helpers/onnx-models.ts';
import {
  emptyRegistry,
  parseRegistry,
  serializeRegistry,
  type ClassificationEntry,
  type RegressionEntry,
  type Registry,
  type RegistryEntry,
} from '../actions/lib/registry/schema.ts';

const SHA = 'a'.repeat(64);

function entry(model: string, version = 3): RegistryEntry {
  const metrics = { rmse: 0.12, mae: 0.09, r2: 0.97, bias: -0.01, max_abs_error: 0.8, nan_predictions: 0, rows: 8640 };
  return {
    version,
    run_id: '20240505T020000Z-abc123',
    pipeline: `pipelines/${model}.yaml`,
    artifact: { path: `registry/models/${model}/${version}/model.onnx`, sha256: SHA, bytes: 123456 },
    metrics,
    baseline: { kind: 'persistence', metrics: { ...metrics, rmse: 0.3 } },
    data: { start: '2024-04-05T00:00:00Z', end: '2024-05-05T00:00:00Z', rows: 43200, fingerprint: `sha256:${'b'.repeat(64)}` },
    holdout: { start: '2024-04-29T00:00:00Z', end: '2024-05-05T00:00:00Z', rows: 8640 },
    features: { names: ['tank_level_m', 'tank_level_m_lag_1'], spec: { lags: [1] } },
    trainer: { algorithm: 'gbdt', params: { trees: 200 } },
    code_sha: 'c'.repeat(40),
    workflow_run_url: 'https://github.com/acme/plant/actions/runs/1',
    promoted_at: '2024-05-05T02:30:00Z',
    pull_request: { number: 42, url: 'https://github.com/acme/plant/pull/42' },
    previous_version: version > 1 ? version - 1 : null,
  };
}

function registryText(models: Record<string, unknown>): string {
  return JSON.stringify({ $schema: './production.schema.json', models }, null, 2);
}

/** The error message parseRegistry throws for `models`, without the line:column of each problem. */
function problems(models: Record<string, unknown>): string[] {
  try {
    parseRegistry(registryText(models));
  } catch (e) {
    return (e as Error).message.split('\n').map((line) => line.replace(/^(registry\/production\.json):\d+:\d+ /, '$1: '));
  }
  throw new Error('expected the registry to be rejected');
}

describe('registry/production.json', () => {
  it('round-trips a valid registry, sorting models by name', () => {
    const reg: Registry = {
      $schema: './production.schema.json',
      models: { 'tank-level-forecast': entry('tank-level-forecast'), 'pump-efficiency': entry('pump-efficiency', 1) },
    };
    const text = serializeRegistry(reg);
    expect(Object.keys(JSON.parse(text).models)).toEqual(['pump-efficiency', 'tank-level-forecast']);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "models": {\n    "pump-efficiency": {\n      "version": 1,');
    expect(parseRegistry(text)).toEqual(reg);
    expect(serializeRegistry(parseRegistry(text))).toBe(text);
  });

  it('the committed file is the empty registry in canonical form', () => {
    const text = readFileSync('registry/production.json', 'utf8');
    expect(parseRegistry(text)).toBeDefined();
    expect(text).toBe(serializeRegistry(parseRegistry(text)));
    expect(serializeRegistry(emptyRegistry())).toBe('{\n  "$schema": "./production.schema.json",\n  "models": {}\n}\n');
  });

  it('rejects a bad sha256', () => {
    const e = entry('tank-level-forecast');
    e.artifact.sha256 = 'abc';
    expect(problems({ 'tank-level-forecast': e })).toEqual([
      'registry/production.json: models.tank-level-forecast.artifact.sha256: expected 64 hex characters',
    ]);
  });

  it('rejects artifact paths that escape or do not match the model and version', () => {
    const up = entry('tank-level-forecast');
    up.artifact.path = 'registry/models/../../etc/1/model.onnx';
    expect(problems({ 'tank-level-forecast': up })).toEqual([
      'registry/production.json: models.tank-level-forecast.artifact.path: expected a path without ".."',
    ]);
    const abs = entry('tank-level-forecast');
    abs.artifact.path = '/registry/models/tank-level-forecast/3/model.onnx';
    expect(problems({ 'tank-level-forecast': abs })).toEqual([
      'registry/production.json: models.tank-level-forecast.artifact.path: expected a path relative to the repository root',
    ]);
    const other = entry('tank-level-forecast');
    other.artifact.path = 'registry/models/tank-level-forecast/2/model.onnx';
    expect(problems({ 'tank-level-forecast': other })).toEqual([
      'registry/production.json: models.tank-level-forecast.artifact.path: expected "registry/models/tank-level-forecast/3/model.onnx", got "registry/models/tank-level-forecast/2/model.onnx"',
    ]);
  });

  it('rejects bad model names, missing fields, unknown keys and wrong types', () => {
    expect(problems({ Tank_Level: entry('Tank_Level') })).toEqual([
      'registry/production.json: models.Tank_Level: invalid model name: expected a name of lowercase letters, digits and dashes ([a-z0-9-]+)',
    ]);
    const { run_id: _, ...noRun } = entry('tank-level-forecast');
    expect(problems({ 'tank-level-forecast': noRun })).toEqual(['registry/production.json: models.tank-level-forecast.run_id: required field is missing']);
    expect(problems({ 'tank-level-forecast': { ...entry('tank-level-forecast'), extra: 1 } })).toEqual([
      'registry/production.json: models.tank-level-forecast.extra: unknown key',
    ]);
    expect(problems({ 'tank-level-forecast': { ...entry('tank-level-forecast'), version: '3' } })).toEqual([
      'registry/production.json: models.tank-level-forecast.version: expected a number, got "3"',
    ]);
    expect(problems({ 'tank-level-forecast': { ...entry('tank-level-forecast'), version: 0 } })).toEqual([
      'registry/production.json: models.tank-level-forecast.version: expected a number >= 1, got 0',
    ]);
    expect(problems({ 'tank-level-forecast': { ...entry('tank-level-forecast'), promoted_at: 'yesterday' } })).toEqual([
      'registry/production.json: models.tank-level-forecast.promoted_at: expected an ISO 8601 date-time such as 2024-05-01T00:00:00Z',
    ]);
    const badFingerprint = entry('tank-level-forecast');
    badFingerprint.data.fingerprint = 'b'.repeat(64);
    expect(problems({ 'tank-level-forecast': badFingerprint })).toEqual([
      'registry/production.json: models.tank-level-forecast.data.fingerprint: expected "sha256:" and 64 hex characters',
    ]);
  });

  it('reports several problems, one per line', () => {
    const e = entry('tank-level-forecast') as RegressionEntry;
    e.artifact.sha256 = 'XYZ';
    e.metrics.rmse = -1;
    expect(problems({ 'tank-level-forecast': e })).toEqual([
      'registry/production.json: models.tank-level-forecast.artifact.sha256: expected 64 hex characters',
      'registry/production.json: models.tank-level-forecast.metrics.rmse: expected a number >= 0, got -1',
    ]);
  });

  it('rejects unsorted models and invalid JSON, naming the file', () => {
    expect(problems({ 'tank-level-forecast': entry('tank-level-forecast'), 'pump-efficiency': entry('pump-efficiency') })).toEqual([
      'registry/production.json: models: expected models sorted by name ("pump-efficiency" comes before "tank-level-forecast"); write the file with serializeRegistry',
    ]);
    expect(() => parseRegistry('{ "models": ', 'x/production.json')).toThrow(/^x\/production\.json:1:\d+: not valid JSON: /);
    // Broken or invalid, the message says where in the file: line and column.
    expect(() => parseRegistry('{\n  "models": {\n    "a": 1,\n  }\n}\n')).toThrow(/^registry\/production\.json:4:3: not valid JSON: /);
    const bad = registryText({ 'tank-level-forecast': { ...entry('tank-level-forecast'), version: 'three' } });
    const line = bad.split('\n').findIndex((l) => l.includes('"version": "three"')) + 1;
    expect(() => parseRegistry(bad)).toThrow(`registry/production.json:${line}:18 models.tank-level-forecast.version: expected a number, got "three"`);
  });
});

function classificationEntry(model: string, version = 2): ClassificationEntry {
  const base = entry(model, version);
  return {
    ...base,
    task: 'classification',
    decision_threshold: 0.3,
    ...classifierMetrics(),
    labels: { table: 'loan_outcomes', labelled_rows: 40_000, coverage: 0.92 },
    trainer: { algorithm: 'logistic', params: { C: 1 } },
  } as ClassificationEntry;
}

describe('classification entries', () => {
  it('sit beside regression entries (which keep no task key) and round-trip', () => {
    const reg: Registry = {
      $schema: './production.schema.json',
      models: { 'credit-default': classificationEntry('credit-default'), 'tank-level-forecast': entry('tank-level-forecast') },
    };
    const text = serializeRegistry(reg);
    expect(parseRegistry(text)).toEqual(reg);
    expect(text).toContain('"credit-default": {\n      "task": "classification",\n      "decision_threshold": 0.3,\n      "version": 2,');
    expect(text).toContain('"tank-level-forecast": {\n      "version": 3,');
    expect(JSON.parse(text).models['tank-level-forecast'].task).toBeUndefined();
  });

  it('must say their threshold and carry classification metrics', () => {
    const { decision_threshold: _, ...noThreshold } = classificationEntry('credit-default');
    expect(problems({ 'credit-default': noThreshold })).toEqual([
      'registry/production.json: models.credit-default.decision_threshold: required field is missing',
    ]);
    const wrong = classificationEntry('credit-default');
    (wrong.metrics as unknown as Record<string, unknown>).roc_auc = 1.5;
    expect(problems({ 'credit-default': wrong })).toEqual(['registry/production.json: models.credit-default.metrics.roc_auc: expected a number <= 1, got 1.5']);
    expect(problems({ 'credit-default': { ...entry('credit-default'), task: 'classification' } })[0]).toBe(
      'registry/production.json: models.credit-default.decision_threshold: required field is missing',
    );
    expect(problems({ x: { ...entry('x'), task: 'ranking' } })).toEqual([
      'registry/production.json: models.x.task: expected one of regression, classification (absent: regression), got "ranking"',
    ]);
  });
});

describe('registry/production.schema.json', () => {
  it('is up to date with the zod schema', () => {
    const committed = readFileSync('registry/production.schema.json', 'utf8');
    const fresh = registryJsonSchemaText();
    expect(
      committed === fresh,
      'registry/production.schema.json is stale: run `npm run mlops -- registry schema` or `tsx scripts/gen-registry-schema.ts` and commit the result',
    ).toBe(true);
  });

  it('describes the registry for editors', () => {
    const schema = JSON.parse(registryJsonSchemaText());
    expect(schema.required).toEqual(['models']);
    expect(schema.properties.models.propertyNames.pattern).toBe('^[a-z0-9-]+$');
    const [regression, classification] = schema.properties.models.additionalProperties.oneOf;
    expect(regression.required).toContain('artifact');
    expect(regression.required).not.toContain('task');
    expect(classification.properties.task.const).toBe('classification');
    expect(classification.required).toEqual(expect.arrayContaining(['task', 'decision_threshold', 'labels']));
  });
});
