/**
 * JSON has no NaN or Infinity. Every document this project writes (run.json, report.json, job
 * outputs, jsonb columns) writes them as null rather than failing or lying, and the schemas that
 * read a document back turn that null into NaN where the field is a plain number (jsonNumber, in
 * json-number.ts: apart, so that writing JSON does not load zod, as the CLI does for every command).
 */
export function finiteJson(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/** `value` as JSON, with NaN and ±Infinity written as null; `indent` as JSON.stringify's. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value ?? null, finiteJson, indent);
}
