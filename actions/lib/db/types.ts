export type SqlParam = string | number | boolean | null | Date | Uint8Array | bigint | readonly unknown[] | { [k: string]: unknown };

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** What a connection or a transaction can do. Parameterised SQL only: values never go into SQL text. */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements with no parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
  /**
   * Bulk load: `COPY <table> (<columns>) FROM STDIN WITH (FORMAT csv)`. `table` and `columns` are
   * identifiers (quoted here); `csv` is the body without a header (text or UTF-8 bytes), streamed
   * chunk by chunk where the backend can take a stream. Returns the number of rows loaded.
   */
  copyInCsv(table: string, columns: readonly string[], csv: string | AsyncIterable<string | Uint8Array>): Promise<number>;
  /**
   * Bulk load: `COPY <table> (<columns>) FROM STDIN WITH (FORMAT binary)`. `tuples` are whole
   * tuples of the binary format per chunk, without its header and trailer (added here, once per
   * COPY statement). Returns the number of rows loaded.
   */
  copyInBinary(table: string, columns: readonly string[], tuples: AsyncIterable<Uint8Array>): Promise<number>;
  /**
   * Bulk read: `COPY (<select>) TO STDOUT WITH (FORMAT binary)`, handed to `onData` chunk by chunk
   * as the server sends it; nothing holds the whole stream. A chunk is valid only during the call
   * (on PGlite it is a view of memory reused after it): keep a copy of what must outlive it. A
   * promise `onData` returns is awaited before the next chunk is read where the stream can wait
   * (PostgreSQL's socket); PGlite runs the whole COPY in one call and awaits them after it.
   * Resolves when the COPY has ended; rejects with the first error, the server's or `onData`'s.
   */
  copyOutBinary(select: string, onData: (chunk: Uint8Array) => void | Promise<void>): Promise<void>;
}

export interface TransactionOptions {
  readOnly?: boolean;
}

export type Backend = 'pglite' | 'postgres';

/** A LISTEN in progress (Db.listen). */
export interface Listener {
  /**
   * Aborts, with the reason, when the listener stops: closed, or its connection lost (PostgreSQL:
   * the server or the network ended it; PGlite on a worker thread: the thread died). Notifications
   * stop then; a caller that wants them again listens anew.
   */
  readonly lost: AbortSignal;
  /** UNLISTEN and let the connection go. */
  close(): Promise<void>;
}

export interface Db extends Queryable {
  readonly backend: Backend;
  /** true when statements run on this thread (PGlite opened in-thread): a long statement then holds this event loop */
  readonly onThisThread: boolean;
  /** Where the data lives, safe to print: a directory, `memory`, or a URL with the password masked. */
  readonly location: string;
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Runs `fn` on one dedicated connection (session-level state such as advisory locks). `lost`
   * aborts, with the reason, when the server or the network ends that connection (on PGlite: never
   * in this thread; on a worker thread, when that thread dies).
   */
  session<T>(fn: (conn: Queryable, lost: AbortSignal) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a READ ONLY transaction as the source's reader, which is who derive expressions
   * run as: on PostgreSQL the extraction connection (MLOPS_SOURCE_DATABASE_URL) when there is one,
   * whose role is first checked to be least-privilege; else this connection.
   */
  readSource<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * LISTENs on `channel` and calls `onNotify` with each notification's payload (a NOTIFY is
   * delivered when its transaction commits). On PostgreSQL a connection of its own, outside the
   * pool, held until `close`; on PGlite the instance's own LISTEN, which hears only the NOTIFYs of
   * that instance (this process: another process cannot open the directory meanwhile).
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Listener>;
  close(): Promise<void>;
}

/** Quotes an identifier (optionally schema-qualified as `schema.name`) for SQL text. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => {
      if (part.length === 0) throw new Error(`empty identifier in "${name}"`);
      return '"' + part.replace(/"/g, '""') + '"';
    })
    .join('.');
}

/**
 * Gathers the planner's statistics of a table just loaded. PGlite runs no autovacuum, so without
 * this a table never has any: the planner guesses that a window is a few rows and sorts a year of
 * readings that the primary key holds in the extract's order. (PostgreSQL's autovacuum would
 * analyze it within a minute or so; now it is done before the first extract.)
 */
export async function analyze(tx: Queryable, table: string): Promise<void> {
  await tx.exec(`ANALYZE ${quoteIdent(table)}`);
}

/**
 * Bytes per COPY statement on PGlite, which takes COPY input as one blob (pglite.ts); on a worker
 * thread, copy-in crosses in batches of this size, so that each is that blob as it is.
 */
export const PGLITE_COPY_BATCH_BYTES = 16 * 1024 * 1024;

export function copyInSql(table: string, columns: readonly string[], source: 'STDIN' | "'/dev/blob'", format: 'csv' | 'binary' = 'csv'): string {
  return `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM ${source} WITH (FORMAT ${format})`;
}

/** True when `err` says the database connection was lost (the server or the network ended it), not that a statement failed. */
export function isConnectionLost(err: unknown): boolean {
  return err instanceof Error && (err as { connectionLost?: unknown }).connectionLost === true;
}
