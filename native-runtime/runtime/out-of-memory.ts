// ONNX Runtime reports running out of memory in many words, depending on the provider and on where
// the allocation failed: "Failed to allocate memory for requested buffer of size N" (its arenas),
// "bad allocation"/"std::bad_alloc" (the C++ allocator), "CUDA failure 2: out of memory" or
// "cudaErrorMemoryAllocation" (cudaMalloc), "CUBLAS_STATUS_ALLOC_FAILED" (cuBLAS workspaces), Dawn's
// "OutOfMemory" (WebGPU buffers). Training a 1–8B model is where users meet it, and ORT's text says
// neither which memory ran out nor what to change, so the engine turns it into one line that does.

/** The part of ORT's message that names the failure, e.g. "out of memory", or null when it is another. */
export function outOfMemoryCause(message: string): string | null {
  const m =
    /Failed to allocate memory for requested buffer of size \d+/i.exec(message) ??
    /std::bad_alloc|\bbad allocation\b/i.exec(message) ??
    /CUDA (?:failure|error) \d*:? ?out of memory|cudaErrorMemoryAllocation|CUDNN_STATUS_ALLOC_FAILED|CUBLAS_STATUS_ALLOC_FAILED/i.exec(
      message,
    ) ??
    /\bOutOfMemory\b|\bout of memory\b/i.exec(message);
  return m ? m[0] : null;
}

/** Which memory a provider allocates from, in a person's words. */
function memoryOf(device: string): string {
  if (device === 'cuda') return "the GPU's memory";
  if (device === 'webgpu') return "the GPU's memory (WebGPU)";
  if (device === 'dml') return "the GPU's memory (DirectML)";
  return "the computer's memory";
}

/**
 * One line for an allocation failure while running `graph` on `device`, with what to change, or null
 * when `message` is not one.
 */
export function describeOutOfMemory(message: string, device: string, graph: string): string | null {
  const cause = outOfMemoryCause(message);
  if (!cause) return null;
  return (
    `${memoryOf(device)} ran out while running '${graph}' (ONNX Runtime: ${cause}): use a smaller ` +
    'batch or maximum length, a quantized base (--quantize int8 or int4), fewer intervened layers, or ' +
    'layer replay in training (REFT_STUDIO_RECOMPUTE=1)'
  );
}
