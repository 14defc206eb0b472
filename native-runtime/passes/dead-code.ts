// Dead-code elimination: removes nodes whose outputs no graph output needs. A node that holds
// subgraphs (If, Loop) keeps alive what its branches read from the outer scope, and its branches are
// cleaned recursively against their own outputs. Node lists are assumed topologically ordered (the
// builder appends in creation order). ONNX ops have no side effects, so liveness is all that counts.
//
// Initializers are kept unless `initializers: true`: GraphBuilder caches small constants, and removing
// one while a builder is still in use would hand out a Value that is no longer in the graph.

import type { Graph, Node, Value } from '../ir/graph.ts';
import { allGraphs, detach, outerScopeValues, type PassResult, subgraphsOf } from './graph-utils.ts';

export interface DeadCodeOptions {
  /** Also drop root initializers no node or output reads (only once building is over). */
  initializers?: boolean;
}

function sweep(g: Graph): boolean {
  const live = new Set<Value>(g.outputs);
  const keep: Node[] = [];
  let modified = false;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => live.has(o))) {
      detach(n);
      modified = true;
      continue;
    }
    for (const sg of subgraphsOf(n)) {
      if (sweep(sg)) modified = true;
      for (const v of outerScopeValues(sg)) live.add(v);
    }
    for (const v of n.inputs) if (v) live.add(v);
    keep.push(n);
  }
  keep.reverse();
  g.nodes = keep;
  return modified;
}

export function eliminateDeadCode(graph: Graph, opts: DeadCodeOptions = {}): PassResult {
  let modified = sweep(graph);
  if (opts.initializers) {
    const used = new Set<Value>();
    for (const g of allGraphs(graph)) {
      for (const n of g.nodes) for (const v of n.inputs) if (v) used.add(v);
      for (const v of g.outputs) used.add(v);
    }
    const before = graph.initializers.length;
    graph.initializers = graph.initializers.filter((v) => used.has(v) || graph.inputs.includes(v));
    if (graph.initializers.length !== before) modified = true;
  }
  return { graph, modified };
}
