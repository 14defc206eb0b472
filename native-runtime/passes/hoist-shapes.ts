// Moves Shape nodes into the graph that defines the value they read, when they sit in a subgraph
// (an If branch) reading from an enclosing scope.
//
// Why: ORT keeps a tensor alive until its last reader runs, and an If's branch reads its outer-scope
// values only when the If runs. The backward walker (autodiff/backward.ts) emits Shape(x) wherever a
// rule needs x's shape (the gradient of a Reshape, a broadcast sum), so the training branch read the
// scores, the q/k/v projections and the residual adds of every layer just for their shapes, and each
// stayed in memory through the whole forward: ~45k of ~136k values per token and layer of the
// Llama-3-8B shape. Hoisted, the branch reads a few int64s instead, and the tensors are freed when
// the forward is done with them.
// Where: ORT's default order is the post-order of a depth-first walk from the graph's leaves that
// visits a node's inputs from the highest node index down (see branch-order.ts). The Shapes go just
// before the node holding the branch, the one of the earliest-produced value last: the walk from the
// If reaches it first, runs the forward up to that value, then the Shape, then the next.

import { type Graph, Node, Value } from '../ir/graph.ts';
import { allGraphs, detach, type PassResult, replaceAllUses, subgraphsOf } from './graph-utils.ts';

export function hoistShapes(graph: Graph): PassResult {
  // Where each value is defined: a graph input or a node's output.
  const home = new Map<Value, Graph>();
  for (const g of allGraphs(graph)) {
    for (const v of g.inputs) home.set(v, g);
    for (const n of g.nodes) for (const o of n.outputs) home.set(o, g);
  }
  const hoisted = new Map<string, Value>();
  const added = new Map<Graph, Node[]>();
  let modified = false;
  for (const g of allGraphs(graph)) {
    const moved = new Set<Node>();
    for (const n of g.nodes) {
      const x = n.inputs[0];
      if (n.op !== 'Shape' || n.domain !== '' || !x) continue;
      const to = home.get(x);
      if (!to || to === g) continue;
      const key = `${x.id}:${n.attrs.start?.value ?? ''}:${n.attrs.end?.value ?? ''}`;
      let s = hoisted.get(key);
      if (!s) {
        const out = n.outputs[0];
        s = new Value(out.dtype, [...out.shape]);
        s.constValue = out.constValue;
        (added.get(to) ?? added.set(to, []).get(to)!).push(new Node('Shape', [x], [s], { ...n.attrs }));
        hoisted.set(key, s);
      }
      replaceAllUses(n.outputs[0], s);
      detach(n);
      moved.add(n);
    }
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
