// Orders the nodes of If branches so that ORT runs the backward layer by layer.
//
// ORT (1.29, the default execution order) runs a graph in the post-order of a depth-first walk from
// its leaves, visiting each node's inputs from the highest node index (the position in our node
// list) down; a value lives from its producer to its last reader. In the backward the walker emits a
// rule's forward-only factors (σ(g)·(1 + g·(1 − σ(g))) for a SiLU) after the gradient they multiply,
// so they had the higher index and ran first, for every layer before the gradient reached any: three
// intermediate-sized values per layer alive at once. And each layer's parameter gradients, leaves
// visited last-first, waited with their layer's gradient until the walk was done.
// Here: inner nodes by their depth from the branch's start (a long gradient chain gets a higher index
// than a factor a few ops from the kept activations, so the chain is walked first and the factor
// computed just before its reader), then the leaves by depth descending (the top layer's gradients
// are walked first, each as soon as its layer is done). Depth order is topological.

import type { Graph, Node, Value } from '../ir/graph.ts';
import { allInputs, ifBranches, type PassResult } from './graph-utils.ts';

export function orderBranchesForOrt(graph: Graph): PassResult {
  // If branches only (the backward lives in one); a Loop body keeps the order it was built in.
  return { graph, modified: ifBranches(graph).map(orderBranch).some(Boolean) };
}

function orderBranch(g: Graph): boolean {
  const producer = new Map<Value, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const depth = new Map<Node, number>();
  const read = new Set<Node>();
  for (const n of g.nodes) {
    let d = 0;
    for (const v of allInputs(n)) {
      const p = producer.get(v);
      if (!p) continue;
      read.add(p);
      d = Math.max(d, depth.get(p) ?? 0);
    }
    depth.set(n, d + 1);
  }
  const at = new Map(g.nodes.map((n, i) => [n, i]));
  // A leaf: nothing in the branch reads it (a returned gradient).
  const leaf = (n: Node) => (read.has(n) ? 0 : 1);
  const sorted = [...g.nodes].sort(
    (a, b) =>
      leaf(a) - leaf(b) ||
      (leaf(a) ? (depth.get(b) ?? 0) - (depth.get(a) ?? 0) : (depth.get(a) ?? 0) - (depth.get(b) ?? 0)) ||
      (at.get(a) ?? 0) - (at.get(b) ?? 0),
  );
  const changed = sorted.some((n, i) => n !== g.nodes[i]);
  g.nodes = sorted;
  return changed;
}
