// An NVIDIA GPU's compute capability ("7.5", from nvidia-smi: gpus.ts) and what it means for the
// precisions a run can compute in. Apart from gpus.ts, which runs nvidia-smi, so that the renderer
// (Settings → GPU, "what fits") reads it with the same rule as the engine.

/**
 * Whether a GPU of compute capability `cap` has bfloat16 kernels: cuBLAS's bfloat16 GEMMs, the
 * attention kernels and MatMulNBits need Ampere (8.0) or newer. Unknown (null): assumed so.
 */
export function hasBf16Kernels(cap: string | null): boolean {
  return cap === null || Number(cap.split('.')[0]) >= 8;
}

/** "compute 8.9", or "compute 7.5 (no bfloat16)" before Ampere; null where nvidia-smi did not tell. */
export function computeLabel(cap: string | null | undefined): string | null {
  if (!cap) return null;
  return `compute ${cap}${hasBf16Kernels(cap) ? '' : ' (no bfloat16)'}`;
}
