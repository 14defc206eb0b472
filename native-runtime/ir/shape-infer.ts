// Static shape and dtype inference for the ops the engine emits. Dims stay symbolic where they are
// ('B', 'T'); a result that cannot be known statically becomes '?'. The autodiff walker relies on
// ranks and on literal 1s (broadcast dims), so those must be right; '?' elsewhere is harmless, but a
// named dim must be the real one: passes/hoist-shapes.ts computes shapes from the names
// (tests/training/symbolic-dims.test.ts checks them against runs). A builder call can override the
// inferred shape when it knows better (dynamic Reshape/Expand); '?' where it does not.

import { GraphError } from '../errors.ts';
import type { DType } from './dtype.ts';
import type { AttrValue, Dim, Shape, Value } from './graph.ts';

export interface Inferred {
  dtype: DType;
  shape: Shape;
}

type Attrs = Record<string, AttrValue>;
type Rule = (ins: (Value | null)[], attrs: Attrs) => Inferred[];

const attrI = (a: Attrs, k: string, d: number): number => (a[k]?.value as number | undefined) ?? d;
const attrIs = (a: Attrs, k: string): number[] | undefined => a[k]?.value as number[] | undefined;
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function broadcastShapes(op: string, shapes: Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i] ?? 1;
      if (x === 1) continue;
      if (d === 1) d = x;
      else if (d !== x) {
        if (typeof d === 'number' && typeof x === 'number') {
          throw new GraphError(
            'shape-mismatch',
            `${op}: cannot broadcast [${shapes.map((s) => s.join(',')).join('] with [')}]`,
          );
        }
        if (d === '?' || typeof x === 'number') d = x;
      }
    }
    out.push(d);
  }
  return out;
}

const same: Rule = (ins) => [{ dtype: ins[0]!.dtype, shape: [...ins[0]!.shape] }];
/** ONNX ops whose inputs share one type T: a mixed pair (f32 with bf16) is refused by ORT at load. */
function sameType(op: string, ins: (Value | null)[]): void {
  const ts = ins.filter((v): v is Value => !!v).map((v) => v.dtype);
  if (ts.some((t) => t !== ts[0]))
    throw new GraphError('dtype-mismatch', `${op} mixes input types ${ts.join(', ')}`);
}

const binary: Rule = (ins) => {
  sameType('binary op', ins);
  return [{ dtype: ins[0]!.dtype, shape: broadcastShapes('binary', [ins[0]!.shape, ins[1]!.shape]) }];
};
const compare: Rule = (ins) => [
  { dtype: 'bool', shape: broadcastShapes('compare', [ins[0]!.shape, ins[1]!.shape]) },
];

function reduce(ins: (Value | null)[], attrs: Attrs): Inferred[] {
  const x = ins[0]!;
  const keep = attrI(attrs, 'keepdims', 1) === 1;
  const axesV = ins[1]?.constValue ?? attrIs(attrs, 'axes');
  if (!axesV || axesV.length === 0) {
    if (ins[1] && !axesV) return [{ dtype: x.dtype, shape: x.shape.map(() => '?') }];
    // No axes: reduce all, unless noop_with_empty_axes makes the op the identity.
    if (attrI(attrs, 'noop_with_empty_axes', 0) === 1) return [{ dtype: x.dtype, shape: [...x.shape] }];
    return [{ dtype: x.dtype, shape: keep ? x.shape.map(() => 1) : [] }];
  }
  const axes = new Set(axesV.map((a) => norm(a, x.rank)));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

function dimSum(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  if (a === '?' || b === '?') return '?';
  return `${a}+${b}`;
}

const rules: Record<string, Rule> = {
  Identity: same,
  Neg: same,
  Exp: same,
  Log: same,
  Sqrt: same,
  Reciprocal: same,
  Tanh: same,
  Sigmoid: same,
  Erf: same,
  Relu: same,
  Abs: same,
  Sin: same,
  Cos: same,
  Softplus: same,
  Softmax: same,
  LogSoftmax: same,
  CumSum: same,
  Trilu: same,
  Not: same,
  Floor: same,
  Ceil: same,
  Sign: same,
  Dropout: same,
  LayerNormalization: same,
  SimplifiedLayerNormalization: same,
  Gelu: same,
  FastGelu: same,
  IsNaN: (ins) => [{ dtype: 'bool', shape: [...ins[0]!.shape] }],
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  Pow: (ins) => [{ dtype: ins[0]!.dtype, shape: broadcastShapes('Pow', [ins[0]!.shape, ins[1]!.shape]) }],
  Max: binary,
  Min: binary,
  Mod: binary,
  Equal: compare,
  Less: compare,
  Greater: compare,
  LessOrEqual: compare,
  GreaterOrEqual: compare,
  And: compare,
  Or: compare,
  Where: (ins) => [
    { dtype: ins[1]!.dtype, shape: broadcastShapes('Where', [ins[0]!.shape, ins[1]!.shape, ins[2]!.shape]) },
  ],
  Cast: (ins, a) => [{ dtype: dtypeFromOnnx(attrI(a, 'to', 1)), shape: [...ins[0]!.shape] }],
  MatMul: (ins) => {
    sameType('MatMul', ins);
    const [a, b] = [ins[0]!, ins[1]!];
    if (a.rank < 2 || b.rank < 2)
      throw new GraphError('shape-mismatch', `MatMul needs rank ≥ 2 (got ${a.rank}, ${b.rank})`);
    const k1 = a.shape[a.rank - 1],
      k2 = b.shape[b.rank - 2];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
      throw new GraphError('shape-mismatch', `MatMul: inner dims differ ${a} x ${b}`);
    }
    const batch = broadcastShapes('MatMul', [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
    return [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }];
  },
  Gather: (ins, a) => {
    const [d, idx] = [ins[0]!, ins[1]!];
    const ax = norm(attrI(a, 'axis', 0), d.rank);
    return [{ dtype: d.dtype, shape: [...d.shape.slice(0, ax), ...idx.shape, ...d.shape.slice(ax + 1)] }];
  },
  GatherElements: (ins) => [{ dtype: ins[0]!.dtype, shape: [...ins[1]!.shape] }],
  ScatterElements: same,
  ScatterND: same,
  Transpose: (ins, a) => {
    const x = ins[0]!;
    const perm = attrIs(a, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  Reshape: (ins) => {
    const [x, s] = [ins[0]!, ins[1]!];
    const target = s.constValue;
    if (!target)
      return [{ dtype: x.dtype, shape: Array.from({ length: Number(s.shape[0]) || 0 }, () => '?') }];
    const shape: Dim[] = target.map((t, i) => (t === 0 ? x.shape[i] : t));
    const neg = shape.indexOf(-1);
    if (neg >= 0) {
      const total = x.shape.every((d) => typeof d === 'number')
        ? (x.shape as number[]).reduce((p, q) => p * q, 1)
        : null;
      const known = shape.every((d, i) => i === neg || typeof d === 'number');
      shape[neg] =
        total !== null && known
          ? total / (shape as number[]).reduce((p, q, i) => (i === neg ? p : p * q), 1)
          : '?';
    }
    return [{ dtype: x.dtype, shape }];
  },
  Unsqueeze: (ins) => {
    const x = ins[0]!;
    const axes = ins[1]!.constValue;
    if (!axes) throw new GraphError('shape-unknown', 'Unsqueeze needs constant axes');
    const rank = x.rank + axes.length;
    const set = new Set(axes.map((a) => norm(a, rank)));
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape }];
  },
  Squeeze: (ins) => {
    const x = ins[0]!;
    const axes = ins[1]?.constValue;
    const set = new Set(
      (axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => norm(a, x.rank)),
    );
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !set.has(i)) }];
  },
  Concat: (ins, a) => {
    sameType('Concat', ins);
    const vs = ins.filter((v): v is Value => v !== null);
    const ax = norm(attrI(a, 'axis', 0), vs[0].rank);
    const shape = [...vs[0].shape];
    shape[ax] = vs.slice(1).reduce((acc, v) => dimSum(acc, v.shape[ax]), vs[0].shape[ax]);
    return [{ dtype: vs[0].dtype, shape }];
  },
  Slice: (ins) => {
    const x = ins[0]!;
    const [starts, ends, axesV, stepsV] = [
      ins[1]?.constValue,
      ins[2]?.constValue,
      ins[3]?.constValue,
      ins[4]?.constValue,
    ];
    const shape = [...x.shape];
    if (!starts || !ends) return [{ dtype: x.dtype, shape: shape.map(() => '?') }];
    const axes = axesV ?? starts.map((_, i) => i);
    axes.forEach((axRaw, i) => {
      const ax = norm(axRaw, x.rank);
      const step = stepsV?.[i] ?? 1;
      const d = x.shape[ax];
      let s = starts[i],
        e = ends[i];
      if (typeof d === 'number') {
        if (s < 0) s += d;
        if (e < 0) e += d;
        // ONNX clamps to [0, d] for positive steps and to [0, d−1] / [−1, d−1] for negative ones.
        const neg = step < 0 ? 1 : 0;
        s = Math.max(0, Math.min(s, d - neg));
        e = Math.max(-neg, Math.min(e, d - neg));
        shape[ax] = Math.max(0, Math.ceil((e - s) / step));
      } else if (s >= 0 && e >= 0 && e < 1e15 && step === 1) shape[ax] = e - s;
      else shape[ax] = '?';
    });
    return [{ dtype: x.dtype, shape }];
  },
  Split: (ins, a) => {
    const x = ins[0]!;
    const ax = norm(attrI(a, 'axis', 0), x.rank);
    const sizes = ins[1]?.constValue;
    if (!sizes) throw new GraphError('shape-unknown', 'Split needs constant split sizes');
    return sizes.map((s) => {
      const shape = [...x.shape];
      shape[ax] = s;
      return { dtype: x.dtype, shape };
    });
  },
  Expand: (ins) => {
    const t = ins[1]!.constValue;
    const x = ins[0]!;
    if (!t)
      return [
        {
          dtype: x.dtype,
          shape: Array.from({ length: Math.max(x.rank, Number(ins[1]!.shape[0]) || 0) }, () => '?'),
        },
      ];
    return [{ dtype: x.dtype, shape: broadcastShapes('Expand', [x.shape, t]) }];
  },
  Tile: (ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape.map(() => '?') }],
  Shape: (ins, a) => {
    const r = ins[0]!.rank;
    const start = norm(attrI(a, 'start', 0), r);
    const end = a.end ? norm(attrI(a, 'end', r), r) : r;
    return [{ dtype: 'int64', shape: [end - start] }];
  },
  Size: () => [{ dtype: 'int64', shape: [] }],
  Range: (ins) => [{ dtype: ins[0]!.dtype, shape: ['?'] }],
  ConstantOfShape: (ins, a) => {
    const t = a.value?.value as { dtype: DType } | undefined;
    const s = ins[0]!.constValue;
    return [
      {
        dtype: t?.dtype ?? 'float32',
        shape: s ? [...s] : Array.from({ length: Number(ins[0]!.shape[0]) || 0 }, () => '?'),
      },
    ];
  },
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceLogSumExp: reduce,
  ReduceSumSquare: reduce,
  ReduceL2: reduce,
  ArgMax: (ins, a) => {
    const x = ins[0]!;
    const ax = norm(attrI(a, 'axis', 0), x.rank);
    const keep = attrI(a, 'keepdims', 1) === 1;
    return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i !== ax ? [d] : keep ? [1] : [])) }];
  },
};

export function dtypeFromOnnx(code: number): DType {
  const map: Record<number, DType> = {
    1: 'float32',
    2: 'uint8',
    3: 'int8',
    6: 'int32',
    7: 'int64',
    9: 'bool',
    10: 'float16',
    11: 'float64',
    16: 'bfloat16',
  };
  const d = map[code];
  if (!d) throw new GraphError('bad-dtype', `unsupported ONNX dtype code ${code}`);
  return d;
}

export function inferShapes(op: string, ins: (Value | null)[], attrs: Attrs): Inferred[] | null {
  const r = rules[op];
  return r ? r(ins, attrs) : null;
}
