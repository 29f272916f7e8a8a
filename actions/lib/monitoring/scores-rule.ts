/**
 * Health rule `missing-scores`: a pipeline whose model is deployed (mlops.deployments, not
 * retired) should have predictions from the hourly scoring (mlops score). It fires when the newest
 * prediction's row time (`ts`) is older than `maxAgeMs` before `asOf` (default 3 h: two missed
 * hourly runs plus the hour the newest run covered), or when there is none; it resolves as soon as
 * predictions arrive. Without a deployed model no scores are expected: `ok`, which also closes an
 * alert left open by a model since retired.
 */
import type { PipelineConfig } from '../config/schema.ts';
import type { Queryable } from '../db/index.ts';
import { currentDeployments } from '../tracking/deployments.ts';
import type { RuleResult } from './alerts.ts';

export const MISSING_SCORES_MAX_AGE_MS = 3 * 3_600_000;

export type MissingScoresResult = RuleResult & { rule: 'missing-scores' };

const hours = (ms: number): string => `${Number((ms / 3_600_000).toFixed(1))} h`;

export async function missingScoresRule(db: Queryable, config: PipelineConfig, asOf: Date, maxAgeMs = MISSING_SCORES_MAX_AGE_MS): Promise<MissingScoresResult> {
  const base = { pipeline: config.name, rule: 'missing-scores' as const, severity: 'warning' as const };
  const deployed = (await currentDeployments(db)).find((d) => d.model === config.name);
  if (!deployed) return { ...base, status: 'ok', message: `${config.name}: no deployed model, no scores expected`, details: { deployed: null } };
  const { rows } = await db.query<{ ts: Date | string; model_version: number; n: number }>(
    `SELECT ts, model_version, (SELECT count(*)::int FROM mlops.predictions WHERE pipeline = $1 AND ts > $2 AND ts <= $3) AS n
     FROM mlops.predictions WHERE pipeline = $1 AND ts <= $3 ORDER BY ts DESC LIMIT 1`,
    [config.name, new Date(asOf.getTime() - maxAgeMs), asOf],
  );
  const newest = rows[0];
  const newestTs = newest ? new Date(newest.ts) : null;
  const recent = newest ? Number(newest.n) : 0;
  const details = {
    deployed: { version: deployed.version, sha256: deployed.sha256, deployed_at: deployed.deployed_at },
    newest_prediction: newestTs ? { ts: newestTs.toISOString(), model_version: Number(newest!.model_version) } : null,
    recent_predictions: recent,
    max_age_hours: maxAgeMs / 3_600_000,
    as_of: asOf.toISOString(),
  };
  if (recent > 0) {
    return {
      ...base,
      status: 'ok',
      details,
      message: `${config.name}: ${recent} predictions in the last ${hours(maxAgeMs)}, newest for ${newestTs!.toISOString()} (v${Number(newest!.model_version)})`,
    };
  }
  const since = newestTs
    ? `the newest is for ${newestTs.toISOString()}, ${hours(asOf.getTime() - newestTs.getTime())} before ${asOf.toISOString()}`
    : 'none was ever recorded';
  return {
    ...base,
    status: 'firing',
    details,
    message: `${config.name}: v${deployed.version} is deployed but has no prediction in the last ${hours(maxAgeMs)} (${since}); is the hourly score workflow running?`,
    evidence:
      `| deployed | newest prediction | predictions in the last ${hours(maxAgeMs)} |\n|---|---|---:|\n` +
      `| v${deployed.version} (${deployed.deployed_at}) | ${newestTs ? `${newestTs.toISOString()} (v${Number(newest!.model_version)})` : '—'} | 0 |`,
  };
}
