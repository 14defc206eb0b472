// torch's Householder orthogonal parametrization (torch.nn.utils.parametrizations.orthogonal with
// orthogonal_map="householder", use_trivialization=True), as pyreft stores R for every R-based
// intervention except LoReFT (which saves R itself as `rotate_layer`).
//
// Shapes (row-major Float32Array): X = `original` (n, r), base (n, n), R (n, r); n >= r.
// Forward, exactly as torch computes it:
//   A = strictly lower-triangular part of X; τ_j = 2 / (1 + ‖A[:, j]‖²); v_j = e_j + A[:, j]
//   Q = first r columns of H_1 H_2 … H_r with H_j = I − τ_j v_j v_jᵀ
//   Q[:, j] *= int(X[j, j])      (torch truncates the diagonal to an integer: ±1 in practice)
//   R = base · Q
// Inverse for export (what pyreft's LoReFT loader does too): original = −I (n, r), which makes
// Q = [I_r; 0], and base = [R | an orthonormal completion of R], so R = base[:, :r] bit for bit.
// Arithmetic is float64 throughout; results are rounded to float32 once.

import { FormatError } from '../errors.ts';

/** R (n, r) from the parametrization tensors. `base` absent means no trivialization (R = Q). */
export function householderR(
  original: Float32Array,
  base: Float32Array | undefined,
  n: number,
  r: number,
): Float32Array {
  if (n < r)
    throw new FormatError(
      'shape-mismatch',
      `Householder parametrization: original is [${n}, ${r}], expected a tall matrix`,
    );
  if (original.length !== n * r)
    throw new FormatError(
      'shape-mismatch',
      `Householder parametrization: original has ${original.length} values, expected ${n}×${r}`,
    );
  if (base && base.length !== n * n)
    throw new FormatError(
      'shape-mismatch',
      `Householder parametrization: base has ${base.length} values, expected ${n}×${n}`,
    );
  const X = (i: number, j: number) => original[i * r + j];
  // M (n, r) = E = [I_r; 0]; apply H_r first, H_1 last.
  const M = new Float64Array(n * r);
  for (let j = 0; j < r; j++) M[j * r + j] = 1;
  for (let j = r - 1; j >= 0; j--) {
    let norm2 = 0;
    for (let i = j + 1; i < n; i++) norm2 += X(i, j) * X(i, j);
    const tau = 2 / (1 + norm2);
    for (let c = 0; c < r; c++) {
      let s = M[j * r + c];
      for (let i = j + 1; i < n; i++) s += X(i, j) * M[i * r + c];
      if (s === 0) continue;
      const ts = tau * s;
      M[j * r + c] -= ts;
      for (let i = j + 1; i < n; i++) M[i * r + c] -= ts * X(i, j);
    }
  }
  for (let j = 0; j < r; j++) {
    const sign = Math.trunc(X(j, j)); // torch: X.diagonal().int()
    for (let i = 0; i < n; i++) M[i * r + j] *= sign;
  }
  const R = new Float32Array(n * r);
  if (!base) {
    for (let k = 0; k < n * r; k++) R[k] = M[k];
    return R;
  }
  const acc = new Float64Array(r);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let k = 0; k < n; k++) {
      const b = base[i * n + k];
      if (b === 0) continue;
      for (let c = 0; c < r; c++) acc[c] += b * M[k * r + c];
    }
    for (let c = 0; c < r; c++) R[i * r + c] = acc[c];
  }
  return R;
}

/** Largest |RᵀR − I| entry: 0 for exactly orthonormal columns. */
export function orthonormalityError(R: Float32Array, n: number, r: number): number {
  let worst = 0;
  for (let a = 0; a < r; a++) {
    for (let b = a; b < r; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += R[i * r + a] * R[i * r + b];
      worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

/**
 * Parametrization tensors that reproduce R exactly: original = −I (n, r) and base (n, n) whose
 * first r columns are R and whose other columns complete it to an orthonormal basis.
 */
export function householderFromR(
  R: Float32Array,
  n: number,
  r: number,
): { original: Float32Array; base: Float32Array } {
  if (n < r || R.length !== n * r)
    throw new FormatError('shape-mismatch', `R has ${R.length} values, expected a tall ${n}×${r} matrix`);
  const err = orthonormalityError(R, n, r);
  if (!(err < 1e-3))
    throw new FormatError(
      'not-orthonormal',
      `R's columns are not orthonormal (|RᵀR − I| up to ${err.toExponential(2)})`,
    );
  const original = new Float32Array(n * r);
  for (let j = 0; j < r; j++) original[j * r + j] = -1;

  // Householder QR of R: reflectors v_k (unit, zero above k) with H_0 … H_{r-1} R = [upper; 0].
  // The columns r..n-1 of H_0 … H_{r-1} are then orthonormal and orthogonal to R's span.
  const A = Float64Array.from(R);
  const vs: Float64Array[] = [];
  for (let k = 0; k < r; k++) {
    const v = new Float64Array(n);
    let norm2 = 0;
    for (let i = k; i < n; i++) norm2 += A[i * r + k] ** 2;
    const x0 = A[k * r + k];
    const alpha = (x0 >= 0 ? -1 : 1) * Math.sqrt(norm2);
    for (let i = k; i < n; i++) v[i] = A[i * r + k];
    v[k] -= alpha;
    let vn = 0;
    for (let i = k; i < n; i++) vn += v[i] * v[i];
    vn = Math.sqrt(vn);
    if (vn > 0) for (let i = k; i < n; i++) v[i] /= vn;
    for (let c = k; c < r; c++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i] * A[i * r + c];
      for (let i = k; i < n; i++) A[i * r + c] -= 2 * s * v[i];
    }
    vs.push(v);
  }
  const base = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < r; c++) base[i * n + c] = R[i * r + c];
  const y = new Float64Array(n);
  for (let j = r; j < n; j++) {
    y.fill(0);
    y[j] = 1;
    for (let k = r - 1; k >= 0; k--) {
      const v = vs[k];
      let s = 0;
      for (let i = k; i < n; i++) s += v[i] * y[i];
      if (s !== 0) for (let i = k; i < n; i++) y[i] -= 2 * s * v[i];
    }
    for (let i = 0; i < n; i++) base[i * n + j] = y[i];
  }
  return { original, base };
}
