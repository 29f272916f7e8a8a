import { afterAll, beforeAll, describe } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, openMigratedDb, redactUrl, type Backend, type Db } from '../../actions/lib/db/index.ts';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (as in .ci/run). */
export function testBackends(): Backend[] {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface FreshDatabase {
  backend: Backend;
  /** the connection string of the scratch database (postgres only) */
  url: string | undefined;
  open(): Promise<Db>;
  /** opened and migrated (openMigratedDb: a new PGlite database starts from the migrated template) */
  openMigrated(): Promise<Db>;
  drop(): Promise<void>;
}

/**
 * A database of its own for one suite: an in-memory PGlite, or a new database on the server.
 * `worker`: PGlite on a worker thread, as the model server runs it (ignored on PostgreSQL).
 */
export async function freshDatabase(backend: Backend, options: { worker?: boolean } = {}): Promise<FreshDatabase> {
  if (backend === 'pglite') {
    const settings = { ignoreEnv: true, worker: options.worker };
    return {
      backend,
      url: undefined,
      open: () => openDb(settings),
      openMigrated: async () => (await openMigratedDb(settings)).db,
      drop: async () => undefined,
    };
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
    openMigrated: async () => (await openMigratedDb({ url })).db,
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

/**
 * The one backend a backend-independent suite runs on: the last of testBackends(), so PostgreSQL
 * when DATABASE_URL is set (as in CI), else PGlite. A suite whose cost is git and child processes
 * (each spawn from a process that holds a PGlite instance copies its WASM heap's page tables) runs
 * fastest there, and the SQL it touches is proven on both backends by the suites of that code.
 */
export function onceBackend(): Backend {
  return testBackends().at(-1)!;
}

export interface DescribeDbOptions {
  migrate?: boolean;
  /**
   * Backend-independent behaviour (git history, GitHub, the rules read from them): declare the
   * tests on onceBackend() only, to keep the suite fast on 2 cores.
   */
  once?: boolean;
  /** PGlite on a worker thread, as a long-running process (the model server) opens it */
  pgliteWorker?: boolean;
}

/** Declares `fn`'s tests once per backend (or on onceBackend() only), each against a fresh, migrated database. */
export function describeDb(title: string, fn: (suite: DbSuite) => void, options: DescribeDbOptions = {}): void {
  for (const backend of options.once ? [onceBackend()] : testBackends()) {
    describe(`${title} [${backend}]`, () => {
      let fresh: FreshDatabase;
      let db: Db;
      beforeAll(async () => {
        fresh = await freshDatabase(backend, { worker: options.pgliteWorker });
        db = options.migrate !== false ? await fresh.openMigrated() : await fresh.open();
      });
      afterAll(async () => {
        await db?.close();
        await fresh?.drop();
      });
      fn({ backend, db: () => db, fresh: () => fresh });
    });
  }
}

/** describeDb for backend-independent behaviour: the tests on onceBackend() only. */
export function describeDbOnce(title: string, fn: (suite: DbSuite) => void, options: Omit<DescribeDbOptions, 'once'> = {}): void {
  describeDb(title, fn, { ...options, once: true });
}

/** describeDb with PGlite on a worker thread, as a long-running process (the model server) opens it. */
export function describeDbPgliteWorker(title: string, fn: (suite: DbSuite) => void, options: Omit<DescribeDbOptions, 'pgliteWorker'> = {}): void {
  describeDb(title, fn, { ...options, pgliteWorker: true });
}
