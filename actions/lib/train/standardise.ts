/**
 * The standardisation of the linear models (ridge, logistic): per feature the mean and the
 * population standard deviation of its observed values, both rounded to float32 so that the ONNX
 * graph (float32 Imputer / Sub / Div) applies exactly the same constants. A missing value (NaN) is
 * imputed with the mean, i.e. standardised to 0. Constant or empty columns get std 1 and stay out
 * of the fit (`active` lists the others).
 */
export interface Standardisation {
  means: Float64Array;
  stds: Float64Array;
  /** columns with a positive, finite std: the ones a linear model fits */
  active: number[];
}

export function standardisation(values: Float32Array, rows: number, n: number): Standardisation {
  const f32 = Math.fround;
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      const v = values[o + j];
      if (v === v) {
        sum[j] += v;
        count[j]++;
      }
    }
  }
  const means = new Float64Array(n);
  for (let j = 0; j < n; j++) means[j] = count[j] > 0 ? f32(sum[j] / count[j]) : 0;
  // Population std over the observed values (imputed rows add no spread).
  const ss = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) {
      const v = values[o + j];
      if (v === v) ss[j] += (v - means[j]) * (v - means[j]);
    }
  }
  const stds = new Float64Array(n);
  const active: number[] = [];
  for (let j = 0; j < n; j++) {
    const s = count[j] > 0 ? f32(Math.sqrt(ss[j] / count[j])) : 0;
    if (s > 0 && Number.isFinite(s)) {
      stds[j] = s;
      active.push(j);
    } else {
      stds[j] = 1;
    }
  }
  return { means, stds, active };
}

/** Standardised values of the active columns, row-major [rows, active.length], missing as 0. */
export function standardisedMatrix(values: Float32Array, rows: number, n: number, s: Standardisation): Float64Array {
  const k = s.active.length;
  const z = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let a = 0; a < k; a++) {
      const j = s.active[a];
      const v = values[o + j];
      z[r * k + a] = v === v ? (v - s.means[j]) / s.stds[j] : 0;
    }
  }
  return z;
}
