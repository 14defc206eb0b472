// hoistShapes and rematerializeInBranches: what an If branch reads from outside after each, and
// that ORT computes the same outputs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../ir/builder.ts';
import type { Dim, Graph, Node, Value } from '../ir/graph.ts';
import { createSession, runSession } from '../runtime/session.ts';
import { orderBranchesForOrt } from './branch-order.ts';
import { allGraphs, outerScopeValues } from './graph-utils.ts';
import { hoistShapes } from './hoist-shapes.ts';
import { rematerializeInBranches } from './rematerialize.ts';

/** x (N, 4) → g = x·W, s = sigmoid(g), h = g·s (SiLU); an If whose then-branch reads them. */
function siluGraph(hShape?: Dim[]) {
  const b = new GraphBuilder('t');
  const x = b.input('x', 'float32', ['N', 4]);
  const flag = b.input('flag', 'bool', []);
  const w = b.const(
    'float32',
    Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
    [4, 6],
  );
  const g = b.matmul(x, w);
  const s = b.sigmoid(g);
  const h = b.mul(g, s);
  if (hShape) h.shape = hShape; // as if shape inference had not known it
  const then = b.subgraph('then');
  // The SiLU's backward (d/dg of g·σ(g)) and h's shape, as the autodiff walker emits them.
  const dg = then.mul(s, then.add(then.scalar(1), then.mul(g, then.sub(then.scalar(1), s))));
  then.output(then.reshape(then.mul(dg, h), then.shapeOf(h), ['N', 6]), 'then_out');
  const els = b.subgraph('else');
  els.output(els.neg(h), 'else_out');
  b.output(
    b.op('If', [flag], { then_branch: then.graph, else_branch: els.graph }, { shapes: [['N', 6]] }),
    'out',
  );
  return { b, branch: then.graph, g, s, h, x };
}

const allShapeNodes = (g: Graph): Node[] =>
  allGraphs(g).flatMap((sg) => sg.nodes.filter((n) => n.op === 'Shape'));

const names = (vs: Set<Value>) => new Set([...vs].filter((v) => !v.data).map((v) => v.name));

async function run(graph: Graph): Promise<Float32Array> {
  const s = await createSession(graph, { device: 'cpu' });
  const x = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 3);
  const out = await runSession(s, {
    x: new ort.Tensor('float32', x, [3, 4]),
    flag: new ort.Tensor('bool', [true], []),
  });
  return out.out.data as Float32Array;
}

describe('branch reads', () => {
  test('hoistShapes: a shape known by its dims is rebuilt from the graph inputs', async () => {
    const { b, branch: then, g, s, h, x } = siluGraph();
    const before = await run(b.graph);
    assert.deepEqual(names(outerScopeValues(then)), new Set([g.name, s.name, h.name]));
    assert.ok(hoistShapes(b.graph).modified);
    // h is (N, 6): N is x's first axis, 6 a constant. The branch reads x (alive for the whole run).
    assert.deepEqual(names(outerScopeValues(then)), new Set([g.name, s.name, h.name, x.name]));
    const shapes = allShapeNodes(b.graph);
    assert.deepEqual(
      shapes.map((n) => n.inputs[0]),
      [x],
      'one Shape, of the input, none of h',
    );
    assert.deepEqual(await run(b.graph), before);
    assert.equal(hoistShapes(b.graph).modified, false, 'a second run changes nothing');
  });

  test('hoistShapes: a shape with an unknown dim is taken in the main graph, before the If', async () => {
    const { b, branch: then, g, s, h } = siluGraph(['?', 6]);
    const before = await run(b.graph);
    assert.ok(hoistShapes(b.graph).modified);
    assert.equal(then.nodes.filter((n) => n.op === 'Shape').length, 0, 'no Shape left in the branch');
    const shape = b.graph.nodes.find((n) => n.op === 'Shape');
    assert.ok(shape && shape.inputs[0] === h, 'Shape(h) in the main graph');
    assert.deepEqual(names(outerScopeValues(then)), new Set([g.name, s.name, h.name, shape.outputs[0].name]));
    assert.ok(
      b.graph.nodes.indexOf(shape) < b.graph.nodes.findIndex((n) => n.op === 'If'),
      'before the If that reads it',
    );
    assert.deepEqual(await run(b.graph), before);
    assert.equal(hoistShapes(b.graph).modified, false, 'a second run changes nothing');
  });

  test('rematerializeInBranches: σ(g) and g·σ(g) are recomputed from the kept g', async () => {
    const { b, branch: then, g, s, h } = siluGraph();
    const before = await run(b.graph);
    hoistShapes(b.graph);
    assert.ok(rematerializeInBranches(b.graph).modified);
    const reads = names(outerScopeValues(then));
    assert.ok(reads.has(g.name), 'g is still read');
    assert.ok(!reads.has(s.name) && !reads.has(h.name), `σ(g) and h are recomputed (reads: ${[...reads]})`);
    assert.deepEqual(await run(b.graph), before, 'bit-identical outputs');
    assert.equal(rematerializeInBranches(b.graph).modified, false, 'a second run changes nothing');
  });

  test('never recomputes a projection (a MatMul against a weight)', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', ['N', 4]);
    const flag = b.input('flag', 'bool', []);
    const w = b.const('float32', new Float32Array(4 * 64), [4, 64]);
    const y = b.matmul(x, w); // 16× x's size: recomputing it from the kept x would "save" memory
    const then = b.subgraph('then');
    then.output(then.mul(y, then.matmul(then.tanh(x), w)), 'o');
    const els = b.subgraph('else');
    els.output(els.neg(y), 'o2');
    b.output(
      b.op('If', [flag], { then_branch: then.graph, else_branch: els.graph }, { shapes: [['N', 64]] }),
      'out',
    );
    assert.equal(rematerializeInBranches(b.graph).modified, false);
  });
});

describe('orderBranchesForOrt', () => {
  test('a factor of kept values gets a lower index than the gradient it multiplies', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const flag = b.input('flag', 'bool', []);
    const g = b.tanh(x);
    const br = b.subgraph('then');
    // A gradient chain (several ops deep), then a factor from kept values created after it, as the
    // walker emits a rule: ORT would run the factor first and hold it through the chain.
    let grad = br.neg(g);
    for (let i = 0; i < 4; i++) grad = br.tanh(grad);
    const factor = br.sigmoid(g);
    br.output(br.mul(grad, factor), 'o');
    const els = b.subgraph('else');
    els.output(els.neg(g), 'o2');
    b.output(b.op('If', [flag], { then_branch: br.graph, else_branch: els.graph }, { shapes: [[3]] }), 'out');
    const before = br.graph.nodes.indexOf(factor.producer!);
    assert.ok(before > br.graph.nodes.indexOf(grad.producer!));
    assert.ok(orderBranchesForOrt(b.graph).modified);
    const at = (v: Value) => br.graph.nodes.indexOf(v.producer!);
    assert.ok(at(factor) < at(grad), 'the chain has the higher index: ORT walks it first');
    assert.equal(br.graph.nodes.at(-1)?.op, 'Mul', 'the returned value last');
  });
});

describe('rematerializeInBranches and loops', () => {
  test('leaves a Loop body alone: a value recomputed there would cost every iteration', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const g = b.tanh(x);
    const s = b.sigmoid(g);
    const body = b.subgraph('body');
    body.input('i', 'int64', []);
    const cond = body.input('cond_in', 'bool', []);
    body.output(body.op('Identity', [cond]), 'cond_out');
    body.output(body.mul(g, s), 'scan_out');
    b.op(
      'Loop',
      [b.const('int64', [2], []), b.const('bool', [1], [])],
      { body: body.graph },
      {
        shapes: [[2, 3]],
        dtypes: ['float32'],
      },
    );
    assert.equal(rematerializeInBranches(b.graph).modified, false);
  });
});
