import type { z } from 'zod';
import type { PathSegment, PipelineSource } from './document.ts';
import type { PipelineIssue } from './issues.ts';

type ZodIssue = z.core.$ZodIssue;
// zod's internals are typed per class; walking a schema generically needs a loose view of them.
type AnySchema = { _zod: { def: Record<string, any> } } & Record<string, any>;

/**
 * zod issues -> located, readable issues. `schema` is the schema that produced them and `data`
 * the value it parsed: both are needed to say what was expected and what was found.
 */
export function describeZodIssues(issues: readonly ZodIssue[], schema: z.ZodType, source: PipelineSource): PipelineIssue[] {
  return issues.flatMap((issue) => describeIssue(issue, schema as unknown as AnySchema, source));
}

function describeIssue(issue: ZodIssue, root: AnySchema, source: PipelineSource): PipelineIssue[] {
  const data = source.data;
  // A preprocess (baseline: mean -> { kind: mean }) can report below a scalar that is in the file:
  // cut the path back to what the user actually wrote.
  const { path, value, cut } = resolve(data, issue.path.filter(isSegment));
  const target = schemaAt(root, path, data);

  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return [source.issueAt(path, 'required field is missing', 'parent')];
      return [source.issueAt(path, `expected ${typeName(issue.expected, target)}${nullable(target) ? ' or null' : ''}, got ${show(value)}`)];
    case 'too_small':
    case 'too_big':
      return [source.issueAt(path, sizeMessage(issue, target, value))];
    case 'unrecognized_keys': {
      const allowed = Object.keys(objectShape(pick(unwrap(target), value)) ?? {});
      return issue.keys.map((key) => source.issueAt([...path, key], `unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`, 'key'));
    }
    case 'invalid_value':
      if (value === undefined) return [source.issueAt(path, 'required field is missing', 'parent')];
      return [source.issueAt(path, `${expectedValues(issue.values)}, got ${show(value)}`)];
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (value === undefined) return [source.issueAt(path, 'required field is missing', 'parent')];
      // A defaulted discriminator lists `undefined` among its values: only name what can be written.
      if (options && !cut) return [source.issueAt(path, `${expectedValues(options.filter((o) => o !== undefined && o !== null))}, got ${show(value)}`)];
      return [source.issueAt(path, `does not match any allowed form, got ${show(value)}`)];
    }
    case 'invalid_format':
      if (issue.format === 'regex') return [source.issueAt(path, `${issue.message}, got ${show(value)}`)];
      return [source.issueAt(path, `expected ${issue.format} format, got ${show(value)}`)];
    case 'invalid_key': {
      const key = path[path.length - 1];
      const inner = issue.issues[0];
      const why = inner?.code === 'invalid_format' ? inner.message : (inner?.message ?? 'invalid key');
      return [source.issueAt(path, `invalid key ${JSON.stringify(String(key))}: ${why}`, 'key')];
    }
    case 'invalid_element':
      return [source.issueAt(path, issue.message)];
    case 'not_multiple_of':
      return [source.issueAt(path, `expected a multiple of ${String(issue.divisor)}, got ${show(value)}`)];
    default:
      return [source.issueAt(path, issue.message)];
  }
}

function isSegment(s: PropertyKey): s is PathSegment {
  return typeof s === 'string' || typeof s === 'number';
}

/** Follows `path` through `data`, stopping at the first scalar (see describeIssue). */
function resolve(data: unknown, path: PathSegment[]): { path: PathSegment[]; value: unknown; cut: boolean } {
  let value: unknown = data;
  for (let i = 0; i < path.length; i++) {
    if (value === null || typeof value !== 'object') return { path: path.slice(0, i), value, cut: true };
    value = (value as Record<string, unknown>)[path[i] as string];
  }
  return { path, value, cut: false };
}

/** The schema that validates the value at `path` (wrappers removed), or null when it cannot be told. */
export function schemaAt(root: AnySchema, path: readonly PathSegment[], data: unknown): AnySchema | null {
  let schema: AnySchema | null = root;
  let value: unknown = data;
  for (const seg of path) {
    schema = pick(unwrap(schema), value);
    if (!schema) return null;
    const def: Record<string, any> = schema._zod.def;
    if (def.type === 'object') schema = def.shape[seg] ?? null;
    else if (def.type === 'record') schema = def.valueType;
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'tuple') schema = def.items[seg as number] ?? def.rest ?? null;
    else return null;
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[seg as string] : undefined;
  }
  return schema;
}

function unwrap(schema: AnySchema | null): AnySchema | null {
  let s = schema;
  for (let i = 0; s && i < 20; i++) {
    const def: Record<string, any> = s._zod.def;
    if (['default', 'prefault', 'optional', 'nullable', 'catch', 'readonly', 'nonoptional'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe') s = def.out._zod.def.type === 'transform' ? def.in : def.out;
    else break;
  }
  return s;
}

/** For a discriminated union, the option the data selects. */
function pick(schema: AnySchema | null, value: unknown): AnySchema | null {
  if (!schema || schema._zod.def.type !== 'union') return schema;
  const def: Record<string, any> = schema._zod.def;
  const discriminator: string | undefined = def.discriminator;
  if (!discriminator || !value || typeof value !== 'object') return null;
  const wanted = (value as Record<string, unknown>)[discriminator];
  for (const option of def.options as AnySchema[]) {
    const field: AnySchema | undefined = unwrap(option)?._zod.def.shape?.[discriminator];
    if (!field) continue;
    // A defaulted or optional discriminator (pipeline `task: regression`) is what an absent one selects.
    if (wanted === undefined && ['default', 'optional'].includes(field._zod.def.type)) return unwrap(option);
    const values: unknown[] = unwrap(field)?._zod.def.values ?? [];
    if (values.includes(wanted)) return unwrap(option);
  }
  return null;
}

function objectShape(schema: AnySchema | null): Record<string, unknown> | null {
  const s = unwrap(schema);
  return s && s._zod.def.type === 'object' ? s._zod.def.shape : null;
}

function nullable(schema: AnySchema | null): boolean {
  let s = schema;
  for (let i = 0; s && i < 20; i++) {
    const type = s._zod.def.type;
    if (type === 'nullable') return true;
    if (!['default', 'prefault', 'optional'].includes(type)) return false;
    s = s._zod.def.innerType;
  }
  return false;
}

function isInt(schema: AnySchema | null): boolean {
  return Boolean(unwrap(schema)?.isInt);
}

/** ` >= 0`, ` > 0 and <= 1`: the bounds a number schema declares, for messages about a wrong type. */
function bounds(schema: AnySchema | null): string {
  const checks: AnySchema[] = unwrap(schema)?._zod.def.checks ?? [];
  const parts: string[] = [];
  for (const c of checks) {
    const def = c._zod.def;
    if (def.check === 'greater_than') parts.push(`${def.inclusive ? '>=' : '>'} ${String(def.value)}`);
    if (def.check === 'less_than') parts.push(`${def.inclusive ? '<=' : '<'} ${String(def.value)}`);
  }
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

function typeName(expected: string, schema: AnySchema | null): string {
  const inner = unwrap(schema);
  if (inner?._zod.def.type === 'tuple') return `a list of ${inner._zod.def.items.length} values`;
  switch (expected) {
    case 'number':
    case 'int':
      return `${isInt(schema) || expected === 'int' ? 'an integer' : 'a number'}${bounds(schema)}`;
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'null':
      return 'null';
    default:
      return expected;
  }
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, schema: AnySchema | null, value: unknown): string {
  const small = issue.code === 'too_small';
  const bound = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
  const op = small ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
  const inner = unwrap(schema);
  switch (issue.origin) {
    case 'number':
    case 'int':
    case 'bigint':
      return `expected ${isInt(schema) || issue.origin === 'int' ? 'an integer' : 'a number'} ${op} ${String(bound)}, got ${show(value)}`;
    case 'array': {
      const n = Array.isArray(value) ? value.length : 0;
      if (inner?._zod.def.type === 'tuple') return `expected a list of exactly ${inner._zod.def.items.length} values, got ${count(n, 'item')}`;
      const words = small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'fewer than';
      return `expected a list of ${words} ${count(Number(bound), 'item')}, got ${count(n, 'item')}`;
    }
    case 'string':
      if (small && Number(bound) === 1 && issue.inclusive) return `expected a non-empty string, got ${show(value)}`;
      return `expected a string of ${small ? 'at least' : 'at most'} ${count(Number(bound), 'character')}, got ${show(value)}`;
    default:
      return `expected ${issue.origin} ${op} ${String(bound)}, got ${show(value)}`;
  }
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function expectedValues(values: readonly unknown[]): string {
  const list = values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return list.length === 1 ? `expected ${list[0]}` : `expected one of ${list.join(', ')}`;
}

/** The received value as the user would recognise it: strings JSON-quoted, lists and mappings named. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
