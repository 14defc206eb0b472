// The backward layout of a quantized store: for every quantized linear layer W (N, K) except the LM
// head, the int8 blockwise codes of Ŵᵀ (K rows of N), Ŵ being the dequantized forward weight, in
// `backward.safetensors` beside the store. Training sessions that pre-pack compute dX = dY·Ŵ with
// MatMulNBits on these (int8 compute, like the forward) instead of dequantizing W to fp32 every step.
//
// Requantizing Ŵ (not the checkpoint's W) keeps the gradient that of the forward's own weights, up to
// 8-bit rounding of Ŵ's columns. Written once per store, on the first training that packs, tensor by
// tensor (one matrix dequantized at a time), resumable like the store itself; removed with it.
// Measured against dequantize-and-multiply in ARCHITECTURE.md ("Weights in memory").

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeFolders } from '../formats/atomic-write.ts';
import { decodeTensor, readSafetensorsHeader, readTensorBytes } from '../formats/safetensors.ts';
import {
  type PlannedTensor,
  planSafetensors,
  type TensorPause,
  type TensorSink,
  type TensorSlot,
  writeSafetensorsStream,
} from '../formats/safetensors-stream.ts';
import type { ModelSpec } from '../models/config.ts';
import { allocQuantized, blocksPerRow, dequantizeRows, quantizeRows } from './blockwise.ts';
import { BACKWARD_SCHEME } from './scheme.ts';
import {
  acquireLock,
  BACKWARD_FILE,
  CHUNK_BYTES,
  type ConversionProgress,
  STORE_FILE,
  storeMatrices,
} from './store.ts';

/** Matrices that get a transposed layout: every quantized one but the LM head (it stays on DequantizeLinear). */
function transposedMatrices(spec: ModelSpec): Array<[string, number, number]> {
  return Object.entries(storeMatrices(spec.weights))
    .filter(([name]) => name !== 'lm_head.weight')
    .map(([name, [N, K]]) => [name, N, K]);
}

function plan(spec: ModelSpec) {
  const tensors: PlannedTensor[] = [];
  for (const [name, N, K] of transposedMatrices(spec)) {
    const kb = blocksPerRow(N, BACKWARD_SCHEME);
    tensors.push({ name: `${name}.qweight_t`, dtype: 'U8', shape: [K, kb, BACKWARD_SCHEME.blockSize] });
    tensors.push({ name: `${name}.scales_t`, dtype: 'F32', shape: [K, kb] });
  }
  const forward = readSafetensorsHeader(join(spec.base!.dir!, STORE_FILE)).metadata;
  return planSafetensors(tensors, {
    format: 'reft-studio-base-backward',
    version: '1',
    fingerprint: spec.fingerprint,
    form: spec.base!.form,
    // Tied to the forward file it was made from: a reconverted store invalidates it.
    forward: `${forward.form}/${forward.version}/${statSync(join(spec.base!.dir!, STORE_FILE)).size}`,
  });
}

/**
 * Ŵᵀ's codes for one matrix, from the store's own codes, written through `sink` (when given) in
 * pieces of rows with a pause between them (Llama-3-8B's MLP matrices take seconds each); returns
 * its scales.
 */
async function transposeMatrix(
  spec: ModelSpec,
  name: string,
  [N, K]: readonly [number, number],
  sink: TensorSink | null,
  pause: TensorPause,
): Promise<Float32Array> {
  const scheme = spec.base!.scheme!;
  const read = (t: string) => {
    const { file, info } = spec.weights.get(`${name}.${t}`);
    return readTensorBytes(file, info);
  };
  const w = dequantizeRows(
    {
      q: new Uint8Array(read('qweight')),
      scales: decodeTensor(read('scales'), 'F32') as Float32Array,
      zp: scheme.zeroPoints ? new Uint8Array(read('qzeros')) : new Uint8Array(0),
    },
    N,
    K,
    scheme,
  );
  const kb = blocksPerRow(N, BACKWARD_SCHEME);
  const scales = new Float32Array(K * kb);
  // Rows of Ŵᵀ per piece: a chunk of float32, as the store's conversion reads.
  const rows = Math.max(1, Math.floor(CHUNK_BYTES / (N * 4)));
  for (let k0 = 0; k0 < K; k0 += rows) {
    await pause();
    const n = Math.min(rows, K - k0);
    const t = new Float32Array(n * N);
    // Row by row of Ŵ: each reads its n contiguous values (the cache-friendly order for a piece).
    for (let r = 0; r < N; r++) for (let k = 0; k < n; k++) t[k * N + r] = w[r * K + k0 + k];
    const out = allocQuantized(n, N, BACKWARD_SCHEME);
    quantizeRows(t, n, N, BACKWARD_SCHEME, out);
    sink?.(out.q, (k0 * out.q.length) / n);
    scales.set(out.scales, k0 * kb);
  }
  return scales;
}

export interface BackwardOptions {
  onProgress?: (p: ConversionProgress) => void;
  signal?: AbortSignal;
}

/** Writes the backward layout of `spec`'s store (a quantized spec from prepareBase) when missing. */
export async function ensureBackwardStore(spec: ModelSpec, o: BackwardOptions = {}): Promise<void> {
  const dir = spec.base?.dir;
  if (!dir || !spec.base?.scheme) throw new Error('ensureBackwardStore needs a quantized store');
  const file = join(dir, BACKWARD_FILE);
  const p = plan(spec);
  const complete = () => {
    if (!existsSync(file)) return false;
    try {
      const want = readSafetensorsHeader(file).metadata;
      return want.forward !== undefined && p.header.includes(Buffer.from(want.forward));
    } catch {
      return false;
    }
  };
  if (complete()) return;
  makeFolders(dir);
  const release = acquireLock(dir);
  try {
    if (complete()) return;
    // A matrix's scales, kept from its codes' slot for the next one (redone when a resume starts there).
    let pending: { name: string; scales: Float32Array } | null = null;
    const dims = new Map(transposedMatrices(spec).map(([n, N, K]) => [n, [N, K] as const]));
    await writeSafetensorsStream(file, p, {
      produce: async (slot: TensorSlot, sink: TensorSink, pause: TensorPause) => {
        const m = /^(.*)\.(qweight_t|scales_t)$/.exec(slot.name);
        if (!m) throw new Error(`unexpected slot ${slot.name}`);
        const matrix = dims.get(m[1])!;
        if (m[2] === 'qweight_t') {
          pending = { name: m[1], scales: await transposeMatrix(spec, m[1], matrix, sink, pause) };
          return;
        }
        const scales =
          pending?.name === m[1] ? pending.scales : await transposeMatrix(spec, m[1], matrix, null, pause);
        pending = null;
        sink(new Uint8Array(scales.buffer), 0);
      },
      onProgress: o.onProgress && ((q) => o.onProgress!({ ...q, form: spec.base!.form, backward: true })),
      signal: o.signal,
    });
  } finally {
    release();
  }
}
