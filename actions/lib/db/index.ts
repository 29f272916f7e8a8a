import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import type { Db } from './types.ts';

export type { Db, Queryable, QueryResult, SqlParam, Backend } from './types.ts';
export { quoteIdent } from './types.ts';
export { redactUrl, scrubSecret } from './redact.ts';

export interface OpenDbOptions {
  /** A PostgreSQL connection string; wins over DATABASE_URL. */
  url?: string;
  /** PGlite data directory; `memory` or absent for an in-memory database (when no URL is given). */
  dataDir?: string;
  /** Ignore DATABASE_URL (tests that want PGlite explicitly). */
  ignoreEnv?: boolean;
}

/** The default embedded database of the CLI and the demo. */
export const DEFAULT_DATA_DIR = '.mlops/db';

/**
 * Opens node-postgres when a URL is given (option or DATABASE_URL), PGlite otherwise.
 * One interface, the same SQL, on both.
 */
export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  const url = options.url ?? (options.ignoreEnv ? undefined : process.env.DATABASE_URL || undefined);
  if (url) return openPostgres(url);
  if (!options.dataDir || options.dataDir === 'memory') return openPglite(undefined);
  const dir = resolve(options.dataDir);
  mkdirSync(dir, { recursive: true });
  return openPglite(dir);
}
