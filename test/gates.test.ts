import { describe, expect, it } from 'vitest';
import { gatesSchema } from '../actions/lib/config/schema.ts';
import { evaluateGates, type GateInput } from '../actions/lib/gates/gates.ts';
import { degenerateHoldoutGate, summarizeHoldoutTarget } from '../actions/lib/gates/holdout.ts';

const m = (rmse: number, nan = 0) => ({ rmse, mae: rmse * 0.7, r2: 0.9, nan_predictions: nan });
const base = (over: Partial<GateInput> = {}): GateInput => ({
  config: gatesSchema.parse({}),
  challenger: m(0.098),
  champion: m(0.1),
  baseline: m(0.5),
  trainingMs: 2_000,
  lastPromotionAt: null,
  asOf: new Date('2026-11-22T02:00:00Z'),
  force: false,
  ...over,
});

describe('promotion gates', () => {
  it('promotes a real improvement and reports every gate', () => {
    const d = evaluateGates(base({ challenger: m(0.09) }));
    expect(d.decision).toBe('promote');
    expect(d.improvementPct).toBeCloseTo(10, 9);
    expect(d.gates.map((g) => [g.name, g.passed])).toEqual([
      ['improvement', true],
      ['nan_predictions', true],
      ['beats_baseline', true],
      ['training_time', true],
    ]);
    expect(d.gates[0]).toMatchObject({ threshold: '>= 2%', value: '10.0%' });
  });

  it('rejects +1.9% against a 2% threshold, naming the numbers', () => {
    const d = evaluateGates(base({ challenger: m(0.1 * (1 - 0.019)) }));
    expect(d.decision).toBe('reject');
    expect(d.reasons).toEqual(['rmse improves only 1.9% on the champion (0.1000 -> 0.09810); 2% required']);
  });

  it('--force lifts the improvement gate only', () => {
    const forced = evaluateGates(base({ challenger: m(0.0995), force: true }));
    expect(forced.decision).toBe('promote');
    expect(forced.gates[0]).toMatchObject({ passed: false, overridden: true });
    expect(forced.reasons[0]).toMatch(/^forced past: rmse improves only 0\.5%/);
    const nan = evaluateGates(base({ challenger: m(0.05, 3), force: true }));
    expect(nan.decision).toBe('reject');
    expect(nan.reasons).toEqual(['challenger produced 3 NaN or infinite predictions on the holdout']);
  });

  it('promotes the first model when every other gate passes', () => {
    const d = evaluateGates(base({ champion: null }));
    expect(d.decision).toBe('promote');
    expect(d.gates[0]).toMatchObject({ value: 'first model', passed: true });
    expect(evaluateGates(base({ champion: null, challenger: m(0.6) })).decision).toBe('reject');
  });

  it('applies cooldown, absolute limits and the training-time limit when configured', () => {
    const config = gatesSchema.parse({ cooldown_days: 7, max_rmse: 0.08, min_r2: 0.95, max_training_minutes: 1 });
    const d = evaluateGates(base({ config, challenger: m(0.09), trainingMs: 61_000, lastPromotionAt: new Date('2026-11-20T02:00:00Z') }));
    expect(d.decision).toBe('reject');
    expect(d.gates.filter((g) => !g.passed).map((g) => g.name)).toEqual(['training_time', 'cooldown', 'max_rmse', 'min_r2']);
    expect(d.reasons).toContain('last promotion 2.0 days ago, cooldown is 7 days');
  });
});

describe('the degenerate-holdout refusal (both tasks)', () => {
  it('summarises a holdout target and refuses a flat one, whatever the metrics say, even with --force', () => {
    const flat = summarizeHoldoutTarget(new Float64Array(500).fill(5.25));
    expect(flat).toMatchObject({ rows: 500, distinct: 1, mean: 5.25, std: 0 });
    // The stuck sensor's challenger scores rmse 0 and "improves 100%" on the champion: refused.
    const d = evaluateGates(base({ challenger: m(0), holdout: flat, force: true }));
    expect(d.improvementPct).toBe(100);
    expect(d.decision).toBe('reject');
    expect(d.gates.find((g) => g.name === 'degenerate_holdout')).toMatchObject({
      passed: false,
      hard: true,
      overridden: false,
      value: 'constant (5.25)',
      threshold: 'std > 0',
    });
    expect(d.reasons).toEqual([
      'the holdout target is constant (5.25) in all 500 rows (a stuck sensor?): every model that predicts that value scores a meaningless perfect 0 on it, so none is promoted on it',
    ]);
    const varied = summarizeHoldoutTarget(Float64Array.from({ length: 500 }, (_, i) => Math.sin(i)));
    const ok = evaluateGates(base({ challenger: m(0.09), holdout: varied }));
    expect(ok.decision).toBe('promote');
    expect(ok.gates.find((g) => g.name === 'degenerate_holdout')).toMatchObject({ passed: true, label: 'holdout target varies' });
  });

  it('refuses a single-class holdout for classification, and passes one with both classes', () => {
    const single = degenerateHoldoutGate(summarizeHoldoutTarget(new Float64Array(200).fill(1)), 'classification');
    expect(single).toMatchObject({ passed: false, hard: true, value: '1 class', threshold: '>= 2 classes' });
    expect(single.reason).toBe(
      'the holdout holds a single class (1) in all 200 rows: no metric can rank the models on it; the decision waits for a holdout with both classes',
    );
    const both = degenerateHoldoutGate(summarizeHoldoutTarget(Float64Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 1 : 0))), 'classification');
    expect(both).toMatchObject({ passed: true, value: '2 classes' });
  });
});
