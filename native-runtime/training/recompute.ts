// Whether a training graph recomputes each layer in its backward (autodiff/backward.ts, checkpoints at
// the residual stream between layers) instead of keeping the layer's activations from the forward.
// Recomputing costs one more forward pass of the intervened layers per step (+25–50% step time measured
// on the TinyLlama shape) and keeps one layer's activations at a time instead of all of them: the
// TinyLlama shape in float32 at 4 × 512 peaks at 8.7 GB RSS keeping them, 5.9 GB replaying (61.3 vs
// 48.2 tok/s on 2 cores). So it is chosen only where keeping them would take a large share of the memory.

import { totalmem } from 'node:os';
import { byteSize } from '../byte-size.ts';
import type { ModelSpec } from '../models/config.ts';
import { baseWeightBytes, HOST_WEIGHTS_SHARE, quantizedTrainingExtra } from '../quantize/memory.ts';
import { MEMORY_CHECK_HINT, memoryCheckSkipped } from '../runtime/memory-check.ts';
import type { OptionIssue } from './options.ts';

/** What the decision reads of a model (estimates pass a shape from config.json, not a loaded spec). */
export type ModelShape = Pick<
  ModelSpec,
  'hiddenSize' | 'intermediateSize' | 'numHeads' | 'numKvHeads' | 'headDim' | 'numLayers'
>;

/** What the host memory checks read of a model: a loaded spec, or "what fits"'s shape from a config. */
export type HostShape = ModelShape & {
  params: number;
  vocabSize: number;
  tieEmbeddings?: boolean;
};

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
 * Values per token one layer keeps for its backward: 3·d + 2·f + 2·k (the two norms' inputs, q, K and
 * V, the MLP's gate and up). σ(gate), SiLU, x / rms and the attention probabilities are recomputed in
 * the backward and the shapes it needs are rebuilt from the graph inputs (passes/,
 * tests/training/kept-activations.test.ts), so nothing T×T stays per layer.
 */
export function keptLayerValues(spec: ModelShape): number {
  return 3 * spec.hiddenSize + 2 * spec.intermediateSize + 2 * spec.numKvHeads * spec.headDim;
}

/**
 * Values per token the layer whose backward is running holds besides: the MLP's gradients and
 * recomputed values (~6 intermediate-sized), ~4 hidden-sized, and its attention scores and
 * probabilities against every position.
 */
export function layerWorkspaceValues(spec: ModelShape, tokens: number): number {
  return 4 * spec.hiddenSize + 6 * spec.intermediateSize + 2 * spec.numHeads * tokens;
}

/**
 * Bytes of activations a backward holds keeping every layer's (logits aside). Measured on the CPU
 * (float32, LoReFT on every layer; peak RSS keeping minus replaying against the same difference here,
 * or batch 3 minus batch 1): TinyLlama 4 × 512 1.0× this, the Llama-3-8B shape at int4 1 × 256 1.3×,
 * cut to 8 layers at 256 tokens 1.0×.
 */
export function keptActivationBytes(spec: ModelShape, w: Workload = DEFAULT_WORKLOAD): number {
  const perToken = spec.numLayers * keptLayerValues(spec) + layerWorkspaceValues(spec, w.tokens);
  return (w.bytesPerValue ?? 4) * w.batch * w.tokens * perToken;
}

/** The same replaying layers: the residual stream between layers, and one layer at a time. */
export function replayedActivationBytes(spec: ModelShape, w: Workload = DEFAULT_WORKLOAD): number {
  const perToken =
    spec.numLayers * spec.hiddenSize + keptLayerValues(spec) + layerWorkspaceValues(spec, w.tokens);
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
 * Llama-3-8B in bf16 (16 GB of weights): batch 1 × 512 (1.6 GB kept) kept on a 24 GB GPU; batch 4 × 512
 * (6.2 GB) replayed there, kept on 48 GB. TinyLlama in float32 on a 24 GB computer: 4 × 512 (3.8 GB)
 * kept, 8 × 512 (7.7 GB) replayed. REFT_STUDIO_RECOMPUTE=1/0 forces it either way.
 */
export function shouldRecompute(
  spec: ModelShape,
  memoryBytes = totalmem(),
  w: Workload = DEFAULT_WORKLOAD,
): boolean {
  return recomputeForced() ?? keptActivationBytes(spec, w) > (memoryBytes - (w.weightsBytes ?? 0)) / 3;
}

/**
 * Bytes of activations one training step holds: what the layers keep (or, replaying, the residual
 * stream and one layer's) and the logits, their log-softmax and its gradient (3·V a token). The run
 * estimate and the trainer's memory check read this one figure.
 */
export function stepActivationBytes(
  spec: ModelShape & { vocabSize: number },
  w: Workload,
  replays: boolean,
): number {
  const layers = replays ? replayedActivationBytes(spec, w) : keptActivationBytes(spec, w);
  return layers + (w.bytesPerValue ?? 4) * w.batch * w.tokens * 3 * spec.vocabSize;
}

/**
 * Why a training step of `w` cannot fit in `memoryBytes` (the share weights may take) beside the
 * weights even replaying every layer (the least it can hold), or null. On the CPU nothing else stops
 * such a run: Linux hands out the memory on demand, and the step is killed by the OOM killer minutes
 * later with no message. The largest batch that fits is named: gradient accumulation keeps the
 * effective batch. Worded for the Train wizard (`message`, naming its fields) and the CLI (`cli`).
 */
export function stepMemoryIssue(
  spec: ModelShape & { vocabSize: number },
  memoryBytes: number,
  w: Workload & { weightsBytes: number; quantized?: { loadBytes: number; stepBytes: number } },
): OptionIssue | null {
  // The share base weights may take (runtime/precision.ts): the rest is the system's and the studio's.
  const room = HOST_WEIGHTS_SHARE * memoryBytes;
  // A quantized base's extra (quantize/memory.ts quantizedTrainingExtra): while the session is made
  // (before any activation; packing is chosen only where this fits), and per step.
  const { loadBytes, stepBytes } = w.quantized ?? { loadBytes: 0, stepBytes: 0 };
  const need = w.weightsBytes + Math.max(loadBytes, stepActivationBytes(spec, w, true) + stepBytes);
  if (need <= room) return null;
  const perSequence = stepActivationBytes(spec, { ...w, batch: 1 }, true);
  const maxBatch = Math.floor((room - w.weightsBytes - stepBytes) / perSequence);
  const change: Pick<OptionIssue, 'field' | 'message' | 'cli'> =
    maxBatch >= 1
      ? {
          field: 'batchSize',
          message: `choose a batch size of at most ${maxBatch} (gradient accumulation keeps the effective batch) or a shorter max length`,
          cli: `use a batch size of at most ${maxBatch} (gradient accumulation keeps the effective batch) or a shorter maximum length`,
        }
      : w.quantized // the base is quantized already
        ? {
            field: 'maxLength',
            message: 'choose a shorter max length or a smaller model',
            cli: 'use a shorter maximum length or a smaller model',
          }
        : {
            field: 'quantize',
            message: 'choose 8-bit or 4-bit base weights or a shorter max length',
            cli: 'use a shorter maximum length or a quantized base (int8 or int4)',
          };
  const why =
    `a training step of ${w.batch} × ${w.tokens} tokens needs about ${byteSize(need)} (${byteSize(w.weightsBytes)} of weights), ` +
    `more than this computer's ${byteSize(memoryBytes)} of memory can hold: `;
  return {
    field: change.field,
    code: 'batch-too-large',
    message: why + change.message,
    cli: `${why}${change.cli} ${MEMORY_CHECK_HINT}`,
  };
}

/**
 * stepMemoryIssue for a model whose base is in `form` ('none', 'fp16', 'int8', 'int4') on the CPU:
 * the weights as the engine holds them there and a quantized base's extra. The trainer's check
 * (trainer.ts refuseStepOverMemory, in both wordings), and the run estimate's and
 * "what fits"'s through runtime/precision.ts hostTrainingIssue.
 */
export function hostStepIssue(
  spec: HostShape,
  form: string,
  memoryBytes: number,
  w: { batch: number; tokens: number },
): OptionIssue | null {
  if (memoryCheckSkipped()) return null;
  const shape = { ...spec, tied: spec.tieEmbeddings };
  return stepMemoryIssue(spec, memoryBytes, {
    ...w,
    weightsBytes: baseWeightBytes(shape, form, 'train', memoryBytes),
    quantized: quantizedTrainingExtra(shape, form, memoryBytes),
  });
}

/** hostStepIssue in the CLI's words (the engine's refusal), or null. */
export function hostStepProblem(
  spec: HostShape,
  form: string,
  memoryBytes: number,
  w: { batch: number; tokens: number },
): string | null {
  return hostStepIssue(spec, form, memoryBytes, w)?.cli ?? null;
}
