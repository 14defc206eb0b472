// The forms a frozen base model's weights can take in memory, and their names as the CLI, the
// library and run records spell them:
//   none   the checkpoint's own weights (fp32 files read in place; on CPU, fp16/bf16 files become
//          one shared fp32 copy in the data folder, since ORT's CPU provider has no half kernels)
//   int8   8-bit blockwise weights for every linear layer (MatMulNBits), block 32
//   int4   4-bit blockwise weights, block 32; the LM head stays at 8 bits (see store.ts)
// Longer spellings choose the block (int4-b64, int4-b128) and asymmetric blocks with zero points
// (int4-b32-zp). The canonical name (schemeName) is what runs and adapters record.

import { ConfigError } from '../errors.ts';

export interface QuantScheme {
  bits: 4 | 8;
  /** Elements per block along the input dimension (a power of two, 16–128). */
  blockSize: 16 | 32 | 64 | 128;
  /** Asymmetric blocks with a stored zero point; otherwise symmetric (zero point 2^(bits−1)). */
  zeroPoints: boolean;
}

/** What the graph builders need to know about a spec's weights (ModelSpec.base; see store.ts). */
export interface BaseWeights {
  /** The form runs and adapters record: 'fp32', 'bf16' (read in place), 'int8-b32', 'int4-b32', … */
  form: string;
  /** Quantization of the linear layers; null for float forms. */
  scheme: QuantScheme | null;
  /** The converted store's folder, or null when the checkpoint's own files are read. */
  dir: string | null;
  /** MatMulNBits accuracy_level instead of the provider's (tests pin the exact fp32 kernels with 0). */
  accuracyLevel?: number;
  /**
   * How training computes dX through quantized layers: 'transposed' (the store's int8 Ŵᵀ, sessions
   * pre-pack; backward-store.ts) or, by default, dequantizing W per step from the mapped codes.
   */
  backward?: 'transposed' | 'dequantize';
  /**
   * Prepared for a GPU provider (CUDA, WebGPU): the backward uses only ops those have kernels for.
   * On the CPU, int4 nibbles are split with bit operations (smaller transients than the float
   * arithmetic GPUs need; linear.ts).
   */
  onGpu?: boolean;
}

export const QUANTIZE_CHOICES = ['none', 'int8', 'int4'] as const;
export type QuantizeChoice = (typeof QUANTIZE_CHOICES)[number];

/**
 * The values --quantize (and the Base weights option) takes, in one wording for every command and
 * the studio: with `auto` where the engine chooses the form (train, generate: runtime/precision.ts),
 * without it where a form must be named (bench, debug forward).
 */
export function quantizeForms(o: { auto: boolean }): string {
  return `${o.auto ? 'auto, none' : 'none'}, int8 or int4 (optionally -b16|-b32|-b64|-b128 and -zp, e.g. int4-b64)`;
}

/** 'none' → null; 'int8', 'int4', 'int4-b64', 'int8-b128-zp' → the scheme. */
export function parseQuantize(text: string): QuantScheme | null {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === '') return null;
  const m = /^int(4|8)(?:-b(16|32|64|128))?(-zp)?$/.exec(t);
  if (!m)
    throw new ConfigError(
      'bad-quantize',
      `--quantize must be ${quantizeForms({ auto: false })}, got ${JSON.stringify(text)}`,
    );
  return {
    bits: Number(m[1]) as 4 | 8,
    blockSize: Number(m[2] ?? 32) as QuantScheme['blockSize'],
    zeroPoints: !!m[3],
  };
}

/** Whether --quantize of train or generate takes `text`: auto, or a form parseQuantize reads. */
export function isQuantizeOption(text: string): boolean {
  if (text === 'auto') return true; // as runtime/precision.ts prepareModel compares it
  try {
    parseQuantize(text);
    return true;
  } catch {
    return false;
  }
}

export function schemeName(s: QuantScheme | null): string {
  if (!s) return 'none';
  return `int${s.bits}-b${s.blockSize}${s.zeroPoints ? '-zp' : ''}`;
}

/**
 * A store's form in words for progress lines: 'int8' (blocks of 32, no zero points: what `--quantize
 * int8` means) → '8 bits'; another block spelling keeps its name, '4 bits (int4-b64)'; 'fp32' (a half
 * checkpoint widened for the CPU) → '32 bits'.
 */
export function formInWords(form: string): string {
  const s = form === 'fp32' ? null : parseQuantize(form);
  if (!s) return '32 bits';
  return s.blockSize === 32 && !s.zeroPoints ? `${s.bits} bits` : `${s.bits} bits (${form})`;
}

/** Bytes one quantized row of K inputs takes: packed values, fp32 scales, packed zero points. */
export function quantizedRowBytes(K: number, s: QuantScheme): { q: number; scales: number; zp: number } {
  const kb = Math.ceil(K / s.blockSize);
  return {
    q: (kb * s.blockSize * s.bits) / 8,
    scales: kb * 4,
    zp: s.zeroPoints ? Math.ceil((kb * s.bits) / 8) : 0,
  };
}

/**
 * The backward layout's codes (backward-store.ts): int8, symmetric, block 32, whatever the forward's
 * scheme. Here, not there, so that memory.ts (no Node imports) sizes it too.
 */
export const BACKWARD_SCHEME: QuantScheme = { bits: 8, blockSize: 32, zeroPoints: false };

/** The LM head's scheme: 4-bit bases keep an 8-bit head (see store.ts for why). */
export function headScheme(s: QuantScheme): QuantScheme {
  return s.bits === 4 ? { ...s, bits: 8 } : s;
}

/**
 * MatMulNBits' accuracy_level for a provider: 4 lets the CPU kernels quantize activations to int8
 * per block and use integer dot products (AVX-VNNI/AVX-512 VNNI, ARM dot-product); GPU providers
 * compute in the activations' own float type whatever the level (WebGPU uses int8 dot products at 4).
 */
export function accuracyLevelFor(_device: string): number {
  return 4;
}
