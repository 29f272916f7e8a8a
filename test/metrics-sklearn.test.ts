import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classificationMetrics } from '../actions/lib/evaluate/metrics.ts';
import { predictLogistic, trainLogistic } from '../actions/lib/train/logistic.ts';
import { logisticParamsSchema } from '../actions/lib/train/params.ts';

/**
 * Parity with scikit-learn: the expected values were computed once, offline, by scikit-learn 1.2.1
 * (test/fixtures/sklearn/classification_expected.py wrote classification_expected.json, inputs
 * included), so these tests need no Python.
 */
interface Case {
  name: string;
  labels: number[];
  probabilities: number[];
  threshold: number;
  expected: Record<'accuracy' | 'precision' | 'recall' | 'f1' | 'roc_auc' | 'pr_auc' | 'brier' | 'log_loss', number | null>;
}
const fixture = JSON.parse(readFileSync('test/fixtures/sklearn/classification_expected.json', 'utf8')) as {
  metrics: Case[];
  logistic: {
    X: number[][];
    y: number[];
    train_rows: number;
    fits: { C: number; class_weight: 'none' | 'balanced'; probabilities: number[]; coef: number[]; intercept: number }[];
  };
};

describe('classification metrics equal scikit-learn', () => {
  for (const c of fixture.metrics) {
    it(c.name, () => {
      const m = classificationMetrics(Float64Array.from(c.labels), Float64Array.from(c.probabilities), c.threshold);
      for (const [key, want] of Object.entries(c.expected)) {
        const got = m[key as keyof typeof c.expected];
        if (want === null) expect(got, key).toBeNaN();
        else expect(got, key).toBeCloseTo(want, 12);
      }
      expect(m.rows).toBe(c.labels.length);
      expect(m.tp + m.fp + m.tn + m.fn).toBe(c.labels.length);
      expect(m.positives).toBe(c.labels.filter((y) => y === 1).length);
    });
  }

  it('counts NaN probabilities instead of scoring them, and refuses labels other than 0/1', () => {
    const m = classificationMetrics(Float64Array.of(0, 1, 1, 0), Float64Array.of(0.2, Number.NaN, 0.9, 0.1));
    expect(m.nan_predictions).toBe(1);
    expect(m.rows).toBe(3);
    expect(m.roc_auc).toBe(1);
    expect(() => classificationMetrics(Float64Array.of(0, 2), Float64Array.of(0.1, 0.2))).toThrow('label 1 is 2, expected 0 or 1');
    expect(classificationMetrics(Float64Array.of(1, 1), Float64Array.of(0.3, 0.8)).roc_auc).toBeNaN();
  });
});

describe('logistic regression equals scikit-learn (StandardScaler + LogisticRegression)', () => {
  const { X, y, train_rows: n } = fixture.logistic;
  const rows = (from: number, to: number) => Float32Array.from(X.slice(from, to).flat());
  for (const fit of fixture.logistic.fits) {
    it(`C=${fit.C}, class_weight=${fit.class_weight}`, () => {
      const model = trainLogistic(
        { names: ['a', 'b', 'c'], values: rows(0, n), target: Float64Array.from(y.slice(0, n)), rows: n },
        logisticParamsSchema.parse({ C: fit.C, class_weight: fit.class_weight }),
      );
      expect(model.iterations).toBeLessThan(20);
      // The standardisation constants are float32 (as the ONNX graph applies them) and scikit-learn's
      // newton-cholesky reaches the same optimum: agreement to ~1e-6.
      model.coef.forEach((c, j) => expect(Math.abs(c - fit.coef[j]) / Math.abs(fit.coef[j]), `coef ${j}`).toBeLessThan(2e-6));
      expect(Math.abs(model.intercept - fit.intercept) / Math.abs(fit.intercept)).toBeLessThan(2e-6);
      const p = predictLogistic(model, rows(n, X.length), X.length - n);
      p.forEach((v, i) => expect(Math.abs(v - fit.probabilities[i]), `row ${i}`).toBeLessThan(2e-6));
    });
  }
});
