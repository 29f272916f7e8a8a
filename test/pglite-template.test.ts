import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { START_PARAMS } from '../actions/lib/db/pglite.ts';
import { cacheDir, createPglite, STALE_TEMPLATE_MS, templateDir } from '../actions/lib/db/pglite-template.ts';
import { LOCK_FILE } from '../actions/lib/db/dir-lock.ts';
import { loadMigrations, migrate, migrationsKey } from '../actions/lib/db/migrate.ts';
import type { PGlite } from '@electric-sql/pglite';
import type { Db } from '../actions/lib/db/index.ts';
import { typescriptExecArgv } from '../actions/lib/util/typescript.mjs';

const moduleUrl = (path: string): string => pathToFileURL(join(import.meta.dirname, path)).href;

/**
 * A process that opens a new in-memory database with this cache, as a CLI or a test worker does, and
 * says where it came from. With `barrier` (a directory, and how many processes meet there), it opens
 * only once that many have loaded their modules, so that processes really open at the same time.
 */
function openInChild(cache: string, barrier?: { dir: string; parties: number }): Promise<{ code: number | null; out: string; err: string }> {
  const script = `
    import { createPglite } from ${JSON.stringify(moduleUrl('../actions/lib/db/pglite-template.ts'))};
    import { START_PARAMS } from ${JSON.stringify(moduleUrl('../actions/lib/db/pglite.ts'))};
    import { readdirSync, writeFileSync } from 'node:fs';
    const barrier = ${JSON.stringify(barrier ?? null)};
    if (barrier) {
      writeFileSync(barrier.dir + '/' + process.pid, '');
      while (readdirSync(barrier.dir).length < barrier.parties) await new Promise((r) => setTimeout(r, 5));
    }
    const { pg, source } = await createPglite(undefined, START_PARAMS);
    const { rows } = await pg.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'mlops'");
    await pg.close();
    console.log(JSON.stringify({ source, mlopsSchemas: rows[0].n }));
  `;
  const child = spawn(process.execPath, [...typescriptExecArgv(), '--input-type=module', '-e', script], {
    env: { ...process.env, MLOPS_CACHE_DIR: cache },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const SYSTEM_ID = 'SELECT system_identifier::text AS id FROM pg_control_system()';
const systemId = async (pg: PGlite): Promise<string> => (await pg.query<{ id: string }>(SYSTEM_ID)).rows[0].id;

interface Manifest {
  build: string;
  files: Array<[string, number]>;
}
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as Manifest;

describe('the cached initdb template of new PGlite databases', () => {
  let root: string;
  /** the cache whose template the two processes built */
  let cache: string;
  const env = (dir: string): NodeJS.ProcessEnv => ({ MLOPS_CACHE_DIR: dir });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'mlops-template-'));
    cache = join(root, 'cache');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lives under MLOPS_CACHE_DIR, else $XDG_CACHE_HOME/gitops-mlops, else ~/.cache/gitops-mlops, keyed by PGlite version and start parameters', () => {
    expect(cacheDir({ MLOPS_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/gitops-mlops');
    expect(cacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/\.cache\/gitops-mlops$/);
    const pglite = JSON.parse(readFileSync(join(import.meta.dirname, '../node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
    const dir = templateDir(START_PARAMS, env('/c'));
    expect(dir).toMatch(new RegExp(`^/c/pglite-template/pglite-${pglite.version.replaceAll('.', '\\.')}-[0-9a-f]{16}$`));
    expect(templateDir([...START_PARAMS, '-c', 'work_mem=8MB'], env('/c'))).not.toBe(dir);
    expect(templateDir(START_PARAMS, env('/c'))).toBe(dir);
  });

  it('two processes that build it at once both open their database, and one template is published', async () => {
    // both open once both are loaded: initdb takes seconds, so neither finds the other's template
    const barrier = { dir: join(root, 'barrier'), parties: 2 };
    mkdirSync(barrier.dir);
    const [a, b] = await Promise.all([openInChild(cache, barrier), openInChild(cache, barrier)]);
    for (const r of [a, b]) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      // both ran initdb (the race was real); one's template was published, the other used it
      expect(JSON.parse(r.out)).toEqual({ source: 'built-template', mlopsSchemas: 0 });
    }
    const published = readdirSync(join(cache, 'pglite-template'));
    expect(published).toEqual([templateDir(START_PARAMS, env(cache)).split('/').at(-1)]);
    const dir = templateDir(START_PARAMS, env(cache));
    const manifest = manifestOf(dir);
    expect(manifest.files.at(-1)).toEqual(['PG_VERSION', 3]);
    for (const [path, size] of manifest.files) expect(statSync(join(dir, 'data', path)).size).toBe(size);
  });

  it('a new in-memory database starts from it, empty of the project tables until migrated', async () => {
    const { pg, source } = await createPglite(undefined, START_PARAMS, env(cache));
    const other = await createPglite(undefined, START_PARAMS, env(cache));
    try {
      expect(source).toBe('template');
      const tables = await pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
      );
      expect(tables.rows[0].n).toBe(0);
      // initdb gives every cluster a system identifier of its own: two databases that share one
      // came from the same files (were PGlite to ignore the template's, each would run initdb)
      expect(await systemId(pg)).toBe(await systemId(other.pg));
    } finally {
      await pg.close();
      await other.pg.close();
    }
  });

  it('a new data directory is filled from it; an existing one is opened as it is', async () => {
    const dataDir = join(root, 'db');
    const first = await createPglite(dataDir, START_PARAMS, env(cache));
    expect(first.source).toBe('template');
    await first.pg.exec('CREATE TABLE readings (id int PRIMARY KEY, value float8); INSERT INTO readings VALUES (1, 0.5)');
    await first.pg.close();
    expect(existsSync(join(dataDir, 'mlops-template-fill'))).toBe(false);

    const again = await createPglite(dataDir, START_PARAMS, env(cache));
    expect(again.source).toBe('existing');
    expect((await again.pg.query<{ value: number }>('SELECT value FROM readings')).rows).toEqual([{ value: 0.5 }]);
    await again.pg.close();

    // openDb's lock is in the directory before the database: still a new directory
    const locked = join(root, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, LOCK_FILE), '{}');
    const fromLocked = await createPglite(locked, START_PARAMS, env(cache));
    expect(fromLocked.source).toBe('template');
    await fromLocked.pg.close();
    expect(existsSync(join(locked, LOCK_FILE))).toBe(true);

    // a fill that a killed process left unfinished is cleared and done again
    const unfinished = join(root, 'unfinished');
    cpSync(join(templateDir(START_PARAMS, env(cache)), 'data', 'base'), join(unfinished, 'base'), { recursive: true });
    writeFileSync(join(unfinished, 'mlops-template-fill'), '');
    writeFileSync(join(unfinished, 'half-copied'), 'x');
    const refilled = await createPglite(unfinished, START_PARAMS, env(cache));
    expect(refilled.source).toBe('template');
    await refilled.pg.close();
    expect(existsSync(join(unfinished, 'half-copied'))).toBe(false);
    expect(existsSync(join(unfinished, 'mlops-template-fill'))).toBe(false);
  });

  it('the project schema migrates onto a database from the template', async () => {
    const { openPglite } = await import('../actions/lib/db/pglite.ts');
    const db = await openPglite(undefined);
    const other = await openPglite(undefined);
    try {
      // from the template, as createPglite's are (see above)
      expect((await db.query<{ id: string }>(SYSTEM_ID)).rows[0].id).toBe((await other.query<{ id: string }>(SYSTEM_ID)).rows[0].id);
      await other.close();
      const before = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'mlops'");
      expect(before.rows[0].n).toBe(0);
      expect((await migrate(db)).applied.length).toBeGreaterThan(0);
      const after = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'mlops'");
      expect(after.rows[0].n).toBeGreaterThan(5);
    } finally {
      await db.close();
    }
  });

  it('a prepared template holds what its preparation did, under a name of its own per key; a failed preparation falls back to initdb’s template', async () => {
    const prepared = (key: string) => ({ key, run: (pg: PGlite) => pg.exec(`CREATE TABLE prepared_${key} (x int)`).then(() => undefined) });
    const tablesOf = async (pg: PGlite): Promise<string[]> =>
      (await pg.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r) => r.t);
    const first = await createPglite(undefined, START_PARAMS, env(cache), prepared('a'));
    expect(first.source).toBe('built-template');
    expect(await tablesOf(first.pg)).toEqual(['prepared_a']);
    await first.pg.close();
    const second = await createPglite(join(root, 'db-prepared'), START_PARAMS, env(cache), prepared('a'));
    expect(second.source).toBe('template');
    expect(await tablesOf(second.pg)).toEqual(['prepared_a']);
    await second.pg.close();
    // another key (the migrations changed) is another template; initdb's own is untouched
    const other = await createPglite(undefined, START_PARAMS, env(cache), prepared('b'));
    expect(await tablesOf(other.pg)).toEqual(['prepared_b']);
    await other.pg.close();
    expect(templateDir(START_PARAMS, env(cache), 'a')).not.toBe(templateDir(START_PARAMS, env(cache), 'b'));
    const plain = await createPglite(undefined, START_PARAMS, env(cache));
    expect(await tablesOf(plain.pg)).toEqual([]);
    await plain.pg.close();

    const failing = { key: 'failing', run: (pg: PGlite) => pg.exec('CREATE TABLE broken (x no_such_type)').then(() => undefined) };
    const fallback = await createPglite(undefined, START_PARAMS, env(cache), failing);
    expect(fallback.source).toBe('template');
    expect(await tablesOf(fallback.pg)).toEqual([]);
    await fallback.pg.close();
    expect(existsSync(templateDir(START_PARAMS, env(cache), 'failing'))).toBe(false);
  });

  it('publishing a template removes those no database started from for two weeks, and keeps every one in use', async () => {
    const prepared = (key: string) => ({ key, run: (pg: PGlite) => pg.exec(`CREATE TABLE prepared_${key} (x int)`).then(() => undefined) });
    const templates = join(cache, 'pglite-template');
    const day = 24 * 60 * 60 * 1000;
    const age = (dir: string, ms: number): void => {
      const t = new Date(Date.now() - ms);
      utimesSync(join(dir, 'template.json'), t, t);
    };
    const a = templateDir(START_PARAMS, env(cache), 'a');
    const b = templateDir(START_PARAMS, env(cache), 'b');
    // an older build's template (another PGlite or older migrations), and what an interrupted removal left
    const old = join(templates, 'pglite-0.0.1-0123456789abcdef');
    cpSync(a, old, { recursive: true });
    age(old, STALE_TEMPLATE_MS + day);
    const leftover = join(templates, 'pglite-0.0.1-fedcba9876543210.stale-1-0badc0de');
    mkdirSync(leftover);
    const foreign = join(templates, 'notes');
    mkdirSync(foreign);
    // 'a' was last used a month ago and is used now; 'b' was last used thirteen days ago
    age(a, 30 * day);
    const used = await createPglite(undefined, START_PARAMS, env(cache), prepared('a'));
    expect(used.source).toBe('template');
    await used.pg.close();
    expect(Date.now() - statSync(join(a, 'template.json')).mtimeMs).toBeLessThan(day);
    age(b, 13 * day);

    const published = await createPglite(undefined, START_PARAMS, env(cache), prepared('c'));
    expect(published.source).toBe('built-template');
    await published.pg.close();
    expect(existsSync(old)).toBe(false);
    expect(existsSync(leftover)).toBe(false);
    for (const kept of [a, b, templateDir(START_PARAMS, env(cache)), templateDir(START_PARAMS, env(cache), 'c'), foreign])
      expect(existsSync(kept), kept).toBe(true);
    // what is kept still serves
    const again = await createPglite(undefined, START_PARAMS, env(cache), prepared('b'));
    expect(again.source).toBe('template');
    await again.pg.close();
  });

  it('a database opened as migrated has the schema that migrate() builds, and migrate() finds nothing to do', async () => {
    const { openPglite } = await import('../actions/lib/db/pglite.ts');
    const columns = (db: Db) =>
      db.query<{ t: string; c: string; type: string; nullable: string }>(
        `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nullable FROM information_schema.columns
          WHERE table_schema = 'mlops' ORDER BY table_name, ordinal_position`,
      );
    const scratch = await openPglite(undefined);
    const fromTemplate = await openPglite(undefined, { migrated: true });
    try {
      expect((await migrate(scratch)).applied.length).toBeGreaterThan(0);
      const result = await migrate(fromTemplate);
      expect(result.applied).toEqual([]);
      expect(result.alreadyApplied).toEqual(loadMigrations().map((m) => `${m.version}_${m.name}`));
      expect((await columns(fromTemplate)).rows).toEqual((await columns(scratch)).rows);
      expect((await columns(fromTemplate)).rows.length).toBeGreaterThan(50);
      // The migrations came with the files, not from a migrate() at open: a database opened later
      // holds the very rows, applied before it was opened.
      const applied = (db: Db) =>
        db.query<{ version: string; at: string }>('SELECT version, applied_at::text AS at FROM mlops.schema_migrations ORDER BY version');
      const openedAt = (await fromTemplate.query<{ now: string }>('SELECT clock_timestamp()::text AS now')).rows[0].now;
      const later = await openPglite(undefined, { migrated: true });
      try {
        const rows = (await applied(later)).rows;
        expect(rows).toEqual((await applied(fromTemplate)).rows);
        const fresh = await later.query<{ n: number }>('SELECT count(*)::int AS n FROM mlops.schema_migrations WHERE applied_at >= $1::timestamptz', [
          openedAt,
        ]);
        expect(fresh.rows[0].n).toBe(0);
      } finally {
        await later.close();
      }
    } finally {
      await scratch.close();
      await fromTemplate.close();
    }
    // the template's name follows the migrations' contents
    const migrations = loadMigrations();
    const edited = migrations.map((m, i) => (i === migrations.length - 1 ? { ...m, checksum: `${m.checksum}x` } : m));
    expect(migrationsKey(edited)).not.toBe(migrationsKey(migrations));
    expect(migrationsKey(migrations.slice(0, -1))).not.toBe(migrationsKey(migrations));
  });

  it('openMigratedDb (the CLI, the actions, the suites) starts a new database from the migrated template, in this thread, on the worker and in a directory', async () => {
    const { openMigratedDb } = await import('../actions/lib/db/index.ts');
    const dir = join(root, 'opened-migrated');
    for (const options of [{}, { worker: true }, { dataDir: dir }]) {
      const { db, migrations } = await openMigratedDb({ ignoreEnv: true, ...options });
      try {
        // migrate() ran at the open and had nothing to apply: the migrations came with the template
        expect(migrations.applied, JSON.stringify(options)).toEqual([]);
        expect(migrations.alreadyApplied).toEqual(loadMigrations().map((m) => `${m.version}_${m.name}`));
      } finally {
        await db.close();
      }
    }
  });

  it('a damaged template is never used: it is rebuilt', async () => {
    const damaged = join(root, 'damaged');
    const dir = templateDir(START_PARAMS, env(damaged));
    cpSync(templateDir(START_PARAMS, env(cache)), dir, { recursive: true });
    const before = manifestOf(dir);
    truncateSync(join(dir, 'data', 'global', 'pg_control'), 100);

    const { pg, source } = await createPglite(undefined, START_PARAMS, env(damaged));
    expect(source).toBe('built-template');
    expect((await pg.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pg.close();
    const after = manifestOf(dir);
    expect(after.build).not.toBe(before.build);
    expect(statSync(join(dir, 'data', 'global', 'pg_control')).size).toBe(Object.fromEntries(after.files)['global/pg_control']);
    expect(readdirSync(join(damaged, 'pglite-template'))).toHaveLength(1);

    // a template without its manifest (written last) is a partial one: a new data directory is not filled from it
    const partial = join(root, 'partial');
    const partialDir = templateDir(START_PARAMS, env(partial));
    cpSync(templateDir(START_PARAMS, env(cache)), partialDir, { recursive: true });
    rmSync(join(partialDir, 'template.json'));
    const onDisk = await createPglite(join(root, 'db-partial'), START_PARAMS, env(partial));
    expect(onDisk.source).toBe('built-template');
    await onDisk.pg.close();
    expect(existsSync(join(partialDir, 'template.json'))).toBe(true);
  });

  it('a data directory the template cannot be copied into gets an error naming it, and the template is kept', async () => {
    // A real error of the destination alone: a directory whose path leaves room under PATH_MAX
    // (4096) for the fill's marker but not for the template's longest names (32 characters), so
    // copying those fails with ENAMETOOLONG.
    let deep = join(root, 'deep');
    while (deep.length < 4070) deep = join(deep, 'd'.repeat(Math.min(200, 4070 - deep.length - 1)));
    const dir = templateDir(START_PARAMS, env(cache));
    const before = manifestOf(dir).build;
    await expect(createPglite(deep, START_PARAMS, env(cache))).rejects.toThrow(
      new RegExp(`^cannot create the database in ${deep.replaceAll('/', '\\/')} \\(copying the cached initdb template from .*ENAMETOOLONG`),
    );
    expect(manifestOf(dir).build).toBe(before);
    // what the fill had copied is cleared
    expect(readdirSync(deep).filter((n) => n !== 'mlops-template-fill')).toEqual([]);
  });

  it('a cache that cannot be written leaves new databases to initdb, without an error but with one warning that says what to do', async () => {
    // a cache path under a regular file cannot be created, even by root
    const blocker = join(root, 'not-a-directory');
    writeFileSync(blocker, '');
    const warnings: Error[] = [];
    const onWarning = (w: Error): number => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 2; i++) {
        const { pg, source } = await createPglite(undefined, START_PARAMS, env(join(blocker, 'cache')));
        expect(source).toBe('initdb');
        expect((await pg.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await pg.close();
      }
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    const ours = warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'MLOPS_PGLITE_TEMPLATE');
    expect(ours).toHaveLength(1);
    expect(ours[0].message).toContain(join(blocker, 'cache', 'pglite-template'));
    expect(ours[0].message).toContain('point MLOPS_CACHE_DIR at a writable directory');
  });
});
