// Takes the Shapes an If branch reads of outer-scope values off those values: rebuilt from the main
// graph's inputs where the value's shape is known symbolically, else moved into the graph that
// defines the value.
//
// Why: ORT keeps a tensor alive until its last reader runs, and an If's branch reads its outer-scope
// values only when the If runs. The backward walker (autodiff/backward.ts) emits Shape(x) wherever a
// rule needs x's shape (the gradient of a Reshape, a broadcast sum), so the training branch read the
// scores, the q/k/v projections and the residual adds of every layer just for their shapes, and each
// stayed in memory through the whole forward: ~45k of ~136k values per token and layer of the
// Llama-3-8B shape.
//
// Rebuilt (the usual case): x's dims are numbers and symbols the graph inputs carry — B and T
// (input_ids), S (attention_mask), P (past_key.i), Pj (iv{j}.loc) — or N = B·T, k*X and X+k
// (ir/dims.ts; tests/training/symbolic-dims.test.ts checks the names against real runs). The branch computes
// the shape from Shape slices of the inputs, which live for the whole run anyway, so x is freed when the
// forward is done with it whatever order ORT picks.
// Moved (a dim is '?' or unknown): a Shape(x) in the defining graph, just before the node holding the
// branch. ORT's default order is the post-order of a depth-first walk from the graph's leaves that
// visits a node's inputs from the highest node index down (see branch-order.ts), so the walk from the
// If reaches the Shape of the earliest-produced value first — unless an input ORT's own optimizers made
// (new nodes, higher indices) pulls the whole forward before it: measured, moved Shapes of the attention
// scores and probabilities kept ~2 of those T×T tensors per layer through the forward, which is why
// rebuilding is tried first.

import { parseDim } from '../ir/dims.ts';
import { type Graph, Node, Value } from '../ir/graph.ts';
import {
  allGraphs,
  detach,
  ifBranches,
  type PassResult,
  replaceAllUses,
  subgraphsOf,
} from './graph-utils.ts';

export function hoistShapes(graph: Graph): PassResult {
  // Where each value is defined: a graph input or a node's output.
  const home = new Map<Value, Graph>();
  for (const g of allGraphs(graph)) {
    for (const v of g.inputs) home.set(v, g);
    for (const n of g.nodes) for (const o of n.outputs) home.set(o, g);
  }
  const branches = new Set(ifBranches(graph));
  const hoisted = new Map<string, Value>();
  const added = new Map<Graph, Node[]>();
  let modified = false;
  for (const g of allGraphs(graph)) {
    const moved = new Set<Node>();
    const dims = branches.has(g) ? new DimsFromInputs(graph) : null;
    for (const n of g.nodes) {
      const x = n.inputs[0];
      if (n.op !== 'Shape' || n.domain !== '' || !x) continue;
      const to = home.get(x);
      // The root's inputs live for the whole run: their Shapes cost nothing where they are.
      if (!to || to === g || (to === graph && graph.inputs.includes(x))) continue;
      const range = shapeRange(n, x.rank);
      let s = (to === graph && dims?.shape(x.shape.slice(...range))) || null;
      if (!s) {
        const key = `${x.id}:${range}`;
        s = hoisted.get(key) ?? null;
        if (!s) {
          const out = n.outputs[0];
          s = new Value(out.dtype, [...out.shape]);
          s.constValue = out.constValue;
          (added.get(to) ?? added.set(to, []).get(to)!).push(new Node('Shape', [x], [s], { ...n.attrs }));
          hoisted.set(key, s);
        }
      }
      replaceAllUses(n.outputs[0], s);
      detach(n);
      moved.add(n);
    }
    if (dims?.nodes.length) g.nodes.unshift(...dims.nodes);
    if (moved.size) {
      g.nodes = g.nodes.filter((n) => !moved.has(n));
      modified = true;
    }
  }
  for (const [to, shapes] of added) {
    const pos = new Map(to.nodes.map((n, i) => [n, i]));
    const at = (s: Node) => (s.inputs[0]?.producer ? (pos.get(s.inputs[0].producer) ?? -1) : -1);
    // Before the first node after the value that holds a subgraph (the reader's If, or an earlier one).
    const holders = to.nodes.flatMap((n, k) => (subgraphsOf(n).length > 0 ? [k] : []));
    const before = (s: Node) => holders.find((k) => k > at(s)) ?? to.nodes.length;
    const groups = new Map<number, Node[]>();
    for (const s of shapes) groups.set(before(s), [...(groups.get(before(s)) ?? []), s]);
    for (const [i, group] of [...groups].sort((a, b) => b[0] - a[0]))
      to.nodes.splice(i, 0, ...group.sort((a, b) => at(b) - at(a)));
  }
  return { graph, modified };
}

/** The [start, end) a Shape node slices, as non-negative axes of a rank-r input. */
function shapeRange(n: Node, r: number): [number, number] {
  const clamp = (a: number) => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
  return [clamp(n.attrInt('start', 0)), clamp(n.attrInt('end', r))];
}

/**
 * Shape vectors of symbolic shapes computed from the root graph's inputs, for one branch: the nodes
 * go at the branch's start (`nodes`), constants to the root's initializers, each dim made once.
 */
class DimsFromInputs {
  readonly nodes: Node[] = [];
  readonly #root: Graph;
  readonly #sources = new Map<string, [Value, number]>();
  readonly #made = new Map<string, Value>();
  readonly #shapes = new Map<string, Value | null>();

  constructor(root: Graph) {
    this.#root = root;
    for (const v of root.inputs)
      v.shape.forEach((d, axis) => {
        if (typeof d === 'string' && d !== '?' && !this.#sources.has(d)) this.#sources.set(d, [v, axis]);
      });
  }

  /** The shape vector (int64, one entry per dim), or null if a dim has no known source. */
  shape(dims: (number | string)[]): Value | null {
    const key = JSON.stringify(dims);
    if (!this.#shapes.has(key)) this.#shapes.set(key, this.#build(dims));
    return this.#shapes.get(key) ?? null;
  }

  #build(dims: (number | string)[]): Value | null {
    const pieces: Value[] = [];
    let run: number[] = [];
    for (const d of dims) {
      if (typeof d === 'number') {
        run.push(d);
        continue;
      }
      const v = this.#dim(d);
      if (!v) return null;
      if (run.length) pieces.push(this.#ints(run));
      run = [];
      pieces.push(v);
    }
    if (run.length || !pieces.length) pieces.push(this.#ints(run));
    if (pieces.length === 1) return pieces[0];
    return this.#emit('Concat', pieces, { axis: { type: 'int', value: 0 } }, dims.length);
  }

  /** One symbolic dim as an int64 [1]: an input's axis, or made from others (ir/dims.ts). */
  #dim(d: string): Value | null {
    const made = this.#made.get(d);
    if (made) return made;
    const src = this.#sources.get(d);
    const form = parseDim(d);
    let v: Value | null = null;
    if (src) {
      const [x, a] = src;
      v = this.#emit('Shape', [x], { start: { type: 'int', value: a }, end: { type: 'int', value: a + 1 } });
    } else if (form?.kind === 'product') {
      const [a, b] = form.of.map((name) => this.#dim(name));
      v = a && b ? this.#emit('Mul', [a, b]) : null;
    } else if (form?.kind === 'times') {
      const x = this.#dim(form.of);
      v = x ? this.#emit('Mul', [this.#ints([form.k]), x]) : null;
    } else if (form?.kind === 'plus') {
      const x = this.#dim(form.of);
      v = x ? this.#emit('Add', [x, this.#ints([form.k])]) : null;
    }
    if (v) this.#made.set(d, v);
    return v;
  }

  #emit(op: string, inputs: Value[], attrs: Node['attrs'] = {}, length = 1): Value {
    const out = new Value('int64', [length]);
    this.nodes.push(new Node(op, inputs, [out], attrs));
    return out;
  }

  #ints(xs: number[]): Value {
    const v = new Value('int64', [xs.length]);
    v.name = `shape_c${v.id}`;
    v.data = { kind: 'inline', data: BigInt64Array.from(xs, BigInt) };
    v.constValue = [...xs];
    this.#root.initializers.push(v);
    return v;
  }
}
