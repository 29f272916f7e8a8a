import type { PipelineConfig } from '../config/schema.ts';
import { holdoutSize } from '../split/temporal.ts';
import { labelCoverageGate, labelledHoldoutGate } from './classification.ts';
import { z } from 'zod';
import { cooldownGate, gateResultSchema, type GateResult } from './gates.ts';

/**
 * The gates that can already rule a run out before anything is trained: the cooldown (a
 * champion promoted fewer than cooldown_days ago; --force lifts it) and, for classification, the
 * label coverage and the labelled holdout rows the labels known at as-of can give. A run they
 * rule out is a `skip` with their reasons, recorded like any other; nothing is trained for it.
 */
export const preflightSchema = z.object({
  passed: z.boolean(),
  gates: z.array(gateResultSchema),
  /** the blocking gates' reasons */
  reasons: z.array(z.string()),
});
export type Preflight = z.output<typeof preflightSchema>;

export interface PreflightInput {
  config: PipelineConfig;
  lastPromotionAt: Date | null;
  asOf: Date;
  force: boolean;
  /** classification: the window's rows, those with a label known at as-of, and those rows' times */
  labels?: { rows: number; labelled: number; labelledTimes: Float64Array };
}

export function preflight(input: PreflightInput): Preflight {
  const { config } = input;
  const gates: GateResult[] = [];
  if (config.gates.cooldown_days !== null) {
    const g = cooldownGate(config.gates.cooldown_days, input.lastPromotionAt, input.asOf);
    gates.push({ ...g, overridden: !g.passed && input.force });
  }
  if (config.task === 'classification' && input.labels) {
    const { rows, labelled, labelledTimes } = input.labels;
    gates.push({ ...labelCoverageGate(rows > 0 ? labelled / rows : 0, config.gates.min_label_coverage), overridden: false });
    gates.push({
      ...labelledHoldoutGate(expectedHoldout(labelledTimes, config.split.holdout_fraction), config.gates.min_labelled_holdout, true),
      overridden: false,
    });
  }
  const blocking = gates.filter((g) => !g.passed && !g.overridden);
  return { passed: blocking.length === 0, gates, reasons: blocking.map((g) => `before training: ${g.reason}`) };
}

/** The rows the temporal split will put in the holdout: its share of the newest, plus the rows tied with the first. */
function expectedHoldout(times: Float64Array, fraction: number): number {
  if (times.length < 2) return times.length === 1 ? 1 : 0;
  const sorted = Float64Array.from(times).sort();
  const cutoff = sorted[sorted.length - holdoutSize(sorted.length, fraction)];
  let n = 0;
  for (let i = sorted.length - 1; i >= 0 && sorted[i] >= cutoff; i--) n++;
  return n;
}
