/**
 * Triggered retrains: a `repository_dispatch` of type `retrain` (client_payload: { pipeline,
 * reason }) that the weekly-retrain workflow listens for, at most once per
 * `retrain_cooldown_hours` per pipeline.
 *
 * The cooldown is kept in mlops.retrain_dispatches: a dispatch is first CLAIMED (a `pending`
 * row, under a transaction-scoped advisory lock per pipeline, so two monitoring jobs running at
 * once cannot both dispatch), then delivered and its outcome recorded. Every outcome counts for
 * the cooldown except `failed`, so a GitHub outage is retried by the next run. Without a token
 * the dispatch is recorded as not delivered (`no-token`) and printed: the demo shows what would
 * have happened, once per cooldown.
 */
import type { Db } from '../db/index.ts';
import { gitHubError, type GitHubTarget } from '../github/client.ts';
import { sendRetrainDispatch } from './issues.ts';

export type DispatchTrigger = 'drift' | 'stale' | 'drift+stale';
export type DispatchOutcome = 'dispatched' | 'no-token' | 'cooldown' | 'failed';

export interface DispatchRequest {
  pipeline: string;
  reason: string;
  trigger: DispatchTrigger;
  cooldownHours: number;
  asOf: Date;
  /** the alert this retrain answers: sent in the dispatch, recorded with the run, closed when its promotion deploys */
  alert?: DispatchAlert | null;
}

export interface DispatchAlert {
  /** its row in mlops.alerts */
  id: number;
  /** its GitHub issue, when there is one */
  issueUrl: string | null;
}

export interface DispatchResult {
  pipeline: string;
  reason: string;
  trigger: DispatchTrigger;
  outcome: DispatchOutcome;
  /** the dispatch inside the cooldown that blocked this one */
  previous: { at: string; reason: string; outcome: string } | null;
  error: string | null;
  id: number | null;
}

export async function dispatchRetrain(
  db: Db,
  req: DispatchRequest,
  github: GitHubTarget | null,
  log: (line: string) => void = () => undefined,
): Promise<DispatchResult> {
  const base = { pipeline: req.pipeline, reason: req.reason, trigger: req.trigger };
  const since = new Date(req.asOf.getTime() - req.cooldownHours * 3_600_000);
  const claim = await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('mlops.dispatch'), hashtext($1))", [req.pipeline]);
    const prev = await tx.query<{ dispatched_at: Date; reason: string; outcome: string }>(
      `SELECT dispatched_at, reason, outcome FROM mlops.retrain_dispatches
       WHERE pipeline = $1 AND outcome <> 'failed' AND dispatched_at > $2 ORDER BY dispatched_at DESC LIMIT 1`,
      [req.pipeline, since],
    );
    if (prev.rows[0]) return { id: null, previous: prev.rows[0] };
    const { rows } = await tx.query<{ id: string | number }>(
      `INSERT INTO mlops.retrain_dispatches (pipeline, reason, dispatched_at, delivered, outcome, trigger, alert_id)
       VALUES ($1, $2, $3, false, 'pending', $4, $5) RETURNING id`,
      [req.pipeline, req.reason, req.asOf, req.trigger, req.alert?.id ?? null],
    );
    return { id: Number(rows[0].id), previous: null };
  });
  if (claim.id === null) {
    const p = claim.previous!;
    const previous = { at: new Date(p.dispatched_at).toISOString(), reason: p.reason, outcome: p.outcome };
    log(
      `retrain of ${req.pipeline} not dispatched: one was already ${p.outcome === 'no-token' ? 'recorded' : 'dispatched'} at ${previous.at} (cooldown ${req.cooldownHours} h): ${p.reason}`,
    );
    return { ...base, outcome: 'cooldown', previous, error: null, id: null };
  }

  let outcome: DispatchOutcome;
  let error: string | null = null;
  if (!github) {
    outcome = 'no-token';
    log(`retrain of ${req.pipeline} recorded, not dispatched (no GitHub token): repository_dispatch type "retrain", reason: ${req.reason}`);
  } else {
    try {
      await sendRetrainDispatch(github, req.pipeline, req.reason, req.alert ?? null);
      outcome = 'dispatched';
      log(`retrain of ${req.pipeline} dispatched (repository_dispatch "retrain" to ${github.repo.owner}/${github.repo.repo}): ${req.reason}`);
    } catch (err) {
      outcome = 'failed';
      error = gitHubError(github, err);
      log(`retrain of ${req.pipeline}: dispatch failed (retried by the next run): ${error}`);
    }
  }
  await db.query('UPDATE mlops.retrain_dispatches SET outcome = $2, delivered = $3, error = $4 WHERE id = $1', [
    claim.id,
    outcome,
    outcome === 'dispatched',
    error,
  ]);
  return { ...base, outcome, previous: null, error, id: claim.id };
}
