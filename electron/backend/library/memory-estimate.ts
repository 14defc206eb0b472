// How much memory a training run needs, from the model's shape alone: a pure function, so the model
// library's "will it fit" (model-fit.ts) and the run estimate (estimates.ts) share one rule without
// the library depending on the engine.
//
// Memory (bytes, float32; weights and activations in 2 bytes where the run computes in half
// precision on a GPU, runtime/precision.ts):
//   weights      4 · P                        P = the base model's parameter count (bf16/fp16 weights
//                                              become one shared f32 copy on the CPU); for an int8/int4
//                                              base, native-runtime/quantize/memory.ts (codes, packed)
//   activations  4 · B · T · (L · (3·d + 2·f + 2·k) + 4·d + 6·f + 2·H·T + 3·V)
//                B batch, T = max length (an upper bound: real batches are as long as their longest
//                example), L layers, d hidden, f MLP size, k the K/V width, H heads, V vocabulary:
//                what each layer keeps for the backward and what the layer being differentiated holds
//                (training/recompute.ts's keptActivationBytes, the trainer's own rule for layer
//                replay, measured there); where the trainer will replay layers, the residual stream
//                L·d instead of L layers' worth; 3·V for the logits, their log-softmax and its gradient.
//   optimizer    16 · A                       A trainable parameters: value, gradient, AdamW m and v
//   int8/int4 on the CPU (quantize/memory.ts quantizedTrainingExtra): packed, Ŵᵀ's codes mapped while
//                the session is made (loadBytes, before any activation: the total counts the larger
//                of it and the step); unpacked, float32 copies of the largest matrix per step
//                (dequantizeBytes)
// The activation term is a rough guide (ORT reuses buffers; the backward pass keeps only some), good
// for "will this fit", not for exact numbers.

import { totalmem } from 'node:os';
import {
  autoBaseForm,
  quantizedTrainingExtra,
  residentWeightBytes,
} from '../../../native-runtime/quantize/memory.ts';
import { hostTrainingProblem } from '../../../native-runtime/runtime/precision.ts';
import { shouldRecompute, stepActivationBytes } from '../../../native-runtime/training/recompute.ts';

export interface MemoryEstimate {
  weightsBytes: number;
  activationBytes: number;
  optimizerBytes: number;
  /** A quantized base on the CPU: what its session holds only while it is made (quantize/memory.ts). */
  loadBytes: number;
  /** A quantized base on the CPU trained unpacked: float32 copies of a weight per step. */
  dequantizeBytes: number;
  /** The trainer will replay each layer in its backward (training/recompute.ts): slower steps. */
  replaysLayers: boolean;
  /**
   * Why runs/start refuses this run (run-memory-check.ts: the engine's own check, on the CPU, of the
   * weights or one step at the data's longest example over the computer's memory), in the studio's
   * words; null when it would start.
   */
  problem: string | null;
  totalBytes: number;
}

/** What the memory of a run depends on in a model: its size and its layers' shape. */
export interface MemoryShape {
  params: number;
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
}

export function memoryEstimate(
  m: MemoryShape,
  batch: number,
  T: number,
  trainable: number,
  base: {
    quantize?: string;
    tied?: boolean;
    /** Half-precision compute on a GPU (runtime/precision.ts): weights and activations in 2 bytes. */
    half?: boolean;
    /** The memory the run lives in (the GPU's on CUDA); default the computer's. */
    memoryBytes?: number;
    /** The GPU API the run trains through (`auto` weighs that GPU's memory); absent: the CPU. */
    gpu?: 'cuda' | 'webgpu' | null;
  } = {},
): MemoryEstimate {
  const memory = base.memoryBytes ?? totalmem();
  const shape = { ...m, tied: base.tied };
  // auto: the form the engine will pick (runtime/precision.ts, the same rule).
  const asked = base.quantize ?? 'none';
  const form =
    asked !== 'auto'
      ? asked
      : autoBaseForm(shape, 'train', {
          device: base.gpu ?? 'cpu',
          memory,
          full: base.half ? 'fp16' : 'none',
        });
  // Half compute stays with a quantized base on a GPU (runtime/precision.ts), not on the CPU.
  const half = !!base.half && (form === 'none' || !!base.gpu);
  const weightsBytes = residentWeightBytes(shape, form, 'train', memory, { gpu: !!base.gpu, half });
  // Kept for the backward: every layer's activations, or one layer's and the residual stream between
  // layers where the trainer replays layers in the backward (training/recompute.ts).
  // Half compute keeps the bulk in 2 bytes (norm statistics and softmax stay float32; a rough figure).
  const bytesPerValue = half ? 2 : 4;
  const w = { batch, tokens: T, bytesPerValue, weightsBytes };
  const replaysLayers = shouldRecompute(m, memory, w);
  const activationBytes = stepActivationBytes(m, w, replaysLayers);
  const optimizerBytes = 16 * trainable;
  // The CPU's packing and dequantizing of a quantized base (a GPU holds the codes as uploaded).
  const extra = base.gpu ? { loadBytes: 0, stepBytes: 0 } : quantizedTrainingExtra(shape, form, memory);
  const stepBytes = activationBytes + optimizerBytes + extra.stepBytes;
  // The engine's own check on the CPU, at the longest a batch can be (it checks the data's longest).
  const problem = base.gpu
    ? null
    : hostTrainingProblem({ ...m, tieEmbeddings: base.tied }, form, memory, {
        batch,
        tokens: T,
      });
  return {
    weightsBytes,
    activationBytes,
    optimizerBytes,
    loadBytes: extra.loadBytes,
    dequantizeBytes: extra.stepBytes,
    replaysLayers,
    problem,
    totalBytes: weightsBytes + Math.max(extra.loadBytes, stepBytes),
  };
}
