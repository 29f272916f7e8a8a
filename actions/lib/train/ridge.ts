import type { RidgeParams } from './params.ts';
import { standardisation } from './standardise.ts';
import { GramAccumulator } from './gram.ts';

/**
 * Fitted ridge regression as plain data. prediction = intercept + Σ coef_j (x_j - means_j) / stds_j
 * with NaN replaced by means_j. `means` and `stds` are float32 values so that the ONNX graph
 * (float32 Imputer/Sub/Div) applies exactly the same constants.
 */
export interface RidgeModel {
  kind: 'ridge';
  names: string[];
  means: number[];
  stds: number[];
  coef: number[];
  intercept: number;
}

export interface RidgeTrainInput {
  names: string[];
  values: Float32Array;
  target: Float64Array;
  rows: number;
}

/**
 * Closed-form ridge on standardised features: (Z'Z + alpha I) w = Z'(y - ȳ) with Z the
 * centred, scaled, mean-imputed features, solved by Cholesky in Float64. The intercept is not
 * penalised. Constant columns (std 0) get std 1 and weight 0 and stay out of the solve.
 */
export function trainRidge(input: RidgeTrainInput, params: RidgeParams): RidgeModel {
  const { names, values, target, rows } = input;
  const n = names.length;
  const { means, stds, active } = standardisation(values, rows, n);

  // Accumulate Z'Z, Z'1 and Z'y over the active columns; Z'Z, the bulk of the work, block by
  // block in the training kernel (gram.ts).
  const k = active.length;
  const gram = new Float64Array(k * k);
  const zsum = new Float64Array(k);
  const zy = new Float64Array(k);
  let ysum = 0;
  const acc = new GramAccumulator(k);
  const { block, stride } = acc;
  const B = GramAccumulator.BLOCK_ROWS;
  // The active columns' means and inverse stds, in their own order (no lookups through `active`).
  const mean = Float64Array.from(active, (j) => means[j]);
  const inv = Float64Array.from(active, (j) => 1 / stds[j]);
  for (let r0 = 0; r0 < rows; r0 += B) {
    const b = Math.min(rows, r0 + B) - r0;
    for (let i = 0; i < b; i++) {
      const o = (r0 + i) * n;
      const y = target[r0 + i];
      ysum += y;
      for (let a = 0; a < k; a++) {
        const v = values[o + active[a]];
        const zv = v === v ? (v - mean[a]) * inv[a] : 0;
        block[a * stride + i] = zv;
        zsum[a] += zv;
        zy[a] += zv * y;
      }
    }
    acc.add(b);
  }
  acc.upperInto(gram);
  // Centre (the intercept absorbs the means) and regularise.
  const ymean = ysum / rows;
  const zmean = zsum.map((s) => s / rows);
  for (let a = 0; a < k; a++) {
    for (let c = a; c < k; c++) {
      const v = gram[a * k + c] - rows * zmean[a] * zmean[c];
      gram[a * k + c] = v;
      gram[c * k + a] = v;
    }
    zy[a] -= rows * zmean[a] * ymean;
  }
  // alpha = 0 still gets a tiny ridge so exactly collinear columns do not break Cholesky.
  const jitter = params.alpha > 0 ? 0 : 1e-10 * Math.max(1, rows);
  for (let a = 0; a < k; a++) gram[a * k + a] += params.alpha + jitter;
  const w = choleskySolve(gram, zy, k);

  const coef = new Array<number>(n).fill(0);
  let intercept = ymean;
  for (let a = 0; a < k; a++) {
    coef[active[a]] = w[a];
    intercept -= w[a] * zmean[a];
  }
  return { kind: 'ridge', names: [...names], means: Array.from(means), stds: Array.from(stds), coef, intercept };
}

/** Solves A x = b for symmetric positive definite A (k x k, row-major); A is overwritten. */
export function choleskySolve(A: Float64Array, b: Float64Array, k: number): Float64Array {
  for (let j = 0; j < k; j++) {
    let d = A[j * k + j];
    for (let p = 0; p < j; p++) d -= A[j * k + p] * A[j * k + p];
    if (!(d > 0)) throw new Error('ridge: the regularised Gram matrix is not positive definite (collinear features); use alpha > 0');
    const l = Math.sqrt(d);
    A[j * k + j] = l;
    for (let i = j + 1; i < k; i++) {
      let s = A[i * k + j];
      for (let p = 0; p < j; p++) s -= A[i * k + p] * A[j * k + p];
      A[i * k + j] = s / l;
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= A[i * k + p] * y[p];
    y[i] = s / A[i * k + i];
  }
  const x = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i];
    for (let p = i + 1; p < k; p++) s -= A[p * k + i] * x[p];
    x[i] = s / A[i * k + i];
  }
  return x;
}

/** Native predictions (Float64) on raw float32 features, row-major [rows, names.length]. */
export function predictRidge(model: RidgeModel, X: Float32Array, rows: number): Float64Array {
  return linearPredict(model, X, rows, 'predictRidge');
}

/**
 * intercept + Σ coef_j (x_j − means_j) / stds_j per row, a missing value adding nothing (it is
 * imputed with the mean): the linear form ridge predicts and logistic regression takes the
 * logistic function of. Row-major float32 features [rows, names.length].
 */
export function linearPredict(
  model: Pick<RidgeModel, 'names' | 'means' | 'stds' | 'coef' | 'intercept'>,
  X: Float32Array,
  rows: number,
  who: string,
): Float64Array {
  const n = model.names.length;
  if (X.length !== rows * n) throw new Error(`${who}: X has ${X.length} values, expected ${rows} rows x ${n} features`);
  // Fold the scaling once: w_j / std_j.
  const scaled = model.coef.map((c, j) => c / model.stds[j]);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let s = model.intercept;
    for (let j = 0; j < n; j++) {
      const v = X[o + j];
      if (v === v) s += scaled[j] * (v - model.means[j]);
    }
    out[r] = s;
  }
  return out;
}
