import { afterAll, beforeAll, describe } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, redactUrl, type Backend, type Db } from '../../actions/lib/db/index.ts';
import { migrate } from '../../actions/lib/db/migrate.ts';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (as in .ci/run). */
export function testBackends(): Backend[] {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface FreshDatabase {
  backend: Backend;
  /** the connection string of the scratch database (postgres only) */
  url: string | undefined;
  open(): Promise<Db>;
  drop(): Promise<void>;
}

/** A database of its own for one suite: an in-memory PGlite, or a new database on the server. */
export async function freshDatabase(backend: Backend): Promise<FreshDatabase> {
  if (backend === 'pglite') {
    return { backend, url: undefined, open: () => openDb({ ignoreEnv: true }), drop: async () => undefined };
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set');
  const name = `mlops_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${redactUrl(adminUrl)} is not reachable: ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = '/' + name;
  const url = u.toString();
  return {
    backend,
    url,
    open: () => openDb({ url }),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface DbSuite {
  backend: Backend;
  /** the suite's database, opened and migrated */
  db(): Db;
  /** the scratch database itself, to open more connections (postgres) */
  fresh(): FreshDatabase;
}

/** Declares `fn`'s tests once per backend, each against a fresh, migrated database. */
export function describeDb(title: string, fn: (suite: DbSuite) => void, options: { migrate?: boolean } = {}): void {
  for (const backend of testBackends()) {
    describe(`${title} [${backend}]`, () => {
      let fresh: FreshDatabase;
      let db: Db;
      beforeAll(async () => {
        fresh = await freshDatabase(backend);
        db = await fresh.open();
        if (options.migrate !== false) await migrate(db);
      });
      afterAll(async () => {
        await db?.close();
        await fresh?.drop();
      });
      fn({ backend, db: () => db, fresh: () => fresh });
    });
  }
}
