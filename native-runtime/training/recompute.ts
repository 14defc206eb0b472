// Whether a training graph recomputes each layer in its backward (autodiff/backward.ts, checkpoints at
// the residual stream between layers) instead of keeping the layer's activations from the forward.
// Recomputing costs one more forward pass of the intervened layers per step (~+35% step time measured
// on the TinyLlama shape) and keeps one layer's activations at a time instead of all of them: the
// Llama-3-8B shape at int4 (all layers, 1×256) kept 5.9 GB of activations. So it is chosen only where
// keeping them would take a large share of the machine's memory.

import { totalmem } from 'node:os';
import type { ModelSpec } from '../models/config.ts';

/** What the decision reads of a model (estimates pass a shape from config.json, not a loaded spec). */
export type ModelShape = Pick<ModelSpec, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numLayers'>;

/** Context the estimate assumes: one sequence of this many tokens. */
const ESTIMATE_TOKENS = 512;

/**
 * Rough bytes of float32 activations a backward keeps for all layers and one sequence of `tokens`:
 * per token and layer, ~6 hidden-sized values (norm inputs, q, attention output, residuals), ~4
 * MLP-sized ones (gate, up, their product, the activation) and the attention scores and probabilities
 * against every position.
 */
export function keptActivationBytes(spec: ModelShape, tokens = ESTIMATE_TOKENS): number {
  const perToken = 6 * spec.hiddenSize + 4 * spec.intermediateSize + 2 * spec.numHeads * tokens;
  return 4 * perToken * tokens * spec.numLayers;
}

/**
 * Recompute when the kept activations would exceed a quarter of the memory they live in: the
 * machine's, or the GPU's on CUDA (reft-model.ts passes it). The 8B shape on a 24 GB machine or GPU:
 * yes; on an 80 GB+ GPU: no; TinyLlama: no. REFT_STUDIO_RECOMPUTE=1/0 forces it either way.
 */
export function shouldRecompute(spec: ModelShape, memoryBytes = totalmem()): boolean {
  const env = process.env.REFT_STUDIO_RECOMPUTE;
  if (env === '1' || env === '0') return env === '1';
  return keptActivationBytes(spec) > memoryBytes / 4;
}
