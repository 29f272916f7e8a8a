import { describe, expect, it } from 'vitest';
import { binaryTimestampSql, decodeBinaryCopy } from '../actions/lib/db/copy-binary.ts';
import { TextDictionary } from '../actions/lib/db/text-dictionary.ts';
import { loadMigrations, migrate } from '../actions/lib/db/migrate.ts';
import { openDb, redactUrl, scrubSecret, type Db, type Queryable } from '../actions/lib/db/index.ts';
import { connectionPassword, connectionUrl } from '../actions/lib/db/connection.ts';
import { LOCK_FILE } from '../actions/lib/db/dir-lock.ts';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDb } from './helpers/db.ts';
import { waitUntil } from './helpers/cli.ts';

describeDb('database layer', ({ db, backend, fresh }) => {
  it('applies migrations once and records them', async () => {
    const again = await migrate(db());
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(loadMigrations().map((m) => `${m.version}_${m.name}`));
    const { rows } = await db().query<{ n: number }>('SELECT count(*)::int AS n FROM mlops.schema_migrations');
    expect(rows[0].n).toBe(loadMigrations().length);
    const tables = await db().query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'mlops' ORDER BY 1");
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'training_runs',
        'model_artifacts',
        'evaluations',
        'model_performance',
        'deployments',
        'quality_checks',
        'drift_reports',
        'alerts',
        'predictions',
      ]),
    );
  });

  it('checks an up-to-date schema with one query, outside any transaction, and still migrates a missing file', async () => {
    const seen: string[] = [];
    const real = db();
    const counting: Db = {
      ...real,
      query: (sql, params) => (seen.push(sql), real.query(sql, params)),
      transaction: (fn, options) => (seen.push('transaction'), real.transaction(fn, options)),
    };
    const result = await migrate(counting);
    expect(result.applied).toEqual([]);
    expect(seen).toEqual(['SELECT version, checksum FROM mlops.schema_migrations']);
    // A file the database has not recorded yet takes the full path, under the lock.
    seen.length = 0;
    const extra = { version: '999', name: 'probe', sql: 'CREATE TABLE mlops.migrate_probe (id int)', checksum: 'e'.repeat(64) };
    expect((await migrate(counting, [...loadMigrations(), extra])).applied).toEqual(['999_probe']);
    expect(seen).toContain('transaction');
    await real.exec("DROP TABLE mlops.migrate_probe; DELETE FROM mlops.schema_migrations WHERE version = '999'");
  });

  it('refuses a migration whose file changed after it was applied', async () => {
    const changed = loadMigrations().map((m, i) => (i === 0 ? { ...m, sql: m.sql + '\n-- edited', checksum: 'f'.repeat(64) } : m));
    await expect(migrate(db(), changed)).rejects.toThrow(/migration 001_mlops_schema\.sql was changed after it was applied/);
  });

  it('rolls back a failed transaction as a whole', async () => {
    await db().exec('CREATE TABLE public.tx_probe (id int primary key)');
    await expect(
      db().transaction(async (tx) => {
        await tx.query('INSERT INTO public.tx_probe VALUES ($1)', [1]);
        await tx.query('INSERT INTO public.tx_probe VALUES ($1)', [1]);
      }),
    ).rejects.toThrow(/duplicate key/);
    const { rows } = await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.tx_probe');
    expect(rows[0].n).toBe(0);
  });

  it('LISTEN hears a NOTIFY when its transaction commits (the same payload once), never one rolled back, and nothing once closed', async () => {
    const channel = 'mlops_probe';
    const notify = (q: Queryable, payload: string) => q.query('SELECT pg_notify($1, $2)', [channel, payload]);
    const heard: string[] = [];
    const listener = await db().listen(channel, (p) => heard.push(p));
    await db().transaction(async (tx) => {
      await notify(tx, 'committed');
      await notify(tx, 'committed');
    });
    await expect(
      db().transaction(async (tx) => {
        await notify(tx, 'rolled back');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    // Notifications arrive in commit order: once the marker is heard, everything before it has been.
    await notify(db(), 'marker');
    await waitUntil('the marker', () => heard.includes('marker'));
    expect(heard).toEqual(['committed', 'marker']);
    expect(listener.lost.aborted).toBe(false);
    await listener.close();
    expect(listener.lost.aborted).toBe(true);
    const other: string[] = [];
    const second = await db().listen(channel, (p) => other.push(p));
    await notify(db(), 'after close');
    await waitUntil('the second listener to hear it', () => other.includes('after close'));
    expect(heard).toEqual(['committed', 'marker']);
    await second.close();
  });

  it('closing the database stops its listeners: their lost signal aborts (in-thread, on a worker thread, on PostgreSQL)', async () => {
    const opens = backend === 'pglite' ? [() => openDb({ ignoreEnv: true }), () => openDb({ ignoreEnv: true, worker: true })] : [() => fresh().open()];
    for (const open of opens) {
      const other = await open();
      const listener = await other.listen('mlops_probe', () => undefined);
      expect(listener.lost.aborted).toBe(false);
      await other.close();
      expect(listener.lost.aborted).toBe(true);
    }
  });

  it('refuses writes in a READ ONLY transaction', async () => {
    await expect(
      db().transaction(
        async (tx) => {
          await tx.query('INSERT INTO public.tx_probe VALUES ($1)', [2]);
        },
        { readOnly: true },
      ),
    ).rejects.toThrow(/read-only transaction/);
  });

  it('bulk-loads CSV with COPY and reads it back as columns with binary COPY', async () => {
    await db().exec('CREATE TABLE public.copy_probe (ts timestamptz, station text, v double precision)');
    async function* chunks() {
      for (let i = 0; i < 3000; i++) yield `2026-01-01T00:${String(i % 60).padStart(2, '0')}:00Z,S${i % 3},${i % 7 === 0 ? '' : i / 2}\n`;
    }
    const loaded = await db().copyInCsv('public.copy_probe', ['ts', 'station', 'v'], chunks());
    expect(loaded).toBe(3000);
    const decoded = await db().transaction(async (tx) => decodeBinaryCopy(tx, 'SELECT station, v FROM public.copy_probe', ['text', 'float8']), {
      readOnly: true,
    });
    expect(decoded.rows).toBe(3000);
    const v = decoded.columns[1] as Float64Array;
    let nulls = 0;
    let sum = 0;
    for (const x of v) Number.isNaN(x) ? nulls++ : (sum += x);
    expect(nulls).toBe(Math.ceil(3000 / 7));
    let expected = 0;
    for (let i = 0; i < 3000; i++) if (i % 7 !== 0) expected += i / 2;
    expect(sum).toBeCloseTo(expected, 6);
    expect([...decoded.dictionaries[0]!].sort()).toEqual(['S0', 'S1', 'S2']);
    // a reader that throws fails the COPY with its own error, and the connection goes on
    const refused = new Error('the reader refused');
    let calls = 0;
    await expect(
      db().copyOutBinary("SELECT g, repeat('z', 50) FROM generate_series(1, 200000) g", () => {
        calls++;
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect((await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.copy_probe')).rows[0].n).toBe(3000);
    expect(backend).toMatch(/pglite|postgres/);
  });

  it("reads times through binary COPY as epoch ms bit for bit as extract(epoch) * 1000, and codes text by another stream's dictionary", async () => {
    // microseconds, before 1970 and 2000, timestamps without a zone, dates, beyond 2^53 us (2255+), infinities
    await db().exec(`CREATE TABLE public.time_probe AS SELECT g,
        timestamptz '1969-07-20 20:17:40.123456+00' + g * interval '7919 microseconds' + g * interval '13 hours 17 minutes 0.001 seconds' AS tz,
        timestamp '1950-01-01' + g * interval '3 days 0.000777 seconds' AS ts, date '1900-01-01' + g AS d
      FROM generate_series(0, 120000, 7) g
      UNION ALL SELECT -1, 'infinity', '-infinity', 'infinity' UNION ALL SELECT -2, NULL, NULL, NULL`);
    const decoded = await db().transaction((tx) =>
      decodeBinaryCopy(
        tx,
        `SELECT (extract(epoch from tz) * 1000)::float8, ${binaryTimestampSql('tz', 'timestamp with time zone')},
             (extract(epoch from ts) * 1000)::float8, ${binaryTimestampSql('ts', 'timestamp without time zone')},
             (extract(epoch from d) * 1000)::float8, ${binaryTimestampSql('d', 'date')} FROM public.time_probe ORDER BY g`,
        ['float8', 'timestamp', 'float8', 'timestamp', 'float8', 'timestamp'],
      ),
    );
    expect(decoded.rows).toBe(17145);
    for (const [sql, binary] of [
      [0, 1],
      [2, 3],
      [4, 5],
    ]) {
      expect(Array.from(decoded.columns[binary])).toEqual(Array.from(decoded.columns[sql]));
    }
    expect(decoded.columns[1][1]).toBe(Number.POSITIVE_INFINITY);
    expect(decoded.columns[3][1]).toBe(Number.NEGATIVE_INFINITY);
    expect(decoded.columns[1][0]).toBeNaN();
    expect(Math.max(...(decoded.columns[3] as Float64Array).filter(Number.isFinite))).toBeGreaterThan(2 ** 53 / 1000);

    const keys = TextDictionary.of(['b', 'a']);
    const coded = await db().transaction((tx) =>
      decodeBinaryCopy(tx, "SELECT x FROM (VALUES ('a'), ('c'), (NULL), ('b'), ('a')) v(x)", ['text'], { codesOf: [keys] }),
    );
    expect(Array.from(coded.columns[0])).toEqual([1, -1, -1, 0, 1]);
    expect(coded.dictionaries[0]).toBeNull();
    expect(keys.size).toBe(2);
  });

  it('returns numbers for int8 and numeric, Dates for timestamptz, objects for jsonb', async () => {
    const { rows } = await db().query<{ a: number; b: number; c: Date; d: { x: number } }>(
      "SELECT 7::int8 AS a, 1.25::numeric AS b, '2026-01-01T00:00:00Z'::timestamptz AS c, $1::jsonb AS d",
      [JSON.stringify({ x: 1 })],
    );
    expect(rows[0]).toEqual({ a: 7, b: 1.25, c: new Date('2026-01-01T00:00:00Z'), d: { x: 1 } });
  });

  it('passes bytea parameters and reads bytea back byte for byte (every byte value, empty, 1 MB)', async () => {
    const every = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24);
    for (const bytes of [every, new Uint8Array(0), big]) {
      const { rows } = await db().query<{ b: Uint8Array; n: number; h: string }>(
        "SELECT $1::bytea AS b, length($1::bytea) AS n, encode(sha256($1::bytea), 'hex') AS h",
        [bytes],
      );
      expect(rows[0].n).toBe(bytes.length);
      expect(rows[0].h).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(Buffer.from(rows[0].b).equals(Buffer.from(bytes))).toBe(true);
    }
  });
});

describe('connection strings', () => {
  it('never shows the password', () => {
    expect(redactUrl('postgres://app:s3cr%40t@db.example:5432/mlops')).toBe('postgres://app:***@db.example:5432/mlops');
    expect(scrubSecret('failed for postgres://app:s3cr%40t@h/db and s3cr@t', 'postgres://app:s3cr%40t@h/db')).not.toMatch(/s3cr/);
  });

  it('names the server, without the password, when it cannot connect', async () => {
    const err = await openDb({ url: 'postgres://app:hunter2@127.0.0.1:1/nowhere' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/nowhere: /);
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('connection strings in both libpq forms', () => {
  it('turns keyword=value pairs into the URL node-postgres opens, and masks their password everywhere', () => {
    expect(connectionUrl("host=db.plant.local port=5433 dbname=plant user=mlops password='s3 cr\\'et' sslmode=require")).toBe(
      "postgres://mlops:s3%20cr'et@db.plant.local:5433/plant?sslmode=require",
    );
    expect(connectionUrl('host=/var/run/postgresql dbname=plant')).toBe('postgres://localhost/plant?host=%2Fvar%2Frun%2Fpostgresql');
    const kw = "host=db dbname=plant user=app password='hunter 2'";
    expect(redactUrl(kw)).toBe('host=db dbname=plant user=app password=***');
    expect(scrubSecret(`failed for ${kw}: password "hunter 2" rejected`, kw)).not.toContain('hunter');
    expect(connectionPassword(kw)).toBe('hunter 2');
  });

  it('refuses what it cannot pass on, saying what is wrong', () => {
    expect(() => connectionUrl('host=db service=prod')).toThrow('connection string: unsupported keyword "service" (supported: host, hostaddr, port,');
    expect(() => connectionUrl("host=db password='open")).toThrow('connection string: unterminated quoted value of "password"');
    expect(() => connectionUrl('host=db port=five')).toThrow('connection string: port must be a number, got "five"');
    expect(() => connectionUrl('mysql://u@h/db')).toThrow(
      'connection string: expected a URL (postgres://user:password@host:5432/dbname) or libpq keyword=value pairs',
    );
  });

  it.runIf(Boolean(process.env.DATABASE_URL))('opens PostgreSQL from a keyword string', async () => {
    const u = new URL(process.env.DATABASE_URL!);
    const kw = `host=${u.hostname} port=${u.port || 5432} dbname=${u.pathname.slice(1)} user=${decodeURIComponent(u.username) || 'postgres'}`;
    const db = await openDb({ url: kw });
    try {
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(db.location).toBe(kw);
    } finally {
      await db.close();
    }
  });
});

describe("the embedded database directory is one process's at a time", () => {
  it('refuses a second open in the same process, and takes over the lock of a process that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlops-dirlock-'));
    try {
      const db = await openDb({ dataDir: dir, ignoreEnv: true });
      const again = await openDb({ dataDir: dir, ignoreEnv: true }).catch((e: Error) => e);
      expect((again as Error).message).toBe(`the embedded database ${dir} is already open in this process; close it before opening it again`);
      await db.close();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      // A process that took the lock and was killed leaves it behind, with its pid: stale, taken over.
      const child = spawnSync(process.execPath, [
        '--import',
        'tsx',
        '-e',
        `import { lockDataDir } from './actions/lib/db/dir-lock.ts'; await lockDataDir(${JSON.stringify(dir)}); process.kill(process.pid, 'SIGKILL');`,
      ]);
      expect(child.signal).toBe('SIGKILL');
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(child.pid);
      const waits: string[] = [];
      const reopened = await openDb({ dataDir: dir, ignoreEnv: true, waitMs: 0, onWait: (m) => waits.push(m) });
      expect(waits).toEqual([]);
      expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
