import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { lockDataDir } from './dir-lock.ts';
import type { Db } from './types.ts';
import type { MigrateResult } from './migrate.ts';

export type { Db, Listener, Queryable, QueryResult, SqlParam, Backend } from './types.ts';
export { analyze, quoteIdent, isConnectionLost } from './types.ts';
export { redactUrl, scrubSecret } from '../util/secrets.ts';
export { DatabaseBusyError } from './dir-lock.ts';

export interface OpenDbOptions {
  /** A PostgreSQL connection string (URL or libpq keyword=value pairs); wins over DATABASE_URL. */
  url?: string;
  /** PGlite data directory; `memory` or absent for an in-memory database (when no URL is given). */
  dataDir?: string;
  /** Ignore DATABASE_URL (tests that want PGlite explicitly). */
  ignoreEnv?: boolean;
  /** How long to wait while another process has the PGlite directory open (default MLOPS_DB_WAIT_SECONDS or 60 s). */
  waitMs?: number;
  /** Told once when the PGlite directory is busy and the open waits. */
  onWait?: (message: string) => void;
  /**
   * The extraction's own connection (a least-privilege, read-only role: derive expressions run as
   * it); default MLOPS_SOURCE_DATABASE_URL. PostgreSQL only.
   */
  sourceUrl?: string;
  /**
   * PGlite on a worker thread of its own (pglite-worker.ts), not this one: for a long-running
   * process whose event loop must stay free while the database works (the model server).
   */
  worker?: boolean;
}

/** The default embedded database of the CLI and the demo. */
export const DEFAULT_DATA_DIR = '.mlops/db';

/**
 * Opens node-postgres when a URL is given (option or DATABASE_URL), PGlite otherwise.
 * One interface, the same SQL, on both. A PGlite directory is opened by one process at a time
 * (see dir-lock.ts): the lock is taken before and released after the database itself.
 */
export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  return openDatabase(options, false);
}

/**
 * openDb, then migrate(): what every command, action and suite that writes needs. A new PGlite
 * database starts from a cached template that already holds the migrations (pglite.ts), so
 * migrate() finds nothing to do; on PostgreSQL it applies what is missing. The database is closed
 * when migrating fails. (`mlops db migrate` opens with openDb and migrates itself, so that it
 * reports what it applied.)
 */
export async function openMigratedDb(options: OpenDbOptions = {}): Promise<{ db: Db; migrations: MigrateResult }> {
  const db = await openDatabase(options, true);
  try {
    const { migrate } = await import('./migrate.ts');
    return { db, migrations: await migrate(db) };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}

async function openDatabase(options: OpenDbOptions, migrated: boolean): Promise<Db> {
  const url = options.url ?? (options.ignoreEnv ? undefined : process.env.DATABASE_URL || undefined);
  const sourceUrl = options.sourceUrl ?? (process.env.MLOPS_SOURCE_DATABASE_URL || undefined);
  // Each driver is loaded only when used: PGlite's WASM and node-postgres are both heavy to import.
  if (url) return (await import('./postgres.ts')).openPostgres(url, sourceUrl);
  if (options.sourceUrl || (sourceUrl && !options.ignoreEnv)) {
    throw new Error(
      'MLOPS_SOURCE_DATABASE_URL (a separate extraction role) needs PostgreSQL: the embedded database (PGlite) has one role; unset it or set DATABASE_URL',
    );
  }
  const open = options.worker ? (await import('./pglite-worker.ts')).openPgliteWorker : (await import('./pglite.ts')).openPglite;
  const openPglite = (dir: string | undefined): Promise<Db> => open(dir, { migrated });
  if (!options.dataDir || options.dataDir === 'memory') return openPglite(undefined);
  const dir = resolve(options.dataDir);
  mkdirSync(dir, { recursive: true });
  const lock = await lockDataDir(dir, { waitMs: options.waitMs, onWait: options.onWait });
  let db: Db;
  try {
    db = await openPglite(dir);
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    ...db,
    async close() {
      try {
        await db.close();
      } finally {
        lock.release();
      }
    },
  };
}
