import * as core from '@actions/core';
import { openDb, openMigratedDb, type Db } from '../db/index.ts';
import { optionalText } from './inputs.ts';
import { maskUrl, scrub } from './secrets.ts';

/** The database inputs every action that touches the database declares in its action.yml. */
export const databaseInputs = {
  'database-url': optionalText(),
  'data-dir': optionalText(),
};

export interface DatabaseSettings {
  /** a PostgreSQL connection string; absent: env DATABASE_URL */
  databaseUrl?: string;
  /** an embedded PGlite directory (local runs and tests) when there is no URL; absent: env MLOPS_DATA_DIR */
  dataDir?: string;
  /**
   * Checks that only read (a pull request's claims): no migration, and `fn` should query inside
   * db.transaction(..., { readOnly: true }). The schema must already exist.
   */
  readOnly?: boolean;
}

/**
 * Opens the database of an action (the URL is masked before anything can print it), brings its
 * schema up to date, runs `fn` and closes it whatever happens.
 */
export async function withDatabase<T>(settings: DatabaseSettings, fn: (db: Db) => Promise<T>): Promise<T> {
  const url = settings.databaseUrl || process.env.DATABASE_URL || undefined;
  maskUrl(url);
  maskUrl(process.env.MLOPS_SOURCE_DATABASE_URL);
  const dataDir = settings.dataDir || process.env.MLOPS_DATA_DIR || undefined;
  if (!url && !dataDir) {
    throw new Error(
      'no database: set the database-url input (from a repository secret) or the DATABASE_URL environment variable, ' +
        'or data-dir (or MLOPS_DATA_DIR) for an embedded PGlite directory',
    );
  }
  let db: Db;
  try {
    const options = { url, dataDir, ignoreEnv: true };
    db = settings.readOnly ? await openDb(options) : (await openMigratedDb(options)).db;
  } catch (err) {
    throw new Error(scrub(`cannot open the database: ${(err as Error).message}`));
  }
  try {
    core.info(`database: ${db.backend} at ${scrub(db.location)}`);
    return await fn(db);
  } finally {
    await db.close();
  }
}
