import type { Queryable } from '../db/index.ts';
import { describeHolder, holderKey, liveness, thisProcess, type Holder } from '../db/holder.ts';

/**
 * The lease of a run (migration 010): the process working on a `running` run says so with a
 * heartbeat; a run whose process is gone is `abandoned`, never `running` forever.
 *
 * - The process that starts a run holds its lease (startRun writes it) and renews it every
 *   heartbeat; the lease runs out `leaseMs` after the last heartbeat.
 * - Workflow steps are separate processes: each step claims the lease, renews it while it works
 *   and hands it off when it ends (no pid, the lease running), for the next step to claim.
 * - The next retrain and the health check reap: a run whose holder is dead (its pid is gone from
 *   this machine, exact) or whose lease expired (any machine) is marked abandoned, with why.
 * - A holder that finds its run no longer its own (reaped while it was stalled) stops: it never
 *   records a result over an abandoned run (finishRun and failRun check the owner too).
 *
 * Training blocks the event loop, so heartbeats pause while a model trains: on the holder's own
 * machine its pid keeps it alive; elsewhere the lease (10 minutes by default) has to cover it.
 */

export interface LeaseSettings {
  leaseMs: number;
  heartbeatMs: number;
}

/** MLOPS_RUN_LEASE_SECONDS (default 600) and a heartbeat five times per lease, at most every 30 s. */
export function leaseSettings(env: NodeJS.ProcessEnv = process.env): LeaseSettings {
  const s = Number(env.MLOPS_RUN_LEASE_SECONDS);
  const leaseMs = env.MLOPS_RUN_LEASE_SECONDS !== undefined && Number.isFinite(s) && s > 0 ? s * 1000 : 600_000;
  return { leaseMs, heartbeatMs: Math.min(30_000, Math.max(100, Math.floor(leaseMs / 5))) };
}

/** The lease columns a run gets from this process. */
export function leaseColumns(): { owner: string; host: string; pid: number } {
  const me = thisProcess();
  return { owner: holderKey(me), host: me.host, pid: me.pid };
}

/** The holder a lease owner names (`machine/pid/started`, see holderKey). */
function holderOf(owner: string | null, host: string | null): Holder | null {
  if (!owner) return null;
  const parts = owner.split('/');
  if (parts.length < 3) return null;
  const started = parts.pop()!;
  const pid = Number(parts.pop());
  if (!Number.isInteger(pid)) return null;
  const machine = parts.join('/');
  return { machine, host: host ?? machine.split('#')[0], pid, started: started === '-' ? null : started };
}

const iso = (d: Date | string | null): string => (d ? new Date(d).toISOString() : 'never');

/** A run is no longer this process's to work on (reaped, finished or taken over). */
export class RunLeaseLost extends Error {}

interface LeaseRow {
  run_id: string;
  pipeline: string;
  status: string;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  heartbeat_at: Date | null;
  lease_owner: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  lease_expires_at: Date | null;
  expired: boolean;
  /** heartbeat_at in whole microseconds: a Date would drop them, and "unchanged since seen" needs them */
  heartbeat_us: number | null;
}

const LEASE_ROW = `SELECT run_id, pipeline, status, error, started_at, finished_at, heartbeat_at, lease_owner, lease_host, lease_pid,
  lease_expires_at, coalesce(lease_expires_at < now(), false) AS expired, (extract(epoch FROM heartbeat_at) * 1000000)::int8 AS heartbeat_us
  FROM mlops.training_runs`;

function notOurs(runId: string, row: LeaseRow | undefined): RunLeaseLost {
  if (!row) return new RunLeaseLost(`run ${runId} is not in the database`);
  if (row.status !== 'running') {
    return new RunLeaseLost(
      `run ${runId} is ${row.status} (since ${iso(row.finished_at)}${row.error ? `: ${row.error}` : ''}); this process stopped without recording anything over it`,
    );
  }
  const holder = holderOf(row.lease_owner, row.lease_host);
  return new RunLeaseLost(
    `run ${runId} is being worked on by another process (${holder ? describeHolder(holder) : 'unknown'}, heartbeat ${iso(row.heartbeat_at)})`,
  );
}

export interface RunLease {
  /** aborted (with a RunLeaseLost) when the run stops being this process's */
  readonly signal: AbortSignal;
  /** throws the RunLeaseLost once the lease is lost */
  check(): void;
  /** stops the heartbeat (the lease itself stays as the run's status leaves it) */
  stop(): void;
}

/** Renews this process's lease on `runId` every heartbeat until stopped. */
export function holdRunLease(db: Queryable, runId: string, settings: LeaseSettings = leaseSettings()): RunLease {
  const { owner } = leaseColumns();
  const ac = new AbortController();
  let busy = false;
  const beat = async (): Promise<void> => {
    if (busy || ac.signal.aborted) return;
    busy = true;
    try {
      const { rowCount } = await db.query(
        `UPDATE mlops.training_runs SET heartbeat_at = now(), lease_expires_at = now() + $3 * interval '1 millisecond'
         WHERE run_id = $1 AND status = 'running' AND lease_owner = $2`,
        [runId, owner, settings.leaseMs],
      );
      if (rowCount === 0) {
        const { rows } = await db.query<LeaseRow>(`${LEASE_ROW} WHERE run_id = $1`, [runId]);
        ac.abort(notOurs(runId, rows[0]));
      }
    } catch {
      // The database is out of reach for now: the lease covers leaseMs, the next beat tries again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void beat(), settings.heartbeatMs);
  timer.unref();
  return {
    signal: ac.signal,
    check() {
      if (ac.signal.aborted) throw ac.signal.reason;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * A workflow step takes over a running run's lease: allowed when the previous step handed it off,
 * when it is this process's already, or when its holder is dead or its lease ran out.
 */
export async function claimRunLease(db: Queryable, runId: string, settings: LeaseSettings = leaseSettings()): Promise<void> {
  const me = leaseColumns();
  const { rows } = await db.query<LeaseRow>(`${LEASE_ROW} WHERE run_id = $1`, [runId]);
  const row = rows[0];
  if (!row || row.status !== 'running') throw notOurs(runId, row);
  const holder = holderOf(row.lease_owner, row.lease_host);
  const free = row.lease_pid === null || row.lease_owner === me.owner || row.expired || (holder !== null && liveness(holder) === 'dead');
  if (!free) throw notOurs(runId, row);
  const claimed = await db.query(
    `UPDATE mlops.training_runs SET lease_owner = $2, lease_host = $3, lease_pid = $4, heartbeat_at = now(),
       lease_expires_at = now() + $5 * interval '1 millisecond'
     WHERE run_id = $1 AND status = 'running' AND lease_owner IS NOT DISTINCT FROM $6`,
    [runId, me.owner, me.host, me.pid, settings.leaseMs, row.lease_owner],
  );
  if (claimed.rowCount === 0) {
    const again = await db.query<LeaseRow>(`${LEASE_ROW} WHERE run_id = $1`, [runId]);
    throw notOurs(runId, again.rows[0]);
  }
}

/** A workflow step that ends hands the lease on: no process holds it, and it runs out as usual. */
export async function handOffRunLease(db: Queryable, runId: string, settings: LeaseSettings = leaseSettings()): Promise<void> {
  await db.query(
    `UPDATE mlops.training_runs SET lease_owner = NULL, lease_pid = NULL, heartbeat_at = now(),
       lease_expires_at = now() + $3 * interval '1 millisecond'
     WHERE run_id = $1 AND status = 'running' AND lease_owner = $2`,
    [runId, leaseColumns().owner, settings.leaseMs],
  );
}

export interface AbandonedRun {
  run_id: string;
  pipeline: string;
  started_at: Date;
  heartbeat_at: Date | null;
  /** why, as recorded in the run's error */
  reason: string;
}

/**
 * Marks every `running` run (of one pipeline, or all) whose process is gone as `abandoned`, with
 * when (finished_at) and why (error). `by` says who found it (`the retrain of run X`, `the health
 * check`). A run is only marked if its lease is still as it was seen, so a late heartbeat wins.
 */
export async function reapAbandonedRuns(db: Queryable, options: { pipeline?: string; by: string }): Promise<AbandonedRun[]> {
  const { rows } = await db.query<LeaseRow>(`${LEASE_ROW} WHERE status = 'running' AND ($1::text IS NULL OR pipeline = $1) ORDER BY started_at`, [
    options.pipeline ?? null,
  ]);
  const out: AbandonedRun[] = [];
  for (const row of rows) {
    const holder = holderOf(row.lease_owner, row.lease_host);
    let why: string | null = null;
    if (holder && row.lease_pid !== null && liveness(holder) === 'dead') {
      why = `its process (${describeHolder(holder)}) is gone: it was killed or crashed without finishing (last heartbeat ${iso(row.heartbeat_at)})`;
    } else if (row.expired) {
      why = `no heartbeat since ${iso(row.heartbeat_at)} (${holder ? describeHolder(holder) : row.lease_host ? `between two workflow steps, last on host ${row.lease_host}` : 'no process'}); its lease expired at ${iso(row.lease_expires_at)}`;
    }
    if (!why) continue;
    const reason = `abandoned: ${why}; found by ${options.by}`;
    const marked = await db.query(
      `UPDATE mlops.training_runs SET status = 'abandoned', finished_at = now(), error = $2
       WHERE run_id = $1 AND status = 'running' AND lease_owner IS NOT DISTINCT FROM $3
         AND (extract(epoch FROM heartbeat_at) * 1000000)::int8 IS NOT DISTINCT FROM $4::int8`,
      [row.run_id, reason, row.lease_owner, row.heartbeat_us],
    );
    if (marked.rowCount > 0) out.push({ run_id: row.run_id, pipeline: row.pipeline, started_at: row.started_at, heartbeat_at: row.heartbeat_at, reason });
  }
  return out;
}
