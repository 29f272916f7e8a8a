import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticRegression } from '../actions/lib/train/bench.ts';
import { trainRidge } from '../actions/lib/train/ridge.ts';

/**
 * The ridge fit against a BLAS solve of the same problem: trainRidge on a 420,000 x 94 float32
 * matrix (2% NaN), and NumPy (Debian's python3-numpy, whatever BLAS it links) doing the same
 * work on the same bytes: mean imputation and standardisation, Z'Z and Z'y by matrix products,
 * then a dense solve. Both time the fit only, not loading the data; the coefficients are compared
 * so the two are known to solve the same problem.
 */

const NUMPY_FIT = `
import sys, time, json
import numpy as np
rows, n, alpha = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(rows, n)
y = np.fromfile(sys.argv[2], dtype=np.float64)
t0 = time.perf_counter()
mean = np.nanmean(X, axis=0, dtype=np.float64).astype(np.float32).astype(np.float64)
std = np.sqrt(np.nanmean((X - mean) ** 2, axis=0)).astype(np.float32).astype(np.float64)
Z = np.nan_to_num((X - mean) / std, nan=0.0)
t1 = time.perf_counter()
zm = Z.mean(axis=0)
ym = y.mean()
G = Z.T @ Z - rows * np.outer(zm, zm) + alpha * np.eye(n)
b = Z.T @ y - rows * zm * ym
w = np.linalg.solve(G, b)
t2 = time.perf_counter()
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and len(l.split()) > 5})
print(json.dumps({"wall_ms": round((t2 - t0) * 1000), "gram_solve_ms": round((t2 - t1) * 1000), "blas": blas, "coef": (w / std).tolist()}))
`;

export interface RidgeFigures {
  rows: number;
  features: number;
  ridge_ms: number;
  /** NumPy's whole fit, and its Z'Z, Z'y and solve alone (what the BLAS does) */
  numpy_ms: number | null;
  numpy_gram_solve_ms: number | null;
  /** the BLAS library NumPy loaded */
  numpy_blas: string[] | null;
  /** ridge time over NumPy's whole fit on the same matrix */
  ratio: number | null;
  /** the largest difference between the two fits' coefficients (per raw feature unit) */
  max_coef_diff: number | null;
  note?: string;
}

export function benchRidge(rows = 420_000, features = 94, alpha = 1): RidgeFigures {
  const data = syntheticRegression(rows, features, { seed: 7, nanShare: 0.02 });
  const t0 = performance.now();
  const model = trainRidge(data, { alpha });
  const ridgeMs = Math.round(performance.now() - t0);
  const ours = model.coef.map((c, j) => c / model.stds[j]);

  const dir = mkdtempSync(join(tmpdir(), 'mlops-bench-ridge-'));
  try {
    writeFileSync(join(dir, 'x.f32'), new Uint8Array(data.values.buffer, data.values.byteOffset, data.values.byteLength));
    writeFileSync(join(dir, 'y.f64'), new Uint8Array(data.target.buffer, data.target.byteOffset, data.target.byteLength));
    writeFileSync(join(dir, 'fit.py'), NUMPY_FIT);
    let out: string;
    try {
      out = execFileSync('/usr/bin/python3', [join(dir, 'fit.py'), join(dir, 'x.f32'), join(dir, 'y.f64'), String(rows), String(features), String(alpha)], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      return {
        rows,
        features,
        ridge_ms: ridgeMs,
        numpy_ms: null,
        numpy_gram_solve_ms: null,
        numpy_blas: null,
        ratio: null,
        max_coef_diff: null,
        note: `NumPy not run: ${(err as Error).message.split('\n')[0]}`,
      };
    }
    const numpy = JSON.parse(out) as { wall_ms: number; gram_solve_ms: number; blas: string[]; coef: number[] };
    const diff = numpy.coef.reduce((m, c, j) => Math.max(m, Math.abs(c - ours[j])), 0);
    return {
      rows,
      features,
      ridge_ms: ridgeMs,
      numpy_ms: numpy.wall_ms,
      numpy_gram_solve_ms: numpy.gram_solve_ms,
      numpy_blas: numpy.blas,
      ratio: Math.round((ridgeMs / Math.max(1, numpy.wall_ms)) * 100) / 100,
      max_coef_diff: Number(diff.toPrecision(3)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
