// Next-token selection inside the graph, for decoding several tokens per run (decode-loop.ts): the
// same processors in the same order as sampling.ts — temperature → top-k → top-p → softmax → a draw
// with one uniform number per row — so that, given the same uniforms, both pick the same tokens
// (up to float32 against sampling.ts's float64 sums: a draw within ~1e-7 of a boundary could differ).
// Greedy is ArgMax (first index on ties, like sampling.ts). The repetition penalty is not here: a
// generator that needs it decodes one token per run.
// Each processor sits in an If on its switch, so a disabled one costs nothing (no vocabulary sort).

import type { GraphBuilder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';

export interface SamplingInputs {
  /** bool []: ArgMax instead of a draw. */
  greedy: Value;
  /** float32 []: > 0. */
  temperature: Value;
  /** int64 []: keep the k largest logits (ties kept); ≤ 0 or ≥ V: off. */
  topK: Value;
  /** float32 []: nucleus mass; ≥ 1: off. */
  topP: Value;
}

const NEG_INF = Number.NEGATIVE_INFINITY;

/** `build`'s value where `cond` holds, else x unchanged: an If whose else branch passes x through. */
function onlyIf(
  b: GraphBuilder,
  cond: Value,
  name: string,
  x: Value,
  shapes: (string | number)[][],
  build: (on: GraphBuilder) => Value,
): Value {
  const on = b.subgraph(`${name}_on`);
  on.output(build(on));
  const off = b.subgraph(`${name}_off`);
  off.output(off.op('Identity', [x]));
  return b.op(
    'If',
    [cond],
    { then_branch: on.graph, else_branch: off.graph },
    { shapes, dtypes: ['float32'] },
  );
}

/** logits (B, V) float32, u (B) float32 in [0, 1) → token ids (B) int64. */
export function sampleTokens(
  b: GraphBuilder,
  logits: Value,
  u: Value,
  s: SamplingInputs,
  vocab: number,
): Value {
  const argmax = (bb: GraphBuilder, x: Value) =>
    bb.op('ArgMax', [x], { axis: 1, keepdims: 0 }, { shapes: [['B']], dtypes: ['int64'] });

  const draw = b.subgraph('sample_draw');
  {
    const d = draw;
    // The row's largest logit subtracted first, as sampling.ts does: a tiny temperature cannot
    // overflow to +∞ (whose softmax is NaN).
    let x = d.div(d.sub(logits, d.reduceMax(logits, [1])), s.temperature);
    // top-k: values below the k-th largest become −∞.
    const useK = d.op('And', [
      d.op('Greater', [s.topK, d.const('int64', [0], [])]),
      d.op('Less', [s.topK, d.const('int64', [vocab], [])]),
    ]);
    x = onlyIf(d, useK, 'top_k', x, [['B', vocab]], (kOn) => {
      const k1 = kOn.reshape(s.topK, [1], [1]);
      const [vals] = kOn.opN(
        'TopK',
        [x, k1],
        { axis: -1, largest: 1, sorted: 1 },
        {
          outputs: 2,
          shapes: [
            ['B', '?'],
            ['B', '?'],
          ],
          dtypes: ['float32', 'int64'],
        },
      );
      const kth = kOn.op(
        'Slice',
        [vals, kOn.op('Sub', [k1, kOn.const('int64', [1], [1])]), k1, kOn.ints([1])],
        {},
        { shapes: [['B', 1]] },
      );
      return kOn.where(kOn.op('Less', [x, kth]), kOn.scalar(NEG_INF), x);
    });

    // top-p: sort by probability (ties: lower id first), keep while the mass before a token is < p.
    const useP = d.op('Less', [s.topP, d.scalar(1)]);
    x = onlyIf(d, useP, 'top_p', x, [['B', vocab]], (pOn) => {
      const probs = pOn.softmax(x, -1);
      const [sorted, order] = pOn.opN(
        'TopK',
        [probs, pOn.ints([vocab])],
        { axis: -1, largest: 1, sorted: 1 },
        {
          outputs: 2,
          shapes: [
            ['B', vocab],
            ['B', vocab],
          ],
          dtypes: ['float32', 'int64'],
        },
      );
      const before = pOn.sub(pOn.op('CumSum', [sorted, pOn.const('int64', [1], [])]), sorted);
      const keepSorted = pOn.cast(pOn.op('Less', [before, s.topP]), 'float32');
      const keep = pOn.op('ScatterElements', [pOn.op('Mul', [probs, pOn.scalar(0)]), order, keepSorted], {
        axis: 1,
      });
      return pOn.where(pOn.op('Greater', [keep, pOn.scalar(0.5)]), x, pOn.scalar(NEG_INF));
    });

    // The draw: the first token whose cumulative probability exceeds u (sampling.ts drawFrom).
    const cum = d.op('CumSum', [d.softmax(x, -1), d.const('int64', [1], [])]);
    const over = d.cast(d.op('Greater', [cum, d.unsqueeze(u, [1])]), 'float32');
    d.output(argmax(d, over));
  }
  const greedy = b.subgraph('sample_greedy');
  greedy.output(argmax(greedy, logits));
  return b.op(
    'If',
    [s.greedy],
    { then_branch: greedy.graph, else_branch: draw.graph },
    { shapes: [['B']], dtypes: ['int64'] },
  );
}
