import { z } from 'zod';
import { jsonNumber } from '../util/json-number.ts';
import type { GateResult } from './gates.ts';

/** What the gates need to know about the holdout's target (evaluate computes it on the holdout rows; kept in run.json). */
export const holdoutTargetSchema = z.object({
  rows: z.number().int().min(0),
  /** distinct target values, counted up to 3 (enough to tell one, two and many apart) */
  distinct: z.number().int().min(0),
  mean: jsonNumber,
  std: jsonNumber,
});
export type HoldoutTarget = z.output<typeof holdoutTargetSchema>;

export function summarizeHoldoutTarget(target: ArrayLike<number>): HoldoutTarget {
  let n = 0;
  let sum = 0;
  const seen: number[] = [];
  for (let i = 0; i < target.length; i++) {
    const v = target[i];
    if (Number.isNaN(v)) continue;
    n++;
    sum += v;
    if (seen.length < 3 && !seen.includes(v)) seen.push(v);
  }
  const mean = n ? sum / n : Number.NaN;
  let ss = 0;
  for (let i = 0; i < target.length; i++) {
    const v = target[i];
    if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  }
  return { rows: n, distinct: seen.length, mean, std: n ? Math.sqrt(ss / n) : Number.NaN };
}

/**
 * The degenerate-holdout refusal, for every task. A holdout whose target does not vary cannot rank
 * models: any model that outputs its one value scores a perfect rmse 0 and "improves 100%" on the
 * champion, and r2 is undefined. Regression: one distinct value, or a spread that is zero to float
 * precision; classification: a single class, where accuracy only counts that class. A hard gate:
 * --force cannot promote on such a holdout.
 */
export function degenerateHoldoutGate(t: HoldoutTarget, task: 'regression' | 'classification' = 'regression'): Omit<GateResult, 'overridden'> {
  const flat = t.rows === 0 || t.distinct < 2 || (task === 'regression' && !(t.std > 1e-9 * Math.max(1, Math.abs(t.mean))));
  const one = Number.isFinite(t.mean) ? String(Number(t.mean.toPrecision(6))) : 'none';
  const value =
    task === 'classification'
      ? `${t.distinct >= 3 ? '3+' : t.distinct} class${t.distinct === 1 ? '' : 'es'}`
      : t.distinct < 2
        ? `constant (${one})`
        : `std ${Number(t.std.toPrecision(3))}`;
  return {
    name: 'degenerate_holdout',
    label: 'holdout target varies',
    threshold: task === 'classification' ? '>= 2 classes' : 'std > 0',
    value,
    raw: task === 'classification' ? t.distinct : t.std,
    passed: !flat,
    hard: true,
    reason: !flat
      ? 'the holdout target varies, so the metrics can rank the models'
      : task === 'classification'
        ? `the holdout holds a single class (${one}) in all ${t.rows} rows: no metric can rank the models on it; the decision waits for a holdout with both classes`
        : `the holdout target is ${t.distinct < 2 ? `constant (${one})` : 'flat'} in all ${t.rows} rows (a stuck sensor?): every model that predicts that value scores a meaningless perfect 0 on it, so none is promoted on it`,
  };
}
