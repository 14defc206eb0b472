// Causal-LM cross-entropy as a graph fragment, the Hugging Face way: logits at t predict labels at
// t+1, labels −100 are ignored, the mean is over every supervised token of the micro-batch.
// Built from ReduceLogSumExp/GatherElements/Sub (no SoftmaxCrossEntropyLoss: WebGPU lacks it).

import type { GraphBuilder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';
import { scalarLike } from '../models/layers.ts';

/** logits (B, T, V) float32, labels (B, T) int64 → scalar loss (shape []). */
export function causalLmLoss(b: GraphBuilder, logits: Value, labels: Value): Value {
  const z = b.slice(logits, [0], [-1], [1]); // (B, T−1, V)
  const y = b.slice(labels, [1], [Number.MAX_SAFE_INTEGER], [1]); // (B, T−1)
  const valid = b.op('Not', [b.op('Equal', [y, b.const('int64', [-100], [])])]);
  const yClamped = b.where(valid, y, b.const('int64', [0], []));
  const picked = b.squeeze(b.op('GatherElements', [z, b.unsqueeze(yClamped, [-1])], { axis: -1 }), [-1]); // (B, T−1)
  const lse = b.op('ReduceLogSumExp', [z, b.ints([-1])], { keepdims: 0 }); // (B, T−1)
  const mask = b.cast(valid, 'float32');
  const total = b.reduceSum(b.mul(b.sub(lse, picked), mask), [0, 1], false);
  const count = b.op('Max', [b.reduceSum(mask, [0, 1], false), b.scalar(1)]);
  return b.div(total, count);
}

/**
 * The same loss computed from the final hidden states h (B, T, D), applying the LM head only at the
 * K positions that have a label to predict: training never spends the (T × V × D) head product, nor
 * its backward, on prompt tokens.
 */
export function supervisedLmLoss(
  b: GraphBuilder,
  h: Value,
  head: (b: GraphBuilder, x: Value) => Value,
  labels: Value,
): Value {
  const D = h.shape[2] as number;
  const hPrev = b.reshape(b.slice(h, [0], [-1], [1]), [-1, D], ['M', D]); // B·(T−1) rows that predict t+1
  const y = b.reshape(b.slice(labels, [1], [Number.MAX_SAFE_INTEGER], [1]), [-1], ['M']);
  const valid = b.op('Not', [b.op('Equal', [y, b.const('int64', [-100], [])])]);
  const idx = b.reshape(b.op('NonZero', [valid], {}, { shapes: [[1, 'K']], dtypes: ['int64'] }), [-1], ['K']);
  const z = head(b, b.gather(hPrev, idx)); // (K, V)
  const yK = b.unsqueeze(b.gather(y, idx), [-1]); // (K, 1)
  const picked = b.squeeze(b.op('GatherElements', [z, yK], { axis: -1 }), [-1]);
  const lse = b.op('ReduceLogSumExp', [z, b.ints([-1])], { keepdims: 0 });
  const nll = b.sub(lse, picked); // (K)
  // One zero more, so the sum never reduces an empty tensor: ORT's CUDA ReduceSum leaves an empty
  // input's output unwritten, and a batch without labels would report whatever the buffer held.
  const terms = b.concat([nll, b.reshape(scalarLike(b, 0, nll), [1], [1])], 0, ['?']);
  const total = b.reduceSum(terms, [0], false);
  const count = b.op('Max', [b.cast(b.shapeOf(idx), 'float32'), b.scalar(1)]);
  return b.div(total, b.reshape(count, [], []));
}
