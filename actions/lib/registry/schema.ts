import { z } from 'zod';
import { baselineKindSchema, nameSchema } from '../config/schema.ts';
import { parsePipelineSource } from '../config/document.ts';

/**
 * The format of registry/production.json: what runs in production, one entry per model.
 * One module owns it: parse and serialize here, nowhere else (STYLE: one module per protocol).
 */

export const REGISTRY_FILE = 'registry/production.json';
export const REGISTRY_SCHEMA_REF = './production.schema.json';

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `expected ${n} hex characters`);
const isoTime = z.iso.datetime({ offset: true, message: 'expected an ISO 8601 date-time such as 2024-05-01T00:00:00Z' });
const count = z.number().int().min(0);

/** Scores of one model on one holdout (what evaluate reports). */
export const metricsSchema = z
  .object({
    rmse: z.number().min(0),
    mae: z.number().min(0),
    r2: z.number(),
    bias: z.number(),
    max_abs_error: z.number().min(0),
    nan_predictions: count,
    rows: count,
  })
  .strict()
  .meta({ description: "Scores on the holdout rows: the champion's own holdout at promotion time." });

const unit = z.number().min(0).max(1);

/** Scores of a classification model on its labelled holdout rows (evaluate/metrics.ts, scikit-learn's definitions). */
export const classificationMetricsSchema = z
  .object({
    task: z.literal('classification'),
    rows: count,
    positives: count,
    positive_rate: unit,
    threshold: z.number().gt(0).lt(1),
    accuracy: unit,
    precision: unit,
    recall: unit,
    f1: unit,
    roc_auc: unit,
    pr_auc: unit,
    brier: unit,
    log_loss: z.number().min(0),
    tp: count,
    fp: count,
    tn: count,
    fn: count,
    nan_predictions: count,
  })
  .strict()
  .meta({ description: "Scores on the labelled holdout rows: the champion's own holdout at promotion time." });

export const artifactSchema = z
  .object({
    path: z
      .string()
      .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p) && !p.startsWith('\\'), 'expected a path relative to the repository root')
      .refine((p) => !p.split(/[\\/]/).includes('..'), 'expected a path without ".."')
      .meta({
        description: 'registry/models/<model>/<version>/model.onnx, relative to the repository root.',
        pattern: '^registry/models/[a-z0-9-]+/[1-9][0-9]*/model\\.onnx$',
      }),
    sha256: hex(64).meta({ description: 'sha256 of the ONNX file, lowercase hex.' }),
    bytes: z.number().int().gt(0),
  })
  .strict();

/** What every entry records, whatever the model's task. */
const entryFields = {
  version: z.number().int().min(1).meta({ description: 'Monotonic per model.' }),
  run_id: z.string().min(1),
  artifact: artifactSchema,
};
const entryLineage = {
  data: z
    .object({
      start: isoTime,
      end: isoTime,
      rows: count,
      fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" and 64 hex characters'),
    })
    .strict()
    .meta({ description: 'The window trained on and a fingerprint of the exact rows (lineage).' }),
  holdout: z.object({ start: isoTime, end: isoTime, rows: count }).strict(),
  features: z
    .object({
      names: z.array(z.string().min(1)).min(1),
      spec: z.record(z.string(), z.unknown()),
    })
    .strict(),
  trainer: z
    .object({
      algorithm: z.string().min(1),
      params: z.record(z.string(), z.unknown()),
    })
    .strict(),
  code_sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'expected a full git commit sha (40 hex characters)'),
  workflow_run_url: z.url({ protocol: /^https?$/ }).nullable(),
  promoted_at: isoTime.meta({
    description:
      "Written with the promotion branch, before any merge (the run's as-of): a fallback only. When the version was promoted is its merge, which every reader takes from git (the first-parent commit that brought the version in) or mlops.deployments.promoted_at (registry/promoted-at.ts).",
  }),
  pull_request: z
    .object({ number: z.number().int().min(1), url: z.url({ protocol: /^https?$/ }) })
    .strict()
    .nullable()
    .meta({ description: 'The promotion pull request, named on its branch once it is opened; null without a token (local mode).' }),
  previous_version: z.number().int().min(1).nullable(),
  // Last on purpose: a key that never changes closes each entry, so appending a model after the
  // last one and promoting that last one touch different lines and merge cleanly.
  pipeline: z.string().min(1).meta({ description: 'The pipeline definition, e.g. pipelines/<model>.yaml.' }),
};

/** A regression model: `task` absent (every entry written before classification existed) or "regression". */
export const regressionEntrySchema = z
  .object({
    task: z.literal('regression').optional(),
    ...entryFields,
    metrics: metricsSchema,
    baseline: z.object({ kind: baselineKindSchema, metrics: metricsSchema }).strict(),
    ...entryLineage,
  })
  .strict();

/**
 * A binary classification model: its ONNX outputs `label` (int64 [N], at decision_threshold) and
 * `probabilities` (float [N, 2], column 1 the positive class).
 */
export const classificationEntrySchema = z
  .object({
    task: z.literal('classification'),
    /** a row is predicted positive when its probability is >= this */
    decision_threshold: z.number().gt(0).lt(1),
    ...entryFields,
    metrics: classificationMetricsSchema,
    baseline: z.object({ kind: z.literal('prior'), metrics: classificationMetricsSchema }).strict(),
    labels: z
      .object({
        table: z.string().min(1),
        /** rows of the window with a label known at the run's as-of */
        labelled_rows: count,
        /** labelled_rows / data.rows */
        coverage: unit,
      })
      .strict()
      .meta({ description: "The labels trained and evaluated on: those known at the run's as-of." }),
    ...entryLineage,
  })
  .strict();

/** One model in production; `task` tells regression (absent) from classification. */
export const registryEntrySchema = z.discriminatedUnion('task', [regressionEntrySchema, classificationEntrySchema]);

export const registrySchema = z
  .object({
    $schema: z.string().default(REGISTRY_SCHEMA_REF),
    models: z.record(nameSchema, registryEntrySchema),
  })
  .strict()
  .superRefine((reg, ctx) => {
    for (const [name, entry] of Object.entries(reg.models)) {
      // zod runs this even when fields failed: only check entries that are otherwise valid.
      if (!registryEntrySchema.safeParse(entry).success) continue;
      const expected = artifactPath(name, entry.version);
      if (entry.artifact.path !== expected)
        ctx.addIssue({ code: 'custom', path: ['models', name, 'artifact', 'path'], message: `expected "${expected}", got "${entry.artifact.path}"` });
      if (entry.previous_version !== null && entry.previous_version === entry.version)
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'previous_version'],
          message: `expected a version other than ${entry.version} (the entry's own)`,
        });
      if (entry.data.start > entry.data.end)
        ctx.addIssue({ code: 'custom', path: ['models', name, 'data', 'end'], message: 'expected the end of the window after its start' });
      if (entry.holdout.start > entry.holdout.end)
        ctx.addIssue({ code: 'custom', path: ['models', name, 'holdout', 'end'], message: 'expected the end of the holdout after its start' });
      if (entry.holdout.rows > entry.data.rows)
        ctx.addIssue({ code: 'custom', path: ['models', name, 'holdout', 'rows'], message: `expected at most data.rows (${entry.data.rows})` });
    }
    const names = Object.keys(reg.models);
    for (let i = 1; i < names.length; i++) {
      if (names[i - 1] >= names[i])
        ctx.addIssue({
          code: 'custom',
          path: ['models'],
          message: `expected models sorted by name ("${names[i]}" comes before "${names[i - 1]}"); write the file with serializeRegistry`,
        });
    }
  })
  .meta({
    title: 'registry/production.json',
    description: 'What runs in production: one entry per model, sorted by name. Edited by promotion pull requests.',
  });

export type Registry = z.output<typeof registrySchema>;
export type RegistryEntry = z.output<typeof registryEntrySchema>;
export type RegistryMetrics = z.output<typeof metricsSchema>;
export type RegistryClassificationMetrics = z.output<typeof classificationMetricsSchema>;
export type RegressionEntry = z.output<typeof regressionEntrySchema>;
export type ClassificationEntry = z.output<typeof classificationEntrySchema>;

/** The two metrics a one-line summary of an entry shows: rmse and mae, or f1 and roc auc. */
export function headlineMetrics(entry: RegistryEntry): { name: string; value: number }[] {
  const m = entry.metrics;
  return 'rmse' in m
    ? [
        { name: 'rmse', value: m.rmse },
        { name: 'mae', value: m.mae },
      ]
    : [
        { name: 'f1', value: m.f1 },
        { name: 'roc_auc', value: m.roc_auc },
      ];
}

/** Where a model version's ONNX file lives, relative to the repository root. */
export function artifactPath(model: string, version: number): string {
  return `registry/models/${model}/${version}/model.onnx`;
}

export function emptyRegistry(): Registry {
  return { $schema: REGISTRY_SCHEMA_REF, models: {} };
}

/**
 * Parses and validates the registry file. Throws an Error naming the file, the JSON path and
 * the problem, one per line: `registry/production.json: models.x.artifact.sha256: expected 64 hex characters`.
 */
export function parseRegistry(text: string, file = REGISTRY_FILE): Registry {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message.replace(/ \(line \d+ column \d+\)$/, '');
    // V8 says "at position N", or nothing when the text ends too early.
    const at = /at position (\d+)/.exec(message);
    throw new Error(`${file}:${lineColumn(text, at ? Number(at[1]) : text.length)}: not valid JSON: ${message}`);
  }
  const parsed = registrySchema.safeParse(json);
  if (!parsed.success) {
    // Where each problem is in the file (JSON is YAML, so the pipelines' locator finds it).
    const source = parsePipelineSource(file, text);
    throw new Error(
      parsed.error.issues
        .flatMap((i) => {
          const where = (path: PropertyKey[], anchor: 'key' | 'value' = 'value') => {
            const at = source.issueAt(
              path.map((p) => (typeof p === 'number' ? p : String(p))),
              '',
              anchor,
            );
            return `${file}:${at.line}:${at.col}`;
          };
          if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${where([...i.path, k], 'key')} ${[...i.path.map(String), k].join('.')}: unknown key`);
          return describe(i, json).map((line) => `${where(i.path)} ${line}`);
        })
        .join('\n'),
    );
  }
  return parsed.data;
}

/** `line:column` (1-based) of a character offset in `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

/** The canonical text: `$schema` first, models sorted by name, 2-space indent, final newline. */
export function serializeRegistry(reg: Registry): string {
  const models: Record<string, RegistryEntry> = {};
  // Entries are re-emitted in the schema's key order, so every writer produces the same lines.
  for (const name of Object.keys(reg.models).sort()) models[name] = canonicalEntry(reg.models[name]);
  return `${JSON.stringify({ $schema: reg.$schema ?? REGISTRY_SCHEMA_REF, models }, null, 2)}\n`;
}

function canonicalEntry(entry: RegistryEntry): RegistryEntry {
  const parsed = registryEntrySchema.safeParse(entry);
  return parsed.success ? parsed.data : entry;
}

function describe(issue: z.core.$ZodIssue, json: unknown): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${[...issue.path.map(String), k].join('.')}: unknown key`);
  return [describeOne(issue, json)];
}

function describeOne(issue: z.core.$ZodIssue, json: unknown): string {
  const path = issue.path.map(String);
  let value: unknown = json;
  for (const seg of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[seg] : undefined;
  const where = path.length ? `${path.join('.')}: ` : '';
  const got = value === undefined ? '' : `, got ${JSON.stringify(value)}`;
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined ? `${where}required field is missing` : `${where}expected ${article(issue.expected)}${got}`;
    case 'invalid_key':
      return `${where}invalid model name: ${issue.issues[0]?.message ?? 'invalid key'}`;
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'array') return `${where}expected ${op} ${String(bound)} items`;
      if (issue.origin === 'string') return `${where}expected ${op} ${String(bound)} characters${got}`;
      return `${where}expected a number ${op} ${String(bound)}${got}`;
    }
    case 'invalid_value':
      return `${where}expected one of ${issue.values.map(String).join(', ')}${got}`;
    case 'invalid_union': {
      // an unknown task: the discriminator's values, the absent one (regression) left out
      const options = (issue as { options?: unknown[] }).options;
      if (options)
        return `${where}expected one of ${options
          .filter((o) => o !== undefined && o !== null)
          .map(String)
          .join(', ')} (absent: regression)${got}`;
      return `${where}${issue.message}`;
    }
    default:
      return `${where}${issue.message}`;
  }
}

function article(type: string): string {
  if (type === 'object' || type === 'record') return 'an object';
  if (type === 'array') return 'an array';
  if (type === 'int') return 'an integer';
  return `a ${type}`;
}
