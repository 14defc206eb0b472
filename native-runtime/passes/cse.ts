// Common-subexpression elimination: two nodes with the same op, domain, inputs and attributes compute
// the same thing, so the later one is dropped and its uses point at the earlier one. Commutative ops
// match with their inputs in either order. Subgraphs (If branches) are processed with the parent's
// table as it stood at the If node, so a branch reuses parent computations but never the reverse.
//
// Left alone: random ops (Dropout, Random*, Bernoulli, Multinomial: two draws are not one), nodes
// holding subgraphs, and nodes producing a graph output (its name is part of the graph's interface).
// Initializers with equal contents are not merged (the builder already dedupes small constants).

import type { AttrValue, Graph, Node, Value } from '../ir/graph.ts';
import { allGraphs, detach, type PassResult, replaceAllUses, subgraphsOf } from './graph-utils.ts';

const RANDOM = new Set([
  'Dropout',
  'RandomUniform',
  'RandomUniformLike',
  'RandomNormal',
  'RandomNormalLike',
  'Bernoulli',
  'Multinomial',
]);
const COMMUTATIVE = new Set(['Add', 'Mul', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'And', 'Or', 'Xor']);

function attrKey(a: AttrValue): string {
  if (a.type === 'tensor') {
    const t = a.value;
    return `tensor:${t.dtype}:${t.shape}:${Array.from(t.data.data as ArrayLike<number | bigint>, String).join(',')}`;
  }
  return `${a.type}:${JSON.stringify(a.value)}`;
}

function nodeKey(n: Node): string {
  const ids = n.inputs.map((v) => (v ? String(v.id) : '_'));
  if (COMMUTATIVE.has(n.op) && !n.domain) ids.sort();
  const attrs = Object.keys(n.attrs)
    .sort()
    .map((k) => `${k}=${attrKey(n.attrs[k])}`);
  return `${n.domain}|${n.op}|${n.outputs.length}|${ids.join(',')}|${attrs.join(';')}`;
}

function run(g: Graph, table: Map<string, Node>, pinned: Set<Value>): boolean {
  let modified = false;
  const keep: Node[] = [];
  for (const n of g.nodes) {
    const subs = subgraphsOf(n);
    if (subs.length) {
      for (const sg of subs) if (run(sg, new Map(table), pinned)) modified = true;
      keep.push(n);
      continue;
    }
    if (RANDOM.has(n.op)) {
      keep.push(n);
      continue;
    }
    const key = nodeKey(n);
    const hit = table.get(key);
    if (hit && !n.outputs.some((o) => pinned.has(o))) {
      n.outputs.forEach((o, i) => {
        replaceAllUses(o, hit.outputs[i]);
      });
      detach(n);
      modified = true;
      continue;
    }
    if (!hit) table.set(key, n);
    keep.push(n);
  }
  g.nodes = keep;
  return modified;
}

export function eliminateCommonSubexpressions(graph: Graph): PassResult {
  const pinned = new Set<Value>();
  for (const g of allGraphs(graph)) for (const v of g.outputs) pinned.add(v);
  return { graph, modified: run(graph, new Map(), pinned) };
}
