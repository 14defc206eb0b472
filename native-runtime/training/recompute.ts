// Whether a training graph recomputes each layer in its backward (autodiff/backward.ts, checkpoints at
// the residual stream between layers) instead of keeping the layer's activations from the forward.
// Recomputing costs one more forward pass of the intervened layers per step (+35–50% step time measured
// on the TinyLlama shape) and keeps one layer's activations at a time instead of all of them: the
// Llama-3-8B shape at int4 (all layers, 1×256) peaks 4.9 GB higher keeping them (12.3 vs 7.4 GB RSS).
// So it is chosen only where keeping them would take a large share of the memory.

import { totalmem } from 'node:os';
import type { ModelSpec } from '../models/config.ts';

/** What the decision reads of a model (estimates pass a shape from config.json, not a loaded spec). */
export type ModelShape = Pick<ModelSpec, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numLayers'>;

/** One optimizer step's micro-batch (batch × tokens) and what else the memory holds. */
export interface Workload {
  batch: number;
  tokens: number;
  /** 2 for half-precision compute (runtime/precision.ts), else 4. */
  bytesPerValue?: number;
  /** The base weights' resident bytes in the same memory (quantize/memory.ts), if known. */
  weightsBytes?: number;
}

/** Without a known workload (a graph built outside a run): one sequence of 512 tokens in float32. */
const DEFAULT_WORKLOAD: Workload = { batch: 1, tokens: 512 };

/**
 * Values one layer keeps per token for its backward: ~10 hidden-sized ones (the residual stream,
 * norms, q/k/v/o and their gradients), 3 MLP-sized ones (gate, up, the activation) and the attention
 * scores and probabilities against every position. The one formula behind the trainer's decision
 * and the run estimate (electron/backend/library/estimates.ts). Measured on the CPU (fp32, peak RSS of
 * batch 2 minus batch 1, so weights and code cancel; hidden 1024 × 8 layers and 2048 × 4, 128–512
 * tokens, `bench train` LoReFT f5+l5 on every layer): 0.9–1.4× this plus the logits' 3·V, 1.0–1.15× at
 * 512 tokens; replaying layers, 0.8–1.3× one layer's plus the residual stream. The Llama-3-8B shape at
 * int4, 1 × 256 (peak RSS kept 12.3 GB, replayed 7.4 GB): 4.9 GB against 3.2 GB here, which the
 * rule's margin (a third) absorbs; not the quantized base's doing (at hidden 1024 an extra 256-token
 * sequence costs the same in int4 and fp32: 374 and 370 MB).
 */
export function layerActivationValues(spec: ModelShape, tokens: number): number {
  return 10 * spec.hiddenSize + 3 * spec.intermediateSize + 2 * spec.numHeads * tokens;
}

/** Bytes of activations a backward keeps for every layer (no replay), logits aside. */
export function keptActivationBytes(spec: ModelShape, w: Workload = DEFAULT_WORKLOAD): number {
  const perToken = spec.numLayers * layerActivationValues(spec, w.tokens);
  return (w.bytesPerValue ?? 4) * w.batch * w.tokens * perToken;
}

/** REFT_STUDIO_RECOMPUTE=1/0: replay forced on or off, else null (the rule decides). */
export function recomputeForced(): boolean | null {
  const env = process.env.REFT_STUDIO_RECOMPUTE;
  return env === '1' || env === '0' ? env === '1' : null;
}

/**
 * Recompute when the kept activations would exceed a third of the memory the weights leave: the
 * machine's, or the GPU's on CUDA or WebGPU (reft-model.ts passes it), for the run's own batch and length.
 * Llama-3-8B in bf16 (16 GB of weights), batch 1 × 512 (3.8 GB kept): replayed on a 24 GB GPU, kept on
 * 48 GB; batch 4 × 512 (15 GB): kept on an 80 GB GPU. TinyLlama in float32 on a 24 GB computer: 1 × 512
 * (3.2 GB) kept, 8 × 512 (25 GB) replayed. REFT_STUDIO_RECOMPUTE=1/0 forces it either way.
 */
export function shouldRecompute(
  spec: ModelShape,
  memoryBytes = totalmem(),
  w: Workload = DEFAULT_WORKLOAD,
): boolean {
  return recomputeForced() ?? keptActivationBytes(spec, w) > (memoryBytes - (w.weightsBytes ?? 0)) / 3;
}
