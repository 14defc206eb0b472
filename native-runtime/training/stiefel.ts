// Keeping R on the Stiefel manifold (orthonormal columns) during training, the way pyreft does it:
// torch's Householder "trivialization". The trained parameter is X (n×r); R = base · Q(X) with
//   A = strictly-lower-triangular part of X,  τ_j = 2 / (1 + ‖A[:, j]‖²),  v_j = e_j + A[:, j],
//   Q = first r columns of H_1 H_2 … H_r (H_j = I − τ_j v_j v_jᵀ), column j times int(X[j, j]) (±1).
// Any X gives an orthonormal R, so plain AdamW on X keeps R exactly on the manifold; the diagonal of
// X gets no gradient and stays ±1 (torch casts it to int). We run the same algorithm as pyreft, so
// training curves match it, but store `base` compactly: pyreft keeps a dense n×n base per
// intervention (64 MB at n = 4096); ours is r Householder reflectors (n×r) from the initial QR.
// An imported R (pyreft LoReFT files store R itself) gets a base whose first r columns are R.
// Matrices are row-major Float64Array for accuracy; n×r sizes make this cheap in JS.

export interface Base {
  /** base · M for M (n×r) */
  apply(m: Float64Array, r: number): Float64Array;
  /** baseᵀ · M for M (n×r) */
  applyT(m: Float64Array, r: number): Float64Array;
}

/** A dense n×n base (pyreft's `rotate_layer.parametrizations.weight.0.base`). */
export class DenseBase implements Base {
  constructor(
    readonly n: number,
    readonly data: Float64Array,
  ) {}
  apply(m: Float64Array, r: number): Float64Array {
    return matmul(this.data, m, this.n, this.n, r, false);
  }
  applyT(m: Float64Array, r: number): Float64Array {
    return matmul(this.data, m, this.n, this.n, r, true);
  }
}

/** base = H'_1 … H'_k with unit reflectors u (H' = I − 2uuᵀ), stored as k vectors of length n. */
export class ReflectorBase implements Base {
  constructor(
    readonly n: number,
    readonly u: Float64Array[],
  ) {}
  #reflect(m: Float64Array, r: number, u: Float64Array): void {
    const n = this.n;
    for (let c = 0; c < r; c++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += u[i] * m[i * r + c];
      if (dot === 0) continue;
      for (let i = 0; i < n; i++) m[i * r + c] -= 2 * u[i] * dot;
    }
  }
  apply(m: Float64Array, r: number): Float64Array {
    const out = m.slice();
    for (let k = this.u.length - 1; k >= 0; k--) this.#reflect(out, r, this.u[k]);
    return out;
  }
  applyT(m: Float64Array, r: number): Float64Array {
    const out = m.slice();
    for (let k = 0; k < this.u.length; k++) this.#reflect(out, r, this.u[k]);
    return out;
  }
}

/** C = op(A) · B with A (m×k) or, transposed, A (k×m); B (k×n). */
function matmul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
  transA: boolean,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * m + i] : a[i * k + p];
      if (av === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[p * n + j];
    }
  }
  return c;
}

/**
 * Householder QR of an n×r matrix M: returns the reflectors and the diagonal of the triangular
 * factor, so that M = H'_1…H'_r · [diag(d) + strict upper; 0]. For orthonormal M the factor is diag(d), d = ±1.
 */
export function householderQr(m: Float64Array, n: number, r: number): { u: Float64Array[]; d: Float64Array } {
  const a = m.slice();
  const us: Float64Array[] = [];
  const d = new Float64Array(r);
  for (let k = 0; k < r; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += a[i * r + k] ** 2;
    norm = Math.sqrt(norm);
    const alpha = a[k * r + k] > 0 ? -norm : norm;
    const u = new Float64Array(n);
    for (let i = k; i < n; i++) u[i] = a[i * r + k];
    u[k] -= alpha;
    let un = 0;
    for (let i = k; i < n; i++) un += u[i] ** 2;
    un = Math.sqrt(un);
    if (un > 0) {
      for (let i = k; i < n; i++) u[i] /= un;
      for (let c = k; c < r; c++) {
        let dot = 0;
        for (let i = k; i < n; i++) dot += u[i] * a[i * r + c];
        for (let i = k; i < n; i++) a[i * r + c] -= 2 * u[i] * dot;
      }
    }
    us.push(u);
    d[k] = a[k * r + k];
  }
  return { u: us, d };
}

/** The trivialized parametrization of one R. */
export class HouseholderParam {
  readonly n: number;
  readonly r: number;
  /** The trained parameter X (n×r), float32 like the other parameters. */
  readonly x: Float32Array;
  readonly base: Base;
  // Saved by forward() for backward(): Y_j after applying reflectors j…r, plus τ and v.
  #saved: { ys: Float64Array[]; taus: Float64Array; vs: Float64Array[]; signs: Float64Array } | null = null;

  constructor(n: number, r: number, x: Float32Array, base: Base) {
    this.n = n;
    this.r = r;
    this.x = x;
    this.base = base;
  }

  /** Starts from a given orthonormal R (an initial QR, or an imported adapter): base[:, :r]·signs = R, X diagonal ±1. */
  static fromR(R: Float32Array | Float64Array, n: number, r: number): HouseholderParam {
    const { u, d } = householderQr(Float64Array.from(R), n, r);
    const x = new Float32Array(n * r);
    // With A = 0, column j of Q is −int(X[j,j])·e_j; base·Q must give R[:, j] = d_j·base[:, j].
    for (let j = 0; j < r; j++) x[j * r + j] = d[j] >= 0 ? -1 : 1;
    return new HouseholderParam(n, r, x, new ReflectorBase(n, u));
  }

  /** R = base · Q(X) as float32 (n×r). */
  forward(): Float32Array {
    const { n, r, x } = this;
    const vs: Float64Array[] = [];
    const taus = new Float64Array(r);
    for (let j = 0; j < r; j++) {
      const v = new Float64Array(n);
      v[j] = 1;
      let s = 0;
      for (let i = j + 1; i < n; i++) {
        v[i] = x[i * r + j];
        s += v[i] * v[i];
      }
      taus[j] = 2 / (1 + s);
      vs.push(v);
    }
    // Y_r = E (first r columns of I); Y_{j−1} = H_j Y_j; Q̃ = Y_0.
    let y: Float64Array = new Float64Array(n * r);
    for (let j = 0; j < r; j++) y[j * r + j] = 1;
    const ys: Float64Array[] = new Array(r + 1);
    ys[r] = y;
    for (let j = r - 1; j >= 0; j--) {
      y = reflect(y, vs[j], taus[j], n, r);
      ys[j] = y;
    }
    const signs = new Float64Array(r);
    for (let j = 0; j < r; j++) signs[j] = Math.trunc(x[j * r + j]);
    const q = ys[0].slice();
    for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) q[i * r + j] *= signs[j];
    this.#saved = { ys, taus, vs, signs };
    return Float32Array.from(this.base.apply(q, r));
  }

  /** dL/dX (n×r) from dL/dR, for the R computed by the last forward(). */
  backward(gradR: Float32Array | Float64Array): Float32Array {
    if (!this.#saved) throw new Error('HouseholderParam.backward before forward');
    const { n, r } = this;
    const { ys, taus, vs, signs } = this.#saved;
    const dq = this.base.applyT(Float64Array.from(gradR), r);
    for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) dq[i * r + j] *= signs[j];
    const dx = new Float32Array(n * r);
    let dy: Float64Array = dq; // gradient w.r.t. Y_{j−1} while visiting step j (0-based: j produces ys[j] from ys[j+1])
    for (let j = 0; j < r; j++) {
      const v = vs[j],
        tau = taus[j],
        yj = ys[j + 1];
      // out = Y − τ v (vᵀY): w = vᵀY (r), u = vᵀ dOut (r)
      const w = new Float64Array(r),
        u = new Float64Array(r);
      for (let i = j; i < n; i++) {
        if (v[i] === 0) continue;
        for (let c = 0; c < r; c++) {
          w[c] += v[i] * yj[i * r + c];
          u[c] += v[i] * dy[i * r + c];
        }
      }
      let dtau = 0;
      for (let c = 0; c < r; c++) dtau -= u[c] * w[c];
      // dv = −τ (dOut·w + Y·u); dτ/da = −τ² a for a = v below the diagonal.
      for (let i = j + 1; i < n; i++) {
        let dv = 0;
        for (let c = 0; c < r; c++) dv += dy[i * r + c] * w[c] + yj[i * r + c] * u[c];
        dx[i * r + j] = -tau * dv + dtau * -(tau * tau) * v[i];
      }
      dy = reflect(dy, v, tau, n, r); // dY = Hᵀ dOut = H dOut
    }
    return dx;
  }
}

function reflect(y: Float64Array, v: Float64Array, tau: number, n: number, r: number): Float64Array {
  const out = y.slice();
  const w = new Float64Array(r);
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    for (let c = 0; c < r; c++) w[c] += v[i] * y[i * r + c];
  }
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    for (let c = 0; c < r; c++) out[i * r + c] -= tau * v[i] * w[c];
  }
  return out;
}
