import { Cron } from 'croner';

/**
 * When a pipeline's retrain is due (its `schedule.retrain` cron, UTC). The weekly-retrain workflow
 * ticks on a cron of its own (hourly); a scheduled run's plan keeps the pipelines whose cron has an
 * occurrence in the tick's window: after the tick before it, up to and including this tick. Each
 * occurrence thus falls in exactly one tick, however late GitHub starts the run (GitHub delays
 * scheduled runs, by minutes under load), as long as it starts before the next tick.
 *
 * Cron expressions are read by croner (the 5-field syntax GitHub Actions accepts: lists, ranges,
 * steps, month and weekday names; day-of-month and day-of-week OR-ed as in cron).
 */

function cron(expr: string): Cron {
  return new Cron(expr, { timezone: 'UTC', mode: '5-part', paused: true });
}

/** Why `expr` is not a cron expression this engine (and GitHub) understands, or null. */
export function cronProblem(expr: string): string | null {
  try {
    cron(expr);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface ScheduleWindow {
  /** the tick before this one (exclusive) */
  from: Date;
  /** this tick (inclusive): the latest occurrence of the workflow's cron at or before the run's start */
  to: Date;
}

/** The window of the workflow tick (`tickCron`, e.g. github.event.schedule) that a run started at `now` belongs to. */
export function scheduleWindow(tickCron: string, now: Date): ScheduleWindow {
  // the minute `now` falls in counts: a tick at 02:00 that starts at 02:00:30 is the 02:00 tick
  const reference = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 1_000);
  const [to, from] = cron(tickCron).previousRuns(2, reference);
  if (!to || !from) throw new Error(`the workflow's cron "${tickCron}" has no two occurrences before ${now.toISOString()}`);
  return { from, to };
}

/** Whether `expr` has an occurrence in the window (from, to]. */
export function isDue(expr: string, window: ScheduleWindow): boolean {
  const next = cron(expr).nextRun(window.from);
  return next !== null && next.getTime() <= window.to.getTime();
}

/** The next occurrence of `expr` after `after` (for the plan's summary). */
export function nextOccurrence(expr: string, after: Date): Date | null {
  return cron(expr).nextRun(after);
}
