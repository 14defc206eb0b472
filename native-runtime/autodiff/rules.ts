// The gradient table: one rule per ONNX op, in the style of tinygrad's pm_gradient. A rule gets the
// upstream gradients of the node's outputs (null where an output has none), the forward node and the
// builder to emit into, and returns one gradient per node input (null = no gradient: integer inputs,
// conditions, indices, shapes). Rules emit ordinary standard-domain ONNX ops (opset 21), so the
// backward graph runs on every execution provider; they avoid OneHot, SoftmaxCrossEntropyLoss, Sum,
// Mod and int64 arithmetic.
//
// What rules may leave to the walker (autodiff/backward.ts):
// - Broadcasting: a rule may return a gradient of the broadcast (output) shape; the walker sums it
//   back to the input's shape.
// - Unneeded gradients: a rule may compute every input's gradient; the walker drops the nodes that
//   only feed gradients nobody asked for (a frozen weight's gradient is never emitted).
// - Ops in BROADCAST_GRAD_OK accept an upstream gradient that is merely broadcastable to the output
//   (a scalar seed, a keepdims reduction), so no big tensor is materialized for it; every other rule
//   gets gradients of exactly its outputs' shapes.
//
// Not covered: control flow (If/Loop), random ops other than Dropout, integer-valued differentiation.
// Composite ops (SiLU, GELU, RMSNorm, cross-entropy) are built from primitives and need no rule.

import { AutodiffError } from '../errors.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import { type DType, isFloat } from '../ir/dtype.ts';
import { type Dim, type Node, type Shape, Value } from '../ir/graph.ts';
import { matMulNBitsGrad } from '../quantize/linear.ts';

type G = Value | null;
/** g: upstream gradient per output (null if none); returns one gradient per input (null = none). */
export type GradRule = (g: G[], node: Node, b: GraphBuilder) => G[];

const INT64_MAX = Number.MAX_SAFE_INTEGER;

// --- helpers ---------------------------------------------------------------------------------------

const isStatic = (s: Shape): s is number[] => s.every((d) => typeof d === 'number');
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A scalar constant of the given float dtype (f16/bf16 through a Cast that ORT folds at load). */
export function scalarOf(b: GraphBuilder, x: number, dtype: DType): Value {
  if (dtype === 'float32' || dtype === 'float64') return b.scalar(x, dtype);
  return b.cast(b.scalar(x, 'float32'), dtype);
}

/** The shape of v as an int64 vector: a constant when static, else a Shape node. */
export function shapeVec(b: GraphBuilder, v: Value): Value {
  return isStatic(v.shape) ? b.ints(v.shape) : b.shapeOf(v);
}

/**
 * Zeros of the given shape vector: a scalar 0 expanded (nothing is read but the shape). Not
 * ConstantOfShape, which the WebGPU provider lacks: ORT would build the (possibly logits-sized)
 * zeros on the CPU and copy them to the device every step.
 */
export function zerosOfShape(b: GraphBuilder, shape: Value, outShape: Dim[], dtype: DType): Value {
  return b.op('Expand', [scalarOf(b, 0, dtype), shape], {}, { shapes: [outShape], dtypes: [dtype] });
}

/** Zeros with v's shape and dtype. */
export function zerosLike(b: GraphBuilder, v: Value): Value {
  return zerosOfShape(b, shapeVec(b, v), [...v.shape], v.dtype);
}

/** Transposes the last two axes. */
function swapLast(b: GraphBuilder, x: Value): Value {
  const perm = range(x.rank);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return b.transpose(x, perm);
}

/** x as a 2-D matrix (-1, last dim). */
function to2d(b: GraphBuilder, x: Value): Value {
  const last = x.shape[x.rank - 1];
  const target =
    typeof last === 'number' ? b.ints([-1, last]) : b.concat([b.ints([-1]), b.shapeOf(x, -1)], 0);
  return b.reshape(x, target, ['?', last]);
}

/** Reshape g to v's shape (dynamic when v's shape is symbolic). */
function reshapeLike(b: GraphBuilder, g: Value, v: Value): Value {
  return b.reshape(g, shapeVec(b, v), [...v.shape]);
}

/** The reduction axes of a Reduce* node (normalized), or null for "all axes". */
function reduceAxes(node: Node): number[] | null | 'dynamic' {
  const x = node.inputs[0]!;
  const ax = node.inputs[1];
  const vals = ax ? ax.constValue : node.attrInts('axes');
  if (ax && !vals) return 'dynamic';
  if (!vals || vals.length === 0) return null;
  return vals.map((a) => norm(a, x.rank));
}

/**
 * The upstream gradient of a reduction in keepdims form (rank of the input, 1 on reduced axes).
 * g may be broadcastable to the output rather than of its shape: leading axes are added first.
 */
function keepDims(b: GraphBuilder, g: Value, node: Node): Value {
  const x = node.inputs[0]!,
    y = node.outputs[0];
  let gg = g;
  if (gg.rank < y.rank) gg = b.unsqueeze(gg, range(y.rank - gg.rank));
  if (node.attrInt('keepdims', 1) === 1) return gg;
  const axes = reduceAxes(node);
  if (axes === 'dynamic') {
    return b.op('Unsqueeze', [gg, node.inputs[1]!], {}, { shapes: [x.shape.map(() => '?')] });
  }
  if (axes === null)
    return b.reshape(
      gg,
      x.shape.map(() => 1),
    );
  return b.unsqueeze(gg, axes);
}

/** True when a Reduce* node is the identity (empty axes with noop_with_empty_axes). */
function reduceIsNoop(node: Node): boolean {
  return node.attrInt('noop_with_empty_axes', 0) === 1 && reduceAxes(node) === null;
}

/** Number of elements folded into each output of a reduction, as a scalar of x's dtype. */
function reduceCount(b: GraphBuilder, node: Node): Value {
  const x = node.inputs[0]!,
    y = node.outputs[0];
  const axes = reduceAxes(node);
  const dims = axes === 'dynamic' ? null : (axes ?? range(x.rank)).map((a) => x.shape[a]);
  if (dims?.every((d) => typeof d === 'number'))
    return scalarOf(
      b,
      (dims as number[]).reduce((p, q) => p * q, 1),
      x.dtype,
    );
  // Size(x) / Size(y) in floating point: no int64 arithmetic on the device.
  const f = (v: Value) => b.cast(b.op('Size', [v]), x.dtype);
  return b.div(f(x), f(y));
}

/** Forward attribute or input read as a known float (ratio of Dropout), else null. */
function constFloat(v: Value | null): number | null {
  if (v?.data?.kind !== 'inline') return null;
  const d = v.data.data;
  return d instanceof Float32Array || d instanceof Float64Array ? d[0] : null;
}

/** Adds output `i` to a forward node that was built without it (Dropout's mask). */
function ensureOutput(node: Node, i: number, dtype: DType, shape: Shape): Value {
  while (node.outputs.length <= i) {
    const v = new Value(dtype, [...shape]);
    v.producer = node;
    v.index = node.outputs.length;
    node.outputs.push(v);
  }
  return node.outputs[i];
}

const nulls: GradRule = (_g, node) => node.inputs.map(() => null);
/** grads for the node's inputs, padded with nulls / cut to the number of inputs it was built with. */
const fit = (node: Node, gs: G[]): G[] => node.inputs.map((_, i) => gs[i] ?? null);

/** Ops whose outputs carry no gradient to their inputs (comparisons, shapes, indices, steps). */
// biome-ignore format: a list
export const NO_GRADIENT = [
  'Shape', 'Size', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'IsNaN',
  'Range', 'ConstantOfShape', 'ArgMax', 'ArgMin', 'Sign', 'Floor', 'Ceil', 'Round', 'NonZero',
];

// --- the table -------------------------------------------------------------------------------------

export const gradRules: Record<string, GradRule> = {
  // elementwise: gradients come back in the broadcast shape; the walker reduces them.
  Add: ([g]) => [g, g],
  Sub: ([g], _n, b) => [g, b.neg(g!)],
  Mul: ([g], n, b) => [b.mul(g!, n.inputs[1]!), b.mul(g!, n.inputs[0]!)],
  // d(a/b) = g/b, −g·y/b
  Div: ([g], n, b) => [b.div(g!, n.inputs[1]!), b.neg(b.div(b.mul(g!, n.outputs[0]), n.inputs[1]!))],
  Neg: ([g], _n, b) => [b.neg(g!)],
  // x^e: e·x^(e−1); the exponent's gradient y·log(x) is emitted only if asked for.
  Pow: ([g], n, b) => {
    const [x, e] = [n.inputs[0]!, n.inputs[1]!];
    const ex = b.cast(e, x.dtype);
    const dx = b.mul(g!, b.mul(ex, b.op('Pow', [x, b.sub(ex, scalarOf(b, 1, x.dtype))])));
    return [dx, isFloat(e.dtype) ? b.cast(b.mul(g!, b.mul(n.outputs[0], b.log(x))), e.dtype) : null];
  },
  Sqrt: ([g], n, b) => [b.div(b.mul(g!, scalarOf(b, 0.5, n.outputs[0].dtype)), n.outputs[0])],
  Reciprocal: ([g], n, b) => [b.neg(b.mul(g!, b.mul(n.outputs[0], n.outputs[0])))],
  Exp: ([g], n, b) => [b.mul(g!, n.outputs[0])],
  Log: ([g], n, b) => [b.div(g!, n.inputs[0]!)],
  Tanh: ([g], n, b) => {
    const y = n.outputs[0];
    return [b.mul(g!, b.sub(scalarOf(b, 1, y.dtype), b.mul(y, y)))];
  },
  Sigmoid: ([g], n, b) => {
    const y = n.outputs[0];
    return [b.mul(g!, b.mul(y, b.sub(scalarOf(b, 1, y.dtype), y)))];
  },
  // erf'(x) = 2/√π · exp(−x²)
  Erf: ([g], n, b) => {
    const x = n.inputs[0]!;
    return [b.mul(g!, b.mul(scalarOf(b, 2 / Math.sqrt(Math.PI), x.dtype), b.exp(b.neg(b.mul(x, x)))))];
  },
  Sin: ([g], n, b) => [b.mul(g!, b.op('Cos', [n.inputs[0]!]))],
  Cos: ([g], n, b) => [b.neg(b.mul(g!, b.op('Sin', [n.inputs[0]!])))],
  // Subgradient 0 at x = 0 for Relu and Abs, as torch does.
  Relu: ([g], n, b) => {
    const x = n.inputs[0]!;
    return [b.where(b.op('Greater', [x, scalarOf(b, 0, x.dtype)]), g!, scalarOf(b, 0, x.dtype))];
  },
  Abs: ([g], n, b) => [b.mul(g!, b.op('Sign', [n.inputs[0]!]))],
  // Elementwise Max/Min of any number of inputs: the gradient goes to the inputs equal to the result,
  // shared equally on ties (what a central difference sees).
  Max: ([g], n, b) => extremumGrad(b, g!, n),
  Min: ([g], n, b) => extremumGrad(b, g!, n),
  Identity: ([g]) => [g],
  Cast: ([g], n, b) => {
    const x = n.inputs[0]!;
    return [isFloat(x.dtype) && isFloat(n.outputs[0].dtype) ? b.cast(g!, x.dtype) : null];
  },
  Where: ([g], n, b) => {
    const [c, zero] = [n.inputs[0]!, scalarOf(b, 0, n.outputs[0].dtype)];
    return [null, b.where(c, g!, zero), b.where(c, zero, g!)];
  },
  // Dropout's mask is needed: the forward node gets its optional mask output if it lacked one.
  Dropout: ([g], n, b) => {
    const [x, ratio, training] = [n.inputs[0]!, n.inputs[1] ?? null, n.inputs[2] ?? null];
    if (!training) return fit(n, [g]); // inference mode: identity
    const mask = b.cast(ensureOutput(n, 1, 'bool', x.shape), x.dtype);
    const r = constFloat(ratio);
    let scale: Value;
    if (r !== null || !ratio) scale = scalarOf(b, 1 / (1 - (r ?? 0.5)), x.dtype);
    else scale = b.reciprocal(b.sub(scalarOf(b, 1, x.dtype), b.cast(ratio, x.dtype)));
    scale = b.where(training, scale, scalarOf(b, 1, x.dtype));
    return fit(n, [b.mul(b.mul(g!, mask), scale)]);
  },

  // --- matrix products -----------------------------------------------------------------------------
  // a: (..., M, K), w: (..., K, N), y: (..., M, N). Batch axes are summed back by the walker.
  // A 2-D right operand (a weight) is only ever read through Gemm's transB: ORT constant-folds a
  // Transpose of an initializer into a second copy of the weight, which an 8B model cannot afford.
  MatMul: ([g], n, b) => {
    const [A, B] = [n.inputs[0]!, n.inputs[1]!];
    const gy = g!;
    if (B.rank === 2) {
      // (B, T, D) @ (D, K): rows flattened, so both gradients are single 2-D products (the weight's
      // gradient sums over batch and time inside the product, not as a batched product + reduction).
      const g2 = A.rank === 2 ? gy : to2d(b, gy);
      const a2 = A.rank === 2 ? A : to2d(b, A);
      const dA2 = b.op('Gemm', [g2, B], { transB: 1 }, { shapes: [[g2.shape[0], B.shape[0]]] });
      const dB = b.op('Gemm', [a2, g2], { transA: 1 }, { shapes: [[...B.shape]] });
      return [A.rank === 2 ? dA2 : reshapeLike(b, dA2, A), dB];
    }
    return [b.matmul(gy, swapLast(b, B)), b.matmul(swapLast(b, A), gy)];
  },
  // y = α·A'·B' + β·C with A' = transA ? Aᵀ : A. Gradients are Gemms with the right trans flags, so no
  // transposed copy of a weight is ever made.
  Gemm: ([g], n, b) => {
    const [A, B, C] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
    const alpha = (n.attrs.alpha?.value as number | undefined) ?? 1;
    const beta = (n.attrs.beta?.value as number | undefined) ?? 1;
    const tA = n.attrInt('transA', 0),
      tB = n.attrInt('transB', 0);
    const gemm = (p: Value, q: Value, ta: number, tb: number, like: Value) =>
      b.op('Gemm', [p, q], { alpha, transA: ta, transB: tb }, { shapes: [[...like.shape]] });
    const dA = tA ? gemm(B, g!, tB, 1, A) : gemm(g!, B, 0, 1 - tB, A);
    const dB = tB ? gemm(g!, A, 1, tA, B) : gemm(A, g!, 1 - tA, 0, B);
    const dC = C ? (beta === 1 ? g : b.mul(g!, scalarOf(b, beta, g!.dtype))) : null;
    return fit(n, [dA, dB, dC]);
  },

  // --- movement ------------------------------------------------------------------------------------
  Transpose: ([g], n, b) => {
    const x = n.inputs[0]!;
    const perm = n.attrInts('perm') ?? range(x.rank).reverse();
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [b.transpose(g!, inv)];
  },
  Reshape: ([g], n, b) => [reshapeLike(b, g!, n.inputs[0]!), null],
  Unsqueeze: ([g], n, b) => [
    n.inputs[1]?.constValue ? b.op('Squeeze', [g!, n.inputs[1]]) : reshapeLike(b, g!, n.inputs[0]!),
    null,
  ],
  Squeeze: ([g], n, b) =>
    fit(n, [
      n.inputs[1]?.constValue ? b.op('Unsqueeze', [g!, n.inputs[1]]) : reshapeLike(b, g!, n.inputs[0]!),
    ]),
  Flatten: ([g], n, b) => [reshapeLike(b, g!, n.inputs[0]!)],
  // Expand is a broadcast: the walker sums the gradient back to the input's shape.
  Expand: ([g]) => [g, null],
  Concat: ([g], n, b) => {
    const xs = n.inputs as Value[];
    const ax = norm(n.attrInt('axis'), xs[0].rank);
    const dims = xs.map((x) => x.shape[ax]);
    const sizes = dims.every((d) => typeof d === 'number')
      ? b.ints(dims as number[])
      : b.concat(
          xs.map((x) => b.shapeOf(x, ax, ax + 1)),
          0,
        );
    return b.opN(
      'Split',
      [g!, sizes],
      { axis: ax },
      { outputs: xs.length, shapes: xs.map((x) => [...x.shape]) },
    );
  },
  Split: (gs, n, b) => {
    const x = n.inputs[0]!;
    const ax = norm(n.attrInt('axis', 0), x.rank);
    const parts = n.outputs.map((y, i) => gs[i] ?? zerosLike(b, y));
    return fit(n, [b.concat(parts, ax, [...x.shape])]);
  },
  Slice: ([g], n, b) => fit(n, [sliceGrad(b, g!, n)]),
  // Gradient wrt the table: scatter-add the rows back (ScatterND, reduction add); indices get none.
  Gather: ([g], n, b) => [gatherGrad(b, g!, n), null],
  GatherElements: ([g], n, b) => {
    const [x, idx] = [n.inputs[0]!, n.inputs[1]!];
    const ax = norm(n.attrInt('axis', 0), x.rank);
    return [b.op('ScatterElements', [zerosLike(b, x), idx, g!], { axis: ax, reduction: 'add' }), null];
  },

  // --- softmax family (hand-written for speed) -----------------------------------------------------
  // dx = y ⊙ (g − Σ g⊙y)
  Softmax: ([g], n, b) => {
    const y = n.outputs[0];
    const ax = norm(n.attrInt('axis', -1), y.rank);
    return [b.mul(y, b.sub(g!, b.reduceSum(b.mul(g!, y), [ax])))];
  },
  // dx = g − softmax ⊙ Σ g, softmax = exp(y)
  LogSoftmax: ([g], n, b) => {
    const y = n.outputs[0];
    const ax = norm(n.attrInt('axis', -1), y.rank);
    return [b.sub(g!, b.mul(b.exp(y), b.reduceSum(g!, [ax])))];
  },

  // --- reductions (all accept a broadcastable upstream gradient) -----------------------------------
  ReduceSum: ([g], n, b) => fit(n, [reduceIsNoop(n) ? g : keepDims(b, g!, n)]),
  ReduceMean: ([g], n, b) => fit(n, [reduceIsNoop(n) ? g : b.div(keepDims(b, g!, n), reduceCount(b, n))]),
  // Routed to the positions equal to the max; ties share the gradient equally.
  ReduceMax: ([g], n, b) => {
    if (reduceIsNoop(n)) return fit(n, [g]);
    const x = n.inputs[0]!;
    const mask = b.cast(b.op('Equal', [x, keepDims(b, n.outputs[0], n)]), x.dtype);
    const count = b.op('ReduceSum', n.inputs[1] ? [mask, n.inputs[1]] : [mask], { keepdims: 1 });
    return fit(n, [b.mul(mask, b.div(keepDims(b, g!, n), count))]);
  },
  // dx = g ⊙ exp(x − y)
  ReduceLogSumExp: ([g], n, b) => {
    if (reduceIsNoop(n)) return fit(n, [g]);
    const x = n.inputs[0]!;
    return fit(n, [b.mul(keepDims(b, g!, n), b.exp(b.sub(x, keepDims(b, n.outputs[0], n))))]);
  },

  // --- normalization -------------------------------------------------------------------------------
  // Over axes [axis, rank): x̂ = (x − μ)·r, r = 1/√(var + ε). Mean and r are recomputed here (in f32
  // for half inputs) rather than read from the node's optional outputs, whose dtype depends on
  // stash_type. dx = r ⊙ (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)), dx̂ = g ⊙ scale; dscale = g ⊙ x̂, dbias = g.
  LayerNormalization: ([g], n, b) => {
    const [x0, scale0, bias] = [n.inputs[0]!, n.inputs[1]!, n.inputs[2] ?? null];
    const dt = x0.dtype === 'float64' ? 'float64' : 'float32';
    const x = b.cast(x0, dt),
      scale = b.cast(scale0, dt),
      gy = b.cast(g!, dt);
    const ax = norm(n.attrInt('axis', -1), x.rank);
    const axes = range(x.rank).slice(ax);
    const eps = (n.attrs.epsilon?.value as number | undefined) ?? 1e-5;
    const mean = b.reduceMean(x, axes);
    const xc = b.sub(x, mean);
    const r = b.reciprocal(b.sqrt(b.add(b.reduceMean(b.mul(xc, xc), axes), scalarOf(b, eps, dt))));
    const xhat = b.mul(xc, r);
    const dxhat = b.mul(gy, scale);
    const inner = b.sub(
      b.sub(dxhat, b.reduceMean(dxhat, axes)),
      b.mul(xhat, b.reduceMean(b.mul(dxhat, xhat), axes)),
    );
    const dx = b.cast(b.mul(r, inner), x0.dtype);
    const dscale = b.cast(b.mul(gy, xhat), scale0.dtype);
    return fit(n, [dx, dscale, bias ? g : null]);
  },

  // --- no gradient ---------------------------------------------------------------------------------
  ...Object.fromEntries(NO_GRADIENT.map((op) => [op, nulls])),
};

/** Rules for ops of other domains, by `domain.op`: the frozen quantized linear layers (dX only). */
export const domainGradRules: Record<string, GradRule> = {
  'com.microsoft.MatMulNBits': matMulNBitsGrad,
};

/** Rules that accept an upstream gradient broadcastable to (not necessarily of) the output's shape. */
// biome-ignore format: a list
export const BROADCAST_GRAD_OK = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Pow', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Tanh', 'Sigmoid', 'Erf', 'Sin', 'Cos',
  'Relu', 'Abs', 'Max', 'Min', 'Identity', 'Cast', 'Where', 'Dropout', 'ReduceSum', 'ReduceMean', 'ReduceMax',
  'ReduceLogSumExp',
]);

// --- Slice and Gather ------------------------------------------------------------------------------

/** One sliced axis: its static pad amounts, or null when they must be computed in the graph. */
interface SliceAxis {
  ax: number;
  start: Value;
  end: Value;
  step: number;
  pads: [number, number] | null;
}

/**
 * The gradient of Slice: g put back where it was read, zeros elsewhere. With unit steps this is one Pad
 * (pad amounts static when the dims and bounds are, else measured in the graph by slicing a small
 * Range: no int64 arithmetic). Other steps scatter g back one axis at a time (ScatterND).
 */
function sliceGrad(b: GraphBuilder, g: Value, n: Node): Value {
  const [x, starts, ends, axesV, stepsV] = [
    n.inputs[0]!,
    n.inputs[1]!,
    n.inputs[2]!,
    n.inputs[3] ?? null,
    n.inputs[4] ?? null,
  ];
  const k = starts.constValue?.length ?? (typeof starts.shape[0] === 'number' ? starts.shape[0] : null);
  if (k === null)
    throw new AutodiffError('dynamic-slice', `Slice ${n.name}: the number of sliced axes must be static`);
  if (axesV && !axesV.constValue)
    throw new AutodiffError('dynamic-slice', `Slice ${n.name}: axes must be constant`);
  if (stepsV && !stepsV.constValue)
    throw new AutodiffError('dynamic-slice', `Slice ${n.name}: steps must be constant`);
  const pick = (v: Value, i: number): Value =>
    v.constValue ? b.ints([v.constValue[i]]) : b.slice(v, [i], [i + 1], [0]);
  const axes: SliceAxis[] = range(k).map((i) => {
    const ax = norm(axesV?.constValue?.[i] ?? i, x.rank);
    const step = stepsV?.constValue?.[i] ?? 1;
    const d = x.shape[ax];
    let pads: [number, number] | null = null;
    const [s0, e0] = [starts.constValue?.[i], ends.constValue?.[i]];
    if (typeof d === 'number' && s0 !== undefined && e0 !== undefined && step === 1) {
      const clamp = (v: number) => Math.max(0, Math.min(v < 0 ? v + d : v, d));
      const [s, e] = [clamp(s0), clamp(e0)];
      pads = [s, d - Math.max(s, e)];
    }
    return { ax, start: pick(starts, i), end: pick(ends, i), step, pads };
  });
  // Indices 0..d−1 of x's axis (int64 [d]); only shapes and slices of it are used.
  const indices = (ax: number) =>
    b.op(
      'Range',
      [b.const('int64', [0], []), b.squeeze(b.shapeOf(x, ax, ax + 1), [0]), b.const('int64', [1], [])],
      {},
      { shapes: [[x.shape[ax]]] },
    );

  if (axes.every((a) => a.step === 1)) {
    const before: Value[] = range(x.rank).map(() => b.ints([0]));
    const after: Value[] = range(x.rank).map(() => b.ints([0]));
    let allStatic = true;
    const staticPads = new Array<number>(2 * x.rank).fill(0);
    for (const a of axes) {
      if (a.pads) {
        [staticPads[a.ax], staticPads[a.ax + x.rank]] = a.pads;
        before[a.ax] = b.ints([a.pads[0]]);
        after[a.ax] = b.ints([a.pads[1]]);
      } else {
        allStatic = false;
        const r = indices(a.ax);
        // before = len(r[0:start]), after = len(r[end:]) — Slice does the clamping and negative bounds.
        before[a.ax] = b.shapeOf(b.op('Slice', [r, b.ints([0]), a.start, b.ints([0])]));
        after[a.ax] = b.shapeOf(b.op('Slice', [r, a.end, b.ints([INT64_MAX]), b.ints([0])]));
      }
    }
    const pads = allStatic ? b.ints(staticPads) : b.concat([...before, ...after], 0);
    return b.op('Pad', [g, pads, scalarOf(b, 0, g.dtype)], { mode: 'constant' }, { shapes: [[...x.shape]] });
  }

  let cur = g;
  for (const a of axes) {
    // Move the axis first, scatter the rows back into zeros of the full length, move it back.
    const idx = b.op(
      'Slice',
      [indices(a.ax), a.start, a.end, b.ints([0]), b.ints([a.step])],
      {},
      { shapes: [['?']] },
    );
    const perm = [a.ax, ...range(x.rank).filter((i) => i !== a.ax)];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    const curT = b.transpose(cur, perm);
    const fullShape: Dim[] = [x.shape[a.ax], ...curT.shape.slice(1)];
    const zeros = zerosOfShape(
      b,
      b.concat([b.shapeOf(x, a.ax, a.ax + 1), b.shapeOf(curT, 1)], 0),
      fullShape,
      g.dtype,
    );
    const sc = b.op('ScatterND', [zeros, b.unsqueeze(idx, [1]), curT]);
    cur = b.transpose(sc, inv);
  }
  return cur;
}

/** Gather's gradient wrt data: zeros of data's shape with g's rows scatter-added at the indices. */
function gatherGrad(b: GraphBuilder, g: Value, n: Node): Value {
  const [x, idx0] = [n.inputs[0]!, n.inputs[1]!];
  const ax = norm(n.attrInt('axis', 0), x.rank);
  const idx = b.unsqueeze(b.cast(idx0, 'int64'), [-1]); // (...I, 1): ScatterND wants int64
  if (ax === 0) return b.op('ScatterND', [zerosLike(b, x), idx, g], { reduction: 'add' });
  // g: (x[:ax], ...I, x[ax+1:]). Bring the index axes first, scatter along x's axis moved first.
  const ri = idx0.rank;
  const permG = [
    ...range(ri).map((i) => ax + i),
    ...range(ax),
    ...range(x.rank - ax - 1).map((i) => ax + ri + i),
  ];
  const permX = [ax, ...range(x.rank).filter((i) => i !== ax)];
  // Zeros of the permuted shape, built from x's shape only (x itself, maybe a big table, is not read).
  const tShape = permX.map((i) => x.shape[i]);
  const tVec = isStatic(tShape)
    ? b.ints(tShape)
    : b.concat(
        permX.map((i) => b.shapeOf(x, i, i + 1)),
        0,
      );
  const zeros = zerosOfShape(b, tVec, tShape, g.dtype);
  const sc = b.op('ScatterND', [zeros, idx, b.transpose(g, permG)], { reduction: 'add' });
  const inv = new Array<number>(permX.length);
  permX.forEach((p, i) => {
    inv[p] = i;
  });
  return b.transpose(sc, inv);
}

function extremumGrad(b: GraphBuilder, g: Value, n: Node): G[] {
  const y = n.outputs[0];
  const xs = n.inputs as Value[];
  if (xs.length === 1) return [g];
  const masks = xs.map((x) => b.cast(b.op('Equal', [x, y]), y.dtype));
  const count = masks.slice(1).reduce((acc, m) => b.add(acc, m), masks[0]);
  const share = b.div(g, count);
  return masks.map((m) => b.mul(share, m));
}

/** Every op with a rule, for coverage checks. */
export const gradOps = (): string[] => Object.keys(gradRules);
