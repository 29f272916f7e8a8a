import { setFlagsFromString } from 'node:v8';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import { createPglite, type TemplatePreparation } from './pglite-template.ts';
import { loadMigrations, migrate, migrationsKey } from './migrate.ts';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER } from './copy-binary.ts';
import {
  copyInSql,
  PGLITE_COPY_BATCH_BYTES,
  type Db,
  type Listener,
  type Queryable,
  type QueryResult,
  type SqlParam,
  type TransactionOptions,
} from './types.ts';

/**
 * COPY input for PGlite: it reads a blob only through `arrayBuffer()` (into its /dev/blob device),
 * and a real Blob of 16 MB costs ~0.3 s to build and as much to read back; this hands over the
 * bytes already in memory (`bytes` must own its whole ArrayBuffer).
 */
function bytesBlob(bytes: Uint8Array<ArrayBuffer>): Blob {
  const blobLike = { size: bytes.length, type: '', arrayBuffer: () => Promise.resolve(bytes.buffer) };
  return blobLike as unknown as Blob;
}

type PgliteLike = Pick<PGlite, 'query' | 'exec'> | Transaction;

/** How PGlite's copy-out hands its chunks over (copyOutBinary's third argument; the worker thread's). */
export interface CopyOutChunks {
  /**
   * Bytes per chunk, each a buffer of its own that the reader keeps (and may hand to another
   * thread), instead of one buffer of COPY_OUT_CHUNK bytes reused after each call.
   */
  keptChunkBytes: number;
}

/** A Queryable of PGlite's: its copy-out can hand over chunks the reader keeps (CopyOutChunks). */
export interface PgliteQueryable extends Queryable {
  copyOutBinary(select: string, onData: (chunk: Uint8Array) => void | Promise<void>, chunks?: CopyOutChunks): Promise<void>;
}

export interface PgliteDb extends Db {
  copyOutBinary: PgliteQueryable['copyOutBinary'];
  transaction<T>(fn: (tx: PgliteQueryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  readSource<T>(fn: (tx: PgliteQueryable) => Promise<T>): Promise<T>;
}

/** A simple-query protocol message ('Q'). */
function queryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = new Uint8Array(5 + text.length);
  message[0] = 0x51;
  new DataView(message.buffer).setInt32(1, 4 + text.length);
  message.set(text, 5);
  return message;
}

/** An ErrorResponse's fields (type byte, text, NUL) as an Error with PostgreSQL's message and fields. */
function errorResponse(fields: Uint8Array): Error {
  const named: Record<string, string> = {};
  const decoder = new TextDecoder();
  for (let p = 0; p < fields.length && fields[p] !== 0; ) {
    const end = fields.indexOf(0, p + 1);
    named[String.fromCharCode(fields[p])] = decoder.decode(fields.subarray(p + 1, end));
    p = end + 1;
  }
  return Object.assign(new Error(named.M ?? 'COPY failed'), { severity: named.S, code: named.C, detail: named.D, hint: named.H, position: named.P });
}

/** CopyData bytes handed to the reader at a time on PGlite (the server sends a message per row). */
const COPY_OUT_CHUNK = 64 * 1024;

/**
 * `COPY (select) TO STDOUT (FORMAT binary)` through PGlite's raw protocol, handed to `onData` as
 * it is sent. COPY TO '/dev/blob' writes its output to JavaScript 1 KB at a time and hands it back
 * as a Blob of those parts, which costs more to build and read back than the query's own scan (a
 * year of applications: ~68,000 parts); the protocol path hands over the server's send buffer
 * (8 KB at a time, during the query): its CopyData bodies, one row each, are gathered into a chunk
 * of COPY_OUT_CHUNK bytes for the reader, so no more than that is held. Runs in the session's
 * current transaction, as a query there would.
 *
 * The reader runs inside the server's call: an error it throws is kept and thrown after the
 * query (never through the server's frames), and what it returns is awaited after the query.
 */
async function copyOutViaProtocol(
  pg: PGlite,
  select: string,
  onData: (chunk: Uint8Array) => void | Promise<void>,
  chunks: CopyOutChunks | undefined,
): Promise<void> {
  const chunkBytes = chunks?.keptChunkBytes ?? COPY_OUT_CHUNK;
  // kept chunks: a new buffer for each (allocated when the first byte of it comes)
  let out: Buffer | null = chunks ? null : Buffer.allocUnsafe(chunkBytes);
  let size = 0;
  /** the message being read: its header (type byte, int32 length) and the body bytes still to come */
  const header = Buffer.alloc(5);
  let headerLen = 0;
  let bodyLeft = 0;
  let error: Uint8Array | null = null;
  let errorLen = 0;
  let readerError: { err: unknown } | null = null;
  const pending: Promise<void>[] = [];
  const deliver = (): void => {
    if (size === 0 || !out) return;
    if (!readerError) {
      try {
        const r = onData(out.subarray(0, size));
        if (r) pending.push(r.catch((err: unknown) => void (readerError ??= { err })));
      } catch (err) {
        readerError = { err };
      }
    }
    size = 0;
    if (chunks) out = null;
  };
  await pg.execProtocolRawStream(queryMessage(`COPY (${select}) TO STDOUT WITH (FORMAT binary)`), {
    onRawData: (bytes) => {
      // a view of the WASM memory, valid during the call
      const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const end = src.length;
      let p = 0;
      while (p < end) {
        if (headerLen < 5) {
          const take = Math.min(5 - headerLen, end - p);
          src.copy(header, headerLen, p, p + take);
          headerLen += take;
          p += take;
          if (headerLen < 5) break;
          bodyLeft = header.readInt32BE(1) - 4;
          if (header[0] === 0x45) {
            error = new Uint8Array(bodyLeft); // ErrorResponse
            errorLen = 0;
          }
        }
        const take = Math.min(bodyLeft, end - p);
        if (header[0] === 0x64) {
          // CopyData: into the reader's chunk, handed over when full
          let from = p;
          while (from < p + take) {
            out ??= Buffer.allocUnsafeSlow(chunkBytes);
            const n = Math.min(chunkBytes - size, p + take - from);
            src.copy(out, size, from, from + n);
            size += n;
            from += n;
            if (size === chunkBytes) deliver();
          }
        } else if (header[0] === 0x45 && error) {
          error.set(bytes.subarray(p, p + take), errorLen);
          errorLen += take;
        }
        p += take;
        bodyLeft -= take;
        if (bodyLeft === 0) headerLen = 0;
      }
    },
  });
  deliver();
  await Promise.all(pending);
  if (error) throw errorResponse(error);
  const failed = readerError as { err: unknown } | null;
  if (failed) throw failed.err;
}

/** bytea's text form (`\x` and hex) as bytes: PGlite's own parser runs parseInt per byte (~0.1 s for a 350 KB model). */
function parseBytea(v: string): Uint8Array {
  const b = Buffer.from(v.slice(2), 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

// One representation on both backends: numeric as a JS number (pg gives strings by default too).
const parsers = { [types.NUMERIC]: (v: string) => Number(v), [types.BYTEA]: parseBytea };
// A bytea parameter goes as it is, in binary: PGlite's own serializer spells it out in hex through
// an array of 2-character strings (~0.15 s for a 350 KB model artifact).
const serializers = { [types.BYTEA]: (v: Uint8Array) => v as unknown as string };

const EMPTY = new Uint8Array(0);

/** `bytes` is the whole of an ArrayBuffer (what bytesBlob hands over). */
function ownsItsBuffer(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/**
 * PGlite takes COPY input as one blob: the chunks go in batches of whole chunks (CSV chunks are
 * whole lines, so batches split on lines), each one COPY statement with its own `head` and `tail`
 * (a binary stream's header and trailer), so memory stays bounded. A batch of one chunk that is a
 * whole buffer (what the worker thread is handed) goes as it is: PGlite only reads it. Callers that
 * need all-or-nothing run this inside a transaction, as seeding and import do.
 */
async function copyInBatches(
  conn: PgliteLike,
  sql: string,
  chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  head: Uint8Array,
  tail: Uint8Array,
): Promise<number> {
  let rows = 0;
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (size === 0) return;
    const only = parts.length === 1 && head.length === 0 && tail.length === 0 ? parts[0] : null;
    const batch = only && ownsItsBuffer(only) ? only : new Uint8Array(head.length + size + tail.length);
    if (batch !== only) {
      batch.set(head);
      let at = head.length;
      for (const p of parts) {
        batch.set(p, at);
        at += p.length;
      }
      batch.set(tail, at);
    }
    parts = [];
    size = 0;
    const r = await conn.query(sql, [], { blob: bytesBlob(batch) });
    rows += r.affectedRows ?? 0;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    parts.push(bytes);
    size += bytes.length;
    if (size >= PGLITE_COPY_BATCH_BYTES) await flush();
  }
  await flush();
  return rows;
}

function queryable(conn: PgliteLike, pg: PGlite): PgliteQueryable {
  return {
    async query<R>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<R>> {
      const r = await conn.query<R>(sql, params as unknown[], { parsers, serializers });
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql) {
      await conn.exec(sql);
    },
    copyInCsv(table, columns, csv) {
      const chunks = typeof csv === 'string' ? [csv] : csv;
      return copyInBatches(conn, copyInSql(table, columns, "'/dev/blob'"), chunks, EMPTY, EMPTY);
    },
    copyInBinary(table, columns, tuples) {
      return copyInBatches(conn, copyInSql(table, columns, "'/dev/blob'", 'binary'), tuples, BINARY_COPY_HEADER, BINARY_COPY_TRAILER);
    },
    copyOutBinary(select, onData, chunks) {
      // The raw protocol takes none of PGlite's locks: take the ones its query() would (outside a
      // transaction, the transaction lock too, so that it cannot run inside another caller's).
      const run = (): Promise<void> => pg.runExclusive(() => copyOutViaProtocol(pg, select, onData, chunks));
      return conn === pg ? pg._runExclusiveTransaction(run) : run();
    },
  };
}

/**
 * PostgreSQL zeroes its whole buffer pool at start: PGlite's default 128 MB cost every CLI process
 * ~0.4 s of CPU and ~110 MB of memory before the first query. Large scans and COPY go through small
 * ring buffers whatever the pool's size, so a smaller pool costs them nothing.
 */
/**
 * PostgreSQL's start runs enough of its 9 MB of WASM to send thousands of functions to V8's
 * optimising tier at the default budget; that compile (~4 s of CPU, ~450 MB) outlives the command and
 * the process waits for it at exit. A larger budget leaves the once-run code in the baseline tier
 * while the loops of real queries (COPY, scans, sorts) still reach the optimising one. Tenfold was
 * not enough for the SQL parser: raw_parser is one 105 KB function whose loop is charged its whole
 * size per token, so ~150 tokens of SQL in a process (one CREATE TABLE of a dozen columns) sent it
 * to TurboFan: 3-6 s of CPU and 600 MB on a compile thread, waited for at exit. At 2e9 (the flag is
 * an int32) it stays in the baseline tier, and a 365-day CSV COPY ran in less CPU than at tenfold.
 * Even 2e9 lasts only ~20,000 turns of the parser's loop (a few thousand tokens, ~10 KB of SQL text
 * per process): a command sends few, short statements (quality/record.ts writes all its checks in one).
 */
setFlagsFromString('--wasm-tiering-budget=2000000000');

/** work_mem of a source read on PGlite (see readSource) */
const SOURCE_WORK_MEM = '128MB';

export const START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * The embedded database, in this thread (the worker thread's, pglite-thread.ts, is this one too).
 * A new one starts from the cached initdb template (pglite-template.ts).
 */
export interface OpenPgliteOptions {
  /**
   * The caller migrates the database at once (migrate.ts): a new one then starts from a template
   * that holds the migrations already, which spares it their cost (PGlite's parser compiling
   * ~16 KB of DDL: ~1 s of CPU and ~400 MB in every new database). migrate() still runs, and finds
   * nothing to do.
   */
  migrated?: boolean;
}

export async function openPglite(dataDir: string | undefined, options: OpenPgliteOptions = {}): Promise<PgliteDb> {
  const { pg } = await createPglite(dataDir, START_PARAMS, process.env, options.migrated ? migratedTemplate() : undefined);
  return pgliteDb(pg, dataDir);
}

/** The template preparation that applies this checkout's migrations, keyed by them. */
function migratedTemplate(): TemplatePreparation {
  const migrations = loadMigrations();
  return {
    key: `migrations:${migrationsKey(migrations)}`,
    run: async (pg) => {
      await migrate(pgliteDb(pg, undefined), migrations);
    },
  };
}

function pgliteDb(db: PGlite, dataDir: string | undefined): PgliteDb {
  const listening = new Set<Listener>();
  const base = queryable(db, db);
  return {
    backend: 'pglite',
    onThisThread: true,
    location: dataDir ?? 'memory',
    ...base,
    async transaction<T>(fn: (tx: PgliteQueryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      return db.transaction(async (tx) => {
        if (options.readOnly) await tx.query('SET TRANSACTION READ ONLY');
        return fn(queryable(tx, db));
      });
    },
    // PGlite is a single connection in this process: session state is shared, which is what one
    // process needs, and the session cannot be lost.
    session: (fn) => fn(base, new AbortController().signal),
    // One role, in this process: the WASM sandbox keeps server-file functions away from the host's
    // files (they see only the database's own directory) and READ ONLY refuses writes.
    // An extract sorts its window (a year of applications: ~50 MB): in memory, not through
    // temporary files, ~0.3 s less at 365 days. (PostgreSQL keeps its setting: there, parallel
    // workers' external sorts beat one in-memory sort.)
    async readSource<T>(fn: (tx: PgliteQueryable) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION READ ONLY');
        await tx.query(`SET LOCAL work_mem = '${SOURCE_WORK_MEM}'`);
        return fn(queryable(tx, db));
      });
    },
    listen: (channel, onNotify) => listenOn(db, channel, onNotify, listening),
    async close() {
      // As on PostgreSQL: closing the database stops its listeners, and their `lost` says so.
      for (const l of [...listening]) await l.close();
      await db.close();
    },
  };
}

/**
 * PGlite's own LISTEN: it hears the NOTIFYs of this instance only (a transaction's, when it
 * commits), since another process that opened the same directory would be another instance, and
 * cannot open it meanwhile anyway (dir-lock.ts). Its connection is this process's: never lost.
 */
async function listenOn(db: PGlite, channel: string, onNotify: (payload: string) => void, listening: Set<Listener>): Promise<Listener> {
  // PGlite puts the name into `LISTEN <name>` as it is: only a plain identifier, which needs no quoting.
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`listen: the channel ${JSON.stringify(channel)} is not a lower-case identifier`);
  const unlisten = await db.listen(channel, onNotify);
  const ac = new AbortController();
  const listener: Listener = {
    lost: ac.signal,
    async close() {
      if (ac.signal.aborted) return;
      listening.delete(listener);
      ac.abort(new Error('the listener is closed'));
      if (!db.closed) await unlisten().catch(() => undefined);
    },
  };
  listening.add(listener);
  return listener;
}
