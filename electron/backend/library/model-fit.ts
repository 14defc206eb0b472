// "What fits": memory a model needs to chat and to train, per form of its weights, from the same
// formulas as the run estimate (estimates.ts memoryEstimate, native-runtime/quantize/memory.ts),
// against the memory of each device. Shown before a download (from the Hub's config) and in the
// library (from the folder).
//
// Assumptions, stated so the numbers can be checked:
//   fp32        weights 4·P, activations and KV cache in f32 (the CPU path, whatever the file's dtype)
//   fp16/bf16   weights 2·P, activations and KV cache in half (the GPU path, ModelSpec.compute)
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
import { baseWeightBytes, HOST_WEIGHTS_SHARE } from '../../../native-runtime/quantize/memory.ts';
import { TRAIN_DEFAULTS } from '../../../native-runtime/training/config.ts';
import { memoryEstimate } from './estimates.ts';

export type Precision = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'bf16', 'int8', 'int4'];

export interface ModelShape {
  params: number;
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
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
  devices: { device: string; memoryBytes: number }[];
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
  return Math.round(baseWeightBytes({ ...shape, tied: shape.tieEmbeddings }, form, use, memory));
}

/** Memory per precision for chatting and for the default training run, and which devices hold it. */
export function modelFit(
  shape: ModelShape,
  devices = [{ device: 'cpu', memoryBytes: totalmem() }],
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
  const memory = largest.memoryBytes;
  const rows = PRECISIONS.map((precision): FitRow => {
    // Half-precision compute keeps activations and the KV cache in 2 bytes too.
    const half = precision === 'fp16' || precision === 'bf16';
    const w = weightBytes(shape, precision, 'chat', memory);
    const chatBytes = w + (half ? 2 * qkvParams + kv32 * 0.5 : kv32) + logits;
    // Training on a device: its own layer-replay decision (training/recompute.ts) for these weights,
    // and its own path: a GPU holds a quantized base's codes as uploaded, without the CPU's packing
    // or dequantized copies (quantize/memory.ts quantizedTrainingExtra).
    const trainOn = (d: { device: string; memoryBytes: number }) =>
      memoryEstimate(shape, B, T, trainable, {
        quantize: precision === 'int8' || precision === 'int4' ? precision : undefined,
        tied: shape.tieEmbeddings,
        half,
        memoryBytes: d.memoryBytes,
        gpu: d.device === 'cuda' || d.device === 'webgpu' ? d.device : null,
      }).totalBytes;
    return {
      precision,
      weightsBytes: w,
      chatBytes,
      trainBytes: trainOn(largest),
      fits: devices.map((d) => ({
        device: d.device,
        // The CPU also refuses weights over its share of the memory (runtime/precision.ts).
        chat: chatBytes <= d.memoryBytes && (d.device !== 'cpu' || w <= HOST_WEIGHTS_SHARE * d.memoryBytes),
        train: trainOn(d) <= d.memoryBytes,
      })),
    };
  });
  return {
    rows,
    devices,
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
