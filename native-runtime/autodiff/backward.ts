// Reverse-mode autodiff over the graph IR: buildBackward emits, into a builder, the nodes computing
// d(loss)/d(w) for each requested value w. The per-op math lives in rules.ts; this walker does the
// generic work once, like tinygrad's compute_gradient:
// - it differentiates only nodes on a path from some `wrt` value to the loss, so nothing below the
//   lowest place a `wrt` enters the graph gets a backward pass (for ReFT: no backward through the
//   frozen blocks below the lowest intervened layer), and only float values carry gradients;
// - it visits them in reverse topological order and adds up the gradients of values used twice;
// - it sums broadcast gradients back to the input's shape. Broadcast axes are read from shape
//   inference: an input dim that is a literal 1 where the gradient's is not. Symbolic dims are equal
//   by name; an unknown ('?') input dim facing a known gradient dim is resolved at run time.
// - it drops the nodes a rule emitted for gradients nobody needs (a frozen weight's gradient).
// Gradients may stay "broadcastable" to their value's shape while they flow (a scalar seed is not
// expanded to the logits' shape); they are expanded only for rules that need exact shapes and for
// the returned gradients.
//
// The builder may be a subgraph builder (an If branch): the walker follows Value.producer links into
// the parent graph and only emits into `b`. Forward nodes are never changed, except that a Dropout
// node gains its optional mask output when its gradient is needed.
//
// Recomputation (opts.recompute, checkpoints such as the residual stream between layers): every
// value a gradient rule reads stays alive from the forward to the backward, which for a deep model is
// most of a training step's memory. With checkpoints, the nodes between two of them are replayed in
// the backward when the walk reaches them, and the rules read the replayed values, so the forward
// keeps only the checkpoints. The replay starts from `checkpoint + 0`, the zero a sum over an empty
// slice of the gradient arriving from above: the replay cannot run before that gradient exists, and
// no common-subexpression pass (ours or ORT's) can merge it back into the forward.

import { AutodiffError } from '../errors.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import { type DType, isFloat } from '../ir/dtype.ts';
import { type Dim, Node, Value } from '../ir/graph.ts';
import { allInputs, detach } from '../passes/graph-utils.ts';
import { BROADCAST_GRAD_OK, domainGradRules, gradRules, scalarOf, shapeVec, zerosLike } from './rules.ts';

export interface BackwardOptions {
  /** d(loss) to start from, broadcastable to the loss (default: ones). */
  seed?: Value;
  /** Checkpoints, bottom to top: replay the nodes between consecutive ones in the backward. */
  recompute?: Value[];
}

/** Ops never replayed (a second draw would differ, or they carry subgraphs): their outputs are kept. */
const NOT_REPLAYED = new Set([
  'Dropout',
  'RandomUniform',
  'RandomUniformLike',
  'RandomNormal',
  'RandomNormalLike',
  'Multinomial',
  'Bernoulli',
  'If',
  'Loop',
  'Scan',
]);

/** One stretch between two checkpoints: the nodes replayed, and their replays once emitted. */
interface Segment {
  from: Value;
  nodes: Node[];
  replay: Map<Node, Node> | null;
}

/**
 * The nodes of `order` (topological) that depend on `from` and lead to `to`: what a replay of the
 * stretch recomputes.
 */
function between(order: Node[], from: Value, to: Value): Node[] {
  const dep = new Set<Node>();
  for (const n of order)
    if (allInputs(n).some((v) => v === from || (v.producer !== null && dep.has(v.producer)))) dep.add(n);
  const keep = new Set<Node>();
  const stack: (Node | null)[] = [to.producer];
  while (stack.length) {
    const n = stack.pop();
    if (!n || keep.has(n) || !dep.has(n)) continue;
    keep.add(n);
    for (const v of allInputs(n)) stack.push(v.producer);
  }
  return order.filter((n) => keep.has(n));
}

/** Emits the replay of a segment, started from `from + 0` where the 0 waits for `after`. */
function replaySegment(b: GraphBuilder, seg: Segment, after: Value): Map<Node, Node> {
  const zero = b.zeroAfter(after, seg.from.dtype as DType);
  const replaced = new Map<Value, Value>([[seg.from, b.add(seg.from, zero)]]);
  const replay = new Map<Node, Node>();
  for (const n of seg.nodes) {
    if (NOT_REPLAYED.has(n.op) || Object.values(n.attrs).some((a) => a.type === 'graph')) continue;
    if (!n.inputs.some((v) => v !== null && replaced.has(v))) continue;
    const ins = n.inputs.map((v) => (v === null ? null : (replaced.get(v) ?? v)));
    const outs = n.outputs.map((o) => {
      const c = new Value(o.dtype, [...o.shape]);
      c.constValue = o.constValue;
      return c;
    });
    const copy = new Node(n.op, ins, outs, n.attrs, n.domain);
    b.graph.nodes.push(copy);
    for (const [i, o] of n.outputs.entries()) replaced.set(o, outs[i]);
    replay.set(n, copy);
  }
  return replay;
}

/** Nodes the value depends on, in topological order (inputs before consumers). */
function ancestors(root: Value): Node[] {
  const order: Node[] = [];
  if (!root.producer) return order;
  const seen = new Set<Node>([root.producer]);
  const stack: { n: Node; ins: Value[]; i: number }[] = [
    { n: root.producer, ins: allInputs(root.producer), i: 0 },
  ];
  while (stack.length) {
    const f = stack[stack.length - 1];
    if (f.i < f.ins.length) {
      const p = f.ins[f.i++].producer;
      if (p && !seen.has(p)) {
        seen.add(p);
        stack.push({ n: p, ins: allInputs(p), i: 0 });
      }
    } else {
      order.push(f.n);
      stack.pop();
    }
  }
  return order;
}

/** True when a gradient of shape g is known to have exactly shape t (no broadcast left). */
function coversShape(g: Dim[], t: Dim[]): boolean {
  if (g.length !== t.length) return false;
  return g.every((gd, i) => {
    const td = t[i];
    if (gd === td) return true;
    if (gd === 1 || gd === '?') return false; // maybe a broadcast: expand to be sure
    return true; // known non-1 vs another name or '?': equal by construction
  });
}

/** g expanded to v's shape if it may be a broadcast of it. */
function expandTo(b: GraphBuilder, g: Value, v: Value): Value {
  if (coversShape(g.shape, v.shape)) return g;
  return b.op('Expand', [g, shapeVec(b, v)], {}, { shapes: [[...v.shape]] });
}

/**
 * True when x was broadcast along some axis of the output y (x's dim 1, '?' or absent, y's not 1) on which
 * the gradient g is still a broadcast too: summing over that axis must then multiply, not reduce.
 */
function stillBroadcast(g: Value, x: Value, y: Value): boolean {
  const at = (v: Value, i: number): Dim => v.shape[i - (y.rank - v.rank)] ?? 1;
  for (let i = 0; i < y.rank; i++) {
    const xd = at(x, i); // an unknown dim may be a 1 at run time
    if (y.shape[i] !== 1 && (xd === 1 || xd === '?') && at(g, i) === 1) return true;
  }
  return false;
}

/** Sums a gradient back over the axes along which x was broadcast. */
function unbroadcast(b: GraphBuilder, g: Value, x: Value): Value {
  let gg = g;
  if (gg.rank > x.rank)
    gg = b.reduceSum(
      gg,
      Array.from({ length: gg.rank - x.rank }, (_, i) => i),
      false,
    );
  const off = x.rank - gg.rank; // gg may have fewer leading axes (still broadcastable)
  const axes: number[] = [];
  let ambiguous = false;
  gg.shape.forEach((gd, i) => {
    const xd = x.shape[off + i];
    if (xd === 1 && gd !== 1) axes.push(i);
    else if (xd === '?' && gd !== 1 && gd !== '?') ambiguous = true;
  });
  if (axes.length) gg = b.reduceSum(gg, axes, true);
  if (ambiguous) {
    // Sum where x's dim is 1 and g's is not, decided at run time (NonZero of a tiny mask).
    const one = b.ints([1]);
    const sx = b.shapeOf(x, off);
    const sg = b.shapeOf(gg);
    const mask = b.op('And', [b.op('Equal', [sx, one]), b.op('Not', [b.op('Equal', [sg, one])])]);
    const nz = b.op('NonZero', [mask], {}, { shapes: [[1, '?']], dtypes: ['int64'] });
    const dyn = b.reshape(nz, [-1], ['?']);
    const shape = gg.shape.map((gd, i) => (x.shape[off + i] === '?' ? '?' : gd));
    gg = b.op('ReduceSum', [gg, dyn], { keepdims: 1, noop_with_empty_axes: 1 }, { shapes: [shape] });
  }
  return gg;
}

/** Drops the nodes emitted since `mark` that none of `keep` depends on (gradients nobody asked for). */
function prune(b: GraphBuilder, mark: number, keep: (Value | null)[]): void {
  const emitted = b.graph.nodes.slice(mark);
  if (!emitted.length) return;
  const inRange = new Set(emitted);
  const live = new Set<Node>();
  const stack = keep.filter((v): v is Value => v !== null);
  while (stack.length) {
    const p = stack.pop()!.producer;
    if (!p || !inRange.has(p) || live.has(p)) continue;
    live.add(p);
    for (const v of p.inputs) if (v) stack.push(v);
  }
  if (live.size === emitted.length) return;
  b.graph.nodes.length = mark;
  for (const n of emitted) {
    if (live.has(n)) b.graph.nodes.push(n);
    else detach(n);
  }
}

const describe = (n: Node) => `${n.domain ? `${n.domain}.` : ''}${n.op} (node ${n.name})`;

/**
 * Emits into `b` the gradients of `loss` (a scalar or [1]; any shape sums) with respect to each `wrt`
 * value, and returns them by value. Every `wrt` gets a gradient of its own shape and dtype: zeros when
 * it does not reach the loss.
 */
export function buildBackward(
  b: GraphBuilder,
  loss: Value,
  wrt: Value[],
  opts: BackwardOptions = {},
): Map<Value, Value> {
  if (!isFloat(loss.dtype)) throw new AutodiffError('bad-loss', `loss ${loss} is not a float tensor`);
  for (const w of wrt)
    if (!isFloat(w.dtype))
      throw new AutodiffError('bad-wrt', `cannot differentiate with respect to ${w}: not a float tensor`);

  // Active values: float values that depend on some wrt. Only nodes producing them are differentiated.
  const active = new Set<Value>(wrt);
  const path: Node[] = [];
  for (const n of ancestors(loss)) {
    if (!allInputs(n).some((v) => active.has(v))) continue;
    let any = false;
    for (const o of n.outputs) {
      if (isFloat(o.dtype)) {
        active.add(o);
        any = true;
      }
    }
    if (any) path.push(n);
  }

  // Which segment each node belongs to (nodes outside every segment are not replayed).
  const segmentOf = new Map<Node, Segment>();
  const cps = opts.recompute ?? [];
  if (cps.length > 1) {
    const order = ancestors(loss);
    for (let k = 0; k + 1 < cps.length; k++) {
      const seg: Segment = { from: cps[k], nodes: between(order, cps[k], cps[k + 1]), replay: null };
      for (const n of seg.nodes) segmentOf.set(n, seg);
    }
  }

  const grads = new Map<Value, Value>();
  const accumulate = (v: Value, g: Value) => {
    const prev = grads.get(v);
    grads.set(v, prev ? b.add(prev, g) : g);
  };
  if (active.has(loss)) grads.set(loss, opts.seed ?? scalarOf(b, 1, loss.dtype));

  for (let i = path.length - 1; i >= 0; i--) {
    const n = path[i];
    let gs = n.outputs.map((o) => grads.get(o) ?? null);
    if (gs.every((g) => g === null)) continue;
    const rule = n.domain ? domainGradRules[`${n.domain}.${n.op}`] : gradRules[n.op];
    if (!rule) throw new AutodiffError('no-grad-rule', `no gradient rule for op ${describe(n)}`);
    // The node whose values the rule reads: its replay where its segment is recomputed. The walk
    // reaches a segment first at its top (the last node in topological order), when the gradient
    // arriving from above is complete.
    const seg = segmentOf.get(n);
    if (seg && !seg.replay) seg.replay = replaySegment(b, seg, gs.find((g) => g !== null)!);
    const fn = seg?.replay?.get(n) ?? n;
    if (!BROADCAST_GRAD_OK.has(n.op)) gs = gs.map((g, j) => g && expandTo(b, g, fn.outputs[j]));
    const mark = b.graph.nodes.length;
    let res: (Value | null)[];
    try {
      res = rule(gs, fn, b);
    } catch (e) {
      if (e instanceof AutodiffError) throw e;
      throw new AutodiffError(
        'grad-rule-failed',
        `gradient rule for ${describe(n)} failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!Array.isArray(res) || res.length !== n.inputs.length) {
      throw new AutodiffError(
        'grad-count',
        `gradient rule for ${describe(n)} returned ${Array.isArray(res) ? res.length : 'no'} gradients for ${n.inputs.length} inputs`,
      );
    }
    const needed = res.map((g, j) => {
      const x = n.inputs[j];
      return g && x && active.has(x) ? g : null;
    });
    prune(b, mark, needed);
    needed.forEach((g, j) => {
      if (!g) return;
      const x = n.inputs[j]!;
      if (g.dtype !== x.dtype)
        throw new AutodiffError(
          'grad-dtype',
          `gradient rule for ${describe(n)} gave ${g.dtype} for input ${j} of dtype ${x.dtype}`,
        );
      // A broadcastable gradient meeting an input that was itself broadcast along the same axis
      // must count every copy: expand it to the output first (rare: a bias under a plain sum).
      // Shapes are read from the replayed values, so the forward's need not be kept for them.
      const y = fn.outputs[0];
      const xr = fn.inputs[j]!;
      const gg =
        BROADCAST_GRAD_OK.has(n.op) && !n.op.startsWith('Reduce') && stillBroadcast(g, xr, y)
          ? expandTo(b, g, y)
          : g;
      accumulate(x, unbroadcast(b, gg, xr));
    });
  }

  const out = new Map<Value, Value>();
  for (const w of wrt) {
    const g = grads.get(w);
    out.set(w, g ? expandTo(b, g, w) : zerosLike(b, w));
  }
  return out;
}
