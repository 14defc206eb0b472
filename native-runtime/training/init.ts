// Fresh intervention parameters, initialised the way pyreft's modules are (reft-semantics.md):
//   R (n×r)                 Q of the QR of a Gaussian n×r matrix, columns signed so the triangular
//                           factor has a positive diagonal (torch.nn.init.orthogonal_)
//   Linear weight / bias    uniform(±1/√n), n = fan-in = hidden size (torch.nn.Linear's default)
//   ConsReFT/LobiReFT b     uniform[0, 1) (torch.rand)
// from a seeded PRNG (mulberry32; Gaussians by Box–Muller), so a seed gives the same adapter on every
// platform. Not torch's random stream: the same seed does not give pyreft's numbers.
// R goes through HouseholderParam.fromR, so training keeps it on the Stiefel manifold.

import { mulberry32, type Rng } from '../generation/sampling.ts';
import { type InterventionSpec, PARAMS } from '../interventions/kinds.ts';
import type { InterventionState, ParamTensor } from './reft-model.ts';
import { HouseholderParam, householderQr, ReflectorBase } from './stiefel.ts';

/** Standard normal draws from a uniform PRNG (Box–Muller, both values used). */
export function gaussian(rng: Rng): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u1 = 1 - rng(); // (0, 1]: log never sees 0
    const u2 = rng();
    const rad = Math.sqrt(-2 * Math.log(u1));
    spare = rad * Math.sin(2 * Math.PI * u2);
    return rad * Math.cos(2 * Math.PI * u2);
  };
}

/** An n×r matrix with orthonormal columns: Q of the QR of a Gaussian matrix (row-major). */
export function randomOrthonormal(n: number, r: number, rng: Rng): Float64Array {
  const g = gaussian(rng);
  const m = new Float64Array(n * r);
  for (let i = 0; i < m.length; i++) m[i] = g();
  const { u, d } = householderQr(m, n, r);
  const e = new Float64Array(n * r);
  for (let j = 0; j < r; j++) e[j * r + j] = 1;
  const q = new ReflectorBase(n, u).apply(e, r); // M = Q·[R; 0], Q's first r columns
  // torch.nn.init.orthogonal_ multiplies by sign(diag(R)) so the factor's diagonal is positive.
  for (let j = 0; j < r; j++) if (d[j] < 0) for (let i = 0; i < n; i++) q[i * r + j] = -q[i * r + j];
  return q;
}

/** One intervention's initial state. */
export function initState(spec: InterventionSpec, rng: Rng): InterventionState {
  const n = spec.embedDim,
    r = spec.rank;
  const params = new Map<string, ParamTensor>();
  let rot: HouseholderParam | null = null;
  const bound = 1 / Math.sqrt(n);
  for (const d of PARAMS[spec.type]) {
    const shape = d.shape(n, r);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (d.init === 'orthonormal') {
      rot = HouseholderParam.fromR(randomOrthonormal(n, r, rng), n, r);
      data.set(rot.forward());
    } else if (d.init === 'linear') {
      for (let i = 0; i < size; i++) data[i] = (2 * rng() - 1) * bound;
    } else {
      for (let i = 0; i < size; i++) data[i] = rng();
    }
    params.set(d.name, { data, shape });
  }
  return { spec, params, rot, rotFromFile: false };
}

/** Initial states for every intervention, in order, from one seed. */
export function initStates(specs: readonly InterventionSpec[], seed: number): InterventionState[] {
  const rng = mulberry32(seed);
  return specs.map((s) => initState(s, rng));
}
