import { readdirSync, readFileSync } from 'node:fs';
import { sha256Hex } from '../util/sha256.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './types.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/** Ordered by file name: `001_name.sql`, `002_name.sql`, ... */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      const [version, ...rest] = file.replace(/\.sql$/, '').split('_');
      return { version, name: rest.join('_'), sql, checksum: sha256Hex(sql) };
    });
}

/** One name for a list of migrations: changes when any file is added, removed, renamed or edited. */
export function migrationsKey(migrations: Migration[]): string {
  // migrate()'s own bookkeeping table is in the template too: a change to it is a new template
  return sha256Hex([BOOKKEEPING_DDL, ...migrations.map((m) => `${m.version}_${m.name}:${m.checksum}`)].join('\n')).slice(0, 16);
}

/** The table where migrate() records what it applied (created before the first migration). */
const BOOKKEEPING_DDL = `CREATE TABLE IF NOT EXISTS mlops.schema_migrations (
      version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`;

/**
 * Applies the migrations not yet recorded, all in one transaction: either the schema moves to the
 * newest version or it stays where it was. A recorded migration whose file changed is an error,
 * since the database no longer matches the code's idea of it.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<MigrateResult> {
  const upToDate = await recordedAsOnDisk(db, migrations);
  if (upToDate) return { applied: [], alreadyApplied: upToDate };
  return db.transaction(async (tx) => {
    // Two processes migrating at once (two workflow jobs) queue here instead of failing.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['mlops.migrate']);
    await tx.query('CREATE SCHEMA IF NOT EXISTS mlops');
    await tx.query(BOOKKEEPING_DDL);
    const { rows } = await tx.query<{ version: string; checksum: string; name: string }>(
      'SELECT version, name, checksum FROM mlops.schema_migrations ORDER BY version',
    );
    const recorded = new Map(rows.map((r) => [r.version, r]));
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const m of migrations) {
      const done = recorded.get(m.version);
      const label = `${m.version}_${m.name}`;
      if (done) {
        if (done.checksum !== m.checksum) {
          throw new Error(
            `migration ${label}.sql was changed after it was applied (checksum ${done.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk); add a new migration instead`,
          );
        }
        alreadyApplied.push(label);
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO mlops.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(label);
    }
    return { applied, alreadyApplied };
  });
}

/**
 * The labels of all migrations when the database has recorded every one with the checksum on disk
 * (the usual case: one query, no transaction, no lock); null when anything is missing, changed or
 * not there yet, and the full migration decides under its lock.
 */
async function recordedAsOnDisk(db: Db, migrations: Migration[]): Promise<string[] | null> {
  let rows: { version: string; checksum: string }[];
  try {
    ({ rows } = await db.query<{ version: string; checksum: string }>('SELECT version, checksum FROM mlops.schema_migrations'));
  } catch {
    // A fresh database (no schema or table yet); any other fault recurs, and is reported, in the full path.
    return null;
  }
  const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
  return migrations.every((m) => recorded.get(m.version) === m.checksum) ? migrations.map((m) => `${m.version}_${m.name}`) : null;
}
