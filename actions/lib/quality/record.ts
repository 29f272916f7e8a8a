import type { Queryable } from '../db/index.ts';
import type { QualityReport } from './checks.ts';

/** One row per check in mlops.quality_checks (a retrain's checks carry its run id). */
export async function recordQualityChecks(db: Queryable, pipeline: string, runId: string | null, report: QualityReport): Promise<void> {
  for (const c of report.checks) {
    await db.query(
      `INSERT INTO mlops.quality_checks (pipeline, run_id, check_name, column_name, value, threshold, passed, details, window_start, window_end)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
       ON CONFLICT (run_id, check_name, (COALESCE(column_name, ''))) WHERE run_id IS NOT NULL
       DO UPDATE SET value = EXCLUDED.value, threshold = EXCLUDED.threshold, passed = EXCLUDED.passed, details = EXCLUDED.details,
         window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, checked_at = now()`,
      [
        pipeline,
        runId,
        c.name,
        c.column,
        Number.isFinite(c.value) ? c.value : null,
        c.threshold,
        c.passed,
        JSON.stringify({ message: c.message, op: c.op, ...(c.details ?? {}) }),
        report.window.start,
        report.window.end,
      ],
    );
  }
}
