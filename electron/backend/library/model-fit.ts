// "What fits": memory a model needs to chat and to train, per form of its weights, from the same
// formulas as the run estimate (memory-estimate.ts, native-runtime/quantize/memory.ts),
// against the memory of each device. Shown before a download (from the Hub's config) and in the
// library (from the folder).
//
// Assumptions, stated so the numbers can be checked:
//   fp32        weights 4·P, activations and KV cache in f32 (the CPU path, whatever the file's dtype)
//   fp16/bf16   weights 2·P, activations and KV cache in half where the device computes in that
//               precision (fp16 on a GPU, bf16 on CUDA from Ampere on: ModelSpec.compute); elsewhere
//               (the CPU) as fp32, since the engine holds a half checkpoint as a float32 store there
//   verdicts    ✓ where the figure fits the device's memory and, on the CPU, the engine would not
//               refuse the run (runtime/precision.ts hostMemoryProblem, hostTrainingProblem)
//   int8/int4   as the engine holds them (blockwise codes + an fp32 scale per 32 weights, packed by
//               ONNX Runtime for chat; training adds the mapped codes where they fit;
//               native-runtime/quantize/memory.ts); activations in f32; training on the CPU also
//               counts its packing's extra (quantizedTrainingExtra), a GPU row does not (the codes
//               are uploaded as stored)
//   chat        weights + the KV cache of a 4096-token conversation (or the model's whole context
//               when shorter) + the logits; in half precision
//               also the q/k/v weights stacked once more (the GPU's fused decoding step,
//               native-runtime/generation/fused-step.ts; ~10% of an 8B Llama)
//   train       weights + activations and optimizer as in estimates.ts for the default run: LoReFT
//               rank 4 at f1+l1 on every layer, batch 4, 512 tokens (or the model's context when
//               shorter, as a run's default max length is); layers replayed in the backward
//               where the device's memory calls for it (the trainer's rule), so each device is judged
//               by its own figure and the row shows the largest device's

import { totalmem } from 'node:os';
import { archOf, tiesEmbeddingsByDefault } from '../../../native-runtime/models/arch.ts';
import { baseWeightBytes } from '../../../native-runtime/quantize/memory.ts';
import { hasBf16Kernels } from '../../../native-runtime/runtime/gpus.ts';
import { hostMemoryProblem } from '../../../native-runtime/runtime/precision.ts';
import { TRAIN_DEFAULTS } from '../../../native-runtime/training/config.ts';
import { type MemoryShape, memoryEstimate } from './memory-estimate.ts';

export type Precision = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'bf16', 'int8', 'int4'];

export interface ModelShape extends MemoryShape {
  /** The LM head is the embedding matrix (counted once in params); unknown when absent. */
  tieEmbeddings?: boolean;
  /** The model's context (max_position_embeddings / n_positions); unknown when absent. */
  maxPositions?: number;
}

export interface FitRow {
  precision: Precision;
  weightsBytes: number;
  chatBytes: number;
  trainBytes: number;
  /** Per device: whether chat and training fit in its memory. */
  fits: { device: string; chat: boolean; train: boolean }[];
}

export interface ModelFit {
  rows: FitRow[];
  /** The devices judged; a GPU's compute capability where known (bf16 rows compute in fp32 before 8.0). */
  devices: FitDevice[];
  assumptions: { chatContext: number; trainBatch: number; trainLength: number; rank: number };
}

const CHAT_CONTEXT = 4096;

/** Resident bytes of the weights in a form, for chatting or training (`memory`: the machine's). */
export function weightBytes(
  shape: ModelShape,
  precision: Precision,
  use: 'chat' | 'train' = 'chat',
  memory = totalmem(),
): number {
  const form = precision === 'fp32' ? 'none' : precision;
  return baseWeightBytes({ ...shape, tied: shape.tieEmbeddings }, form, use, memory);
}

/** A device "what fits" judges: the computer ('cpu') or a GPU, with its memory (device-memory.ts). */
export interface FitDevice {
  device: string;
  memoryBytes: number;
  /** An NVIDIA GPU's compute capability where known: before 8.0 it has no bfloat16 kernels. */
  computeCapability?: string | null;
}

/**
 * Whether `device` computes a checkpoint in `precision` in half precision (runtime/precision.ts
 * computeDtype under --dtype auto): fp16 on a GPU, bf16 on CUDA with bfloat16 kernels. Elsewhere a
 * half checkpoint is held and computed in float32 (the CPU's float32 store, quantize/base.ts).
 */
function computesInHalf(precision: Precision, d: FitDevice): boolean {
  if (precision === 'fp16') return d.device === 'cuda' || d.device === 'webgpu';
  if (precision === 'bf16') return d.device === 'cuda' && hasBf16Kernels(d.computeCapability ?? null);
  return false;
}

/** Memory per precision for chatting and for the default training run, and which devices hold it. */
export function modelFit(
  shape: ModelShape,
  devices: FitDevice[] = [{ device: 'cpu', memoryBytes: totalmem() }],
): ModelFit {
  // A conversation and a training example never run past the model's context.
  const context = (n: number) => Math.min(n, shape.maxPositions ?? n);
  const chatContext = context(CHAT_CONTEXT);
  const T = context(TRAIN_DEFAULTS.maxLength);
  const B = TRAIN_DEFAULTS.batchSize;
  const rank = TRAIN_DEFAULTS.rank;
  // LoReFT per intervention: R (d×r), W (r×d), b (r); f1+l1 untied = two per layer.
  const trainable = 2 * shape.numLayers * (2 * shape.hiddenSize * rank + rank);
  const kv32 = 2 * shape.numLayers * shape.numKvHeads * shape.headDim * chatContext * 4;
  const logits = 4 * shape.vocabSize * 2;
  const qkvParams =
    shape.numLayers * shape.hiddenSize * (shape.numHeads + 2 * shape.numKvHeads) * shape.headDim;
  const largest = devices.reduce((a, b) => (b.memoryBytes > a.memoryBytes ? b : a));
  // One precision on one device, as the engine would run it there: the same run estimate as the
  // train wizard's (estimates.ts) and, on the CPU, the engine's own refusals (runtime/precision.ts).
  const on = (precision: Precision, d: FitDevice) => {
    const half = computesInHalf(precision, d);
    const quantize = precision === 'int8' || precision === 'int4' ? precision : undefined;
    const form = quantize ?? (half ? 'fp16' : 'fp32');
    const weightsBytes = weightBytes(shape, form, 'chat', d.memoryBytes);
    // Half compute keeps the KV cache in 2 bytes, and stacks the q/k/v weights once more.
    const chatBytes = weightsBytes + (half ? 2 * qkvParams + kv32 * 0.5 : kv32) + logits;
    // Training: the device's own layer-replay decision (training/recompute.ts) and path: a GPU holds
    // a quantized base's codes as uploaded, without the CPU's packing (quantizedTrainingExtra).
    const gpu = d.device === 'cuda' || d.device === 'webgpu' ? d.device : null;
    const train = memoryEstimate(shape, B, T, trainable, {
      quantize,
      tied: shape.tieEmbeddings,
      half,
      memoryBytes: d.memoryBytes,
      gpu,
    });
    const hostForm = quantize ?? 'none';
    return {
      weightsBytes,
      chatBytes,
      trainBytes: train.totalBytes,
      chat:
        chatBytes <= d.memoryBytes &&
        (gpu !== null || !hostMemoryProblem(shape, hostForm, 'chat', d.memoryBytes)),
      train: train.totalBytes <= d.memoryBytes && !train.problem,
    };
  };
  const rows = PRECISIONS.map((precision): FitRow => {
    const shown = on(precision, largest);
    return {
      precision,
      weightsBytes: shown.weightsBytes,
      chatBytes: shown.chatBytes,
      trainBytes: shown.trainBytes,
      fits: devices.map((d) => {
        const here = d === largest ? shown : on(precision, d);
        return { device: d.device, chat: here.chat, train: here.train };
      }),
    };
  });
  return {
    rows,
    devices: devices.map(({ device, memoryBytes, computeCapability }) =>
      device === 'cuda'
        ? { device, memoryBytes, computeCapability: computeCapability ?? null }
        : { device, memoryBytes },
    ),
    assumptions: { chatContext, trainBatch: B, trainLength: T, rank },
  };
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * The shape from a Hugging Face config.json (before any weight is downloaded), with the parameter
 * count from the Hub's safetensors metadata when known, else computed from the shape. Null when the
 * config lacks the sizes.
 */
export function shapeFromConfig(config: Record<string, unknown>, params: number | null): ModelShape | null {
  const c =
    typeof config.text_config === 'object' && config.text_config
      ? (config.text_config as Record<string, unknown>)
      : config;
  const d = num(c.hidden_size) ?? num(c.n_embd);
  const L = num(c.num_hidden_layers) ?? num(c.n_layer);
  const H = num(c.num_attention_heads) ?? num(c.n_head);
  const V = num(c.vocab_size);
  if (!d || !L || !H || !V) return null;
  const f = num(c.intermediate_size) ?? num(c.n_inner) ?? 4 * d;
  const kvH = num(c.num_key_value_heads) ?? H;
  const headDim = num(c.head_dim) ?? d / H;
  const maxPositions = num(c.max_position_embeddings) ?? num(c.n_positions) ?? undefined;
  // Absent, it is the family's default (transformers: untied for Llama, Mistral and Qwen, tied for
  // Gemma and GPT-2; PretrainedConfig's true for a family the engine does not know).
  const arch = typeof c.model_type === 'string' ? archOf(c.model_type) : undefined;
  const tied =
    typeof c.tie_word_embeddings === 'boolean'
      ? c.tie_word_embeddings
      : arch
        ? tiesEmbeddingsByDefault(arch)
        : true;
  const mlpMats = num(c.n_embd) ? 2 : 3;
  const perLayer = d * headDim * (H + 2 * kvH) + H * headDim * d + mlpMats * d * f + 2 * d;
  const computed = L * perLayer + V * d * (tied ? 1 : 2) + d;
  return {
    params: params ?? computed,
    tieEmbeddings: tied,
    numLayers: L,
    hiddenSize: d,
    intermediateSize: f,
    numHeads: H,
    numKvHeads: kvH,
    headDim,
    vocabSize: V,
    ...(maxPositions ? { maxPositions } : {}),
  };
}
