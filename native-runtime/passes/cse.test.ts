import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../ir/builder.ts';
import { eliminateCommonSubexpressions } from './cse.ts';
import { eliminateDeadCode } from './dead-code.ts';

const ops = (b: GraphBuilder) => b.graph.nodes.map((n) => n.op);

describe('eliminateCommonSubexpressions', () => {
  test('merges equal nodes (commutative inputs in either order) and their consumers in turn', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const y = b.input('y', 'float32', [3]);
    const a1 = b.tanh(b.add(x, y));
    const a2 = b.tanh(b.add(y, x));
    const s1 = b.sub(x, y);
    const s2 = b.sub(y, x); // not commutative: kept
    b.output(b.mul(b.mul(a1, a2), b.mul(s1, s2)), 'out');
    const r = eliminateCommonSubexpressions(b.graph);
    assert.ok(r.modified);
    assert.deepEqual(ops(b), ['Add', 'Tanh', 'Sub', 'Sub', 'Mul', 'Mul', 'Mul']);
    const mul = b.graph.nodes[4];
    assert.equal(mul.inputs[0], mul.inputs[1], 'both operands now read one Tanh');
    assert.equal(a1.uses.length, 2);
    assert.equal(a2.uses.length, 0);
    assert.equal(eliminateCommonSubexpressions(b.graph).modified, false);
  });

  test('different attributes are different nodes; random ops and graph outputs are left alone', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [2, 3]);
    const t1 = b.transpose(x, [1, 0]);
    const s1 = b.softmax(x, 0);
    const s2 = b.softmax(x, 1);
    const d1 = b.op('Dropout', [x, b.scalar(0.5), b.const('bool', [1], [])]);
    const d2 = b.op('Dropout', [x, b.scalar(0.5), b.const('bool', [1], [])]);
    b.output(b.tanh(x), 'o1');
    b.output(b.tanh(x), 'o2'); // same computation, but both are named outputs
    b.output(b.add(b.add(s1, s2), b.add(d1, d2)), 'o3');
    b.output(t1, 'o4');
    const before = b.graph.nodes.length;
    eliminateCommonSubexpressions(b.graph);
    assert.equal(b.graph.nodes.length, before);
  });

  test('an If branch reuses a parent computation, never the reverse', () => {
    const b = new GraphBuilder('t');
    const x = b.input('x', 'float32', [3]);
    const flag = b.input('flag', 'bool', []);
    const e = b.exp(x);
    const then = b.subgraph('then');
    const inBranch = then.exp(x);
    then.output(then.mul(inBranch, x), 'then_out');
    const els = b.subgraph('else');
    els.output(els.neg(x), 'else_out');
    const out = b.op('If', [flag], { then_branch: then.graph, else_branch: els.graph });
    const after = b.sigmoid(x);
    const after2 = b.sigmoid(x);
    b.output(b.add(b.add(out, e), b.mul(after, after2)), 'out');
    assert.ok(eliminateCommonSubexpressions(b.graph).modified);
    assert.deepEqual(
      then.graph.nodes.map((n) => n.op),
      ['Mul'],
    );
    assert.equal(then.graph.nodes[0].inputs[0], e);
    assert.equal(ops(b).filter((o) => o === 'Sigmoid').length, 1);
    eliminateDeadCode(b.graph);
  });
});
