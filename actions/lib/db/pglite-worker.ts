import { Worker } from 'node:worker_threads';
import { PGLITE_COPY_BATCH_BYTES, type Db, type Listener, type Queryable, type QueryResult, type SqlParam, type TransactionOptions } from './types.ts';
import { typescriptExecArgv } from '../util/typescript.mjs';
import type { OpenPgliteOptions } from './pglite.ts';

/**
 * The embedded database (PGlite) on a thread of its own: PGlite runs PostgreSQL in the thread that
 * calls it, so every statement, every WAL flush and every checkpoint holds that thread. A server
 * that answers requests on its event loop (`mlops serve`) cannot give it that thread: a
 * prediction-log INSERT or a deployments poll held requests up to ~90 ms. Here the instance lives
 * in a worker thread (pglite-thread.ts, the same openPglite) and this Db speaks for it by messages:
 *
 * - a statement is a message and its answer one back (rows as structured clones);
 * - a transaction holds a handle on the worker (PGlite's transaction lock, its BEGIN) until `fn`
 *   settles here, then commits or rolls back there: its statements run in order, nothing between;
 * - COPY data crosses in batches of whole chunks whose buffers are handed over, not copied:
 *   copy-in is pulled (the source is read only when the worker asks) in batches of one COPY
 *   statement's input there (~16 MB); copy-out is pushed, as the COPY runs (one call of the engine
 *   there), in chunks of ~1 MB written once out of PGlite's memory, in messages that arrive before
 *   the call's answer;
 * - a copy-in whose source throws fails with that very error;
 * - errors keep their message and fields (SQLSTATE `code`, `position`, `detail`...);
 * - a worker that dies fails every call in flight and every later one with an error that says so
 *   (`connectionLost`, as a lost PostgreSQL connection does), and aborts sessions' `lost` signal.
 *
 * The directory's lock (dir-lock.ts) stays in this thread: openDb takes it before and releases it
 * after, as for the in-thread database.
 */

export interface ThreadData {
  dataDir: string | undefined;
  /** see OpenPgliteOptions */
  migrated: boolean;
}

export interface WireError {
  message: string;
  name: string;
  stack: string | undefined;
  fields: Record<string, string | number | boolean | null>;
}

/** A call to the worker (`id` answers it), or a copy-in chunk it asked for (`chunk`). */
export type ToThread =
  | { id: number; op: 'query'; h: number; sql: string; params: SqlParam[] }
  | { id: number; op: 'exec'; h: number; sql: string }
  | { id: number; op: 'copyIn'; h: number; table: string; columns: string[]; format: 'csv' | 'binary'; stream: number }
  | { id: number; op: 'copyOut'; h: number; select: string; stream: number }
  | { id: number; op: 'begin'; kind: 'transaction' | 'readSource'; readOnly: boolean }
  | { id: number; op: 'end'; h: number; commit: boolean }
  | { id: number; op: 'listen'; channel: string; listener: number }
  | { id: number; op: 'unlisten'; listener: number }
  | { id: number; op: 'close' }
  | { op: 'chunk'; stream: number; value: Uint8Array | null; error: WireError | null };

/** An answer (`id` 0: the open), the worker asking for the next chunk of a copy-in, data of a copy-out, or a notification to a listener. */
export type FromThread =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { pull: number }
  | { copyData: number; value: Uint8Array }
  | { notify: number; payload: string };

/** A copy-out's reader on this side, and what it left to throw or await when the COPY ends. */
interface CopyOutReader {
  onData: (chunk: Uint8Array) => void | Promise<void>;
  failed: { err: unknown } | null;
  waits: Promise<void>[];
}

type Call = ToThread extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

function fromWire(e: WireError): Error {
  const err = Object.assign(new Error(e.message), e.fields);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** An error as data: its message, name, stack and every field of a primitive value (PostgreSQL's code, position, detail...). */
export function wireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { message: String(err), name: 'Error', stack: undefined, fields: {} };
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(err)) {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  }
  return { message: err.message, name: err.name, stack: err.stack, fields };
}

/**
 * Whole chunks joined into buffers of ~PGLITE_COPY_BATCH_BYTES that this side owns and hands over:
 * each is one COPY statement's input there as it is (copied only into PGlite's memory). A batch of
 * one chunk encoded here from text is that chunk, not a copy of it; the caller's bytes are copied
 * (they stay the caller's).
 */
async function* batches(source: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  /** the one part of the batch so far, when it was encoded here */
  let encoded: Uint8Array<ArrayBuffer> | null = null;
  const join = (): Uint8Array<ArrayBuffer> => {
    if (encoded && parts.length === 1) {
      parts = [];
      size = 0;
      return encoded;
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    parts = [];
    size = 0;
    return out;
  };
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    encoded = parts.length === 0 && typeof chunk === 'string' ? (bytes as Uint8Array<ArrayBuffer>) : null;
    parts.push(bytes);
    size += bytes.length;
    if (size >= PGLITE_COPY_BATCH_BYTES) yield join();
  }
  if (size > 0) yield join();
}

export interface PgliteWorkerOptions extends OpenPgliteOptions {
  /** the worker's JavaScript heap limit, MB (default: Node's); a worker past it dies, and its calls fail */
  maxHeapMb?: number;
}

/** The worker runs TypeScript as the CLI does (util/typescript.mjs), with none of this thread's loaders (vitest's, tsx's: each costs a worker its start-up). */
export async function openPgliteWorker(dataDir: string | undefined, options: PgliteWorkerOptions = {}): Promise<Db> {
  const worker = new Worker(new URL('./pglite-thread.ts', import.meta.url), {
    name: 'pglite',
    workerData: { dataDir, migrated: options.migrated === true } satisfies ThreadData,
    execArgv: typescriptExecArgv(),
    ...(options.maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } } : {}),
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  const sources = new Map<number, AsyncIterator<Uint8Array<ArrayBuffer>>>();
  /** what a copy-in's source threw, by stream: the caller gets that error back, not the worker's copy of it */
  const sourceErrors = new Map<number, unknown>();
  const readers = new Map<number, CopyOutReader>();
  /** what each listener on the worker calls, by listener */
  const listeners = new Map<number, (payload: string) => void>();
  /** the Listener handles open, closed with the database */
  const listening = new Set<Listener>();
  let nextListener = 1;
  const lost = new AbortController();
  let nextId = 1;
  let nextStream = 1;
  /** why the worker is gone (a crash, or close); every call fails with it from then on */
  let gone: Error | null = null;

  // The worker keeps this process alive only while a call waits for it, as the in-thread database does.
  worker.unref();
  const settle = (): void => {
    if (pending.size === 0) worker.unref();
  };

  const stopped = (why: string): Error => Object.assign(new Error(`the embedded database's worker thread stopped: ${why}`), { connectionLost: true });
  const fail = (err: Error, connectionLost = true): void => {
    if (gone) return;
    gone = err;
    if (connectionLost) lost.abort(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    for (const s of sources.values()) void s.return?.();
    sources.clear();
  };

  const opened = new Promise<void>((resolve, reject) => pending.set(0, { resolve: () => resolve(), reject }));
  worker.ref();

  worker.on('message', (message: FromThread) => {
    if ('pull' in message) {
      void pullChunk(message.pull);
      return;
    }
    if ('copyData' in message) {
      // after a reader's error, the rest of its COPY is passed over (it runs to its end there)
      const reader = readers.get(message.copyData);
      if (!reader || reader.failed) return;
      try {
        const wait = reader.onData(message.value);
        if (wait) reader.waits.push(wait.catch((err: unknown) => void (reader.failed ??= { err })));
      } catch (err) {
        reader.failed = { err };
      }
      return;
    }
    if ('notify' in message) {
      listeners.get(message.notify)?.(message.payload);
      return;
    }
    const p = pending.get(message.id);
    if (!p) return;
    pending.delete(message.id);
    if (message.ok) p.resolve(message.value);
    else p.reject(fromWire(message.error));
    settle();
  });
  worker.on('error', (err) => fail(stopped(err.message)));
  worker.on('messageerror', (err) => fail(stopped(`a message could not be read: ${err.message}`)));
  worker.on('exit', (code) => fail(stopped(`it exited with code ${code}`)));

  /** The next batch of a copy-in's source, to the worker that asked for it. */
  const pullChunk = async (stream: number): Promise<void> => {
    const source = sources.get(stream);
    if (!source) return;
    let message: ToThread;
    const transfer: ArrayBuffer[] = [];
    try {
      const r = await source.next();
      if (r.done) sources.delete(stream);
      else transfer.push(r.value.buffer);
      message = { op: 'chunk', stream, value: r.done ? null : r.value, error: null };
    } catch (err) {
      sources.delete(stream);
      sourceErrors.set(stream, err);
      message = { op: 'chunk', stream, value: null, error: wireError(err) };
    }
    if (!gone) worker.postMessage(message, transfer);
  };

  const call = <T>(message: Call): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (pending.size === 1) worker.ref();
      try {
        worker.postMessage({ ...message, id });
      } catch (err) {
        // Nothing was sent (a parameter the structured clone refuses, e.g. a function): no answer will come.
        pending.delete(id);
        settle();
        reject(new Error(`pglite (worker thread): ${message.op} could not be sent to the database thread: ${(err as Error).message}`));
      }
    });
  };

  const queryable = (h: number): Queryable => ({
    query<R>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<R>> {
      return call<QueryResult<R>>({ op: 'query', h, sql, params: params as SqlParam[] });
    },
    exec: (sql) => call<void>({ op: 'exec', h, sql }),
    async copyInCsv(table, columns, csv) {
      return copyIn(h, table, columns, 'csv', typeof csv === 'string' ? [csv] : csv);
    },
    copyInBinary: (table, columns, tuples) => copyIn(h, table, columns, 'binary', tuples),
    async copyOutBinary(select, onData) {
      const stream = nextStream++;
      const reader: CopyOutReader = { onData, failed: null, waits: [] };
      readers.set(stream, reader);
      try {
        await call({ op: 'copyOut', h, select, stream });
      } finally {
        readers.delete(stream);
      }
      await Promise.all(reader.waits);
      const failed = reader.failed as { err: unknown } | null;
      if (failed) throw failed.err;
    },
  });

  const copyIn = async (
    h: number,
    table: string,
    columns: readonly string[],
    format: 'csv' | 'binary',
    source: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  ): Promise<number> => {
    const stream = nextStream++;
    const chunks = batches(source);
    sources.set(stream, chunks);
    try {
      return await call<number>({ op: 'copyIn', h, table, columns: [...columns], format, stream });
    } catch (err) {
      // the COPY failed because the source threw: the source's own error, as in-thread
      throw sourceErrors.has(stream) ? sourceErrors.get(stream) : err;
    } finally {
      sources.delete(stream);
      sourceErrors.delete(stream);
      await chunks.return(undefined);
    }
  };

  /** `fn` in a transaction held on the worker: committed when it resolves, rolled back when it throws. */
  const transaction = async <T>(kind: 'transaction' | 'readSource', fn: (tx: Queryable) => Promise<T>, readOnly: boolean): Promise<T> => {
    const h = await call<number>({ op: 'begin', kind, readOnly });
    let result: T;
    try {
      result = await fn(queryable(h));
    } catch (err) {
      await call({ op: 'end', h, commit: false }).catch(() => undefined);
      throw err;
    }
    await call({ op: 'end', h, commit: true });
    return result;
  };

  try {
    await opened;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  settle();

  /** The instance's LISTEN on the worker: its notifications come back as messages; `lost` when the worker dies. */
  const listen = async (channel: string, onNotify: (payload: string) => void): Promise<Listener> => {
    const listener = nextListener++;
    listeners.set(listener, onNotify);
    try {
      await call({ op: 'listen', channel, listener });
    } catch (err) {
      listeners.delete(listener);
      throw err;
    }
    const ac = new AbortController();
    const onLost = (): void => {
      listeners.delete(listener);
      if (!ac.signal.aborted) ac.abort(lost.signal.reason);
    };
    if (lost.signal.aborted) onLost();
    else lost.signal.addEventListener('abort', onLost, { once: true });
    const handle: Listener = {
      lost: ac.signal,
      async close() {
        if (ac.signal.aborted) return;
        lost.signal.removeEventListener('abort', onLost);
        listeners.delete(listener);
        listening.delete(handle);
        ac.abort(new Error('the listener is closed'));
        if (!gone) await call({ op: 'unlisten', listener }).catch(() => undefined);
      },
    };
    listening.add(handle);
    return handle;
  };

  const base = queryable(0);
  return {
    backend: 'pglite',
    onThisThread: false,
    location: dataDir ?? 'memory',
    ...base,
    transaction: <T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}) => transaction('transaction', fn, options.readOnly === true),
    readSource: <T>(fn: (tx: Queryable) => Promise<T>) => transaction('readSource', fn, true),
    // One connection, as in-thread: session state is the database's. `lost` aborts if the worker dies.
    session: (fn) => fn(base, lost.signal),
    listen,
    async close() {
      // As on PostgreSQL: closing the database stops its listeners, and their `lost` says so.
      for (const l of [...listening]) await l.close();
      if (gone) {
        await worker.terminate();
        return;
      }
      try {
        await call({ op: 'close' });
      } finally {
        fail(new Error('the embedded database is closed'), false);
        await worker.terminate();
      }
    },
  };
}
