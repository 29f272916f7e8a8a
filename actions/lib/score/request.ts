import { z } from 'zod';
import { calendarPhase } from '../features/build.ts';
import { isOneHotName, oneHotNames, oneHotValue } from '../features/categorical.ts';
import { applyZScore } from '../features/zscore.ts';
import { CALENDAR_NAMES, featureNames, type CalendarFeature, type FeatureSpec, type ZScoreStats } from '../features/spec.ts';

/**
 * Online requests (the model server): rows sent by an application, turned into the champion's
 * input matrix with its OWN recorded spec, as batch scoring (features.ts) does for source rows.
 *
 * A request row carries the model's inputs BEFORE the deterministic encodings the spec records:
 *  - every numeric input by its feature name (`income`, `tank_level_m_lag_5m`, `inflow_m3h_roll_15m_mean`):
 *    a number, or null for a missing reading (NaN, as in training). Lags and rolling statistics
 *    look back over the entity's history, which the application has and a single row has not, so
 *    it sends them computed as named;
 *  - every categorical column as its text (or null): one-hot encoded with the training vocabulary
 *    (categorical.ts; an unseen category is all zeros);
 *  - the row's time in the spec's time column (ISO 8601 or epoch ms): the calendar features are
 *    computed from it (required when the spec has calendar features; else the request's time);
 *  - optionally the entity (the spec's entity column) and the row key (the source's key column,
 *    or `row_key`), recorded with the prediction so that delayed labels join to it.
 * Then the z-score statistics recorded with the model standardise the matrix (zscore.ts).
 * Fields the model does not use are ignored.
 */

const MAX_ROWS = 10_000;
const TWO_PI = 2 * Math.PI;
const ROW_KEY = 'row_key';

/** How one model input is filled from a request row. */
type InputPlan = { kind: 'number'; field: string } | { kind: 'calendar'; calendar: CalendarFeature; fn: 'sin' | 'cos' } | { kind: 'one-hot' };

export interface RequestEncoder {
  /** the zod schema of a request body: `{ rows: [row, ...] }` */
  bodySchema: z.ZodType<{ rows: RequestRow[] }>;
  names: string[];
  /** the request fields a row must have (numeric inputs, categorical columns, and the time when calendar features need it) */
  fields: { numeric: string[]; categorical: string[]; time: string; timeRequired: boolean; entity: string | null; key: string | null };
  /** the model input [rows, names.length] of validated rows, and each row's time, entity and key */
  encode(rows: readonly RequestRow[], now: number): EncodedRows;
}

export type RequestRow = Record<string, unknown>;

export interface EncodedRows {
  rows: number;
  values: Float32Array;
  times: Float64Array;
  entities: string[];
  keys: (string | null)[];
}

const timeValue = z.union([z.number().finite(), z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO 8601 time' })], {
  message: 'expected an ISO 8601 time or epoch milliseconds',
});

const toMs = (v: unknown): number => (typeof v === 'number' ? v : Date.parse(v as string));

/**
 * The encoder of a model's requests from its recorded spec and z-score stats. `expectedNames`
 * (the registry entry's features.names, the ONNX input order) must equal the spec's names.
 * `keyColumn`: the source's key column, when the pipeline has one (accepted besides `row_key`).
 */
export function requestEncoder(
  spec: FeatureSpec,
  stats: ZScoreStats | null,
  expectedNames: readonly string[],
  keyColumn: string | null = null,
): RequestEncoder {
  const names = featureNames(spec);
  if (names.length !== expectedNames.length || names.some((n, i) => n !== expectedNames[i]))
    throw new Error(`the features rebuilt from the model's spec (${names.join(', ')}) differ from its recorded names (${expectedNames.join(', ')})`);
  if (spec.zscore && !stats) throw new Error("the model's spec standardises features (zscore) but its entry records no zscore_stats");
  const calendarOf = new Map<string, { calendar: CalendarFeature; fn: 'sin' | 'cos' }>();
  for (const [calendar, [sin, cos]] of Object.entries(CALENDAR_NAMES) as [CalendarFeature, readonly [string, string]][]) {
    calendarOf.set(sin, { calendar, fn: 'sin' });
    calendarOf.set(cos, { calendar, fn: 'cos' });
  }
  const categoricalColumns = (spec.categorical ?? []).map((e) => e.column);
  const plan: InputPlan[] = names.map((name) => {
    const cal = calendarOf.get(name);
    if (cal) return { kind: 'calendar', ...cal };
    if (isOneHotName(name)) return { kind: 'one-hot' }; // filled by its column's group below
    return { kind: 'number', field: name };
  });
  // Each categorical column's inputs are contiguous (featureNames): filled at once by oneHotValue.
  const oneHot = (spec.categorical ?? [])
    .map((e) => ({ field: e.column, categories: e.categories ?? [], offset: names.indexOf(oneHotNames(e)[0] ?? '') }))
    .filter((g) => g.categories.length > 0);
  const numeric = plan.filter((p): p is Extract<InputPlan, { kind: 'number' }> => p.kind === 'number').map((p) => p.field);
  const timeRequired = spec.calendar.length > 0;
  const entity = spec.entity_column;
  const key = keyColumn && keyColumn !== spec.time_column && keyColumn !== entity && !numeric.includes(keyColumn) ? keyColumn : null;

  const shape: Record<string, z.ZodType> = {};
  for (const f of numeric)
    shape[f] = z
      .number({ error: (i) => (i.input === undefined ? 'missing model input (a number, or null when not measured)' : 'expected a number or null') })
      .nullable();
  for (const c of categoricalColumns)
    shape[c] = z.string({ error: (i) => (i.input === undefined ? 'missing categorical input (its text, or null)' : 'expected a string or null') }).nullable();
  shape[spec.time_column] = timeRequired ? timeValue : timeValue.optional();
  if (entity) shape[entity] = z.union([z.string(), z.number()]).transform(String).optional();
  shape[ROW_KEY] = z
    .union([z.string().min(1), z.number()])
    .transform(String)
    .optional();
  if (key)
    shape[key] = z
      .union([z.string().min(1), z.number()])
      .transform(String)
      .optional();
  const row = z.object(shape); // unknown fields are dropped: an application may send its whole record
  const bodySchema = z.object(
    {
      rows: z
        .array(row, { error: 'expected "rows": an array of input rows' })
        .min(1, 'expected at least one row')
        .max(MAX_ROWS, `expected at most ${MAX_ROWS} rows per request`),
    },
    { error: 'expected a JSON object {"rows": [...]}' },
  ) as unknown as z.ZodType<{ rows: RequestRow[] }>;

  const nf = names.length;
  const encode = (rows: readonly RequestRow[], now: number): EncodedRows => {
    const n = rows.length;
    const values = new Float32Array(n * nf);
    const times = new Float64Array(n);
    const entities: string[] = new Array(n);
    const keys: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      const t = r[spec.time_column] === undefined ? now : toMs(r[spec.time_column]);
      times[i] = t;
      entities[i] = entity && r[entity] !== undefined ? (r[entity] as string) : '';
      keys[i] = ((key ? r[key] : undefined) ?? r[ROW_KEY] ?? null) as string | null;
      const base = i * nf;
      for (let j = 0; j < nf; j++) {
        const p = plan[j];
        let v: number;
        if (p.kind === 'number') {
          const x = r[p.field];
          v = x === null ? Number.NaN : (x as number);
        } else if (p.kind === 'calendar') {
          const phase = TWO_PI * calendarPhase(p.calendar, t);
          v = p.fn === 'sin' ? Math.sin(phase) : Math.cos(phase);
        } else continue;
        values[base + j] = v;
      }
      for (const g of oneHot) values.set(oneHotValue(r[g.field] as string | null, g.categories), base + g.offset);
    }
    if (spec.zscore && stats) {
      applyZScore({ rows: n, names, values, target: new Float64Array(0), times, entities: new Int32Array(n), entityIds: [] }, stats);
    }
    return { rows: n, values, times, entities, keys };
  };
  return { bodySchema, names, fields: { numeric, categorical: categoricalColumns, time: spec.time_column, timeRequired, entity, key }, encode };
}

/** A zod error as `rows[0].income: expected a number or null` lines, naming each field. */
export function describeRequestIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 20).map((i) => {
    const path = i.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
    return `${path || '(body)'}: ${i.message}`;
  });
}
