import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { connectionUrl } from './connection.ts';
import { redactUrl, scrubSecret } from '../util/secrets.ts';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER } from './copy-binary.ts';
import { copyInSql, quoteIdent, type Db, type Listener, type Queryable, type QueryResult, type SqlParam, type TransactionOptions } from './types.ts';

// Same value types as the PGlite backend: int8 and numeric as numbers (counts and metrics fit).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

type Client = pg.PoolClient | pg.Pool;

export class DatabaseError extends Error {
  /** the server or the network ended the connection (not an error of the statement) */
  connectionLost = false;
}

// SQLSTATEs of a session ended by the server (pg_terminate_backend, shutdown, crash) or the network.
const LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

/** True when `err` says the connection is gone rather than that a statement failed. */
export function isConnectionLoss(err: unknown): boolean {
  if (err instanceof DatabaseError) return err.connectionLost;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    (typeof code === 'string' && LOST_CODES.has(code)) ||
    /Connection terminated|not queryable|connection error|socket hang up|server closed the connection/i.test(err.message)
  );
}

/** A driver error as a DatabaseError with the password taken out; a lost connection says so. */
function toDatabaseError(err: unknown, url: string): DatabaseError {
  const message = scrubSecret(err instanceof Error ? err.message : String(err), url);
  const lost = isConnectionLoss(err);
  const e = new DatabaseError(lost && !message.startsWith('the database connection was lost') ? `the database connection was lost (${message})` : message);
  e.connectionLost = lost;
  if (err instanceof Error && 'code' in err) Object.assign(e, { code: (err as { code: unknown }).code });
  return e;
}

/**
 * A pool client with an 'error' listener for as long as it is checked out: the pool listens only
 * to idle clients, and an 'error' event nobody listens to (the server ends a session that is
 * between two queries) would crash the process. The error surfaces as the next query's failure;
 * `lost` aborts for whoever needs to know at once (the session that holds an advisory lock).
 */
interface Checkout {
  client: pg.PoolClient;
  lost: AbortSignal;
  release(): void;
}

async function checkout(pool: pg.Pool, url: string): Promise<Checkout> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err, url);
  }
  const ac = new AbortController();
  const onError = (err: Error): void => {
    if (!ac.signal.aborted) ac.abort(toDatabaseError(err, url));
  };
  const onEnd = (): void => {
    if (!ac.signal.aborted) ac.abort(toDatabaseError(new Error('Connection terminated unexpectedly'), url));
  };
  client.on('error', onError);
  client.on('end', onEnd);
  let released = false;
  return {
    client,
    lost: ac.signal,
    release() {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      client.removeListener('end', onEnd);
      // A client whose connection broke is destroyed, never handed to the next caller.
      client.release(ac.signal.aborted ? (ac.signal.reason as Error) : undefined);
    },
  };
}

/**
 * `lost`: the checked-out client's connection-loss signal. A query on a client that already lost
 * its connection fails with "not queryable"; the reason it was lost is the better message.
 */
function queryable(client: Client, pool: pg.Pool, url: string, lost?: AbortSignal): Queryable {
  const databaseError = (err: unknown): DatabaseError => (lost?.aborted ? (lost.reason as DatabaseError) : toDatabaseError(err, url));
  const own = async (): Promise<{ conn: pg.PoolClient; done: () => void }> => {
    if ('release' in client) return { conn: client, done: () => undefined };
    const c = await checkout(pool, url);
    return { conn: c.client, done: () => c.release() };
  };
  const copyIn = async (sql: string, chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<number> => {
    const { conn, done } = await own();
    try {
      const stream = conn.query(copyStreams.from(sql));
      await pipeline(Readable.from(chunks), stream);
      return Number(stream.rowCount ?? 0);
    } catch (err) {
      throw databaseError(err);
    } finally {
      done();
    }
  };
  return {
    async query<R>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<R>> {
      try {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
      } catch (err) {
        throw databaseError(err);
      }
    },
    async exec(sql) {
      try {
        await client.query(sql);
      } catch (err) {
        throw databaseError(err);
      }
    },
    async copyInCsv(table, columns, csv) {
      return copyIn(copyInSql(table, columns, 'STDIN'), typeof csv === 'string' ? [csv] : csv);
    },
    async copyInBinary(table, columns, tuples) {
      async function* framed(): AsyncGenerator<Uint8Array> {
        yield BINARY_COPY_HEADER;
        yield* tuples;
        yield BINARY_COPY_TRAILER;
      }
      return copyIn(copyInSql(table, columns, 'STDIN', 'binary'), framed());
    },
    async copyOutBinary(select, onData) {
      const { conn, done } = await own();
      let failed: { err: unknown } | null = null;
      try {
        const stream = conn.query(copyStreams.to(`COPY (${select}) TO STDOUT WITH (FORMAT binary)`));
        // After the reader fails the rest is read and dropped: a connection left in the middle of
        // a COPY would hang the next statement on it (the transaction's, or the pool's next user's).
        for await (const chunk of stream) {
          if (failed) continue;
          try {
            await onData(chunk as Uint8Array);
          } catch (err) {
            failed = { err };
          }
        }
      } catch (err) {
        throw databaseError(err);
      } finally {
        done();
      }
      // the reader's own error as it is
      const reader = failed as { err: unknown } | null;
      if (reader) throw reader.err;
    },
  };
}

/**
 * LISTEN on a client of its own, outside the pool: it stays connected as long as the listener
 * does, where a pool would hand the connection (and its LISTEN) to other callers or end it when
 * idle. TCP keep-alive, so that a connection the network dropped without a word is noticed.
 */
async function listenOn(url: string, channel: string, onNotify: (payload: string) => void): Promise<Listener> {
  const client = new pg.Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 10_000 });
  const ac = new AbortController();
  const lose = (err: unknown): void => {
    if (!ac.signal.aborted) ac.abort(toDatabaseError(err, url));
  };
  // An 'error' nobody listens to (the server ends the session between two notifications) would crash the process.
  client.on('error', lose);
  client.on('end', () => lose(new Error('Connection terminated unexpectedly')));
  client.on('notification', (n) => {
    if (n.channel === channel) onNotify(n.payload ?? '');
  });
  let closing = false;
  try {
    await client.connect();
    await client.query(`LISTEN ${quoteIdent(channel)}`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw toDatabaseError(err, url);
  }
  return {
    lost: ac.signal,
    async close() {
      if (closing) return;
      closing = true;
      client.removeAllListeners('end');
      ac.abort(new Error('the listener is closed'));
      await client.end().catch(() => undefined);
    },
  };
}

/** What makes a role more than a reader of the source, or null when it is least-privilege. */
async function privilegeProblem(pool: pg.Pool): Promise<string | null> {
  const { rows } = await pool.query<{ role: string; superuser: boolean; read_files: boolean; write_files: boolean; programs: boolean; writable: string[] }>(
    `SELECT current_user AS role, r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AS read_files,
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') AS write_files,
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS programs,
       ARRAY(SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
               AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                    OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
             ORDER BY 1 LIMIT 5) AS writable
     FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const r = rows[0];
  if (!r) return 'its role is not in pg_roles';
  const role = `role "${r.role}"`;
  if (r.superuser) return `${role} is a superuser`;
  if (r.read_files || r.write_files || r.programs) {
    const what = [r.read_files && 'read', r.write_files && 'write'].filter(Boolean).join(' and ');
    return `${role} can ${what ? `${what} server files` : ''}${what && r.programs ? ' and ' : ''}${r.programs ? 'run server programs' : ''}`;
  }
  if (r.writable.length) return `${role} can write table${r.writable.length > 1 ? 's' : ''} ${r.writable.join(', ')}`;
  return null;
}

export async function openPostgres(connectionString: string, sourceConnectionString?: string): Promise<Db> {
  const url = connectionUrl(connectionString);
  const location = redactUrl(connectionString);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    throw new DatabaseError(`cannot connect to PostgreSQL at ${location}: ${scrubSecret(scrubSecret(message, url), connectionString)}`);
  }
  const base = queryable(pool, pool, url);
  /** the LISTEN connections open (each its own client): closed with the database */
  const listeners = new Set<Listener>();
  // The extraction connection: opened on first use, its role checked once.
  let source: Promise<{ pool: pg.Pool; url: string }> | null = null;
  const sourcePool = (): Promise<{ pool: pg.Pool; url: string }> => {
    source ??= (async () => {
      const surl = connectionUrl(sourceConnectionString!);
      const p = new pg.Pool({ connectionString: surl, max: 2 });
      p.on('error', () => undefined);
      try {
        const problem = await privilegeProblem(p);
        if (problem) {
          throw new DatabaseError(
            `MLOPS_SOURCE_DATABASE_URL (${redactUrl(sourceConnectionString!)}) is not a least-privilege role: ${problem}. ` +
              'Derive expressions run with its privileges; give the extraction a role that can only read the source tables (README: least privilege)',
          );
        }
      } catch (err) {
        await p.end().catch(() => undefined);
        source = null;
        if (err instanceof DatabaseError) throw err;
        throw new DatabaseError(
          `cannot use MLOPS_SOURCE_DATABASE_URL (${redactUrl(sourceConnectionString!)}): ${scrubSecret(scrubSecret((err as Error).message, surl), sourceConnectionString)}`,
        );
      }
      return { pool: p, url: surl };
    })();
    return source;
  };
  const transaction = async <T>(p: pg.Pool, u: string, fn: (tx: Queryable) => Promise<T>, options: TransactionOptions): Promise<T> => {
    const c = await checkout(p, u);
    const tx = queryable(c.client, p, u, c.lost);
    try {
      await tx.query(options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (err) {
      if (!c.lost.aborted) await c.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  };
  return {
    backend: 'postgres',
    onThisThread: false,
    location,
    ...base,
    transaction: (fn, options = {}) => transaction(pool, url, fn, options),
    async readSource(fn) {
      if (!sourceConnectionString) return transaction(pool, url, fn, { readOnly: true });
      const s = await sourcePool();
      return transaction(s.pool, s.url, fn, { readOnly: true });
    },
    async session<T>(fn: (conn: Queryable, lost: AbortSignal) => Promise<T>): Promise<T> {
      const c = await checkout(pool, url);
      try {
        return await fn(queryable(c.client, pool, url, c.lost), c.lost);
      } finally {
        c.release();
      }
    },
    async listen(channel, onNotify) {
      const l = await listenOn(url, channel, onNotify);
      listeners.add(l);
      l.lost.addEventListener('abort', () => listeners.delete(l), { once: true });
      return l;
    },
    async close() {
      const s = source ? await source.catch(() => null) : null;
      await Promise.all([pool.end(), s?.pool.end(), ...[...listeners].map((l) => l.close())]);
    },
  };
}
