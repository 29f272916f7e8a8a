import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { redactUrl, scrubSecret } from './redact.ts';
import { copyInSql, type Db, type Queryable, type QueryResult, type SqlParam, type TransactionOptions } from './types.ts';

// Same value types as the PGlite backend: int8 and numeric as numbers (counts and metrics fit).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

type Client = pg.PoolClient | pg.Pool;

export class DatabaseError extends Error {}

function queryable(client: Client, url: string): Queryable {
  const fail = (err: unknown): never => {
    const message = err instanceof Error ? err.message : String(err);
    const e = new DatabaseError(scrubSecret(message, url));
    if (err instanceof Error && 'code' in err) Object.assign(e, { code: (err as { code: unknown }).code });
    throw e;
  };
  return {
    async query<R>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<R>> {
      try {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
      } catch (err) {
        return fail(err);
      }
    },
    async exec(sql) {
      try {
        await client.query(sql);
      } catch (err) {
        fail(err);
      }
    },
    async copyInCsv(table, columns, csv) {
      const conn = 'release' in client ? client : await client.connect();
      try {
        const stream = conn.query(copyStreams.from(copyInSql(table, columns, 'STDIN')));
        const source = typeof csv === 'string' ? Readable.from([csv]) : Readable.from(csv);
        await pipeline(source, stream);
        return Number(stream.rowCount ?? 0);
      } catch (err) {
        return fail(err);
      } finally {
        if (conn !== client) (conn as pg.PoolClient).release();
      }
    },
    async *copyOutBinary(select) {
      const conn = 'release' in client ? client : await client.connect();
      try {
        const stream = conn.query(copyStreams.to(`COPY (${select}) TO STDOUT WITH (FORMAT binary)`));
        for await (const chunk of stream) yield chunk as Uint8Array;
      } catch (err) {
        fail(err);
      } finally {
        if (conn !== client) (conn as pg.PoolClient).release();
      }
    },
  };
}

export async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const location = redactUrl(url);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    throw new DatabaseError(`cannot connect to PostgreSQL at ${location}: ${scrubSecret(message, url)}`);
  }
  const base = queryable(pool, url);
  return {
    backend: 'postgres',
    location,
    ...base,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query(options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
        const result = await fn(queryable(client, url));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async session<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        return await fn(queryable(client, url));
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
