import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeHolder, liveness, thisProcess, type Holder } from './holder.ts';
import { redactUrl } from '../util/secrets.ts';

/**
 * The embedded database (PGlite) is a directory that only one process may have open: two processes
 * each keep their own copy of the pages in memory and overwrite each other's writes. Before opening
 * it, a process creates `<dir>/mlops.lock` exclusively (O_EXCL) with its pid, host and command. A
 * lock whose holder is dead (its pid is gone from this machine) is stale and taken over; a live
 * holder is waited for, with a message, up to a timeout, then the open fails saying who holds it.
 *
 * Why not proper-lockfile: it judges staleness by the lock's mtime, refreshed by a timer; training
 * blocks the event loop for minutes, so a live holder's lock would look stale and be taken. A pid
 * check is exact on the one machine an embedded database lives on.
 */

export const LOCK_FILE = 'mlops.lock';
/** how long a lock breaker may take before others remove its marker (it takes milliseconds) */
const BREAKER_STALE_MS = 10_000;

export class DatabaseBusyError extends Error {}

interface LockInfo extends Holder {
  token: string;
  since: string;
  command: string;
}

export interface DirLock {
  file: string;
  release(): void;
}

export interface DirLockOptions {
  /** how long to wait for a live holder (default MLOPS_DB_WAIT_SECONDS or 60 s) */
  waitMs?: number;
  /** told once when the directory is busy and the open waits */
  onWait?: (message: string) => void;
}

export function defaultWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.MLOPS_DB_WAIT_SECONDS);
  return env.MLOPS_DB_WAIT_SECONDS !== undefined && Number.isFinite(s) && s >= 0 ? s * 1000 : 60_000;
}

/** The command line of this process, as the lock tells it to a waiting one (connection strings masked). */
function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (a.includes('://') || /password\s*=/i.test(a) ? redactUrl(a) : a));
  return ['mlops', ...args.filter((a) => !a.endsWith('.ts'))].join(' ').slice(0, 200);
}

function readLock(file: string): { raw: string; info: LockInfo | null } | null {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const info = JSON.parse(raw) as LockInfo;
    return { raw, info: typeof info.pid === 'number' && typeof info.machine === 'string' ? info : null };
  } catch {
    return { raw, info: null };
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Removes a stale lock, one breaker at a time, and only if it is still the lock that was judged stale. */
function breakStale(file: string, judged: string): void {
  const breaker = `${file}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (ageMs(breaker) > BREAKER_STALE_MS) unlinkQuietly(breaker);
    return;
  }
  try {
    if (readLock(file)?.raw === judged) unlinkSync(file);
  } finally {
    closeSync(fd);
    unlinkQuietly(breaker);
  }
}

function describeLock(dir: string, info: LockInfo | null): string {
  if (!info) return `the embedded database ${dir} is being opened by another process`;
  return `the embedded database ${dir} is in use by another mlops process (${describeHolder(info)}, since ${info.since}: "${info.command}")`;
}

/** Takes the directory's lock, waiting for a live holder up to `waitMs`. */
export async function lockDataDir(dir: string, options: DirLockOptions = {}): Promise<DirLock> {
  const file = join(dir, LOCK_FILE);
  const waitMs = options.waitMs ?? defaultWaitMs();
  const me = thisProcess();
  const token = randomBytes(8).toString('hex');
  const mine: LockInfo = { ...me, token, since: new Date().toISOString(), command: commandLine() };
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, JSON.stringify(mine) + '\n');
      } finally {
        closeSync(fd);
      }
      return held(file, token);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const current = readLock(file);
    if (!current) continue;
    const info = current.info;
    if (info && info.machine === me.machine && info.pid === me.pid) {
      throw new DatabaseBusyError(`the embedded database ${dir} is already open in this process; close it before opening it again`);
    }
    // A holder that died (its pid is gone from this machine), or a lock file left empty by a process
    // that died between creating and writing it, is stale.
    const stale = info ? liveness(info) === 'dead' : ageMs(file) > 5_000;
    if (stale) {
      breakStale(file, current.raw);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= waitMs) {
      const remote = info && info.machine !== me.machine ? `; it runs on another machine, so if that process is gone, delete ${file}` : '';
      throw new DatabaseBusyError(
        `${describeLock(dir, info)}; gave up after ${(waited / 1000).toFixed(1)} s. PGlite allows one process at a time: ` +
          `wait until it has finished (or set MLOPS_DB_WAIT_SECONDS to wait longer)${remote}`,
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(`${describeLock(dir, info)}; waiting up to ${Math.round(waitMs / 1000)} s for it to finish...`);
    }
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(10, waitMs - waited))));
  }
}

const heldLocks = new Map<string, string>();
let exitHook = false;

function releaseFile(file: string, token: string): void {
  heldLocks.delete(file);
  const current = readLock(file);
  if (current?.info?.token === token) unlinkQuietly(file);
}

function held(file: string, token: string): DirLock {
  heldLocks.set(file, token);
  if (!exitHook) {
    exitHook = true;
    // A process that exits without closing (an error, process.exit) leaves no lock behind; a killed
    // one does, and the next opener finds it stale.
    process.on('exit', () => {
      for (const [f, t] of [...heldLocks]) releaseFile(f, t);
    });
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      releaseFile(file, token);
    },
  };
}
