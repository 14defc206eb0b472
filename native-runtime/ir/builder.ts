// GraphBuilder: a tape that records nodes as you call ops, like onnx-ir's Tape. `b.op('Add', [a, x])`
// returns a Value with its dtype and shape inferred (ir/shape-infer.ts). Small constants are deduplicated
// and stored as initializers of the root graph, so If-branches (subgraphs) can use them too.
//
//   const b = new GraphBuilder('demo');
//   const x = b.input('x', 'float32', ['B', 4]);
//   b.output(b.relu(b.matmul(x, w)), 'y');

import { GraphError } from '../errors.ts';
import { type DType, ONNX_DTYPE } from './dtype.ts';
import { type AttrValue, Graph, type InlineData, Node, type Shape, type TensorData, Value } from './graph.ts';
import { inferShapes } from './shape-infer.ts';

export type AttrInput = AttrValue | number | number[] | string | Graph;
export interface OpOptions {
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Output shapes when inference cannot know them (dynamic Reshape/Expand, If). */
  shapes?: Shape[];
  dtypes?: DType[];
  domain?: string;
  names?: string[];
}

// Attributes whose numbers are floats in the ONNX schemas (a float written as int is rejected by ORT).
const FLOAT_ATTRS = new Set([
  'epsilon',
  'alpha',
  'beta',
  'gamma',
  'ratio',
  'scale',
  'lambd',
  'bias',
  'momentum',
]);

function toAttr(name: string, v: AttrInput): AttrValue {
  if (v instanceof Graph) return { type: 'graph', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number')
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v)
      ? { type: 'float', value: v }
      : { type: 'int', value: v };
  if (Array.isArray(v))
    return FLOAT_ATTRS.has(name) ? { type: 'floats', value: v } : { type: 'ints', value: v };
  return v;
}

export class GraphBuilder {
  readonly graph: Graph;
  readonly root: GraphBuilder;
  #constCache = new Map<string, Value>();

  constructor(name: string, parent?: GraphBuilder) {
    this.graph = new Graph(name);
    this.root = parent ? parent.root : this;
  }

  /** A builder for an If/Loop branch: its constants live in the root graph. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, this);
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(dtype, shape, name);
    this.graph.inputs.push(v);
    return v;
  }

  /** Marks v as a graph output called `name` (an Identity is inserted when v is an input, already named or from an outer graph). */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && v.name !== name) {
      // Rename in place only a value this graph produced; outer-scope values need an Identity.
      const ownValue = v.producer !== null && this.graph.nodes.includes(v.producer);
      if (ownValue && !this.graph.outputs.includes(v) && /^v\d+$/.test(v.name)) v.name = name;
      else {
        out = this.op('Identity', [v]);
        out.name = name;
      }
    }
    this.graph.outputs.push(out);
    return out;
  }

  initializer(name: string, dtype: DType, shape: number[], data: TensorData): Value {
    const v = new Value(dtype, shape, name);
    v.data = data;
    this.root.graph.initializers.push(v);
    return v;
  }

  /** A constant tensor (deduplicated by value for small ones). */
  const(dtype: DType, values: ArrayLike<number> | ArrayLike<bigint>, shape?: number[]): Value {
    const shp = shape ?? [values.length];
    const small = values.length <= 16;
    const key = small ? `${dtype}|${shp}|${Array.from(values as ArrayLike<number>).join(',')}` : '';
    if (small) {
      const hit = this.root.#constCache.get(key);
      if (hit) return hit;
    }
    let data: InlineData['data'];
    switch (dtype) {
      case 'float32':
        data = Float32Array.from(values as ArrayLike<number>);
        break;
      case 'float64':
        data = Float64Array.from(values as ArrayLike<number>);
        break;
      case 'int64':
        data = BigInt64Array.from(Array.from(values as ArrayLike<number>, (x) => BigInt(x)));
        break;
      case 'int32':
        data = Int32Array.from(values as ArrayLike<number>);
        break;
      case 'bool':
      case 'uint8':
        data = Uint8Array.from(values as ArrayLike<number>);
        break;
      default:
        throw new GraphError('bad-dtype', `const of dtype ${dtype} is not supported`);
    }
    const v = this.initializer(`c${this.root.graph.initializers.length}_${dtype}`, dtype, shp, {
      kind: 'inline',
      data,
    });
    if (dtype === 'int64' || dtype === 'int32')
      v.constValue = Array.from(values as ArrayLike<number>, Number);
    if (small) this.root.#constCache.set(key, v);
    return v;
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.const(dtype, [x], []);
  }

  ints(xs: number[]): Value {
    return this.const('int64', xs, [xs.length]);
  }

  /** Records one node and returns its outputs. */
  opN(
    op: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrInput> = {},
    opts: OpOptions = {},
  ): Value[] {
    for (const v of inputs)
      if (v !== null && !(v instanceof Value))
        throw new GraphError('bad-input', `${op}: input is not a Value`);
    const a: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) a[k] = toAttr(k, v);
    const n = opts.outputs ?? 1;
    let inferred = opts.shapes ? null : inferShapes(op, inputs, a);
    if (op === 'If') {
      // Branch outputs define the If's dtypes (and shapes, unless given: branches may differ).
      const then = (a.then_branch.value as Graph).outputs;
      inferred = then.map((o) => ({ dtype: o.dtype, shape: [...o.shape] }));
    }
    const outs: Value[] = [];
    for (let i = 0; i < n; i++) {
      const dtype = opts.dtypes?.[i] ?? inferred?.[i]?.dtype ?? inputs[0]?.dtype;
      const shape = opts.shapes?.[i] ?? inferred?.[i]?.shape;
      if (!dtype || !shape)
        throw new GraphError('shape-unknown', `${op}: cannot infer output ${i}; pass opts.shapes/dtypes`);
      outs.push(new Value(dtype, shape, opts.names?.[i]));
    }
    const node = new Node(op, inputs, outs, a, opts.domain ?? '');
    this.graph.nodes.push(node);
    if (opts.domain && !this.root.graph.opsets.has(opts.domain)) this.root.graph.opsets.set(opts.domain, 1);
    return outs;
  }

  op(
    op: string,
    inputs: (Value | null)[],
    attrs: Record<string, AttrInput> = {},
    opts: OpOptions = {},
  ): Value {
    return this.opN(op, inputs, attrs, opts)[0];
  }

  // --- elementwise -------------------------------------------------------------------------------
  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  neg(a: Value): Value {
    return this.op('Neg', [a]);
  }
  exp(a: Value): Value {
    return this.op('Exp', [a]);
  }
  log(a: Value): Value {
    return this.op('Log', [a]);
  }
  sqrt(a: Value): Value {
    return this.op('Sqrt', [a]);
  }
  tanh(a: Value): Value {
    return this.op('Tanh', [a]);
  }
  sigmoid(a: Value): Value {
    return this.op('Sigmoid', [a]);
  }
  reciprocal(a: Value): Value {
    return this.op('Reciprocal', [a]);
  }
  where(c: Value, a: Value, b: Value): Value {
    return this.op('Where', [c, a, b]);
  }
  cast(a: Value, to: DType): Value {
    return a.dtype === to ? a : this.op('Cast', [a], { to: ONNX_DTYPE[to] });
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }

  // --- shape ---------------------------------------------------------------------------------------
  reshape(x: Value, shape: number[] | Value, outShape?: Shape): Value {
    const s = Array.isArray(shape) ? this.ints(shape) : shape;
    return this.op('Reshape', [x, s], {}, outShape ? { shapes: [outShape] } : {});
  }
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm });
  }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.op('Unsqueeze', [x, this.ints(axes)]);
  }
  squeeze(x: Value, axes: number[]): Value {
    return this.op('Squeeze', [x, this.ints(axes)]);
  }
  concat(xs: Value[], axis: number, outShape?: Shape): Value {
    return this.op('Concat', xs, { axis }, outShape ? { shapes: [outShape] } : {});
  }
  slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
    const ins = [x, this.ints(starts), this.ints(ends), this.ints(axes)];
    if (steps) ins.push(this.ints(steps));
    return this.op('Slice', ins);
  }
  gather(x: Value, idx: Value, axis = 0): Value {
    return this.op('Gather', [x, idx], { axis });
  }
  shapeOf(x: Value, start?: number, end?: number): Value {
    const attrs: Record<string, AttrInput> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.op('Shape', [x], attrs);
  }
  /**
   * A scalar zero in `dtype` made at run time from `x`'s leading dimension (n − n): ORT cannot fold
   * what reads it into a constant, and it is computed only once `x` exists. (An empty slice of `x`
   * summed did the same, but ORT's CUDA ReduceSum returns without writing its output when the input
   * is empty: reduction_ops.cc, "special case when there is a dim value of 0".) `x` must have a
   * symbolic leading dimension.
   */
  zeroAfter(x: Value, dtype: DType): Value {
    const n = this.shapeOf(x, 0, 1);
    return this.cast(this.reshape(this.sub(n, n), [], []), dtype);
  }
  expand(x: Value, shape: Value, outShape?: Shape): Value {
    return this.op('Expand', [x, shape], {}, outShape ? { shapes: [outShape] } : {});
  }

  // --- reductions ----------------------------------------------------------------------------------
  reduceSum(x: Value, axes: number[], keepdims = true): Value {
    return this.op('ReduceSum', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(x: Value, axes: number[], keepdims = true): Value {
    return this.op('ReduceMean', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMax(x: Value, axes: number[], keepdims = true): Value {
    return this.op('ReduceMax', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis });
  }
}
