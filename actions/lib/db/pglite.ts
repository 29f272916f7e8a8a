import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import { copyInSql, type Db, type Queryable, type QueryResult, type SqlParam, type TransactionOptions } from './types.ts';

/** CSV characters per COPY batch on PGlite (chunks are whole lines, so batches split on lines). */
const COPY_BATCH_CHARS = 16 * 1024 * 1024;

type PgliteLike = Pick<PGlite, 'query' | 'exec'> | Transaction;

// One representation on both backends: numeric as a JS number (pg gives strings by default too).
const parsers = { [types.NUMERIC]: (v: string) => Number(v) };

function queryable(conn: PgliteLike): Queryable {
  return {
    async query<R>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<R>> {
      const r = await conn.query<R>(sql, params as unknown[], { parsers });
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql) {
      await conn.exec(sql);
    },
    async copyInCsv(table, columns, csv) {
      // PGlite takes COPY input as one blob: send it in batches so memory stays bounded. Callers
      // that need all-or-nothing run this inside a transaction, as seeding and import do.
      const sql = copyInSql(table, columns, "'/dev/blob'");
      let rows = 0;
      let parts: string[] = [];
      let size = 0;
      const flush = async (): Promise<void> => {
        if (parts.length === 0) return;
        const r = await conn.query(sql, [], { blob: new Blob(parts) });
        rows += r.affectedRows ?? 0;
        parts = [];
        size = 0;
      };
      for await (const chunk of typeof csv === 'string' ? [csv] : csv) {
        parts.push(chunk);
        size += chunk.length;
        if (size >= COPY_BATCH_CHARS) await flush();
      }
      await flush();
      return rows;
    },
    async *copyOutBinary(select) {
      // PGlite runs in this process: the result is one blob, there is no socket to stream from.
      const r = await conn.query(`COPY (${select}) TO '/dev/blob' WITH (FORMAT binary)`);
      if (r.blob) yield new Uint8Array(await r.blob.arrayBuffer());
    },
  };
}

export async function openPglite(dataDir: string | undefined): Promise<Db> {
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const base = queryable(db);
  return {
    backend: 'pglite',
    location: dataDir ?? 'memory',
    ...base,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      return db.transaction(async (tx) => {
        if (options.readOnly) await tx.query('SET TRANSACTION READ ONLY');
        return fn(queryable(tx));
      });
    },
    // PGlite is a single connection in this process: session state is shared, which is what one
    // process needs, and the session cannot be lost.
    session: (fn) => fn(base, new AbortController().signal),
    // One role, in this process: the WASM sandbox keeps server-file functions away from the host's
    // files (they see only the database's own directory) and READ ONLY refuses writes.
    async readSource<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION READ ONLY');
        return fn(queryable(tx));
      });
    },
    close: () => db.close(),
  };
}
