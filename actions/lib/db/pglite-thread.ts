import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openPglite, type PgliteQueryable } from './pglite.ts';
import type { Listener } from './types.ts';
import { wireError, type FromThread, type ThreadData, type ToThread, type WireError } from './pglite-worker.ts';

/** How much nicer the thread is than the one that started it: a weight of ~1/10 of the event loop's when both are runnable. */
const THREAD_NICE = 10;

/**
 * The embedded database's own thread (see pglite-worker.ts, which starts it and speaks for it):
 * the PGlite instance of openPglite, its calls taken as messages. Handle 0 is the database itself;
 * a transaction gets a handle of its own, held open (PGlite's transaction lock, its BEGIN) until
 * the other side says how it ends, so its statements run in order and nothing else runs between.
 */

const port = parentPort;
if (!port) throw new Error('pglite-thread.ts runs as a worker thread (pglite-worker.ts starts it)');
const { dataDir, migrated } = workerData as ThreadData;

// Below the event loop it serves: when both want the one free core, requests go first and the
// database's writes wait. On Linux a priority is a thread's own (setpriority of the calling thread);
// elsewhere it would be the whole process's, so it is left alone.
if (process.platform === 'linux') {
  try {
    setPriority(Math.min(19, getPriority() + THREAD_NICE));
  } catch {
    /* the scheduler refused: the thread runs at the process's priority */
  }
}

/** Thrown inside a transaction that the other side ended with a rollback. */
const ROLLBACK = Symbol('rollback');

const post = (message: FromThread, transfer: ArrayBuffer[] = []): void => {
  port.postMessage(message, transfer); // a block: what it returns (true) must not become a copy-out reader's result
};

/** Bytes per copy-out message. */
const COPY_OUT_BATCH = 1 << 20;

/**
 * Runs a COPY out and sends its data as `copyData` messages of COPY_OUT_BATCH bytes, before the
 * call's answer (one port: they arrive first). PGlite writes each chunk out of its memory into a
 * buffer of its own (CopyOutChunks), which is handed over as it is: one copy in all.
 */
async function copyOut(q: PgliteQueryable, select: string, stream: number): Promise<null> {
  await q.copyOutBinary(select, (chunk) => post({ copyData: stream, value: chunk }, [chunk.buffer as ArrayBuffer]), { keptChunkBytes: COPY_OUT_BATCH });
  return null;
}

let db: Awaited<ReturnType<typeof openPglite>>;
try {
  db = await openPglite(dataDir, { migrated });
} catch (err) {
  post({ id: 0, ok: false, error: wireError(err) });
  process.exit(1);
}

const handles = new Map<number, PgliteQueryable>([[0, db]]);
const transactions = new Map<number, { end: (commit: boolean) => void; done: Promise<unknown> }>();
/** Copy-in chunks asked of the other side, by stream. */
const pulls = new Map<number, (chunk: { value: Uint8Array | null; error: WireError | null }) => void>();
let nextHandle = 1;
/** LISTENs on this instance, by the other side's listener id */
const listeners = new Map<number, Listener>();

function handle(h: number): PgliteQueryable {
  const q = handles.get(h);
  if (!q) throw new Error(`the transaction (handle ${h}) has already ended`);
  return q;
}

/** The chunks of a copy-in, pulled from the other side one batch at a time (it reads its source only when asked). */
async function* pulled(stream: number): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await new Promise<{ value: Uint8Array | null; error: WireError | null }>((resolve) => {
      pulls.set(stream, resolve);
      post({ pull: stream });
    });
    pulls.delete(stream);
    if (chunk.error) throw Object.assign(new Error(chunk.error.message), chunk.error.fields);
    if (!chunk.value) return;
    yield chunk.value;
  }
}

function begin(id: number, kind: 'transaction' | 'readSource', readOnly: boolean): void {
  const h = nextHandle++;
  let end!: (commit: boolean) => void;
  const ended = new Promise<boolean>((resolve) => (end = resolve));
  let started = false;
  const body = async (tx: PgliteQueryable): Promise<void> => {
    handles.set(h, tx);
    started = true;
    post({ id, ok: true, value: h });
    const commit = await ended;
    handles.delete(h);
    if (!commit) throw ROLLBACK;
  };
  const done = kind === 'readSource' ? db.readSource(body) : db.transaction(body, { readOnly });
  transactions.set(h, { end, done });
  done.catch((err: unknown) => {
    if (started) return; // told when the other side ends it
    transactions.delete(h);
    post({ id, ok: false, error: wireError(err) });
  });
}

async function finish(h: number, commit: boolean): Promise<void> {
  const t = transactions.get(h);
  if (!t) throw new Error(`the transaction (handle ${h}) has already ended`);
  transactions.delete(h);
  t.end(commit);
  try {
    await t.done;
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
}

async function run(message: ToThread): Promise<unknown> {
  switch (message.op) {
    case 'query': {
      const r = await handle(message.h).query(message.sql, message.params);
      return { rows: r.rows, rowCount: r.rowCount };
    }
    case 'exec':
      return handle(message.h).exec(message.sql);
    case 'copyIn': {
      const q = handle(message.h);
      const chunks = pulled(message.stream);
      return message.format === 'csv' ? q.copyInCsv(message.table, message.columns, chunks) : q.copyInBinary(message.table, message.columns, chunks);
    }
    case 'copyOut':
      return copyOut(handle(message.h), message.select, message.stream);
    case 'end':
      return finish(message.h, message.commit);
    case 'listen': {
      const { listener } = message;
      listeners.set(listener, await db.listen(message.channel, (payload) => post({ notify: listener, payload })));
      return null;
    }
    case 'unlisten': {
      const l = listeners.get(message.listener);
      listeners.delete(message.listener);
      await l?.close();
      return null;
    }
    case 'close':
      await db.close();
      return null;
    case 'begin':
    case 'chunk':
      throw new Error(`${message.op} is not a call`);
  }
}

port.on('message', (message: ToThread) => {
  if (message.op === 'chunk') {
    pulls.get(message.stream)?.({ value: message.value, error: message.error });
    return;
  }
  if (message.op === 'begin') {
    begin(message.id, message.kind, message.readOnly);
    return;
  }
  run(message)
    // A result that cannot cross (post throws) is answered as an error too, not left unanswered.
    .then((value) => post({ id: message.id, ok: true, value }))
    .catch((err: unknown) => post({ id: message.id, ok: false, error: wireError(err) }));
});

post({ id: 0, ok: true, value: null }); // open
