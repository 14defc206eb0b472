// Small graph-editing helpers shared by the passes and the autodiff walker: subgraphs of a node, the
// values a subgraph reads from enclosing scopes, detaching a node, rewiring uses. They keep
// Value.uses consistent, which the walker and later passes rely on.

import type { Graph, Node, Value } from '../ir/graph.ts';

/** Result of every pass, as in onnx-ir's PassResult. */
export interface PassResult {
  graph: Graph;
  modified: boolean;
}

/** The graphs held in a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(n.attrs)) if (a.type === 'graph') out.push(a.value);
  return out;
}

/** Values a graph reads from enclosing scopes (initializers of the root included), through nested subgraphs. */
export function outerScopeValues(g: Graph): Set<Value> {
  const defined = new Set<Value>(g.inputs);
  for (const n of g.nodes) for (const o of n.outputs) defined.add(o);
  const out = new Set<Value>();
  const use = (v: Value | null) => {
    if (v && !defined.has(v)) out.add(v);
  };
  for (const n of g.nodes) {
    n.inputs.forEach(use);
    for (const sg of subgraphsOf(n)) outerScopeValues(sg).forEach(use);
  }
  g.outputs.forEach(use);
  return out;
}

/** The inputs of a node plus what its subgraphs read from outside (for liveness and ordering). */
export function allInputs(n: Node): Value[] {
  const vs = n.inputs.filter((v): v is Value => v !== null);
  for (const sg of subgraphsOf(n)) vs.push(...outerScopeValues(sg));
  return vs;
}

/** Removes n from the use lists of its inputs (the caller removes it from its graph's node list). */
export function detach(n: Node): void {
  for (const v of n.inputs) {
    if (!v) continue;
    const i = v.uses.indexOf(n);
    if (i >= 0) v.uses.splice(i, 1);
  }
}

/** Points every use of `from` at `to`, in whatever graph the consumer lives. */
export function replaceAllUses(from: Value, to: Value): void {
  replaceUses(from, to, () => true);
}

/** Points the uses of `from` by the consumers `where` accepts at `to`. */
export function replaceUses(from: Value, to: Value, where: (consumer: Node) => boolean): void {
  for (const u of new Set(from.uses)) {
    if (!where(u)) continue;
    u.inputs = u.inputs.map((v) => {
      if (v !== from) return v;
      to.uses.push(u);
      return to;
    });
  }
  const kept = from.uses.filter((u) => !where(u));
  from.uses.length = 0;
  from.uses.push(...kept);
}

/** The branches of every If reachable from g, nested ones included (not Loop or Scan bodies). */
export function ifBranches(g: Graph): Graph[] {
  return allGraphs(g).flatMap((sg) => sg.nodes.filter((n) => n.op === 'If').flatMap(subgraphsOf));
}

/** Every graph reachable from g (g first), through node attributes. */
export function allGraphs(g: Graph): Graph[] {
  const out = [g];
  for (let i = 0; i < out.length; i++) for (const n of out[i].nodes) out.push(...subgraphsOf(n));
  return out;
}
