import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../ir/builder.ts';
import { eliminateDeadCode } from './dead-code.ts';

const ops = (b: GraphBuilder) => b.graph.nodes.map((n) => n.op);

describe('eliminateDeadCode', () => {
  test('removes nodes no output needs and keeps use lists consistent', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const y = b.tanh(x);
    const dead = b.exp(b.sigmoid(x)); // a dead chain
    b.output(b.add(y, x), 'out');
    assert.equal(x.uses.length, 3);
    const r = eliminateDeadCode(b.graph);
    assert.ok(r.modified);
    assert.equal(r.graph, b.graph);
    assert.deepEqual(ops(b), ['Tanh', 'Add']);
    assert.equal(x.uses.length, 2);
    assert.equal(dead.uses.length, 0);
    assert.equal(eliminateDeadCode(b.graph).modified, false, 'a second run changes nothing');
  });

  test('keeps what If branches read from the outer scope, and cleans the branches', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const flag = b.input('flag', 'bool', []);
    const onlyInBranch = b.sigmoid(x); // used by the then-branch only
    const then = b.subgraph('then');
    then.exp(x); // dead inside the branch
    then.output(then.mul(onlyInBranch, x), 'then_out');
    const els = b.subgraph('else');
    els.output(els.neg(x), 'else_out');
    b.exp(x); // dead in the parent
    b.output(b.op('If', [flag], { then_branch: then.graph, else_branch: els.graph }), 'out');
    assert.ok(eliminateDeadCode(b.graph).modified);
    assert.deepEqual(ops(b), ['Sigmoid', 'If']);
    assert.deepEqual(
      then.graph.nodes.map((n) => n.op),
      ['Mul'],
    );
  });

  test('drops unused initializers only when asked', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const c1 = b.const('float32', [1, 2, 3]);
    const c2 = b.const('float32', [4, 5, 6]);
    b.mul(x, c2); // dead
    b.output(b.add(x, c1), 'out');
    eliminateDeadCode(b.graph);
    assert.equal(b.graph.initializers.length, 2);
    const r = eliminateDeadCode(b.graph, { initializers: true });
    assert.ok(r.modified);
    assert.deepEqual(b.graph.initializers, [c1]);
  });
});
