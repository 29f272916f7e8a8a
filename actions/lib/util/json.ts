import { z } from 'zod';

/**
 * JSON has no NaN or Infinity. Every document this project writes (run.json, report.json, job
 * outputs, jsonb columns) writes them as null rather than failing or lying, and the schemas that
 * read a document back turn that null into NaN where the field is a plain number.
 */
export function finiteJson(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/** `value` as JSON, with NaN and ±Infinity written as null; `indent` as JSON.stringify's. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value ?? null, finiteJson, indent);
}

/** A number field read back from JSON: null (how NaN and ±Infinity were written) becomes NaN. */
export const jsonNumber = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);
