import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, decodeBinaryCopy } from '../actions/lib/db/copy-binary.ts';
import { DatabaseBusyError, isConnectionLost, openDb, type Db } from '../actions/lib/db/index.ts';
import { LOCK_FILE } from '../actions/lib/db/dir-lock.ts';
import { openPgliteWorker } from '../actions/lib/db/pglite-worker.ts';
import { waitUntil } from './helpers/cli.ts';

/**
 * PGlite on a worker thread (pglite-worker.ts) against PGlite in this thread: the same answers,
 * the same errors, through messages. Faults for real: a worker that runs out of heap dies.
 */

/** What an error says, field by field, as callers read it. */
function shape(err: unknown): Record<string, unknown> {
  const e = err as Record<string, unknown> & Error;
  return { message: e.message, code: e.code, position: e.position, severity: e.severity, detail: e.detail, hint: e.hint };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** Binary COPY tuples of (int4, text): field count, then per field its length and bytes. */
function tuples(from: number, to: number): Uint8Array {
  const parts: number[] = [];
  const view = new DataView(new ArrayBuffer(4));
  const int = (n: number, bytes: 2 | 4): void => {
    if (bytes === 2) view.setInt16(0, n);
    else view.setInt32(0, n);
    for (let i = 0; i < bytes; i++) parts.push(view.getUint8(i));
  };
  for (let i = from; i < to; i++) {
    int(2, 2);
    int(4, 4);
    int(i, 4);
    const text = new TextEncoder().encode(`t${i}`);
    int(text.length, 4);
    parts.push(...text);
  }
  return new Uint8Array(parts);
}

describe('PGlite on a worker thread', () => {
  let db: Db;
  let local: Db;
  beforeAll(async () => {
    db = await openDb({ ignoreEnv: true, worker: true });
    local = await openDb({ ignoreEnv: true });
    for (const d of [db, local]) await d.exec('CREATE TABLE public.probe (id int PRIMARY KEY, note text, at timestamptz, doc jsonb, amount numeric)');
  });
  afterAll(async () => {
    await db?.close();
    await local?.close();
  });

  it('answers queries with the values the in-thread database gives (numbers, Dates, objects, bytes)', async () => {
    const sql = "SELECT 7::int8 AS a, 1.25::numeric AS b, '2026-01-01T00:00:00Z'::timestamptz AS c, $1::jsonb AS d, $2::bytea AS e, $3::text[] AS f";
    const params = [JSON.stringify({ x: 1 }), new Uint8Array([1, 2, 255]), ['p', 'q']];
    const there = await db.query(sql, params);
    expect(there).toEqual(await local.query(sql, params));
    expect(there.rows[0]).toEqual({ a: 7, b: 1.25, c: new Date('2026-01-01T00:00:00Z'), d: { x: 1 }, e: new Uint8Array([1, 2, 255]), f: ['p', 'q'] });
    expect(db).toMatchObject({ backend: 'pglite', location: 'memory' });
  });

  it('keeps an SQL error as it is: message, SQLSTATE code, position', async () => {
    for (const sql of ['SELEC 1', 'SELECT 1/0', 'SELECT no_such_column FROM public.probe']) {
      const there = await caught(db.query(sql));
      const here = await caught(local.query(sql));
      expect(there).toBeInstanceOf(Error);
      expect(shape(there)).toEqual(shape(here));
    }
    expect(shape(await caught(db.query('SELEC 1')))).toMatchObject({ message: 'syntax error at or near "SELEC"', code: '42601', position: '1' });
    const dup = await caught(db.exec('INSERT INTO public.probe (id) VALUES (1), (1)'));
    expect(shape(dup)).toMatchObject({
      code: '23505',
      message: 'duplicate key value violates unique constraint "probe_pkey"',
      detail: 'Key (id)=(1) already exists.',
    });
    expect(isConnectionLost(dup)).toBe(false);
  });

  it('refuses a parameter that cannot cross to the thread with an error that says so, and answers the next call', async () => {
    const err = await caught(db.query('SELECT $1::jsonb AS v', [{ f: () => 1 }]));
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^pglite \(worker thread\): query could not be sent to the database thread: /);
    expect((await db.query<{ n: number }>('SELECT 1::int AS n')).rows).toEqual([{ n: 1 }]);
  });

  it('commits a transaction, rolls one back as a whole when it throws, and refuses writes in a READ ONLY one', async () => {
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO public.probe (id, note) VALUES ($1, $2)', [10, 'kept']);
      await tx.query('UPDATE public.probe SET note = note || $1 WHERE id = 10', ['!']);
    });
    const failed = await caught(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO public.probe (id, note) VALUES ($1, $2)', [11, 'gone']);
        await tx.query('INSERT INTO public.probe (id, note) VALUES ($1, $2)', [10, 'duplicate']);
      }),
    );
    expect(shape(failed)).toMatchObject({ code: '23505' });
    // thrown by the caller's own code, not the database: the same error comes back, and nothing was kept
    const mine = new Error('changed my mind');
    expect(
      await caught(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO public.probe (id, note) VALUES (12, $1)', ['gone too']);
          throw mine;
        }),
      ),
    ).toBe(mine);
    const rows = await db.query<{ id: number; note: string }>('SELECT id, note FROM public.probe WHERE id >= 10 ORDER BY id');
    expect(rows.rows).toEqual([{ id: 10, note: 'kept!' }]);
    const ro = await caught(db.transaction((tx) => tx.query('INSERT INTO public.probe (id) VALUES (13)'), { readOnly: true }));
    expect(shape(ro)).toMatchObject({ code: '25006', message: 'cannot execute INSERT in a read-only transaction' });
    expect(await db.readSource(async (tx) => (await tx.query<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro")).rows[0].ro)).toBe('on');
  });

  it('runs the statements of concurrent transactions without interleaving them', async () => {
    await db.exec('CREATE TABLE public.seq (tx int, n int, seen bigint)');
    const one = (t: number) =>
      db.transaction(async (tx) => {
        for (let n = 0; n < 20; n++) {
          await tx.query('INSERT INTO public.seq SELECT $1, $2, count(*) FROM public.seq', [t, n]);
        }
      });
    await Promise.all([one(1), one(2), one(3)]);
    const { rows } = await db.query<{ tx: number; n: number; seen: number }>('SELECT tx, n, seen FROM public.seq ORDER BY seen');
    // each transaction's 20 rows are consecutive: no statement of another ran between them
    expect(rows.map((r) => r.seen)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    for (let i = 0; i < 60; i += 20) expect(new Set(rows.slice(i, i + 20).map((r) => r.tx)).size).toBe(1);
  });

  it("LISTENs on the worker's instance: a committed NOTIFY comes back as a message, a rolled-back one never", async () => {
    const heard: string[] = [];
    const listener = await db.listen('mlops_probe', (p) => heard.push(p));
    await db.transaction(async (tx) => {
      await tx.query("SELECT pg_notify('mlops_probe', 'committed')");
    });
    await db
      .transaction(async (tx) => {
        await tx.query("SELECT pg_notify('mlops_probe', 'rolled back')");
        throw new Error('refused');
      })
      .catch(() => undefined);
    await db.query("SELECT pg_notify('mlops_probe', 'marker')");
    await waitUntil('the marker', () => heard.includes('marker'));
    expect(heard).toEqual(['committed', 'marker']);
    await listener.close();
    expect(listener.lost.aborted).toBe(true);
  });

  it('runs a session on the connection, with a lost signal that stays quiet while the worker lives', async () => {
    const got = await db.session(async (conn, lost) => {
      await conn.query("SELECT set_config('application_name', 'worker-session', false)");
      return { name: (await conn.query<{ n: string }>("SELECT current_setting('application_name') AS n")).rows[0].n, aborted: lost.aborted };
    });
    expect(got).toEqual({ name: 'worker-session', aborted: false });
  });

  it('copies CSV and binary tuples in, from a string and from many small chunks, and binary out, as the in-thread database does', async () => {
    await db.exec('CREATE TABLE public.copied (id int, label text)');
    expect(await db.copyInCsv('public.copied', ['id', 'label'], '1,one\n2,"two, quoted"\n')).toBe(2);
    async function* lines() {
      for (let i = 3; i < 20_003; i++) yield `${i},line ${i}\n`;
    }
    expect(await db.copyInCsv('public.copied', ['id', 'label'], lines())).toBe(20_000);
    async function* binary() {
      yield BINARY_COPY_HEADER.subarray(0, 0); // an empty chunk is nothing
      for (let i = 0; i < 10; i++) yield tuples(100_000 + i * 1000, 100_000 + (i + 1) * 1000);
    }
    expect(await db.copyInBinary('public.copied', ['id', 'label'], binary())).toBe(10_000);
    expect((await db.query<{ n: number; s: number }>('SELECT count(*)::int AS n, sum(id)::float8 AS s FROM public.copied')).rows[0]).toEqual({
      n: 30_002,
      s: 3 + (20_002 * 20_003) / 2 - 3 + 10_000 * 100_000 + (9_999 * 10_000) / 2,
    });
    // a source that fails mid-way fails the COPY with its own error (that very object), and loads nothing
    const broken = Object.assign(new Error('the source broke'), { line: 7 });
    async function* failing() {
      yield '1,a\n';
      throw broken;
    }
    expect(await caught(db.copyInCsv('public.copied', ['id', 'label'], failing()))).toBe(broken);
    expect(await caught(local.copyInCsv('public.copied', ['id', 'label'], failing()))).toBe(broken);

    // binary out, decoded: the same columns as from the in-thread database given the same rows
    await local.exec('CREATE TABLE public.copied (id int, label text)');
    const all = await db.query<{ id: number; label: string }>('SELECT id, label FROM public.copied');
    await local.copyInCsv('public.copied', ['id', 'label'], all.rows.map((r) => `${r.id},"${r.label.replace(/"/g, '""')}"\n`).join(''));
    const select = 'SELECT id::float8, label FROM public.copied ORDER BY id';
    const there = await db.transaction((tx) => decodeBinaryCopy(tx, select, ['float8', 'text']), { readOnly: true });
    const here = await local.transaction((tx) => decodeBinaryCopy(tx, select, ['float8', 'text']), { readOnly: true });
    expect(there.rows).toBe(30_002);
    expect(Array.from(there.columns[0])).toEqual(Array.from(here.columns[0]));
    expect(there.dictionaries[1]!.length).toBe(30_002);
    expect(there.dictionaries).toEqual(here.dictionaries);
    // outside a transaction too, and a COPY whose SELECT fails fails with the server's error
    const chunks: Uint8Array[] = [];
    await db.copyOutBinary('SELECT 1::int', (c) => {
      chunks.push(c.slice());
    });
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(BINARY_COPY_HEADER.length + 2 + 4 + 4 + BINARY_COPY_TRAILER.length);
    expect(shape(await caught(decodeBinaryCopy(db, 'SELECT 1/0', ['float8'])))).toMatchObject({ code: '22012' });
    // a stream of several messages arrives whole and in order; a reader that throws fails the
    // COPY with its own error, and the database goes on
    const big = "SELECT g::float8, repeat('y', 40 + g % 7) FROM generate_series(1, 60000) g";
    const many = await decodeBinaryCopy(db, big, ['float8', 'text']);
    expect(many.rows).toBe(60_000);
    expect(Array.from(many.columns[0]).every((v, i) => v === i + 1)).toBe(true);
    expect(many.dictionaries[1]).toEqual(Array.from({ length: 7 }, (_, k) => 'y'.repeat(40 + ((k + 1) % 7))));
    const sizes: number[] = [];
    const refused = new Error('the reader refused');
    const err = await caught(
      db.copyOutBinary(big, (c) => {
        sizes.push(c.length);
        throw refused;
      }),
    );
    expect(err).toBe(refused);
    expect(sizes.length).toBe(1);
    expect((await db.query<{ x: number }>('SELECT 2 AS x')).rows).toEqual([{ x: 2 }]);
  });

  it('copies in chunks larger than a COPY batch, alone and after small ones, as the in-thread database does', async () => {
    // a text chunk of ~17 MB first (alone a batch: the worker hands its encoding over as it is),
    // small lines, a second big chunk (joined with them into one batch), more small lines
    const wide = 'w'.repeat(8_500);
    const bigChunk = (from: number): string => {
      let big = '';
      for (let i = from; i < from + 2_000; i++) big += `${i},${wide}${i}\n`;
      return big;
    };
    async function* source() {
      yield bigChunk(0);
      for (let i = 2_000; i < 2_050; i++) yield `${i},small ${i}\n`;
      yield bigChunk(2_050);
      for (let i = 4_050; i < 4_100; i++) yield `${i},small ${i}\n`;
    }
    const summary = 'SELECT count(*)::int AS n, sum(id)::int AS ids, sum(length(label))::int AS chars, min(label) AS first FROM public.wide';
    const answers = [];
    for (const d of [db, local]) {
      await d.exec('CREATE TABLE public.wide (id int, label text)');
      expect(await d.copyInCsv('public.wide', ['id', 'label'], source())).toBe(4_100);
      answers.push((await d.query(summary)).rows[0]);
      await d.exec('DROP TABLE public.wide');
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).toMatchObject({ n: 4_100, ids: (4_099 * 4_100) / 2 });
  });
});

describe('PGlite on a worker thread, its directory and its end', () => {
  it('holds the directory lock like the in-thread database, keeps the data across a close, and refuses calls after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlops-dbworker-'));
    try {
      const db = await openDb({ dataDir: dir, ignoreEnv: true, worker: true });
      expect(db.location).toBe(dir);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
      const again = await caught(openDb({ dataDir: dir, ignoreEnv: true, worker: true }));
      expect(again).toBeInstanceOf(DatabaseBusyError);
      expect((again as Error).message).toBe(`the embedded database ${dir} is already open in this process; close it before opening it again`);
      await db.exec('CREATE TABLE public.kept (v text); INSERT INTO public.kept VALUES ($$written by the worker$$)');
      await db.close();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      expect((await caught(db.query('SELECT 1'))) as Error).toMatchObject({ message: 'the embedded database is closed' });

      const reopened = await openDb({ dataDir: dir, ignoreEnv: true });
      expect((await reopened.query('SELECT v FROM public.kept')).rows).toEqual([{ v: 'written by the worker' }]);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the calls in flight and later ones, and aborts a session, when the worker dies (out of heap)', async () => {
    const db = await openPgliteWorker(undefined, { maxHeapMb: 48 });
    try {
      expect((await db.query<{ x: number }>('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
      const listener = await db.listen('mlops_probe', () => undefined);
      const died = await db.session(async (conn, lost) => {
        // ~200 MB of rows as JavaScript strings, in a heap of 48 MB
        const err = await caught(conn.query("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 200000) g"));
        return { err, lost: lost.aborted, reason: lost.reason as unknown };
      });
      expect(isConnectionLost(died.err)).toBe(true);
      expect((died.err as Error).message).toMatch(/^the embedded database's worker thread stopped: /);
      expect(died.lost).toBe(true);
      expect(died.reason).toBe(died.err);
      const later = await caught(db.query('SELECT 1'));
      expect(later).toBe(died.err);
      // a LISTEN on the worker is lost with it, saying why
      expect(listener.lost.aborted).toBe(true);
      expect(listener.lost.reason).toBe(died.err);
    } finally {
      await db.close();
    }
  });
});
