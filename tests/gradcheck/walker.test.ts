// The walker's generic work (autodiff/backward.ts), checked end to end in ONNX Runtime: reused values
// add up, unreached `wrt` values get zeros, nothing below the lowest `wrt` is differentiated, and the
// backward pass can live in an If branch so one session serves forward-only and training runs.
// Dims: N rows, D features.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildBackward } from '../../native-runtime/autodiff/backward.ts';
import { zerosLike } from '../../native-runtime/autodiff/rules.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { Node, Value } from '../../native-runtime/ir/graph.ts';
import { eliminateCommonSubexpressions } from '../../native-runtime/passes/cse.ts';
import { eliminateDeadCode } from '../../native-runtime/passes/dead-code.ts';
import { gradcheck, rng, runGraph, tensor } from './harness.ts';

const rand = (n: number, seed: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
};

describe('walker', () => {
  test('a value used several times gets the sum of its gradients', async () => {
    await gradcheck({
      name: 'reuse: x·x + tanh(x) + x, and a diamond',
      ops: [],
      inputs: [{ shape: [2, 3], data: [-2, -0.5, 0, 0.3, 1.5, 2.5] }],
      build: (b, [x]) => {
        const diamond = b.mul(b.tanh(x), b.sigmoid(x));
        return b.add(b.add(b.add(b.mul(x, x), b.tanh(x)), x), diamond);
      },
    });
    // Add(x, x): both operands are the same value, so the gradient is 2·w exactly.
    const b = new GraphBuilder('twice');
    const x = b.input('x', 'float64', [3]);
    const w = b.input('w', 'float64', [3]);
    const loss = b.op('ReduceSum', [b.mul(b.add(x, x), w)], { keepdims: 0 });
    b.output(buildBackward(b, loss, [x]).get(x)!, 'g');
    const out = await runGraph(b.graph, {
      x: tensor('float64', [1, 2, 3], [3]),
      w: tensor('float64', [0.5, -1, 2], [3]),
    });
    assert.deepEqual(out.g.data, [1, -2, 4]);
  });

  test('a wrt value that does not reach the loss gets zeros of its shape', async () => {
    const b = new GraphBuilder('unreached');
    const x = b.input('x', 'float32', ['N', 3]);
    const unused = b.input('unused', 'float32', ['N', 2]);
    const below = b.input('below', 'float32', [4]); // used, but not by the loss
    b.output(b.tanh(below), 'side');
    const loss = b.op('ReduceSum', [b.mul(x, x)], { keepdims: 0 });
    const g = buildBackward(b, loss, [x, unused, below]);
    b.output(g.get(x)!, 'gx');
    b.output(g.get(unused)!, 'gu');
    b.output(g.get(below)!, 'gb');
    assert.deepEqual(g.get(unused)!.shape, ['N', 2]);
    const out = await runGraph(b.graph, {
      x: tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]),
      unused: tensor('float32', [9, 9, 9, 9], [2, 2]),
      below: tensor('float32', [1, 2, 3, 4], [4]),
    });
    assert.deepEqual(out.gx.data, [2, 4, 6, 8, 10, 12]);
    assert.deepEqual([...out.gu.dims], [2, 2]);
    assert.deepEqual(out.gu.data, [0, 0, 0, 0]);
    assert.deepEqual(out.gb.data, [0, 0, 0, 0]);
  });

  test('nothing below the lowest wrt value is differentiated', async () => {
    // Three tanh(Gemm) blocks; an intervention p is added after block 2. Only block 3 and the add may
    // get backward nodes: the count must equal that of the same graph with block 3's input fed directly.
    const D = 4;
    const block = (b: GraphBuilder, h: Value, i: number) => {
      const W = b.const('float32', rand(D * D, i), [D, D]);
      return b.tanh(b.op('Gemm', [h, W], { transB: 1 }, { shapes: [['N', D]] }));
    };
    const tail = (b: GraphBuilder, h2: Value) => {
      const p = b.input('p', 'float32', [D]);
      const h3 = block(b, b.add(h2, p), 3);
      const loss = b.op('ReduceSum', [b.mul(h3, h3)], { keepdims: 0 });
      return { p, loss };
    };

    const full = new GraphBuilder('deep');
    const x = full.input('x', 'float32', ['N', D]);
    const h2 = block(full, block(full, x, 1), 2);
    const below = new Set<Value>([x]);
    for (const n of full.graph.nodes) for (const o of n.outputs) below.add(o);
    const { p, loss } = tail(full, h2);
    const mark = full.graph.nodes.length;
    const gp = buildBackward(full, loss, [p]).get(p)!;
    const emitted = full.graph.nodes.slice(mark);

    const short = new GraphBuilder('shallow');
    const h2in = short.input('h2', 'float32', ['N', D]);
    const t2 = tail(short, h2in);
    const mark2 = short.graph.nodes.length;
    buildBackward(short, t2.loss, [t2.p]);
    assert.equal(
      emitted.length,
      short.graph.nodes.length - mark2,
      'same backward size with or without the blocks below',
    );
    for (const n of emitted) {
      for (const v of n.inputs)
        assert.ok(!v || !below.has(v), `${n.op} reads ${v} from below the intervention`);
    }

    // And the gradient is right: compare with finite differences on p.
    full.output(loss, 'loss');
    full.output(gp, 'gp');
    const xs = tensor('float32', rand(2 * D, 9), [2, D]);
    const p0 = rand(D, 10);
    const out = await runGraph(full.graph, { x: xs, p: tensor('float32', p0, [D]) });
    for (let j = 0; j < D; j++) {
      const at = async (d: number) => {
        const q = [...p0];
        q[j] += d;
        return (await runGraph(full.graph, { x: xs, p: tensor('float32', q, [D]) })).loss.data[0];
      };
      const numeric = ((await at(1e-2)) - (await at(-1e-2))) / 2e-2;
      assert.ok(
        Math.abs(numeric - out.gp.data[j]) < 1e-2 * (1 + Math.abs(numeric)),
        `dp[${j}] ${out.gp.data[j]} vs ${numeric}`,
      );
    }
  });

  test('recompute: the backward reads only the checkpoints of the forward, and the gradients are the same', async () => {
    // Four blocks h ← Gemm(tanh(Gemm(h, W) + p_i), W2), p_i a trainable value per block (like an intervention),
    // checkpoints at every block boundary. In float64 the replay must give the same numbers exactly.
    const D = 3;
    const build = (recompute: boolean) => {
      const b = new GraphBuilder(recompute ? 'recomputed' : 'kept');
      const x = b.input('x', 'float64', ['N', D]);
      const ps: Value[] = [];
      const cps: Value[] = [x];
      let h = x;
      for (let i = 0; i < 4; i++) {
        const W = b.const('float64', rand(D * D, 20 + i), [D, D]);
        const p = b.input(`p${i}`, 'float64', [D]);
        ps.push(p);
        const W2 = b.const('float64', rand(D * D, 60 + i), [D, D]);
        const t = b.tanh(b.add(b.op('Gemm', [h, W], { transB: 1 }, { shapes: [['N', D]] }), p));
        h = b.op('Gemm', [t, W2], { transB: 1 }, { shapes: [['N', D]] });
        cps.push(h);
      }
      const loss = b.op('ReduceSum', [b.mul(h, h)], { keepdims: 0 });
      const forward = new Set(b.graph.nodes);
      const mark = b.graph.nodes.length;
      const g = buildBackward(b, loss, ps, recompute ? { recompute: cps } : {});
      const readFromForward = new Set<Value>();
      for (const n of b.graph.nodes.slice(mark))
        for (const v of n.inputs) if (v?.producer && forward.has(v.producer)) readFromForward.add(v);
      ps.forEach((p, i) => {
        b.output(g.get(p)!, `g${i}`);
      });
      return { graph: b.graph, readFromForward, checkpoints: new Set(cps) };
    };
    const kept = build(false);
    const recomputed = build(true);
    assert.ok(
      [...kept.readFromForward].some((v) => !kept.checkpoints.has(v)),
      'without recompute the backward reads activations inside the blocks',
    );
    for (const v of recomputed.readFromForward)
      assert.ok(recomputed.checkpoints.has(v), `the recomputing backward reads ${v}, not a checkpoint`);
    const feeds: Record<string, ReturnType<typeof tensor>> = {
      x: tensor('float64', rand(2 * D, 30), [2, D]),
    };
    for (let i = 0; i < 4; i++) feeds[`p${i}`] = tensor('float64', rand(D, 40 + i), [D]);
    const a = await runGraph(kept.graph, feeds);
    const r = await runGraph(recomputed.graph, feeds);
    for (let i = 0; i < 4; i++) assert.deepEqual(r[`g${i}`].data, a[`g${i}`].data, `g${i}`);
  });

  test('backward in an If branch: gradients when compute_grad, zeros otherwise', async () => {
    const b = new GraphBuilder('if_grad');
    const x = b.input('x', 'float32', ['N', 3]);
    const w = b.input('w', 'float32', [3, 2]);
    const flag = b.input('compute_grad', 'bool', []);
    const c = b.const('float32', [0.3, -1.2], [2]);
    const loss = b.op('ReduceSum', [b.mul(b.tanh(b.matmul(x, w)), c)], { keepdims: 0 });

    const rootNodes = b.graph.nodes.length;
    const then = b.subgraph('then_grads');
    const g = buildBackward(then, loss, [w, x]);
    assert.equal(b.graph.nodes.length, rootNodes, 'no node emitted into the parent graph');
    then.output(g.get(w)!, 'then_gw');
    then.output(g.get(x)!, 'then_gx');
    const els = then.root.subgraph('no_grads');
    els.output(zerosLike(els, w), 'else_gw');
    els.output(zerosLike(els, x), 'else_gx');
    const [gw, gx] = b.opN('If', [flag], { then_branch: then.graph, else_branch: els.graph }, { outputs: 2 });
    b.output(loss, 'loss');
    b.output(gw, 'gw');
    b.output(gx, 'gx');

    // Reference: the same gradients built in the root graph.
    const r = new GraphBuilder('ref');
    const rx = r.input('x', 'float32', ['N', 3]);
    const rw = r.input('w', 'float32', [3, 2]);
    const rloss = r.op('ReduceSum', [r.mul(r.tanh(r.matmul(rx, rw)), r.const('float32', [0.3, -1.2], [2]))], {
      keepdims: 0,
    });
    const rg = buildBackward(r, rloss, [rw, rx]);
    r.output(rg.get(rw)!, 'gw');
    r.output(rg.get(rx)!, 'gx');

    const feeds = { x: tensor('float32', rand(12, 1), [4, 3]), w: tensor('float32', rand(6, 2), [3, 2]) };
    const on = await runGraph(b.graph, { ...feeds, compute_grad: tensor('bool', [1], []) });
    const ref = await runGraph(r.graph, feeds);
    assert.deepEqual(on.gw.data, ref.gw.data);
    assert.deepEqual(on.gx.data, ref.gx.data);
    assert.ok(on.gw.data.some((v) => v !== 0));
    const off = await runGraph(b.graph, { ...feeds, compute_grad: tensor('bool', [0], []) });
    assert.deepEqual(off.gw.data, new Array(6).fill(0));
    assert.deepEqual([...off.gx.dims], [4, 3]);
    assert.deepEqual(off.gx.data, new Array(12).fill(0));
    assert.equal(off.loss.data[0], on.loss.data[0]);
  });

  test('dead-code and CSE passes keep a backward graph numerically identical', async () => {
    const b = new GraphBuilder('passes');
    const x = b.input('x', 'float32', [2, 3]);
    const w = b.input('w', 'float32', [3, 3]);
    const h = b.matmul(x, w);
    const y = b.add(b.softmax(h, -1), b.mul(b.sigmoid(h), b.tanh(h)));
    const loss = b.op('ReduceSum', [b.mul(y, y)], { keepdims: 0 });
    const g = buildBackward(b, loss, [w, x]);
    b.output(g.get(w)!, 'gw');
    b.output(g.get(x)!, 'gx');
    b.op('Exp', [h]); // dead
    const feeds = { x: tensor('float32', rand(6, 3), [2, 3]), w: tensor('float32', rand(9, 4), [3, 3]) };
    const before = await runGraph(b.graph, feeds);
    const n0 = b.graph.nodes.length;
    assert.ok(eliminateDeadCode(b.graph).modified);
    eliminateCommonSubexpressions(b.graph);
    assert.ok(b.graph.nodes.length < n0);
    const after = await runGraph(b.graph, feeds);
    assert.deepEqual(after.gw.data, before.gw.data);
    assert.deepEqual(after.gx.data, before.gx.data);
    // The forward tanh/sigmoid/softmax outputs are reused, not recomputed, by the backward nodes.
    const count = (op: string) => b.graph.nodes.filter((n: Node) => n.op === op).length;
    assert.equal(count('Tanh'), 1);
    assert.equal(count('Sigmoid'), 1);
  });
});
