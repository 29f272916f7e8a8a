import * as core from '@actions/core';
import { z } from 'zod';
import { parseDuration } from '../util/duration.ts';

/**
 * Typed action inputs: each action declares its inputs once as zod schemas keyed by the input's
 * name in action.yml (`run-dir`), and gets back one settings object with camelCase keys
 * (`runDir`). An empty input is absent, so `.optional()` and `.default()` mean what action.yml
 * says. Every bad input is reported at once, each naming the input.
 */

type CamelCase<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<CamelCase<B>>}` : S;

export type InputSpec = Record<string, z.ZodType>;
export type Inputs<S extends InputSpec> = { [K in keyof S & string as CamelCase<K>]: z.output<S[K]> };

export class InputError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} inputs are not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.name = 'InputError';
  }
}

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Reads and validates the inputs of `spec` the way a runner passes them (INPUT_<NAME> variables). */
export function readInputs<S extends InputSpec>(spec: S): Inputs<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(spec)) {
    const raw = core.getInput(name);
    const parsed = schema.safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[camelCase(name)] = parsed.data;
    else problems.push(`input "${name}": ${parsed.error.issues.map((i) => i.message).join('; ')}${raw === '' ? ' (it is empty or not set)' : ''}`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return out as Inputs<S>;
}

/** A required text input. */
export const requiredText = (what: string) =>
  z
    .string({ error: `required: ${what}` })
    .trim()
    .min(1, `required: ${what}`);

/** An optional text input (absent when empty). */
export const optionalText = () => z.string().trim().optional();

/** A boolean input in the YAML 1.2 core schema's spelling, as @actions/core's getBooleanInput reads it. */
export const booleanInput = (fallback: boolean) =>
  z
    .enum(['true', 'True', 'TRUE', 'false', 'False', 'FALSE'], { error: 'expected true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v.toLowerCase() === 'true'));

/** An optional point in time (ISO 8601); absent means "now" to the caller. */
export const optionalTime = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) {
        ctx.addIssue({ code: 'custom', message: `expected an ISO 8601 time such as 2026-11-22T02:00:00Z, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return d;
    });

/** A duration such as `1d`, `36h` or `90m`, in milliseconds. */
export const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const text = v || fallback;
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 1d, 36h or 90m, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return ms;
    });
