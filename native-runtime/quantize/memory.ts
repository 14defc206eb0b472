// How much memory a base model's weights take while the engine runs, per form, for the library's
// "what fits" table and the run estimate. No Node imports (the renderer may use it).
//
//   none        4 bytes per weight (an fp32 checkpoint read in place, or the fp32 store a fp16/bf16
//               checkpoint becomes on the CPU); shared by every session of a process
//   fp16/bf16   2 bytes per weight: a half checkpoint computed in half precision on a GPU
//               (runtime/precision.ts)
//   int8/int4   the store (and their block spellings, int4-b64, int8-b128-zp: scheme.ts): linear
//               layers at bits/8 + 4/block bytes per weight (codes and an fp32 scale per block, and
//               a zero point's bits/block where asked), the LM head at 8 bits, the embeddings in the checkpoint's dtype
//               but read row by row (only the tokens seen become resident: not counted)
//     chat      ONNX Runtime packs the codes for its int8 kernels: ≈1.14× (8-bit) / 1.2× (4-bit) of
//               the codes, private to the session (measured: native-runtime/quantize/base.ts)
//     training  the forward codes packed as for chat plus Ŵᵀ's int8 codes packed (the backward pass,
//               backward-store.ts), and both layouts' scales, which stay mapped beside their packed
//               copies (4/32 bytes per weight each); or, where that would take more than a third of
//               the machine's memory, only the mapped codes (slower)
//     CPU training also holds, besides the weights (quantizedTrainingExtra): while the session is
//               made, Ŵᵀ's mapped codes (1 byte per weight) until every weight is packed; unpacked,
//               float32 copies of the largest matrix during steps

import { BACKWARD_SCHEME, headScheme, parseQuantize, type QuantScheme } from './scheme.ts';

export interface WeightShape {
  params: number;
  hiddenSize: number;
  vocabSize: number;
  /** The LM head is the embedding matrix (counted once in params). */
  tied?: boolean;
  /** The MLP's width: its matrices may be larger than the LM head (quantizedTrainingExtra). */
  intermediateSize?: number;
}

const PACKED = { 4: 1.2, 8: 1.14 } as const;

/**
 * A form's quantization: null for the float forms ('none', 'fp32', 'fp16', 'bf16'), else the scheme
 * of 'int8', 'int4-b64', … (an unknown form throws parseQuantize's error rather than being sized as
 * something it is not).
 */
function schemeOf(form: string): QuantScheme | null {
  return form === 'none' || form === 'fp32' || form === 'fp16' || form === 'bf16'
    ? null
    : parseQuantize(form);
}

/**
 * A figure of bytes as a whole number: the per-weight rates above (1.125 bytes, the 1.14× packing)
 * make fractions, which mean nothing and would reach the estimates, "what fits" and every --json
 * output (7441348136.96 bytes).
 */
function wholeBytes(n: number): number {
  return Math.round(n);
}

/** Bytes a weight takes in a scheme's blocks: its code, its block's fp32 scale and zero point. */
function bytesPerWeight(s: QuantScheme): number {
  return s.bits / 8 + 4 / s.blockSize + (s.zeroPoints ? s.bits / 8 / s.blockSize : 0);
}

/**
 * Largest matrix (elements) read by one MatMulNBits node. Where the kernels cannot use their packed
 * layout (a training session that does not pre-pack, see base.ts) and in the backward pass, a weight
 * is dequantized whole into float32 for its product: 2^26 elements keeps that buffer at 256 MB
 * (Llama-3-8B's LM head alone would be 2.1 GB), so larger matrices are split by rows.
 */
export const MAX_DEQUANTIZED_ELEMENTS = 2 ** 26;

/**
 * The share of the computer's memory base weights may take on the CPU (runtime/precision.ts refuses
 * more; "what fits" says so): the rest is for the system, the studio and the activations.
 */
export const HOST_WEIGHTS_SHARE = 0.9;

/**
 * The share of a GPU's memory the checkpoint's weights may take for `auto` to keep them there
 * (runtime/precision.ts): the rest holds the activations or KV cache, CUDA's own context (~0.5 GB)
 * and ONNX Runtime's workspace. Lower than the CPU's share: a GPU cannot page.
 */
export const GPU_WEIGHTS_SHARE = 0.8;

/**
 * What the `auto` form means on the CPU: the float weights (`full`: 'none' = float32, or 'fp16')
 * where they fit in the CPU's share of `memory`, else the first quantized form that does (int8,
 * then int4); int4 when none does (the engine then says the model cannot fit).
 */
export function hostAutoForm(
  s: WeightShape,
  use: 'chat' | 'train',
  memory: number,
  full: 'none' | 'fp16' = 'none',
): 'none' | 'int8' | 'int4' {
  const bytes = (f: string) => baseWeightBytes(s, f, use, memory);
  if (bytes(full) <= HOST_WEIGHTS_SHARE * memory) return 'none';
  return bytes('int8') <= HOST_WEIGHTS_SHARE * memory ? 'int8' : 'int4';
}

/**
 * What the `auto` form means on a GPU of `memory` bytes: the checkpoint's weights as the GPU will
 * hold them (`full`: 'fp16' = half precision read in place, 'none' = float32) where they fit in
 * GPU_WEIGHTS_SHARE of it, else int8, else int4 (blockwise codes through MatMulNBits, which has CUDA
 * kernels) — an 8B bf16 model on a 12 GB card runs in 8 bits instead of failing to allocate.
 */
export function gpuAutoForm(
  s: WeightShape,
  use: 'chat' | 'train',
  memory: number,
  full: 'none' | 'fp16',
): 'none' | 'int8' | 'int4' {
  const bytes = (f: string) => gpuWeightBytes(s, f, use, memory, full === 'none' ? 4 : 2);
  if (bytes(full) <= GPU_WEIGHTS_SHARE * memory) return 'none';
  return bytes('int8') <= GPU_WEIGHTS_SHARE * memory ? 'int8' : 'int4';
}

/**
 * Bytes of the base weights in the memory of a GPU of `memory` bytes: float at 2 or 4 bytes;
 * quantized, the store's codes as they are (the CPU's packing for its int8 kernels does not happen
 * there) and the embeddings at `embedBytes` (every initializer is uploaded); to train, Ŵᵀ's int8
 * codes too where the trainer packs (the same rule as the CPU's, against the GPU's memory:
 * runtime/precision.ts), else the backward dequantizes the forward's codes.
 */
export function gpuWeightBytes(
  s: WeightShape,
  form: string,
  use: 'chat' | 'train',
  memory: number,
  embedBytes: number,
): number {
  const q = schemeOf(form);
  if (!q) return (form === 'none' || form === 'fp32' ? 4 : 2) * s.params;
  const codes = storeBytesOf(s, q, embedBytes);
  return use === 'train' && trainingPacks(s, q, memory)
    ? wholeBytes(codes + parts(s).linear * bytesPerWeight(BACKWARD_SCHEME))
    : codes;
}

/**
 * Bytes of the base weights where a run keeps them: on a GPU as uploaded (gpuWeightBytes), on the
 * CPU as the engine holds them (baseWeightBytes); `half`: unquantized weights (and a quantized
 * base's embeddings on a GPU) at two bytes. One reading for the run estimate, the Base weights
 * choice, `models inspect` and layer replay.
 */
export function residentWeightBytes(
  s: WeightShape,
  form: string,
  use: 'chat' | 'train',
  memory: number,
  at: { gpu: boolean; half: boolean },
): number {
  const f = form === 'none' && at.half ? 'fp16' : form;
  return at.gpu ? gpuWeightBytes(s, f, use, memory, at.half ? 2 : 4) : baseWeightBytes(s, f, use, memory);
}

/**
 * Whether a checkpoint stored in `dtype` (config.json's torch_dtype: bfloat16, float16, …) computes
 * in half precision on a GPU under --dtype auto, as runtime/precision.ts computeDtype decides: fp16
 * on CUDA and WebGPU, bf16 on CUDA where the GPU has bfloat16 kernels (`bf16`, Ampere on). For the
 * readers without a loaded model: `models inspect`, the Base weights choice.
 */
export function halfOnGpu(dtype: string, gpu: { api: 'cuda' | 'webgpu'; bf16?: boolean }): boolean {
  if (/^(float16|fp16)$/.test(dtype)) return true;
  return gpu.api === 'cuda' && gpu.bf16 !== false && /^(bfloat16|bf16)$/.test(dtype);
}

/** Where a run's base weights will live, as `auto` weighs it. */
export interface AutoPlace {
  device: 'cpu' | 'cuda' | 'webgpu';
  /** That device's memory in bytes; null where unknown (a GPU nvidia-smi did not report). */
  memory: number | null;
  /** The weights there unquantized: 'none' = float32, 'fp16' = two bytes (half compute or fp16 asked). */
  full: 'none' | 'fp16';
}

/**
 * The form `auto` resolves to (runtime/precision.ts decides with it; the run estimate and the
 * wizard count with it): the CPU's rule on the CPU, the GPU's on CUDA and WebGPU; the checkpoint's
 * own weights where the memory is not known.
 */
export function autoBaseForm(s: WeightShape, use: 'chat' | 'train', at: AutoPlace): 'none' | 'int8' | 'int4' {
  if (at.memory === null) return 'none';
  return at.device === 'cpu'
    ? hostAutoForm(s, use, at.memory, at.full)
    : gpuAutoForm(s, use, at.memory, at.full);
}

function parts(s: WeightShape): { embed: number; head: number; linear: number } {
  const embed = s.vocabSize * s.hiddenSize;
  const head = embed;
  const linear = Math.max(0, s.params - embed - (s.tied === false ? head : 0));
  return { embed, head, linear };
}

/** Bytes of a scheme's store on disk (and mapped when every tensor is read); embeddings at `embedBytes`. */
export function storeBytesOf(s: WeightShape, q: QuantScheme, embedBytes = 2): number {
  const { embed, head, linear } = parts(s);
  return wholeBytes(linear * bytesPerWeight(q) + head * bytesPerWeight(headScheme(q)) + embed * embedBytes);
}

/**
 * Resident bytes of the base weights in `form` ('none' | 'fp16' | 'bf16' | 'int8' | 'int4-b64' | …), for
 * chatting (inference sessions) or training; `totalMemory` decides whether training packs (see the
 * header).
 */
export function baseWeightBytes(
  s: WeightShape,
  form: string,
  use: 'chat' | 'train',
  totalMemory = Number.POSITIVE_INFINITY,
): number {
  const q = schemeOf(form);
  if (!q) return (form === 'fp16' || form === 'bf16' ? 2 : 4) * s.params;
  const { head, linear } = parts(s);
  const codes = storeBytesOf(s, q, 0); // the head's codes mapped, the embeddings read by row
  const packed =
    linear * bytesPerWeight(q) * PACKED[q.bits] + head * bytesPerWeight(headScheme(q)) * PACKED[8];
  if (use === 'chat') return wholeBytes(packed);
  // Packed, MatMulNBits keeps its scales input mapped beside the packed copy: both layouts' scales.
  const scales = linear * (4 / q.blockSize + 4 / BACKWARD_SCHEME.blockSize);
  return trainingPacks(s, q, totalMemory) ? wholeBytes(packedTrainingBytesOf(s, q) + scales) : codes;
}

/**
 * What a CPU training session on an int8/int4 base holds besides its weights (baseWeightBytes), in
 * bytes; 0 for float bases. Measured on the TinyLlama shape at int8 (peak RSS, 2 × 64 and 8 × 64):
 *   loadBytes  packed: Ŵᵀ's int8 codes stay mapped until the session has packed every weight (ORT
 *              releases them together), 1 byte per linear weight, before any activation exists —
 *              the run's peak for small batches (3.8 GB where weights + activations are 2.8 GB)
 *   stepBytes  unpacked: MatMulNBits' float32 copy of the weight it dequantizes per call and the
 *              gradient's DequantizeLinear output, each up to the largest matrix (at most
 *              MAX_DEQUANTIZED_ELEMENTS), both kept by ORT's arena between steps
 */
export function quantizedTrainingExtra(
  s: WeightShape,
  form: string,
  totalMemory = Number.POSITIVE_INFINITY,
): { loadBytes: number; stepBytes: number } {
  const q = schemeOf(form);
  if (!q) return { loadBytes: 0, stepBytes: 0 };
  if (trainingPacks(s, q, totalMemory)) return { loadBytes: parts(s).linear, stepBytes: 0 };
  return { loadBytes: 0, stepBytes: 2 * 4 * Math.min(largestMatrix(s), MAX_DEQUANTIZED_ELEMENTS) };
}

/** Elements of the largest quantized matrix: the LM head, or an MLP matrix where that is larger. */
function largestMatrix(s: WeightShape): number {
  return s.hiddenSize * Math.max(s.vocabSize, s.intermediateSize ?? 0);
}

/** A training session's packed weights: the forward codes and Ŵᵀ's int8 codes packed, the head's mapped (base.ts). */
function packedTrainingBytesOf(s: WeightShape, q: QuantScheme): number {
  const { head, linear } = parts(s);
  return (
    linear * bytesPerWeight(q) * PACKED[q.bits] +
    linear * bytesPerWeight(BACKWARD_SCHEME) * PACKED[8] +
    head * bytesPerWeight(headScheme(q))
  );
}

/**
 * Whether training on a quantized base packs it, with Ŵᵀ's codes for the backward (base.ts
 * prepareTraining): where that takes at most a third of the memory the weights live in.
 */
function trainingPacks(s: WeightShape, q: QuantScheme, memory: number): boolean {
  return packedTrainingBytesOf(s, q) <= memory / 3;
}
