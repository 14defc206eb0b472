// Recomputes cheap values inside an If branch instead of reading them from the enclosing graph, when
// what they are computed from is read there anyway (or costs less memory than they do).
//
// Why: every value an If branch reads from outside stays in memory until the If runs, so for the
// training branch (the backward, autodiff/backward.ts) each one is an activation kept through the
// whole forward. Some are a few cheap ops away from values the backward keeps regardless: the MLP's
// sigmoid(gate) and silu(gate) = gate·sigmoid(gate) next to the kept gate, a norm's x / rms next to
// the kept x and rms, the attention probabilities next to the kept q and K (one MatMul, the mask,
// a softmax), and under half precision a norm's float32 input next to the half residual it is a Cast
// of. Recomputing them in the branch frees 2 of the MLP's 4 intermediate-sized values, one
// hidden-sized value per norm and the T×T scores and probabilities, for every layer.
// Same ops on the same inputs: the branch sees bit-identical values on every provider.

import { dimValue } from '../ir/dims.ts';
import { DTYPE_BYTES } from '../ir/dtype.ts';
import { type Graph, Node, Value } from '../ir/graph.ts';
import {
  allInputs,
  ifBranches,
  outerScopeValues,
  type PassResult,
  replaceUses,
  subgraphsOf,
} from './graph-utils.ts';

/**
 * Ops recomputed in a branch: deterministic (no Dropout or random ops: a second draw differs) and
 * cheap next to the layer around them. MatMul only between two activations (attention's scores,
 * 2·T·d flops a token against the layer's ~2·(4d² + 3·d·f)); never against a weight, which is the
 * whole layer's replay (training/recompute.ts decides that one).
 */
const CHEAP = new Set([
  'Sigmoid',
  'Mul',
  'Div',
  'Add',
  'Sub',
  'Neg',
  'Sqrt',
  'Reciprocal',
  'Tanh',
  'Relu',
  'Cast',
  'Where',
  'Transpose',
  'Reshape',
  'Concat',
  'Softmax',
  'MatMul',
]);

/**
 * Bytes at batch 4 and 512 tokens: 'N' (the builders' name for the batch's rows) is B·T, 'g*T' g·T,
 * an intervention's positions ('Pj', 'Pj+1') a handful, any other symbol 512 (ir/dims.ts). Only the
 * order matters: which of two values is larger. In bytes, not elements: under half precision a norm's
 * float32 input is a Cast of the half residual, half its size.
 */
const sizeAt = (name: string): number | undefined =>
  name === 'B' ? 4 : name === 'T' ? 512 : /^P\d+$/.test(name) ? 8 : undefined;
function sizeOf(v: Value): number {
  return v.shape.reduce<number>((a, d) => a * (dimValue(d, sizeAt) ?? 512), 1) * DTYPE_BYTES[v.dtype];
}

function recomputable(p: Node): boolean {
  if (p.domain !== '' || !CHEAP.has(p.op) || p.outputs.length !== 1 || subgraphsOf(p).length) return false;
  // A weight has no symbolic dim: a MatMul against one is a projection, not attention.
  return p.op !== 'MatMul' || p.inputs.every((x) => !!x && x.shape.some((d) => typeof d !== 'number'));
}

export function rematerializeInBranches(graph: Graph): PassResult {
  // If branches only, nested ones too: a Loop body (the decoding loop) runs once per iteration, so a
  // value recomputed there would cost every token, while its outer values live through the loop anyway.
  return { graph, modified: ifBranches(graph).map(rematerialize).some(Boolean) };
}

/** Rematerializes into `sg` what saves memory; true when it changed anything. */
function rematerialize(sg: Graph): boolean {
  const local = new Set<Value>(sg.inputs);
  for (const n of sg.nodes) for (const o of n.outputs) local.add(o);
  /** Outer values already recomputed in the branch, and their copies. */
  const copies = new Map<Value, Value>();
  const members = new Set(sg.nodes);
  // What the branch's own nodes read from outside (kept for it), initializers aside, kept up to date
  // as copies replace reads; and what nested branches read (kept whatever this pass does).
  const reads = new Set<Value>();
  const nested = new Set<Value>();
  for (const n of sg.nodes) {
    for (const v of allInputs(n)) if (!local.has(v) && !v.data) reads.add(v);
    for (const b of subgraphsOf(n)) for (const v of outerScopeValues(b)) nested.add(v);
  }
  const free = (v: Value) => v.data !== null || reads.has(v) || local.has(v) || copies.has(v);
  // Cheapest way to have v in the branch: read it (its size) or recompute it from what its
  // inputs cost, a few ops deep. `plan` collects the values recomputed.
  const inputsCost = (p: Node, depth: number, plan: Value[]): number => {
    let c = 0;
    for (const x of p.inputs) if (x) c += cost(x, depth - 1, plan);
    return c;
  };
  const cost = (v: Value, depth: number, plan: Value[]): number => {
    if (free(v)) return 0;
    const p = v.producer;
    if (depth === 0 || !p || !recomputable(p)) return sizeOf(v);
    const sub: Value[] = [];
    const c = inputsCost(p, depth, sub);
    if (c >= sizeOf(v)) return sizeOf(v);
    plan.push(...sub, v);
    return c;
  };
  /** The first read worth recomputing, with what it takes: the values to copy, inputs first. */
  const nextPlan = (): Value[] | null => {
    for (const v of reads) {
      if (nested.has(v) || !v.producer || !recomputable(v.producer)) continue;
      const plan: Value[] = [];
      if (inputsCost(v.producer, 7, plan) < sizeOf(v)) return [...plan, v];
    }
    return null;
  };
  let changed = false;
  for (let plan = nextPlan(); plan; plan = nextPlan()) {
    for (const v of new Set(plan)) {
      if (copies.has(v)) continue;
      const copy = copyInto(sg, members, v, copies);
      copies.set(v, copy);
      local.add(copy);
      // The branch's own readers of v read the copy now; the copy reads v's inputs (or their copies).
      if (!nested.has(v)) reads.delete(v);
      for (const x of copy.producer?.inputs ?? []) if (x && !local.has(x) && !x.data) reads.add(x);
    }
    changed = true;
  }
  if (changed) sortTopologically(sg);
  return changed;
}

/**
 * Adds a copy of v's producer to sg (reading the copies of its inputs where there are) and points
 * sg's own readers of v (`members`: sg's nodes, the copies included) at it.
 */
function copyInto(sg: Graph, members: Set<Node>, v: Value, copies: Map<Value, Value>): Value {
  const p = v.producer!;
  const copy = new Value(v.dtype, [...v.shape]);
  copy.constValue = v.constValue;
  const inputs = p.inputs.map((x) => (x ? (copies.get(x) ?? x) : x));
  const node = new Node(p.op, inputs, [copy], { ...p.attrs });
  sg.nodes.unshift(node);
  replaceUses(v, copy, (u) => members.has(u));
  members.add(node);
  return copy;
}

/** Stable topological order of a graph's nodes (the copies were put first; some read each other). */
function sortTopologically(g: Graph): void {
  const producedHere = new Map<Value, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producedHere.set(o, n);
  const done = new Set<Node>();
  const out: Node[] = [];
  // Iterative depth-first walk (a branch can be thousands of nodes deep).
  for (const root of g.nodes) {
    const stack: Array<[Node, boolean]> = [[root, false]];
    while (stack.length) {
      const [n, leave] = stack.pop()!;
      if (leave) {
        out.push(n);
        continue;
      }
      if (done.has(n)) continue;
      done.add(n);
      stack.push([n, true]);
      const deps = allInputs(n)
        .map((v) => producedHere.get(v))
        .filter((d): d is Node => !!d && !done.has(d));
      for (let i = deps.length - 1; i >= 0; i--) stack.push([deps[i], false]);
    }
  }
  g.nodes = out;
}
