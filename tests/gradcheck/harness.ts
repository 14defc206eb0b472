// Gradient checking against central finite differences, run in ONNX Runtime.
// For a case building y = op(x₀, x₁, …), the checked function is f(x) = Σ w ⊙ y with w a fixed random
// tensor (so the upstream gradient is not uniform). The analytic gradient comes from buildBackward run
// in ORT; the numeric one from running the same graph with each input element nudged by ±ε.
//
// Precision: cases run in float64 when ORT's CPU kernels take doubles (ε = 1e-6, pass when
// |a − n| ≤ 1e-6 + 1e-5·max(|a|, |n|)). A case whose graph ORT refuses in float64 falls back to float32
// (ε = 1e-3, pass when |a − n| ≤ 1e-3 + 1e-2·max(|a|, |n|)); y is then cast to float64 before the
// weighted sum, so the loss itself adds no float32 rounding, and the step is measured after rounding
// x ± ε to float32.

import { buildBackward } from '../../native-runtime/autodiff/backward.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { DType } from '../../native-runtime/ir/dtype.ts';
import type { Dim, Graph, Value } from '../../native-runtime/ir/graph.ts';
import { createSession, type EngineSession, ort, runSession } from '../../native-runtime/runtime/session.ts';

export type FloatDT = 'float32' | 'float64';

export interface InputSpec {
  /** Declared shape (may be symbolic: 'B', 'T'). */
  shape: Dim[];
  /** Concrete dims when `shape` is symbolic. */
  dims?: number[];
  /** Explicit values (else uniform in [lo, hi)). */
  data?: number[];
  lo?: number;
  hi?: number;
  /** Differentiate with respect to this input (default: true for float inputs). */
  grad?: boolean;
  /** Non-float inputs (indices, conditions) are fed as given and never differentiated. */
  dtype?: 'int64' | 'int32' | 'bool';
}

export interface GradCase {
  name: string;
  /** Ops whose rules this case exercises (for the coverage check). */
  ops: string[];
  inputs: InputSpec[];
  build: (b: GraphBuilder, xs: Value[], dt: FloatDT) => Value;
  /**
   * Check f = Σ op(x) instead (no w): the upstream gradient is then a broadcast scalar, which is how
   * the walker passes it to rules that accept one (BROADCAST_GRAD_OK).
   */
  plainSum?: boolean;
  /** Force a precision (default: float64, falling back to float32). */
  dtype?: FloatDT;
}

export interface GradResult {
  dtype: FloatDT;
  maxAbsErr: number;
  worst: string;
  grads: Float64Array[];
  graph: Graph;
}

export const TOL: Record<FloatDT, { eps: number; atol: number; rtol: number }> = {
  float64: { eps: 1e-6, atol: 1e-6, rtol: 1e-5 },
  float32: { eps: 1e-3, atol: 1e-3, rtol: 1e-2 },
};

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
const size = (d: number[]) => d.reduce((p, q) => p * q, 1);

export function tensor(dtype: DType, data: ArrayLike<number>, dims: number[]): ort.Tensor {
  switch (dtype) {
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(data), dims);
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(data), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (x) => BigInt(x))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(data), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(data), dims);
    default:
      throw new Error(`no tensor for ${dtype}`);
  }
}

interface Built {
  b: GraphBuilder;
  xs: Value[];
  y: Value;
}

function buildForward(c: GradCase, dt: FloatDT): Built {
  const b = new GraphBuilder(c.name.replace(/\W+/g, '_'));
  const xs = c.inputs.map((s, i) => b.input(`x${i}`, s.dtype ?? dt, s.shape));
  const y = c.build(b, xs, dt);
  return { b, xs, y };
}

/**
 * The op types of a case's forward graph, built (not run) in float64: what its gradcheck
 * differentiates. Independent of which tests ran before.
 */
export function forwardOps(c: GradCase): Set<string> {
  const { b, y } = buildForward(c, 'float64');
  b.output(y, 'y');
  return new Set(b.graph.nodes.map((n) => n.op));
}

/** Builds f = Σ w ⊙ op(x) with its gradients; returns the session (or null if ORT refuses this dtype). */
async function compile(c: GradCase, dt: FloatDT, vals: number[][], dimsOf: number[][]) {
  // Probe: y's concrete shape, needed to feed w.
  const probe = buildForward(c, dt);
  probe.b.output(probe.y, 'y');
  let ps: EngineSession;
  try {
    ps = await createSession(probe.b.graph);
  } catch (e) {
    return { error: e as Error };
  }
  const feeds: Record<string, ort.Tensor> = {};
  c.inputs.forEach((s, i) => {
    feeds[`x${i}`] = tensor(s.dtype ?? dt, vals[i], dimsOf[i]);
  });
  const yDims = [...(await runSession(ps, feeds)).y.dims];

  const { b, xs, y } = buildForward(c, dt);
  const w = b.input('w', 'float64', yDims);
  const y64 = y.dtype === 'float64' ? y : b.cast(y, 'float64');
  const loss = b.op('ReduceSum', [c.plainSum ? y64 : b.mul(y64, w)], { keepdims: 0 });
  b.output(loss, 'loss');
  const wrt = xs.filter((_x, i) => !c.inputs[i].dtype && c.inputs[i].grad !== false);
  const grads = buildBackward(b, loss, wrt);
  wrt.forEach((x, i) => {
    b.output(grads.get(x)!, `grad${i}`);
  });
  let s: EngineSession;
  try {
    s = await createSession(b.graph);
  } catch (e) {
    return { error: e as Error };
  }
  const r = rng(hash(c.name) ^ 0x5eed);
  feeds.w = tensor(
    'float64',
    Array.from({ length: size(yDims) }, () => r() * 2 - 1),
    yDims,
  );
  return { s, feeds, wrt, graph: b.graph };
}

export async function gradcheck(c: GradCase): Promise<GradResult> {
  const r = rng(hash(c.name));
  const dimsOf = c.inputs.map((s) => s.dims ?? (s.shape as number[]));
  const vals = c.inputs.map(
    (s, i) =>
      s.data ??
      Array.from({ length: size(dimsOf[i]) }, () => (s.lo ?? -2) + r() * ((s.hi ?? 2) - (s.lo ?? -2))),
  );
  let dt: FloatDT = c.dtype ?? 'float64';
  let built = await compile(c, dt, vals, dimsOf);
  if ('error' in built && !c.dtype && dt === 'float64') {
    dt = 'float32';
    built = await compile(c, dt, vals, dimsOf);
  }
  if ('error' in built) throw built.error;
  const { s, feeds, wrt, graph } = built;
  const { eps, atol, rtol } = TOL[dt];

  const base = await runSession(s, feeds);
  const wrtIdx = c.inputs.flatMap((sp, i) => (!sp.dtype && sp.grad !== false ? [i] : []));
  const lossAt = async (i: number, data: number[]) => {
    const out = await runSession(s, { ...feeds, [`x${i}`]: tensor(dt, data, dimsOf[i]) }, ['loss']);
    return Number(out.loss.data[0]);
  };
  let maxAbsErr = 0;
  let worst = '';
  const grads: Float64Array[] = [];
  for (let k = 0; k < wrt.length; k++) {
    const i = wrtIdx[k];
    const ga = base[`grad${k}`];
    if (ga.dims.join(',') !== dimsOf[i].join(','))
      throw new Error(`${c.name}: grad of x${i} has dims [${ga.dims}], expected [${dimsOf[i]}]`);
    const analytic = Float64Array.from(ga.data as ArrayLike<number>);
    grads.push(analytic);
    for (let j = 0; j < vals[i].length; j++) {
      const plus = [...vals[i]],
        minus = [...vals[i]];
      plus[j] += eps;
      minus[j] -= eps;
      const step = dt === 'float32' ? Math.fround(plus[j]) - Math.fround(minus[j]) : plus[j] - minus[j];
      const numeric = ((await lossAt(i, plus)) - (await lossAt(i, minus))) / step;
      const a = analytic[j];
      const err = Math.abs(a - numeric);
      if (!(err <= atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)))) {
        throw new Error(
          `${c.name} (${dt}): d/dx${i}[${j}] analytic ${a} vs numeric ${numeric} (x = ${vals[i][j]})`,
        );
      }
      if (err > maxAbsErr) {
        maxAbsErr = err;
        worst = `x${i}[${j}]`;
      }
    }
  }
  return { dtype: dt, maxAbsErr, worst, grads, graph };
}

/** Runs a graph once (inputs by name) and returns its outputs as float64 arrays. */
export async function runGraph(
  g: Graph,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, { data: number[]; dims: readonly number[] }>> {
  const s = await createSession(g);
  const out = await runSession(s, feeds);
  const res: Record<string, { data: number[]; dims: readonly number[] }> = {};
  for (const [k, t] of Object.entries(out))
    res[k] = { data: Array.from(t.data as ArrayLike<number>, Number), dims: t.dims };
  return res;
}
