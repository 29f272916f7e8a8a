import type { OpenDbOptions } from '../actions/lib/db/index.ts';

/** How a bench case opens its target: a PostgreSQL URL, or a PGlite data directory (DATABASE_URL ignored). */
export function targetOptions(target: string): OpenDbOptions {
  return target.startsWith('postgres') ? { url: target } : { dataDir: target, ignoreEnv: true };
}
