import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who holds something (the embedded database directory, a run's lease): a process on a machine.
 * On the holder's own machine a dead holder is known for certain (its pid is gone, or now names a
 * process that started later); from another machine only a lease that expires can tell.
 */
export interface Holder {
  /** the host name, for people */
  host: string;
  /** the host and its process namespace: two holders with the same machine see each other's pids */
  machine: string;
  pid: number;
  /** when the process started, in the kernel's clock ticks since boot (Linux), so a reused pid is not mistaken for it */
  started: string | null;
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** The start time of a process from /proc/<pid>/stat (field 22), or null where there is no /proc. */
export function processStarted(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

let self: Holder | null = null;

/** This process, as a holder. */
export function thisProcess(): Holder {
  if (!self || self.pid !== process.pid) {
    const ns = pidNamespace();
    self = { host: hostname(), machine: ns ? `${hostname()}#${ns}` : hostname(), pid: process.pid, started: processStarted(process.pid) };
  }
  return self;
}

/** One string that names a holder exactly (stored as a run's lease owner). */
export function holderKey(h: Holder): string {
  return `${h.machine}/${h.pid}/${h.started ?? '-'}`;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/** Whether a holder's process still runs: `unknown` when it runs (or ran) on another machine. */
export function liveness(h: Pick<Holder, 'machine' | 'pid' | 'started'>): Liveness {
  const me = thisProcess();
  if (h.machine !== me.machine) return 'unknown';
  if (h.pid === me.pid) return h.started === null || h.started === me.started ? 'alive' : 'dead';
  if (h.started !== null) {
    const now = processStarted(h.pid);
    if (now !== null) return now === h.started ? 'alive' : 'dead';
  }
  try {
    process.kill(h.pid, 0);
    return 'alive';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'dead';
  }
}

/** `pid 1234 on host ci-7`, for messages. */
export function describeHolder(h: Pick<Holder, 'host' | 'pid'>): string {
  return `pid ${h.pid} on host ${h.host}`;
}
