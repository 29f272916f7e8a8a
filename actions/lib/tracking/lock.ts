import type { Db } from '../db/index.ts';

export class LockTimeoutError extends Error {}

// PGlite is one connection in this process, where advisory locks are re-entrant: queue here too.
const inProcess = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding the pipeline's advisory lock, so two retrains of one pipeline never interleave
 * (on PostgreSQL across processes and runners). Waits up to `timeoutMs`, then fails with a message
 * that says what is going on.
 */
export async function withPipelineLock<T>(db: Db, pipeline: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const busy = (): LockTimeoutError =>
    new LockTimeoutError(`another retrain of pipeline "${pipeline}" is running (advisory lock mlops.retrain/${pipeline} held); waited ${timeoutMs < 10_000 ? (timeoutMs / 1000).toFixed(1) : Math.round(timeoutMs / 1000)} s — try again when it has finished`);

  while (db.backend === 'pglite' && inProcess.has(pipeline)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw busy();
    await Promise.race([inProcess.get(pipeline), new Promise((r) => setTimeout(r, Math.min(remaining, 250)))]);
  }
  let release: () => void = () => undefined;
  if (db.backend === 'pglite') inProcess.set(pipeline, new Promise<void>((r) => (release = r)));
  try {
    return await db.session(async (conn) => {
      for (;;) {
        const { rows } = await conn.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('mlops.retrain'), hashtext($1)) AS ok", [pipeline]);
        if (rows[0].ok) break;
        if (Date.now() >= deadline) throw busy();
        await new Promise((r) => setTimeout(r, 200));
      }
      try {
        return await fn();
      } finally {
        await conn.query("SELECT pg_advisory_unlock(hashtext('mlops.retrain'), hashtext($1))", [pipeline]);
      }
    });
  } finally {
    if (db.backend === 'pglite') inProcess.delete(pipeline);
    release();
  }
}
