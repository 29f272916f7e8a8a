import { describe, expect, it } from 'vitest';
import { classificationPipelineSchema } from '../actions/lib/config/schema.ts';
import type { ClassificationMetrics } from '../actions/lib/evaluate/metrics.ts';
import { evaluateClassificationGates, type ClassificationGateInput } from '../actions/lib/gates/classification.ts';
import { preflight } from '../actions/lib/gates/preflight.ts';

const pipeline = classificationPipelineSchema.parse({
  name: 'credit',
  task: 'classification',
  source: { table: 'applications', key_column: 'id', columns: ['income'] },
  labels: { table: 'outcomes', key_column: 'id', label_column: 'defaulted', time_column: 'known_at' },
  trainer: { algorithm: 'logistic' },
});
const m = (over: Partial<ClassificationMetrics> = {}): ClassificationMetrics => ({
  task: 'classification',
  rows: 2000,
  positives: 200,
  positive_rate: 0.1,
  threshold: 0.3,
  accuracy: 0.9,
  precision: 0.5,
  recall: 0.6,
  f1: 0.545,
  roc_auc: 0.82,
  pr_auc: 0.45,
  brier: 0.07,
  log_loss: 0.24,
  tp: 120,
  fp: 120,
  tn: 1680,
  fn: 80,
  nan_predictions: 0,
  ...over,
});
const input = (over: Partial<ClassificationGateInput> = {}): ClassificationGateInput => ({
  config: pipeline.gates,
  challenger: m({ f1: 0.57 }),
  champion: m(),
  baseline: m({ f1: 0, recall: 0, precision: 0, roc_auc: 0.5, brier: 0.09 }),
  labels: { coverage: 0.9, labelledHoldout: 2000 },
  trainingMs: 1500,
  lastPromotionAt: new Date('2026-05-01T00:00:00Z'),
  asOf: new Date('2026-05-15T00:00:00Z'),
  force: false,
  ...over,
});
const failed = (i: ClassificationGateInput): string[] =>
  evaluateClassificationGates(i)
    .gates.filter((g) => !g.passed)
    .map((g) => g.name);

describe('classification gates (defaults of the issue)', () => {
  it('promote a challenger that passes every gate, each with value and threshold', () => {
    const d = evaluateClassificationGates(input());
    expect(d.decision).toBe('promote');
    expect(d.gates.map((g) => [g.name, g.threshold, g.value])).toEqual([
      ['improvement', '>= 2%', '4.6%'],
      ['brier_increase', '<= 0.0700 + 0.01', '0.0700'],
      ['recall_drop', '>= 0.600 - 0.02', '0.600'],
      ['min_auc', '>= 0.72', '0.820'],
      ['labelled_holdout', '>= 200', '2,000'],
      ['label_coverage', '>= 30.0%', '90.0%'],
      ['nan_predictions', '<= 0', '0'],
      ['beats_baseline', '>= 0%', '22.2%'],
      ['training_time', '< 30 min', '1.5 s'],
      ['cooldown', '>= 7', '14.0'],
    ]);
    expect(d.improvementPct).toBeCloseTo(((0.57 - 0.545) / 0.545) * 100, 9);
  });

  it('fail each gate on its own, with a reason that names the numbers', () => {
    const cases: [Partial<ClassificationGateInput>, string, string][] = [
      [{ challenger: m({ f1: 0.55 }) }, 'improvement', 'f1 improves only 0.9% on the champion (0.5450 -> 0.5500); 2% required'],
      [{ challenger: m({ f1: 0.6, brier: 0.0801 }) }, 'brier_increase', "Brier 0.0801 is worse than the champion's 0.0700 by more than 0.01"],
      [{ challenger: m({ f1: 0.6, recall: 0.579 }) }, 'recall_drop', "recall 0.579 drops more than 0.02 below the champion's 0.600"],
      [{ challenger: m({ f1: 0.6, roc_auc: 0.719 }) }, 'min_auc', 'ROC AUC 0.719 below the floor 0.72'],
      [
        { challenger: m({ f1: 0.6 }), labels: { coverage: 0.9, labelledHoldout: 199 } },
        'labelled_holdout',
        'the holdout has only 199 labelled rows; 200 needed for its metrics to mean anything',
      ],
      [
        { challenger: m({ f1: 0.6 }), labels: { coverage: 0.29, labelledHoldout: 2000 } },
        'label_coverage',
        "only 29.0% of the window's rows have a label known at as-of; 30.0% required (are labels still arriving?)",
      ],
      [{ challenger: m({ f1: 0.6, nan_predictions: 2 }) }, 'nan_predictions', 'challenger produced 2 NaN or infinite predictions on the holdout'],
      [{ challenger: m({ f1: 0.6 }), baseline: m({ brier: 0.0699 }) }, 'beats_baseline', "Brier 0.0700 is not 0% better than the prior baseline's 0.0699"],
      [{ challenger: m({ f1: 0.6 }), trainingMs: 31 * 60_000 }, 'training_time', 'training took 31.0 min, over 30 min'],
      [{ challenger: m({ f1: 0.6 }), lastPromotionAt: new Date('2026-05-10T00:00:00Z') }, 'cooldown', 'last promotion 5.0 days ago, cooldown is 7 days'],
    ];
    for (const [over, gate, reason] of cases) {
      const i = input(over);
      expect(failed(i), gate).toEqual([gate]);
      const d = evaluateClassificationGates(i);
      expect(d.decision, gate).toBe('reject');
      expect(d.reasons, gate).toEqual([reason]);
    }
  });

  it('--force lifts the improvement gate and the cooldown, nothing else', () => {
    const d = evaluateClassificationGates(input({ challenger: m({ f1: 0.546 }), lastPromotionAt: new Date('2026-05-14T00:00:00Z'), force: true }));
    expect(d.decision).toBe('promote');
    expect(d.gates.filter((g) => g.overridden).map((g) => g.name)).toEqual(['improvement', 'cooldown']);
    expect(evaluateClassificationGates(input({ challenger: m({ f1: 0.6, roc_auc: 0.6 }), force: true })).decision).toBe('reject');
  });

  it('a first model passes the champion gates by definition; a metric where higher is worse improves downwards', () => {
    const first = evaluateClassificationGates(input({ champion: null }));
    expect(first.decision).toBe('promote');
    expect(first.gates.map((g) => g.name)).not.toContain('recall_drop');
    const byBrier = evaluateClassificationGates(input({ config: { ...pipeline.gates, metric: 'brier' }, challenger: m({ brier: 0.066 }) }));
    expect(byBrier.gates[0]).toMatchObject({ label: 'brier improvement over champion', value: '5.7%', passed: true });
  });
});

describe('the preflight: a skip before training', () => {
  const times = (n: number) => Float64Array.from({ length: n }, (_, i) => Date.UTC(2026, 0, 1) + i * 3_600_000);
  it('rules a run out inside the cooldown unless forced, and when the labels cannot give enough holdout rows or coverage', () => {
    const asOf = new Date('2026-05-15T00:00:00Z');
    const labels = { rows: 10_000, labelled: 5000, labelledTimes: times(5000) };
    const ok = preflight({ config: pipeline, lastPromotionAt: new Date('2026-05-01T00:00:00Z'), asOf, force: false, labels });
    expect(ok).toMatchObject({ passed: true, reasons: [] });
    expect(ok.gates.map((g) => [g.name, g.value])).toEqual([
      ['cooldown', '14.0'],
      ['label_coverage', '50.0%'],
      ['labelled_holdout', '1,000'],
    ]);

    const cooling = preflight({ config: pipeline, lastPromotionAt: new Date('2026-05-12T00:00:00Z'), asOf, force: false, labels });
    expect(cooling).toMatchObject({ passed: false, reasons: ['before training: last promotion 3.0 days ago, cooldown is 7 days'] });
    expect(preflight({ config: pipeline, lastPromotionAt: new Date('2026-05-12T00:00:00Z'), asOf, force: true, labels }).passed).toBe(true);

    const few = preflight({ config: pipeline, lastPromotionAt: null, asOf, force: true, labels: { rows: 3000, labelled: 900, labelledTimes: times(900) } });
    expect(few.reasons).toEqual(['before training: the holdout would have only 180 labelled rows; 200 needed for its metrics to mean anything']);
    const sparse = preflight({
      config: pipeline,
      lastPromotionAt: null,
      asOf,
      force: true,
      labels: { rows: 20_000, labelled: 5000, labelledTimes: times(5000) },
    });
    expect(sparse.reasons).toEqual([
      "before training: only 25.0% of the window's rows have a label known at as-of; 30.0% required (are labels still arriving?)",
    ]);
  });
});
