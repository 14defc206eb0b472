// Unit tests of the walker's bookkeeping (no ORT runs): errors, pruning of unneeded gradients,
// broadcast handling, and where nodes are emitted. Numerical checks live in tests/gradcheck/.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AutodiffError } from '../errors.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { buildBackward } from './backward.ts';
import { gradRules } from './rules.ts';

const ops = (nodes: { op: string }[]) => nodes.map((n) => n.op);

describe('buildBackward', () => {
  test('a missing rule throws AutodiffError naming the op', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const loss = b.reduceSum(b.op('Softplus', [x]), [0], false);
    assert.throws(
      () => buildBackward(b, loss, [x]),
      (e: unknown) => e instanceof AutodiffError && e.code === 'no-grad-rule' && /Softplus/.test(e.message),
    );
    const y = b.op('Foo', [x], {}, { domain: 'com.example', shapes: [[3]] });
    assert.throws(() => buildBackward(b, b.reduceSum(y, [0]), [x]), /com\.example\.Foo/);
  });

  test('a rule returning the wrong number of gradients throws', () => {
    gradRules.Softplus = () => [];
    try {
      const b = new GraphBuilder('t');
      const x = b.input('x', 'float32', [3]);
      const loss = b.reduceSum(b.op('Softplus', [x]), [0], false);
      assert.throws(
        () => buildBackward(b, loss, [x]),
        (e: unknown) => e instanceof AutodiffError && e.code === 'grad-count' && /Softplus/.test(e.message),
      );
    } finally {
      delete gradRules.Softplus;
    }
  });

  test('ops off the path are never asked for a rule', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const p = b.input('p', 'float32', [3]);
    const h = b.add(b.op('Softplus', [x]), p); // Softplus is below p: no rule needed
    const g = buildBackward(b, b.reduceSum(b.mul(h, h), [0], false), [p]);
    assert.equal(g.get(p)!.dtype, 'float32');
  });

  test('non-float wrt values are refused', () => {
    const b = new GraphBuilder('t');
    const i = b.input('i', 'int64', [3]);
    const x = b.input('x', 'float32', [3]);
    assert.throws(
      () => buildBackward(b, b.reduceSum(x, [0]), [i]),
      (e: unknown) => e instanceof AutodiffError && e.code === 'bad-wrt',
    );
  });

  test('a frozen weight gets no gradient computation', () => {
    for (const [wrt, gemms] of [
      ['x', 1],
      ['w', 1],
      ['both', 2],
    ] as const) {
      const b = new GraphBuilder('t');
      const x = b.input('x', 'float32', ['N', 4]);
      const w = b.input('w', 'float32', [5, 4]);
      const y = b.op('Gemm', [x, w], { transB: 1 }, { shapes: [['N', 5]] });
      const loss = b.reduceSum(b.mul(y, y), [0, 1], false);
      const mark = b.graph.nodes.length;
      buildBackward(b, loss, wrt === 'both' ? [x, w] : wrt === 'x' ? [x] : [w]);
      const emitted = b.graph.nodes.slice(mark);
      assert.equal(ops(emitted).filter((o) => o === 'Gemm').length, gemms, wrt);
      if (wrt === 'x')
        for (const n of emitted)
          assert.notDeepEqual(n.outputs[0].shape, [5, 4], `${n.op} computes a weight-shaped value`);
    }
  });

  test('a scalar seed is not expanded to the loss input shape', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', ['B', 'T', 8]);
    const c = b.input('c', 'float32', [8]);
    const loss = b.reduceSum(b.mul(x, c), [0, 1, 2], false);
    const mark = b.graph.nodes.length;
    const g = buildBackward(b, loss, [c]).get(c)!;
    assert.deepEqual(g.shape, [8]);
    assert.ok(!ops(b.graph.nodes.slice(mark)).includes('Expand'), 'no Expand emitted');
  });

  test('broadcast gradients are summed back to the input shape', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', ['B', 'T', 'T']);
    const m = b.input('m', 'float32', ['B', 1, 'T']);
    const d = b.input('d', 'float32', ['T']);
    const loss = b.reduceSum(b.add(b.mul(x, m), d), [0, 1, 2], false);
    const g = buildBackward(b, loss, [x, m, d]);
    assert.deepEqual(g.get(x)!.shape, ['B', 'T', 'T']);
    assert.deepEqual(g.get(m)!.shape, ['B', 1, 'T']);
    assert.deepEqual(g.get(d)!.shape, ['T']);
  });

  test('into a subgraph builder: nodes go only into the subgraph', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [2, 3]);
    const loss = b.reduceSum(b.tanh(x), [0, 1], false);
    const n = b.graph.nodes.length;
    const sub = b.subgraph('branch');
    buildBackward(sub, loss, [x]);
    assert.equal(b.graph.nodes.length, n);
    assert.ok(sub.graph.nodes.length > 0);
  });
});
