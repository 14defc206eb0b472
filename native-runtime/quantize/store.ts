// Converted base weights: one safetensors file per model and form in the data folder,
// `<root>/<fingerprint>/<form>/weights.safetensors` (root = `<data>/bases`), written once and then
// memory-mapped by ONNX Runtime like the checkpoint's own files, so every session of a process (and
// every process) shares one copy. The file holds every tensor the graph reads, because ORT takes
// external data from one folder only:
//   linear weights   quantized (`<name>.qweight`, `.scales`, `.qzeros`; see blockwise.ts), or fp32
//                    for the `none` form of a half-precision checkpoint (ORT's CPU provider has no
//                    bf16/fp16 matrix products, and a Cast in the graph would make a private fp32
//                    copy per session)
//   LM head          `lm_head.weight.*`, quantized at 8 bits even for int4 bases: it is the matrix
//                    whose errors reach the logits directly, and only ~6% of a 1–8B model's weights
//   embeddings       the checkpoint's own dtype: the graph gathers the batch's rows and casts only
//                    those, so the mapped table costs resident memory only for the tokens seen;
//                    quantizing it would save disk, not memory, and put error into every input.
//                    A tied model's fp32 form is the exception: its head is the embedding table in
//                    fp32, stored once under the embedding's name (no `lm_head.weight`), and the
//                    graph gathers from that (stores written before keep a copy, still read as they are)
//   norms, biases    fp32 (small)
// GPT-2's Conv1D weights (in, out) are transposed to the (out, in) rows MatMulNBits expects.
//
// Conversion streams tensor by tensor (row chunks of ~32 MB, with a turn of the event loop and a
// cancel check between chunks: a Ctrl-C during TinyLlama's 8-bit LM head was heard after 4 s, now
// within one chunk, ~0.3–0.7 s here), reports progress, resumes after a kill
// (formats/safetensors-stream.ts) and refuses early when the disk is short. A lock file keeps
// two processes from converting the same store at once. Every form of a model lies in its
// baseStoresFolder, which the library deletes with the model (folder-removal.ts).

import { closeSync, existsSync, openSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { makeFolders } from '../formats/atomic-write.ts';
import { readFullyAt } from '../formats/read-at.ts';
import { decodeTensor, readSafetensorsHeader } from '../formats/safetensors.ts';
import {
  type PlannedTensor,
  planSafetensors,
  type TensorPause,
  type TensorSink,
  type TensorSlot,
  type WriteProgress,
  writeSafetensorsStream,
} from '../formats/safetensors-stream.ts';
import { expectedWeights } from '../models/arch.ts';
import type { ModelSpec } from '../models/config.ts';
import { FLOAT_WEIGHTS, WeightIndex } from '../models/weights.ts';
import { acquirePidLock } from '../pid-lock.ts';
import { allocQuantized, blocksPerRow, quantizeRows } from './blockwise.ts';
import { headScheme, type QuantScheme, schemeName } from './scheme.ts';

export const STORE_FILE = 'weights.safetensors';
const FORMAT = 'reft-studio-base';
const VERSION = '1';

type Role = 'linear' | 'conv1d' | 'head' | 'embedding' | 'other';

interface StoreEntry {
  /** Tensor name in the checkpoint (the embedding's name for a tied head). */
  source: string;
  /** Name in the store (the graph asks for `<name>` or `<name>.qweight`). */
  name: string;
  role: Role;
}

const LINEAR_RE =
  /\.(q_proj|k_proj|v_proj|qkv_proj|o_proj|gate_proj|up_proj|gate_up_proj|down_proj)\.weight$/;
const CONV1D_RE = /\.(c_attn|c_proj|c_fc)\.weight$/;
const EMBED_RE = /(embed_tokens|wte|wpe)\.weight$/;

function entriesOf(spec: ModelSpec, scheme: QuantScheme | null): StoreEntry[] {
  const out: StoreEntry[] = [];
  const embedding = spec.arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
  const untied = !spec.tieEmbeddings && spec.weights.has('lm_head.weight');
  // The fp32 form of a tied model keeps one fp32 table that the head multiplies and the embedding
  // gathers from (a half row cast after the gather is the same fp32 row): no second copy.
  const oneTable = !scheme && !untied;
  for (const e of expectedWeights(spec)) {
    if (e.name === 'lm_head.weight') continue;
    if (!spec.weights.has(e.name)) continue;
    const role: Role = LINEAR_RE.test(e.name)
      ? 'linear'
      : CONV1D_RE.test(e.name)
        ? 'conv1d'
        : EMBED_RE.test(e.name)
          ? 'embedding'
          : 'other';
    out.push({ source: e.name, name: e.name, role: oneTable && e.name === embedding ? 'head' : role });
  }
  if (!oneTable)
    out.push({ source: untied ? 'lm_head.weight' : embedding, name: 'lm_head.weight', role: 'head' });
  return out;
}

/** (rows N, inputs K) of a matrix as MatMulNBits sees it. */
function matrixDims(spec: ModelSpec, e: StoreEntry): [number, number] {
  const shape = spec.weights.get(e.source).info.shape;
  return e.role === 'conv1d' ? [shape[1], shape[0]] : [shape[0], shape[1]];
}

/** The tensors of a store for `spec` in `scheme` (null: the fp32 form), in write order. */
function planTensors(spec: ModelSpec, scheme: QuantScheme | null): PlannedTensor[] {
  const out: PlannedTensor[] = [];
  for (const e of entriesOf(spec, scheme)) {
    const info = spec.weights.get(e.source).info;
    if (!FLOAT_WEIGHTS.has(info.dtype))
      throw new ConfigError('unsupported-dtype', `${e.source}: cannot convert ${info.dtype} weights`);
    if (e.role === 'embedding') {
      out.push({ name: e.name, dtype: info.dtype, shape: info.shape });
      continue;
    }
    const s = e.role === 'head' && scheme ? headScheme(scheme) : scheme;
    const quantized = s && (e.role === 'linear' || e.role === 'conv1d' || e.role === 'head');
    if (!quantized) {
      const [N, K] = e.role === 'other' ? [0, 0] : matrixDims(spec, e);
      out.push({ name: e.name, dtype: 'F32', shape: e.role === 'other' ? info.shape : [N, K] });
      continue;
    }
    const [N, K] = matrixDims(spec, e);
    const kb = blocksPerRow(K, s);
    out.push({ name: `${e.name}.qweight`, dtype: 'U8', shape: [N, kb, (s.blockSize * s.bits) / 8] });
    out.push({ name: `${e.name}.scales`, dtype: 'F32', shape: [N, kb] });
    if (s.zeroPoints)
      out.push({ name: `${e.name}.qzeros`, dtype: 'U8', shape: [N, Math.ceil((kb * s.bits) / 8)] });
  }
  return out;
}

/** Bytes the store for `scheme` takes on disk (and mapped in memory when every tensor is read). */
export function storeBytes(spec: ModelSpec, scheme: QuantScheme | null): number {
  return planSafetensors(planTensors(spec, scheme)).totalBytes;
}

export function storeDir(root: string, fingerprint: string, scheme: QuantScheme | null): string {
  return join(root, fingerprint, scheme ? schemeName(scheme) : 'fp32');
}

function metadataFor(spec: ModelSpec, scheme: QuantScheme | null): Record<string, string> {
  // Each quantized matrix's true (N, K): its block grid may pad K.
  const matrices: Record<string, [number, number]> = {};
  if (scheme)
    for (const e of entriesOf(spec, scheme))
      if (e.role !== 'embedding' && e.role !== 'other') matrices[e.name] = matrixDims(spec, e);
  return {
    format: FORMAT,
    version: VERSION,
    fingerprint: spec.fingerprint,
    form: scheme ? schemeName(scheme) : 'fp32',
    source_dtype: spec.dtype,
    matrices: JSON.stringify(matrices),
  };
}

/** The (N, K) of every quantized matrix of an opened store (from its metadata). */
export function storeMatrices(weights: WeightIndex): Record<string, [number, number]> {
  const meta = weights.headers.find((h) => basename(h.path) === STORE_FILE)?.metadata.matrices;
  return meta ? (JSON.parse(meta) as Record<string, [number, number]>) : {};
}

// ---------------------------------------------------------------------------------------------
// Reading the checkpoint in row chunks.

/** One piece of conversion: rows decoded to float32, or bytes copied as they are (backward-store.ts's too). */
export const CHUNK_BYTES = 32 * 2 ** 20;

function readRange(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const got = readFullyAt(fd, buf, offset);
    if (got < length) throw new ConfigError('truncated-file', `${file}: ended at byte ${offset + got}`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `fn` with successive row chunks [r0, r0 + rows) of a source matrix as fp32 (N, K) rows,
 * pausing between chunks (a cancel is heard within one chunk, not one matrix).
 */
async function forEachRowChunk(
  spec: ModelSpec,
  e: StoreEntry,
  fn: (rows: Float32Array, r0: number, n: number) => void,
  pause: TensorPause,
): Promise<void> {
  const { file, info } = spec.weights.get(e.source);
  const [N, K] = matrixDims(spec, e);
  const eb = info.byteLength / (N * K);
  if (e.role === 'conv1d') {
    // Stored (K, N): read whole (GPT-2 matrices are small) and transpose.
    const src = decodeTensor(readRange(file, info.offset, info.byteLength), info.dtype) as Float32Array;
    const t = new Float32Array(N * K);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) t[n * K + k] = src[k * N + n];
    fn(t, 0, N);
    return;
  }
  const step = Math.max(1, Math.floor(CHUNK_BYTES / (K * 4)));
  for (let r0 = 0; r0 < N; r0 += step) {
    if (r0 > 0) await pause();
    const n = Math.min(step, N - r0);
    const raw = readRange(file, info.offset + r0 * K * eb, n * K * eb);
    fn(decodeTensor(raw, info.dtype) as Float32Array, r0, n);
  }
}

/** Produces the store's tensors from the checkpoint; keeps a quantized matrix's scales for its next slots. */
class Converter {
  #pending = new Map<string, { scales: Float32Array; zp: Uint8Array }>();
  readonly #entries: Map<string, StoreEntry>;

  constructor(
    private spec: ModelSpec,
    private scheme: QuantScheme | null,
  ) {
    this.#entries = new Map(entriesOf(spec, scheme).map((e) => [e.name, e]));
  }

  async produce(slot: TensorSlot, sink: TensorSink, pause: TensorPause): Promise<void> {
    const m = /^(.*)\.(qweight|scales|qzeros)$/.exec(slot.name);
    const e = this.#entries.get(m ? m[1] : slot.name);
    if (!e) throw new ConfigError('internal', `no source for ${slot.name}`);
    const { info, file } = this.spec.weights.get(e.source);
    if (!m) {
      if (slot.dtype === info.dtype && e.role !== 'conv1d') {
        // Same dtype: copy the bytes.
        for (let at = 0; at < info.byteLength; at += CHUNK_BYTES) {
          if (at > 0) await pause();
          const n = Math.min(CHUNK_BYTES, info.byteLength - at);
          sink(readRange(file, info.offset + at, n), at);
        }
        return;
      }
      if (e.role === 'other') {
        const f = decodeTensor(readRange(file, info.offset, info.byteLength), info.dtype) as Float32Array;
        sink(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), 0);
        return;
      }
      const K = matrixDims(this.spec, e)[1];
      await forEachRowChunk(
        this.spec,
        e,
        (rows, r0) => sink(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), r0 * K * 4),
        pause,
      );
      return;
    }
    const part = m[2];
    if (part === 'qweight') {
      await this.#quantize(e, sink, pause);
      return;
    }
    if (!this.#pending.has(e.name)) await this.#quantize(e, null, pause); // resumed after the qweight slot
    const p = this.#pending.get(e.name)!;
    const bytes = part === 'scales' ? new Uint8Array(p.scales.buffer) : p.zp;
    sink(bytes, 0);
    if (part === 'qzeros' || !p.zp.length) this.#pending.delete(e.name);
  }

  async #quantize(e: StoreEntry, sink: TensorSink | null, pause: TensorPause): Promise<void> {
    const s = e.role === 'head' ? headScheme(this.scheme!) : this.scheme!;
    const [N, K] = matrixDims(this.spec, e);
    const kb = blocksPerRow(K, s);
    const zpRow = s.zeroPoints ? Math.ceil((kb * s.bits) / 8) : 0;
    const qRow = (kb * s.blockSize * s.bits) / 8;
    const scales = new Float32Array(N * kb);
    const zp = new Uint8Array(N * zpRow);
    await forEachRowChunk(
      this.spec,
      e,
      (rows, r0, n) => {
        const q = allocQuantized(n, K, s);
        quantizeRows(rows, n, K, s, q);
        sink?.(q.q, r0 * qRow);
        scales.set(q.scales, r0 * kb);
        zp.set(q.zp, r0 * zpRow);
      },
      pause,
    );
    this.#pending.set(e.name, { scales, zp });
  }
}

// ---------------------------------------------------------------------------------------------

function storeComplete(file: string, spec: ModelSpec, scheme: QuantScheme | null): boolean {
  if (!existsSync(file)) return false;
  try {
    const meta = readSafetensorsHeader(file).metadata;
    const want = metadataFor(spec, scheme);
    return Object.entries(want).every(([k, v]) => meta[k] === v);
  } catch {
    return false;
  }
}

/**
 * Holds `<dir>/convert.lock` while converting; a lock of a dead process is taken over, and
 * `tookOver` hears that process's pid.
 */
export function acquireLock(dir: string, tookOver?: (pid: number) => void): () => void {
  return acquirePidLock(
    join(dir, 'convert.lock'),
    'converting weights',
    (holder) =>
      new ConfigError(
        'conversion-in-progress',
        `${dir}: process ${holder.pid} is converting these weights; try again when it has finished`,
      ),
    tookOver && ((stale) => tookOver(stale.pid)),
  );
}

/** A conversion's progress: the store's form, and whether this is its backward layout. */
export interface ConversionProgress extends WriteProgress {
  /** The store's form ('int8-b32', 'fp32', …). */
  form: string;
  /** The transposed int8 copy training sessions read (backward-store.ts), not the store itself. */
  backward?: boolean;
  /** The pid of a stopped process whose conversion this one took over and continues. */
  takenOverFrom?: number;
}

export interface ConvertOptions {
  /** `<data>/bases`. */
  root: string;
  onProgress?: (p: ConversionProgress) => void;
  signal?: AbortSignal;
  /**
   * Writes some of the store's tensors from another source than the checkpoint (synthetic benchmark
   * models write random codes directly); returns false for a slot the converter should produce.
   */
  produce?: (slot: TensorSlot, sink: TensorSink) => boolean;
  /** See StreamWriteOptions.syncEveryBytes. */
  syncEveryBytes?: number;
  /** See StreamWriteOptions.reserveBytes. */
  reserveBytes?: number;
}

/**
 * The store for `spec` in `scheme`, converting it first when it is missing or incomplete (resuming a
 * killed conversion). Returns its folder.
 */
export async function ensureStore(
  spec: ModelSpec,
  scheme: QuantScheme | null,
  o: ConvertOptions,
): Promise<string> {
  const dir = storeDir(o.root, spec.fingerprint, scheme);
  const file = join(dir, STORE_FILE);
  if (storeComplete(file, spec, scheme)) return dir;
  makeFolders(dir);
  let takenOverFrom: number | undefined;
  const release = acquireLock(dir, (pid) => {
    takenOverFrom = pid;
  });
  try {
    if (storeComplete(file, spec, scheme)) return dir;
    const plan = planSafetensors(planTensors(spec, scheme), metadataFor(spec, scheme));
    const conv = new Converter(spec, scheme);
    const form = scheme ? schemeName(scheme) : 'fp32';
    await writeSafetensorsStream(file, plan, {
      produce: async (slot, sink, pause) => {
        if (!o.produce?.(slot, sink)) await conv.produce(slot, sink, pause);
      },
      onProgress: o.onProgress && ((p) => o.onProgress!({ ...p, form, takenOverFrom })),
      signal: o.signal,
      syncEveryBytes: o.syncEveryBytes,
      reserveBytes: o.reserveBytes,
    });
  } finally {
    release();
  }
  return dir;
}

/** Opens a complete store (and its backward layout, when written) as the weight index graphs read. */
export function openStore(dir: string): WeightIndex {
  const headers = [readSafetensorsHeader(join(dir, STORE_FILE))];
  const backward = join(dir, BACKWARD_FILE);
  if (existsSync(backward)) headers.push(readSafetensorsHeader(backward));
  return new WeightIndex(dir, STORE_FILE, headers);
}

/** The transposed int8 layout training reads (backward-store.ts), beside the store. */
export const BACKWARD_FILE = 'backward.safetensors';

/** The folder of every converted form of a model; null for a fingerprint no store can have. */
export function baseStoresFolder(root: string, fingerprint: string): string | null {
  return /^[0-9a-f]{16,}$/.test(fingerprint) ? join(root, fingerprint) : null;
}
