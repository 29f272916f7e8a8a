import type { Queryable } from '../db/index.ts';
import type { QualityReport } from './checks.ts';

/** A float8 for the JSON rows below: a finite number as it is, anything else as the text float8 reads (NaN, Infinity). */
function float8(v: number | null): number | string | null {
  return v === null || Number.isFinite(v) ? v : String(v);
}

/**
 * One row per check in mlops.quality_checks (a retrain's checks carry its run id), in one
 * statement whatever the number of checks: the rows go as one JSON parameter. On PGlite every
 * statement's text goes through PostgreSQL's SQL parser, whose one 105 KB WASM function V8 sends
 * to its optimising compiler once a process has parsed a few thousand tokens (see pglite.ts):
 * a statement per check (~80 tokens each) was enough to pass that point in every retrain.
 */
export async function recordQualityChecks(db: Queryable, pipeline: string, runId: string | null, report: QualityReport): Promise<void> {
  if (report.checks.length === 0) return;
  // A check named twice (same name and column) keeps its last values, as one statement per check did.
  const rows = new Map<string, object>();
  for (const c of report.checks) {
    const key = `${c.name}\u0000${c.column ?? ''}`;
    const row = {
      check_name: c.name,
      column_name: c.column,
      value: Number.isFinite(c.value) ? c.value : null,
      threshold: float8(c.threshold),
      passed: c.passed,
      details: { message: c.message, op: c.op, ...(c.details ?? {}) },
    };
    rows.set(runId === null ? `${rows.size}` : key, row);
  }
  await db.query(
    `INSERT INTO mlops.quality_checks (pipeline, run_id, check_name, column_name, value, threshold, passed, details, window_start, window_end)
     SELECT $1::text, $2::text, c->>'check_name', c->>'column_name', (c->>'value')::float8, (c->>'threshold')::float8, (c->>'passed')::boolean, c->'details', $4::timestamptz, $5::timestamptz
       FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS r(c, n) ORDER BY n
     ON CONFLICT (run_id, check_name, (COALESCE(column_name, ''))) WHERE run_id IS NOT NULL
     DO UPDATE SET value = EXCLUDED.value, threshold = EXCLUDED.threshold, passed = EXCLUDED.passed, details = EXCLUDED.details,
       window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, checked_at = now()`,
    [pipeline, runId, JSON.stringify([...rows.values()]), report.window.start, report.window.end],
  );
}
