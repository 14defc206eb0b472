// How much memory a base model's weights take while the engine runs, per form, for the library's
// "what fits" table and the run estimate. No Node imports (the renderer may use it).
//
//   none        4 bytes per weight (an fp32 checkpoint read in place, or the fp32 store a fp16/bf16
//               checkpoint becomes on the CPU); shared by every session of a process
//   fp16/bf16   2 bytes per weight: a half checkpoint computed in half precision on a GPU
//               (runtime/precision.ts)
//   int8/int4   the store: linear layers at bits/8 + 4/block bytes per weight (codes and an fp32
//               scale per block), the LM head at 8 bits, the embeddings in the checkpoint's dtype
//               but read row by row (only the tokens seen become resident: not counted)
//     chat      ONNX Runtime packs the codes for its int8 kernels: ≈1.14× (8-bit) / 1.2× (4-bit) of
//               the codes, private to the session (measured: native-runtime/quantize/base.ts)
//     training  the forward codes packed as for chat plus Ŵᵀ's int8 codes packed (the backward pass,
//               backward-store.ts); or, where that would take more than a third of the machine's
//               memory, only the mapped codes (slower)

export interface WeightShape {
  params: number;
  hiddenSize: number;
  vocabSize: number;
  /** The LM head is the embedding matrix (counted once in params). */
  tied?: boolean;
}

const PACKED = { 4: 1.2, 8: 1.14 } as const;

/**
 * The share of the computer's memory base weights may take on the CPU (runtime/precision.ts refuses
 * more; "what fits" says so): the rest is for the system, the studio and the activations.
 */
export const HOST_WEIGHTS_SHARE = 0.9;

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
  if (baseWeightBytes(s, full, use, memory) <= HOST_WEIGHTS_SHARE * memory) return 'none';
  return baseWeightBytes(s, 'int8', use, memory) <= HOST_WEIGHTS_SHARE * memory ? 'int8' : 'int4';
}

function parts(s: WeightShape): { embed: number; head: number; linear: number } {
  const embed = s.vocabSize * s.hiddenSize;
  const head = embed;
  const linear = Math.max(0, s.params - embed - (s.tied === false ? head : 0));
  return { embed, head, linear };
}

/** Bytes of a form's store on disk (and mapped when every tensor is read); embeddings at `embedBytes`. */
export function storeBytesOf(s: WeightShape, bits: 4 | 8, blockSize = 32, embedBytes = 2): number {
  const { embed, head, linear } = parts(s);
  return linear * (bits / 8 + 4 / blockSize) + head * (1 + 4 / blockSize) + embed * embedBytes;
}

/**
 * Resident bytes of the base weights in `form` ('none' | 'fp16' | 'bf16' | 'int8' | 'int4'), for
 * chatting (inference sessions) or training; `totalMemory` decides whether training packs (see the
 * header).
 */
export function baseWeightBytes(
  s: WeightShape,
  form: string,
  use: 'chat' | 'train',
  totalMemory = Number.POSITIVE_INFINITY,
): number {
  if (form === 'fp16' || form === 'bf16') return 2 * s.params;
  if (form !== 'int8' && form !== 'int4') return 4 * s.params;
  const bits = form === 'int8' ? 8 : 4;
  const { head, linear } = parts(s);
  const codes = linear * (bits / 8 + 4 / 32) + head * (1 + 4 / 32);
  const packed = linear * (bits / 8 + 4 / 32) * PACKED[bits] + head * (1 + 4 / 32) * PACKED[8];
  if (use === 'chat') return packed;
  // Training packs the forward codes and Ŵᵀ's int8 codes, the head's codes stay mapped (base.ts).
  const packedTraining =
    linear * (bits / 8 + 4 / 32) * PACKED[bits] + linear * (1 + 4 / 32) * PACKED[8] + head * (1 + 4 / 32);
  return packedTraining <= totalMemory / 3 ? packedTraining : codes;
}
