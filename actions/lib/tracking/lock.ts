import type { Db, Queryable } from '../db/index.ts';

export class LockTimeoutError extends Error {}
/** The session that held the pipeline's advisory lock ended: the work under it must stop. */
export class LockLostError extends Error {}

/** What the work under a pipeline lock can ask of it. */
export interface PipelineLock {
  /** aborted (with a LockLostError) when the session holding the lock ends */
  readonly signal: AbortSignal;
  /** throws the LockLostError once the lock is gone */
  check(): void;
  /**
   * Inside the transaction that records a result: fails unless the lock's session still holds the
   * lock, so that a result is never recorded by a run that went on unlocked.
   */
  verify(tx: Queryable): Promise<void>;
}

// PGlite is one connection in this process, where advisory locks are re-entrant: queue here too.
const inProcess = new Map<string, Promise<void>>();

const KEY_CLASS = 'mlops.retrain';

/**
 * Runs `fn` holding the pipeline's advisory lock, so two retrains of one pipeline never interleave
 * (on PostgreSQL across processes and runners). Waits up to `timeoutMs`, then fails with a message
 * that says what is going on. The lock lives on one database session: when the server or the
 * network ends it, the lock is gone, `lock.signal` aborts and `lock.check()` throws, and the work
 * must stop rather than go on unlocked (a second retrain may already hold the lock).
 */
export async function withPipelineLock<T>(db: Db, pipeline: string, timeoutMs: number, fn: (lock: PipelineLock) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const busy = (): LockTimeoutError =>
    new LockTimeoutError(
      `another retrain of pipeline "${pipeline}" is running (advisory lock mlops.retrain/${pipeline} held); waited ${timeoutMs < 10_000 ? (timeoutMs / 1000).toFixed(1) : Math.round(timeoutMs / 1000)} s — try again when it has finished`,
    );

  while (db.backend === 'pglite' && inProcess.has(pipeline)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw busy();
    await Promise.race([inProcess.get(pipeline), new Promise((r) => setTimeout(r, Math.min(remaining, 250)))]);
  }
  let release: () => void = () => undefined;
  if (db.backend === 'pglite') inProcess.set(pipeline, new Promise<void>((r) => (release = r)));
  try {
    return await db.session(async (conn, lost) => {
      let backendPid = 0;
      for (;;) {
        const { rows } = await conn.query<{ ok: boolean; pid: number }>(
          'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok, pg_backend_pid() AS pid',
          [KEY_CLASS, pipeline],
        );
        if (rows[0].ok) {
          backendPid = rows[0].pid;
          break;
        }
        if (Date.now() >= deadline) throw busy();
        await new Promise((r) => setTimeout(r, 200));
      }
      const ac = new AbortController();
      const lostError = (): LockLostError => {
        const why = lost.reason instanceof Error ? lost.reason.message : 'the database session holding it ended';
        return new LockLostError(
          `lost the advisory lock of pipeline "${pipeline}": ${why}, and the lock with it; ` +
            'the run stopped so that it never goes on unlocked beside another retrain — run it again when the database is reachable',
        );
      };
      const onLost = (): void => ac.abort(lostError());
      if (lost.aborted) onLost();
      else lost.addEventListener('abort', onLost, { once: true });
      const lock: PipelineLock = {
        signal: ac.signal,
        check() {
          if (ac.signal.aborted) throw ac.signal.reason;
        },
        async verify(tx) {
          lock.check();
          if (db.backend !== 'postgres') return;
          // Advisory locks with two int4 keys show in pg_locks as classid/objid (as unsigned oids), objsubid 2.
          const { rows } = await tx.query<{ held: boolean }>(
            `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1 AND objsubid = 2
               AND classid = oid(hashtext($2)::bigint & 4294967295) AND objid = oid(hashtext($3)::bigint & 4294967295)) AS held`,
            [backendPid, KEY_CLASS, pipeline],
          );
          if (!rows[0]?.held) throw ac.signal.aborted ? ac.signal.reason : lostError();
        },
      };
      try {
        return await fn(lock);
      } finally {
        lost.removeEventListener('abort', onLost);
        // A lost session released the lock with itself; unlocking on it would only fail.
        if (!lost.aborted) await conn.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [KEY_CLASS, pipeline]).catch(() => undefined);
      }
    });
  } finally {
    if (db.backend === 'pglite') inProcess.delete(pipeline);
    release();
  }
}
