import type { ClassWeight, LogisticParams } from './params.ts';
import { choleskySolve, linearPredict } from './ridge.ts';
import { GramAccumulator } from './gram.ts';
import { standardisation, standardisedMatrix } from './standardise.ts';

/**
 * Fitted logistic regression as plain data: P(positive) = σ(intercept + Σ coef_j (x_j − means_j) / stds_j)
 * with NaN replaced by means_j: ridge's linear form (same standardisation, same ONNX graph) through
 * the logistic function.
 */
export interface LogisticModel {
  kind: 'logistic';
  names: string[];
  means: number[];
  stds: number[];
  coef: number[];
  intercept: number;
  /** Newton iterations taken */
  iterations: number;
}

export interface ClassifierTrainInput {
  names: string[];
  values: Float32Array;
  /** 0 or 1 per row */
  target: Float64Array;
  rows: number;
}

/**
 * Per-class weights: 1 and 1, or `balanced` = rows / (2 · rows of the class) as scikit-learn's
 * compute_class_weight. Throws when a class has no training row: nothing can be learned then.
 */
export function classWeights(target: ArrayLike<number>, rows: number, mode: ClassWeight): [number, number] {
  let positives = 0;
  for (let i = 0; i < rows; i++) {
    const y = target[i];
    if (y !== 0 && y !== 1) throw new Error(`train: label of training row ${i} is ${y}, expected 0 or 1`);
    positives += y;
  }
  const negatives = rows - positives;
  if (positives === 0 || negatives === 0) {
    throw new Error(`train: every training row is ${positives === 0 ? 'negative (0)' : 'positive (1)'}: a classifier needs both classes`);
  }
  return mode === 'balanced' ? [rows / (2 * negatives), rows / (2 * positives)] : [1, 1];
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** log(1 + e^x) without overflow */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/**
 * Minimises C · Σ w_i · logloss_i + ½‖coef‖² (the intercept unpenalised) on the standardised
 * features, as scikit-learn's LogisticRegression does on standardised inputs, by Newton's method
 * with step halving: the Hessian C · Zᵀ diag(w p (1 − p)) Z + I is (k+1)², solved by Cholesky.
 * Stops when no parameter moves by more than `tol`.
 */
export function trainLogistic(input: ClassifierTrainInput, params: LogisticParams): LogisticModel {
  const { names, values, target, rows } = input;
  const n = names.length;
  const [w0, w1] = classWeights(target, rows, params.class_weight);
  const s = standardisation(values, rows, n);
  const k = s.active.length;
  const z = standardisedMatrix(values, rows, n, s);
  const C = params.C;
  const d = k + 1; // the coefficients, then the intercept
  const beta = new Float64Array(d);
  let wsum = 0;
  let wy = 0;
  for (let i = 0; i < rows; i++) {
    const w = target[i] === 1 ? w1 : w0;
    wsum += w;
    wy += w * target[i];
  }
  beta[k] = Math.log(wy / (wsum - wy));

  const eta = new Float64Array(rows);
  const linear = (b: Float64Array, out: Float64Array): void => {
    for (let i = 0; i < rows; i++) {
      let e = b[k];
      const o = i * k;
      for (let a = 0; a < k; a++) e += b[a] * z[o + a];
      out[i] = e;
    }
  };
  const objective = (b: Float64Array, e: Float64Array): number => {
    let loss = 0;
    for (let i = 0; i < rows; i++) {
      const y = target[i];
      loss += (y === 1 ? w1 : w0) * (softplus(e[i]) - y * e[i]);
    }
    let penalty = 0;
    for (let a = 0; a < k; a++) penalty += b[a] * b[a];
    return C * loss + 0.5 * penalty;
  };

  linear(beta, eta);
  let current = objective(beta, eta);
  const grad = new Float64Array(d);
  const hess = new Float64Array(d * d);
  const trial = new Float64Array(d);
  const trialEta = new Float64Array(rows);
  let iterations = 0;
  // The Hessian [Z 1]' H [Z 1] is the Gram matrix of the rows scaled by sqrt(h), accumulated in the
  // training kernel (gram.ts) with the intercept as column k.
  const acc = new GramAccumulator(d);
  const { block, stride } = acc;
  const B = GramAccumulator.BLOCK_ROWS;
  for (; iterations < params.max_iter; iterations++) {
    grad.fill(0);
    acc.reset();
    for (let r0 = 0; r0 < rows; r0 += B) {
      const b = Math.min(rows, r0 + B) - r0;
      for (let j = 0; j < b; j++) {
        const i = r0 + j;
        const y = target[i];
        const w = y === 1 ? w1 : w0;
        const p = sigmoid(eta[i]);
        const g = C * w * (p - y);
        const sh = Math.sqrt(C * w * p * (1 - p));
        const o = i * k;
        for (let a = 0; a < k; a++) {
          const za = z[o + a];
          grad[a] += g * za;
          block[a * stride + j] = sh * za;
        }
        block[k * stride + j] = sh;
        grad[k] += g;
      }
      acc.add(b);
    }
    acc.upperInto(hess, d);
    for (let a = 0; a < k; a++) {
      grad[a] += beta[a];
      hess[a * d + a] += 1;
      for (let c = a + 1; c < d; c++) hess[c * d + a] = hess[a * d + c];
    }
    let step: Float64Array;
    try {
      step = choleskySolve(hess, grad, d);
    } catch {
      throw new Error('logistic: the Hessian is not positive definite (the probabilities saturated); lower C');
    }
    // Newton step, halved until the objective does not increase.
    let t = 1;
    let accepted = false;
    for (let halvings = 0; halvings < 30; halvings++, t /= 2) {
      for (let q = 0; q < d; q++) trial[q] = beta[q] - t * step[q];
      linear(trial, trialEta);
      const value = objective(trial, trialEta);
      if (value <= current) {
        current = value;
        accepted = true;
        break;
      }
    }
    let largest = 0;
    for (let q = 0; q < d; q++) largest = Math.max(largest, Math.abs(t * step[q]));
    if (!accepted) break; // no step lowers the objective: at the optimum to float precision
    beta.set(trial);
    eta.set(trialEta);
    if (largest <= params.tol) {
      iterations++;
      break;
    }
  }

  const coef = new Array<number>(n).fill(0);
  s.active.forEach((j, a) => (coef[j] = beta[a]));
  return { kind: 'logistic', names: [...names], means: Array.from(s.means), stds: Array.from(s.stds), coef, intercept: beta[k], iterations };
}

/** Native positive-class probabilities on raw float32 features, row-major [rows, names.length]. */
export function predictLogistic(model: LogisticModel, X: Float32Array, rows: number): Float64Array {
  const out = linearPredict(model, X, rows, 'predictLogistic');
  for (let r = 0; r < rows; r++) out[r] = sigmoid(out[r]);
  return out;
}

export { sigmoid };
