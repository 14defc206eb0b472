// Finite-difference checks of every gradient rule (autodiff/rules.ts), each through buildBackward and
// ONNX Runtime. f(x) = Σ w ⊙ op(x) with random w; tolerances are stated in harness.ts (float64:
// 1e-6 + 1e-5·|g|; float32 fallback: 1e-3 + 1e-2·|g|). Inputs include 0 and negative values where the
// op is smooth there; kinks (Relu, Abs at 0) are checked against torch's subgradient (0) instead.
// Dims: B batch, T tokens, D features.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradRules, NO_GRADIENT } from '../../native-runtime/autodiff/rules.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { Value } from '../../native-runtime/ir/graph.ts';
import { forwardOps, type GradCase, gradcheck, runGraph, tensor } from './harness.ts';

const cases: GradCase[] = [];
const add = (c: GradCase) => cases.push(c);
const mixed = [-2, -0.5, 0, 0.3, 1.5, 2.5]; // includes 0 and negatives

// --- elementwise ------------------------------------------------------------------------------------
add({
  name: 'Add same shape',
  ops: ['Add'],
  inputs: [{ shape: [2, 3] }, { shape: [2, 3] }],
  build: (b, [x, y]) => b.add(x, y),
});
add({
  name: 'Add [B,T,D] + [D]',
  ops: ['Add'],
  inputs: [{ shape: ['B', 'T', 4], dims: [2, 3, 4] }, { shape: [4] }],
  build: (b, [x, y]) => b.add(x, y),
});
add({
  name: 'Add [D] + [B,T,D] (left broadcast)',
  ops: ['Add'],
  inputs: [{ shape: [4] }, { shape: [2, 3, 4] }],
  build: (b, [x, y]) => b.add(x, y),
});
// An unknown ('?') input dim facing a known gradient dim: broadcast or not is decided at run time.
add({
  name: 'Add with an unknown dim that is 1 at run time',
  ops: ['Add'],
  inputs: [{ shape: ['?', 3], dims: [1, 3] }, { shape: [4, 3] }],
  build: (b, [x, y]) => b.add(x, y),
});
add({
  name: 'Add with an unknown dim that is not 1 at run time',
  ops: ['Add'],
  inputs: [{ shape: ['?', 3], dims: [4, 3] }, { shape: [4, 3] }],
  build: (b, [x, y]) => b.add(x, y),
});
add({
  name: 'Sub [2,3] - [3]',
  ops: ['Sub'],
  inputs: [{ shape: [2, 3] }, { shape: [3] }],
  build: (b, [x, y]) => b.sub(x, y),
});
add({
  name: 'Mul [B,T,T] * [B,1,T]',
  ops: ['Mul'],
  inputs: [
    { shape: ['B', 'T', 'T'], dims: [2, 3, 3] },
    { shape: ['B', 1, 'T'], dims: [2, 1, 3] },
  ],
  build: (b, [x, y]) => b.mul(x, y),
});
add({
  name: 'Mul by a scalar input',
  ops: ['Mul'],
  inputs: [{ shape: [2, 3], data: mixed }, { shape: [] }],
  build: (b, [x, y]) => b.mul(x, y),
});
add({
  name: 'Div [2,3] / [2,1]',
  ops: ['Div'],
  inputs: [
    { shape: [2, 3], data: mixed },
    { shape: [2, 1], data: [-1.5, 0.7] },
  ],
  build: (b, [x, y]) => b.div(x, y),
});
add({ name: 'Neg', ops: ['Neg'], inputs: [{ shape: [6], data: mixed }], build: (b, [x]) => b.neg(x) });
add({
  name: 'Pow x^2 (at 0, negatives)',
  ops: ['Pow'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x], dt) => b.op('Pow', [x, b.scalar(2, dt)]),
});
add({
  name: 'Pow x^3 with float32 exponent',
  ops: ['Pow', 'Cast'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x]) => b.op('Pow', [x, b.scalar(3, 'float32')]),
});
add({
  name: 'Pow x^0.5',
  ops: ['Pow'],
  inputs: [{ shape: [5], lo: 0.3, hi: 3 }],
  build: (b, [x], dt) => b.op('Pow', [x, b.scalar(0.5, dt)]),
});
add({
  name: 'Pow with exponent gradient',
  ops: ['Pow'],
  inputs: [
    { shape: [2, 3], lo: 0.3, hi: 2 },
    { shape: [3], lo: -1.5, hi: 2 },
  ],
  build: (b, [x, e]) => b.op('Pow', [x, e]),
});
add({ name: 'Sqrt', ops: ['Sqrt'], inputs: [{ shape: [5], lo: 0.2, hi: 4 }], build: (b, [x]) => b.sqrt(x) });
add({
  name: 'Reciprocal',
  ops: ['Reciprocal'],
  inputs: [{ shape: [4], data: [-2, -0.5, 0.4, 3] }],
  build: (b, [x]) => b.reciprocal(x),
});
add({ name: 'Exp', ops: ['Exp'], inputs: [{ shape: [6], data: mixed }], build: (b, [x]) => b.exp(x) });
add({ name: 'Log', ops: ['Log'], inputs: [{ shape: [5], lo: 0.2, hi: 4 }], build: (b, [x]) => b.log(x) });
add({ name: 'Tanh', ops: ['Tanh'], inputs: [{ shape: [6], data: mixed }], build: (b, [x]) => b.tanh(x) });
add({
  name: 'Sigmoid',
  ops: ['Sigmoid'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x]) => b.sigmoid(x),
});
add({
  name: 'Erf',
  ops: ['Erf'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x]) => b.op('Erf', [x]),
});
add({
  name: 'Sin',
  ops: ['Sin'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x]) => b.op('Sin', [x]),
});
add({
  name: 'Cos',
  ops: ['Cos'],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x]) => b.op('Cos', [x]),
});
add({
  name: 'Relu (away from 0)',
  ops: ['Relu'],
  inputs: [{ shape: [6], data: [-2, -0.5, -0.1, 0.2, 1, 2.5] }],
  build: (b, [x]) => b.op('Relu', [x]),
});
add({
  name: 'Abs (away from 0)',
  ops: ['Abs'],
  inputs: [{ shape: [6], data: [-2, -0.5, -0.1, 0.2, 1, 2.5] }],
  build: (b, [x]) => b.op('Abs', [x]),
});
add({
  name: 'Max with broadcasting and a tie',
  ops: ['Max'],
  inputs: [
    { shape: [2, 3], data: [0.5, -1, 2, 0.1, 0.3, -0.4] },
    { shape: [3], data: [0.5, 0.2, -1] },
  ],
  build: (b, [x, y]) => b.op('Max', [x, y]),
});
add({
  name: 'Min of three inputs',
  ops: ['Min'],
  inputs: [{ shape: [4] }, { shape: [4] }, { shape: [1] }],
  build: (b, xs) => b.op('Min', xs),
});
add({
  name: 'Identity',
  ops: ['Identity'],
  inputs: [{ shape: [2, 2] }],
  build: (b, [x]) => b.op('Identity', [x]),
});
// float32 → float64: the checked function must not round through float32 in float64 mode.
add({
  name: 'Cast float32 -> float64',
  ops: ['Cast'],
  dtype: 'float32',
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.tanh(b.cast(x, 'float64')),
});
add({
  name: 'Cast to int64 has no gradient',
  ops: ['Cast'],
  inputs: [{ shape: [4], data: [-1.6, -0.3, 0.4, 2.7] }],
  build: (b, [x], dt) => b.mul(x, b.cast(b.cast(x, 'int64'), dt)),
});
add({
  name: 'Where (condition gets none, broadcast branches)',
  ops: ['Where'],
  inputs: [{ shape: [2, 3], dtype: 'bool', data: [1, 0, 1, 0, 0, 1] }, { shape: [2, 3] }, { shape: [3] }],
  build: (b, [c, x, y]) => b.where(c, x, y),
});
add({
  name: 'Where with a computed condition and a scalar branch',
  ops: ['Where', 'Greater'],
  inputs: [{ shape: [2, 3], data: mixed }],
  build: (b, [x], dt) => b.where(b.op('Greater', [x, b.scalar(0.1, dt)]), b.mul(x, x), b.scalar(-3, dt)),
});
add({
  name: 'Dropout in inference mode is the identity',
  ops: ['Dropout'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.op('Dropout', [x]),
});

// --- matrix products --------------------------------------------------------------------------------
add({
  name: 'MatMul [3,4]@[4,2]',
  ops: ['MatMul'],
  inputs: [{ shape: [3, 4] }, { shape: [4, 2] }],
  build: (b, [x, y]) => b.matmul(x, y),
});
add({
  name: 'MatMul [B,T,D]@[D,K]',
  ops: ['MatMul'],
  inputs: [{ shape: ['B', 'T', 4], dims: [2, 3, 4] }, { shape: [4, 5] }],
  build: (b, [x, y]) => b.matmul(x, y),
});
add({
  name: 'MatMul batched [2,3,4]@[2,4,5]',
  ops: ['MatMul'],
  inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }],
  build: (b, [x, y]) => b.matmul(x, y),
});
add({
  name: 'MatMul broadcast [2,1,3,4]@[3,4,5]',
  ops: ['MatMul'],
  inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 5] }],
  build: (b, [x, y]) => b.matmul(x, y),
});
add({
  name: 'MatMul 2-D left [3,4]@[2,4,5]',
  ops: ['MatMul'],
  inputs: [{ shape: [3, 4] }, { shape: [2, 4, 5] }],
  build: (b, [x, y]) => b.matmul(x, y),
});
add({
  name: 'MatMul [B,H,T,E]@transpose(k)',
  ops: ['MatMul', 'Transpose'],
  inputs: [
    { shape: ['B', 2, 'T', 3], dims: [1, 2, 4, 3] },
    { shape: ['B', 2, 'T', 3], dims: [1, 2, 4, 3] },
  ],
  build: (b, [q, k]) => b.matmul(q, b.transpose(k, [0, 1, 3, 2])),
});
for (const [tA, tB] of [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
]) {
  add({
    name: `Gemm transA=${tA} transB=${tB} with bias [N], alpha, beta`,
    ops: ['Gemm'],
    inputs: [{ shape: tA ? [4, 3] : [3, 4] }, { shape: tB ? [5, 4] : [4, 5] }, { shape: [5] }],
    build: (b, [x, w, c]) =>
      b.op('Gemm', [x, w, c], { transA: tA, transB: tB, alpha: 0.7, beta: 1.3 }, { shapes: [[3, 5]] }),
  });
}
add({
  name: 'Gemm without bias (linearT)',
  ops: ['Gemm'],
  inputs: [{ shape: ['N', 4], dims: [3, 4] }, { shape: [5, 4] }],
  build: (b, [x, w]) => b.op('Gemm', [x, w], { transB: 1 }, { shapes: [['N', 5]] }),
});

// --- movement ---------------------------------------------------------------------------------------
add({
  name: 'Transpose [2,0,1]',
  ops: ['Transpose'],
  inputs: [{ shape: [2, 3, 4] }],
  build: (b, [x]) => b.transpose(x, [2, 0, 1]),
});
add({
  name: 'Transpose default perm',
  ops: ['Transpose'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.op('Transpose', [x]),
});
add({
  name: 'Reshape static',
  ops: ['Reshape'],
  inputs: [{ shape: [2, 3, 4] }],
  build: (b, [x]) => b.reshape(x, [6, 4]),
});
add({
  name: 'Reshape symbolic [B,T,D] -> [-1,D]',
  ops: ['Reshape'],
  inputs: [{ shape: ['B', 'T', 4], dims: [2, 3, 4] }],
  build: (b, [x]) => b.tanh(b.reshape(x, [-1, 4], ['N', 4])),
});
add({
  name: 'Unsqueeze',
  ops: ['Unsqueeze'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.unsqueeze(x, [0, -1]),
});
add({
  name: 'Flatten axis 2',
  ops: ['Flatten'],
  inputs: [{ shape: [2, 3, 2, 2] }],
  build: (b, [x]) => b.op('Flatten', [x], { axis: 2 }, { shapes: [[6, 4]] }),
});
add({
  name: 'Squeeze with axes',
  ops: ['Squeeze'],
  inputs: [{ shape: [2, 1, 3] }],
  build: (b, [x]) => b.squeeze(x, [1]),
});
add({
  name: 'Squeeze without axes',
  ops: ['Squeeze'],
  inputs: [{ shape: [1, 3, 1] }],
  build: (b, [x]) => b.op('Squeeze', [x]),
});
add({
  name: 'Expand [3,1] -> [2,3,4]',
  ops: ['Expand'],
  inputs: [{ shape: [3, 1] }],
  build: (b, [x]) => b.expand(x, b.ints([2, 3, 4])),
});
add({
  name: 'Expand to a dynamic shape',
  ops: ['Expand', 'Shape'],
  inputs: [{ shape: [1, 4] }, { shape: ['B', 4], dims: [3, 4] }],
  build: (b, [x, z]) => b.mul(b.expand(x, b.shapeOf(z)), z),
});
add({
  name: 'Concat 3 inputs on axis 1',
  ops: ['Concat'],
  inputs: [{ shape: [2, 1] }, { shape: [2, 3] }, { shape: [2, 2] }],
  build: (b, xs) => b.concat(xs, 1),
});
add({
  name: 'Concat symbolic dims on the concat axis',
  ops: ['Concat'],
  inputs: [
    { shape: [2, 'P'], dims: [2, 2] },
    { shape: [2, 'T'], dims: [2, 3] },
  ],
  build: (b, xs) => b.concat(xs, -1),
});
add({
  name: 'Split, both outputs used',
  ops: ['Split'],
  inputs: [{ shape: [2, 5] }],
  build: (b, [x]) => {
    const [p, q] = b.opN('Split', [x, b.ints([2, 3])], { axis: -1 }, { outputs: 2 });
    return b.concat([b.tanh(q), p], -1);
  },
});
add({
  name: 'Split, one output unused (zeros)',
  ops: ['Split'],
  inputs: [{ shape: [4, 2] }],
  build: (b, [x]) =>
    b.opN(
      'Split',
      [x],
      { axis: 0, num_outputs: 2 },
      {
        outputs: 2,
        shapes: [
          [2, 2],
          [2, 2],
        ],
      },
    )[1],
});
add({
  name: 'Slice static',
  ops: ['Slice'],
  inputs: [{ shape: [3, 5] }],
  build: (b, [x]) => b.slice(x, [1], [4], [1]),
});
add({
  name: 'Slice negative bounds, two axes',
  ops: ['Slice'],
  inputs: [{ shape: [3, 5] }],
  build: (b, [x]) => b.slice(x, [-2, 1], [100, -1], [0, 1]),
});
add({
  name: 'Slice step 2',
  ops: ['Slice'],
  inputs: [{ shape: [2, 6] }],
  build: (b, [x]) => b.slice(x, [1], [6], [1], [2]),
});
add({
  name: 'Slice step -1 (reverse)',
  ops: ['Slice'],
  inputs: [{ shape: [2, 4] }],
  build: (b, [x]) => b.slice(x, [-1], [-100], [1], [-1]),
});
add({
  name: 'Slice last token on a symbolic axis',
  ops: ['Slice'],
  inputs: [{ shape: ['B', 'T', 3], dims: [2, 4, 3] }],
  build: (b, [x]) => b.slice(x, [-1], [Number.MAX_SAFE_INTEGER], [1]),
});
add({
  name: 'Slice with dynamic starts/ends',
  ops: ['Slice'],
  inputs: [{ shape: [2, 'T'], dims: [2, 5] }],
  build: (b, [x]) => {
    const t = b.shapeOf(x, 1, 2); // [T]
    const start = b.op('Sub', [t, b.ints([3])]);
    const end = b.op('Sub', [t, b.ints([1])]);
    return b.op('Slice', [x, start, end, b.ints([1])], {}, { shapes: [[2, '?']] });
  },
});
add({
  name: 'Gather axis 0 with repeated indices (embedding)',
  ops: ['Gather'],
  inputs: [{ shape: [4, 3] }, { shape: [5], dtype: 'int64', data: [0, 2, 2, 3, 0] }],
  build: (b, [t, i]) => b.gather(t, i),
});
add({
  name: 'Gather axis 1 with 2-D int32 indices',
  ops: ['Gather'],
  inputs: [{ shape: [2, 4, 3] }, { shape: [2, 2], dtype: 'int32', data: [3, 1, 1, 0] }],
  build: (b, [t, i]) => b.gather(t, i, 1),
});
add({
  name: 'Gather scalar index on the last axis',
  ops: ['Gather'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [t]) => b.gather(t, b.const('int64', [2], []), 1),
});
add({
  name: 'GatherElements axis 1 with repeats',
  ops: ['GatherElements'],
  inputs: [{ shape: [2, 3] }, { shape: [2, 4], dtype: 'int64', data: [0, 2, 2, 1, 1, 1, 0, 2] }],
  build: (b, [x, i]) => b.op('GatherElements', [x, i], { axis: 1 }),
});

// --- softmax family ---------------------------------------------------------------------------------
add({
  name: 'Softmax last axis',
  ops: ['Softmax'],
  inputs: [{ shape: [2, 4] }],
  build: (b, [x]) => b.softmax(x, -1),
});
add({
  name: 'Softmax axis 1 of 3',
  ops: ['Softmax'],
  inputs: [{ shape: [2, 3, 2] }],
  build: (b, [x]) => b.softmax(x, 1),
});
add({
  name: 'LogSoftmax last axis',
  ops: ['LogSoftmax'],
  inputs: [{ shape: [2, 4] }],
  build: (b, [x]) => b.op('LogSoftmax', [x], { axis: -1 }),
});

// --- reductions -------------------------------------------------------------------------------------
add({
  name: 'ReduceSum axis 1 keepdims=0',
  ops: ['ReduceSum'],
  inputs: [{ shape: [2, 3, 2] }],
  build: (b, [x]) => b.reduceSum(x, [1], false),
});
add({
  name: 'ReduceSum all axes',
  ops: ['ReduceSum'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.op('ReduceSum', [x], { keepdims: 1 }),
});
add({
  name: 'ReduceSum noop_with_empty_axes',
  ops: ['ReduceSum'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.op('ReduceSum', [x], { keepdims: 1, noop_with_empty_axes: 1 }),
});
add({
  name: 'ReduceMean axes [0,2] keepdims=1',
  ops: ['ReduceMean'],
  inputs: [{ shape: [2, 3, 2] }],
  build: (b, [x]) => b.reduceMean(x, [0, 2]),
});
add({
  name: 'ReduceMean over a symbolic axis (count computed in the graph)',
  ops: ['ReduceMean'],
  inputs: [{ shape: ['B', 'T'], dims: [2, 3] }],
  build: (b, [x]) => b.reduceMean(x, [1], false),
});
add({
  name: 'ReduceMax with ties (split equally)',
  ops: ['ReduceMax'],
  inputs: [{ shape: [2, 3], data: [1, 3, 3, -2, -1, -1.5] }],
  build: (b, [x]) => b.reduceMax(x, [1], false),
});
add({
  name: 'ReduceMax all axes',
  ops: ['ReduceMax'],
  inputs: [{ shape: [2, 3] }],
  build: (b, [x]) => b.op('ReduceMax', [x], { keepdims: 0 }),
});
add({
  name: 'ReduceLogSumExp',
  ops: ['ReduceLogSumExp'],
  inputs: [{ shape: [2, 4] }],
  build: (b, [x]) => b.op('ReduceLogSumExp', [x, b.ints([-1])], { keepdims: 0 }),
});

// --- normalization ----------------------------------------------------------------------------------
add({
  name: 'LayerNormalization last axis with scale and bias',
  ops: ['LayerNormalization'],
  inputs: [{ shape: ['B', 'T', 4], dims: [2, 2, 4] }, { shape: [4] }, { shape: [4] }],
  build: (b, [x, s, c]) => b.op('LayerNormalization', [x, s, c], { axis: -1, epsilon: 1e-5 }),
});
add({
  name: 'LayerNormalization over the last two axes, no bias',
  ops: ['LayerNormalization'],
  inputs: [{ shape: [2, 3, 2] }, { shape: [3, 2] }],
  build: (b, [x, s]) => b.op('LayerNormalization', [x, s], { axis: 1, epsilon: 1e-3 }),
});

// --- composites built from primitives (as the model builders make them) --------------------------------
add({
  name: 'composite: RMSNorm',
  ops: [],
  inputs: [{ shape: [2, 4] }, { shape: [4] }],
  build: (b, [x, w], dt) => {
    const inv = b.reciprocal(b.sqrt(b.add(b.reduceMean(b.mul(x, x), [-1]), b.scalar(1e-6, dt))));
    return b.mul(b.mul(x, inv), w);
  },
});
add({
  name: 'composite: SiLU and GELU-tanh',
  ops: [],
  inputs: [{ shape: [6], data: mixed }],
  build: (b, [x], dt) => {
    const silu = b.mul(x, b.sigmoid(x));
    const inner = b.mul(
      b.add(x, b.mul(b.scalar(0.044715, dt), b.mul(x, b.mul(x, x)))),
      b.scalar(Math.sqrt(2 / Math.PI), dt),
    );
    const gelu = b.mul(b.mul(b.scalar(0.5, dt), x), b.add(b.scalar(1, dt), b.tanh(inner)));
    return b.add(silu, gelu);
  },
});
add({
  name: 'composite: cross-entropy from ReduceLogSumExp/GatherElements',
  ops: [],
  inputs: [
    { shape: ['B', 'T', 5], dims: [2, 3, 5] },
    { shape: ['B', 'T', 1], dims: [2, 3, 1], dtype: 'int64', data: [0, 4, 2, 1, 1, 3] },
  ],
  build: (b, [logits, labels]) => {
    const lse = b.op('ReduceLogSumExp', [logits, b.ints([-1])], { keepdims: 1 });
    const picked = b.op('GatherElements', [logits, labels], { axis: 2 });
    return b.reduceMean(b.sub(lse, picked), [0, 1, 2], false);
  },
});

describe('gradcheck: every rule against finite differences', () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const r = await gradcheck(c);
      t.diagnostic(`${r.dtype}, max |error| ${r.maxAbsErr.toExponential(2)} at ${r.worst || '-'}`);
    });
  }
});

describe('gradcheck: every rule with a uniform upstream gradient (f = Σ op(x), broadcast seed)', () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const r = await gradcheck({ ...c, name: `${c.name} (plain sum)`, plainSum: true });
      t.diagnostic(`${r.dtype}, max |error| ${r.maxAbsErr.toExponential(2)} at ${r.worst || '-'}`);
    });
  }
});

describe('kinks and special cases', () => {
  test('Relu and Abs at exactly 0 give torch subgradient 0', async () => {
    const b = new GraphBuilder('kink');
    const x = b.input('x', 'float64', [3]);
    const { buildBackward } = await import('../../native-runtime/autodiff/backward.ts');
    const loss = b.op('ReduceSum', [b.add(b.op('Relu', [x]), b.op('Abs', [x]))], { keepdims: 0 });
    b.output(buildBackward(b, loss, [x]).get(x)!, 'g');
    const out = await runGraph(b.graph, { x: tensor('float64', [0, -1, 2], [3]) });
    assert.deepEqual(out.g.data, [0, -1, 2]);
  });

  test('MatMul [B,T,D]@[D,K]: 2-D products only, and no transposed copy of the weight', async () => {
    const r = await gradcheck(cases.find((c) => c.name === 'MatMul [B,T,D]@[D,K]')!);
    const ops = r.graph.nodes.map((n) => n.op);
    assert.equal(ops.filter((o) => o === 'MatMul').length, 1, 'only the forward MatMul');
    const gemms = r.graph.nodes.filter((n) => n.op === 'Gemm');
    assert.equal(gemms.length, 2, 'one Gemm per gradient');
    assert.ok(!ops.includes('Transpose'), 'the weight is read in place through transB');
  });

  test('Dropout in training mode routes the gradient through its mask, scaled by 1/(1-ratio)', async () => {
    const { buildBackward } = await import('../../native-runtime/autodiff/backward.ts');
    const b = new GraphBuilder('dropout');
    const x = b.input('x', 'float32', [4, 8]);
    const w = b.input('w', 'float32', [4, 8]);
    const y = b.op('Dropout', [x, b.scalar(0.25), b.const('bool', [1], [])], {
      seed: { type: 'int', value: 3 },
    });
    const loss = b.op('ReduceSum', [b.mul(y, w)], { keepdims: 0 });
    const g = buildBackward(b, loss, [x]).get(x)!;
    b.output(y, 'y');
    b.output(g, 'g');
    const xs = Array.from({ length: 32 }, (_, i) => 0.5 + i / 10);
    const ws = Array.from({ length: 32 }, (_, i) => Math.cos(i));
    const out = await runGraph(b.graph, {
      x: tensor('float32', xs, [4, 8]),
      w: tensor('float32', ws, [4, 8]),
    });
    let dropped = 0;
    for (let i = 0; i < 32; i++) {
      // y = x·mask/(1-r) and dx = w·mask/(1-r), so dx = w·y/x.
      assert.ok(Math.abs(out.g.data[i] - (ws[i] * out.y.data[i]) / xs[i]) < 1e-5, `element ${i}`);
      if (out.y.data[i] === 0) dropped++;
    }
    assert.ok(dropped > 0 && dropped < 32, 'some but not all elements dropped');
  });
});

// Ops whose rules say "no gradient": each returns one null per input.
const NON_DIFFERENTIABLE: [string, number][] = [
  ['Shape', 1],
  ['Size', 1],
  ['Equal', 2],
  ['Less', 2],
  ['Greater', 2],
  ['LessOrEqual', 2],
  ['GreaterOrEqual', 2],
  ['Not', 1],
  ['And', 2],
  ['Or', 2],
  ['IsNaN', 1],
  ['Range', 3],
  ['ConstantOfShape', 1],
  ['ArgMax', 1],
  ['ArgMin', 1],
  ['Sign', 1],
  ['Floor', 1],
  ['Ceil', 1],
  ['Round', 1],
  ['NonZero', 1],
];

describe('coverage', () => {
  test('non-differentiable ops return one null per input', () => {
    assert.deepEqual(NON_DIFFERENTIABLE.map(([op]) => op).sort(), [...NO_GRADIENT].sort());
    const b = new GraphBuilder('nd');
    for (const [op, k] of NON_DIFFERENTIABLE) {
      const ins: Value[] = Array.from({ length: k }, (_, i) => b.input(`${op}${i}`, 'float32', [2]));
      const node = b.op(op, ins, {}, { shapes: [[2]], dtypes: ['float32'] }).producer!;
      assert.deepEqual(
        gradRules[op]([b.scalar(1)], node, b),
        ins.map(() => null),
        op,
      );
    }
  });

  test('every rule is checked', () => {
    // Every rule in the table appears in the forward graph of a case that the suites above
    // gradcheck (each case runs there), or is declared non-differentiable. Computed from the
    // cases' graphs, so it holds whichever tests ran before, alone or in any order.
    const checked = new Set<string>();
    for (const c of cases) {
      for (const op of forwardOps(c)) checked.add(op);
    }
    const nd = new Set(NON_DIFFERENTIABLE.map(([op]) => op));
    const missing = Object.keys(gradRules).filter((op) => !checked.has(op) && !nd.has(op));
    assert.deepEqual(missing, [], `rules without a gradcheck: ${missing.join(', ')}`);
  });
});
