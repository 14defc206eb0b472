// Synthetic models for `reft-studio bench … --synthetic NAME`: random weights in the published
// shapes of TinyLlama-1.1B and Llama-3-8B, so speed and memory can be measured without downloading
// anything (cli.md). The weights cannot live in the graph itself (ONNX protobufs stop at 2 GB and an
// inline initializer is a private copy), so they are written to a scratch folder of the data
// folder, `<data>/tmp/synthetic-<name>-<pid>-<id>/`, memory-mapped by ORT like any checkpoint, and
// deleted by dispose() (one left by a killed process is swept at the next start: scratch-folders.ts).
// Before anything is written the model is refused, in one line, where the computer's memory cannot
// hold its weights (generate's and train's check) or the disk cannot hold what the build writes.
//
// A quantized form is written directly in quantized form: the checkpoint file lists every tensor in
// its header but the linear layers are holes (a sparse file, no data), and the store (quantize/store.ts)
// gets random codes and scales. So the 8B shape at int4 never exists in fp32, on disk or in memory.
// Float forms write every weight (fp32 TinyLlama: 4.4 GB; fp32 Llama-3-8B: 32 GB). Values: uniform with standard deviation 0.02 (linear weights, embeddings), norms 1.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteSize } from '../byte-size.ts';
import { ConfigError } from '../errors.ts';
import { makeFolders } from '../formats/atomic-write.ts';
import type { SafetensorsDtype } from '../formats/safetensors.ts';
import {
  freeBytes,
  planSafetensors,
  type SafetensorsPlan,
  type TensorSink,
  type TensorSlot,
  writeSafetensorsStream,
} from '../formats/safetensors-stream.ts';
import { mulberry32 } from '../generation/sampling.ts';
import { type ExpectedWeight, expectedWeights, type ModelDims } from '../models/arch.ts';
import { loadModelSpec, type ModelSpec } from '../models/config.ts';
import { baseOnCpu, type PrepareBaseOptions, prepareBase } from '../quantize/base.ts';
import { storeBytesOf } from '../quantize/memory.ts';
import type { QuantScheme } from '../quantize/scheme.ts';
import type { DeviceChoice } from '../runtime/session.ts';
import { makeScratchFolder, sweepScratchFolders } from '../scratch-folders.ts';
import { type BenchMemoryOptions, refuseBenchOverMemory } from './bench.ts';

export const SYNTHETIC_MODELS = ['tinyllama-1.1b', 'llama3-8b'] as const;
export type SyntheticName = (typeof SYNTHETIC_MODELS)[number];

const CONFIGS: Record<SyntheticName, Record<string, unknown>> = {
  'tinyllama-1.1b': {
    hidden_size: 2048,
    num_hidden_layers: 22,
    num_attention_heads: 32,
    num_key_value_heads: 4,
    intermediate_size: 5632,
    vocab_size: 32000,
    max_position_embeddings: 2048,
    rope_theta: 10000,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  'llama3-8b': {
    hidden_size: 4096,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    intermediate_size: 14336,
    vocab_size: 128256,
    max_position_embeddings: 131072,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
    bos_token_id: 128000,
    eos_token_id: 128001,
  },
};

export type SyntheticDtype = 'float32' | 'float16' | 'bfloat16';
const ST: Record<SyntheticDtype, SafetensorsDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** `use` (default 'chat': prefill, decode), `step` and `memory`: for the memory check. */
export interface SyntheticOptions extends Partial<BenchMemoryOptions> {
  /** The data folder; the model goes to `<dataDir>/tmp/`. */
  dataDir: string;
  /** Stored dtype of the float weights (default float32). */
  dtype?: SyntheticDtype;
  /** Quantized form to write directly (null or absent: the float weights themselves). */
  scheme?: QuantScheme | null;
  device?: string;
  seed?: number;
  onProgress?: PrepareBaseOptions['onProgress'];
  /** config.json fields replacing the published ones (tests build the same model, smaller). */
  overrides?: Record<string, unknown>;
}

export interface SyntheticModel {
  /** The spec as the engine reads it (ModelSpec.base set). */
  spec: ModelSpec;
  dir: string;
  /** Deletes the folder (weights and store). */
  dispose(): void;
}

const STD = 0.02;

/** Disk space left free after a build, as the safetensors writer leaves (its reserveBytes). */
const DISK_RESERVE = 256 * 2 ** 20;

/**
 * A filler of uniform values of standard deviation `std` in `dtype`, from a seeded xorshift128
 * stream: float32 scales each 32-bit draw; the half types take two values from each draw, looking
 * each 16-bit half up in a table of 32,768 magnitudes and keeping its top bit as the sign: 1.1 s a
 * GB of bf16 here against 5.5 with a float draw per value (the 8B shape's 16 GB are written on the
 * GPU machine's clock).
 */
function uniformFiller(std: number, seed: number): (out: Uint8Array, dtype: SafetensorsDtype) => void {
  const a = std * Math.sqrt(3);
  const state = xorshiftState(seed);
  const tables = new Map<SafetensorsDtype, Uint16Array>();
  const table = (dtype: SafetensorsDtype): Uint16Array => {
    let t = tables.get(dtype);
    if (!t) {
      t = new Uint16Array(0x8000);
      const one = new Float32Array(1);
      const bits = new Uint32Array(one.buffer);
      for (let i = 0; i < t.length; i++) {
        one[0] = ((i + 0.5) / t.length) * a;
        t[i] = dtype === 'BF16' ? bits[0] >>> 16 : toHalf(one[0]);
      }
      tables.set(dtype, t);
    }
    return t;
  };
  return (out, dtype) => {
    // The state in locals for the loops (a closure's variables would be several times slower).
    let [x, y, z, w] = state;
    if (dtype === 'F32') {
      const f = new Float32Array(out.buffer, out.byteOffset, out.byteLength / 4);
      for (let i = 0; i < f.length; i++) {
        const t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
        f[i] = ((w >>> 0) * 2 ** -31 - 1) * a;
      }
    } else {
      const tab = table(dtype);
      const u = new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
      for (let i = 0; i < u.length; i += 2) {
        const t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
        u[i] = tab[w & 0x7fff] | (w & 0x8000);
        if (i + 1 < u.length) u[i + 1] = tab[(w >>> 16) & 0x7fff] | ((w >>> 16) & 0x8000);
      }
    }
    state.set([x, y, z, w]);
  };
}

function toHalf(x: number): number {
  // Small magnitudes only (|x| < 1): sign, exponent, 10-bit mantissa; subnormals flushed to zero.
  const s = x < 0 ? 0x8000 : 0;
  const v = Math.abs(x);
  if (v < 6.1e-5) return s;
  const e = Math.floor(Math.log2(v));
  const m = Math.round((v / 2 ** e - 1) * 1024);
  return s | ((e + 15) << 10) | (m & 0x3ff);
}

/** Writes a tensor in 16 MB pieces from a generator of bytes. */
function streamFill(slot: TensorSlot, sink: TensorSink, fill: (piece: Uint8Array) => void): void {
  const piece = new Uint8Array(Math.min(slot.byteLength, 16 * 2 ** 20));
  for (let at = 0; at < slot.byteLength; at += piece.length) {
    const n = Math.min(piece.length, slot.byteLength - at);
    const p = piece.subarray(0, n);
    fill(p);
    sink(p, at);
  }
}

/** The config.json of synthetic model `name` (its dtype aside). */
function syntheticConfig(name: SyntheticName): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    ...CONFIGS[name],
  };
}

/** The tensors a synthetic checkpoint holds: the expected ones, with its own (untied) LM head. */
function checkpointWeights(dims: ModelDims): ExpectedWeight[] {
  return expectedWeights(dims).filter((e) => !e.optional || e.name === 'lm_head.weight');
}

/**
 * The dimensions and parameter count of synthetic model `name` (with `overrides`: as built with
 * them), without writing it: what memory estimates are sized by, so tests of them use the published
 * shapes the benches measure.
 */
export function syntheticShape(
  name: SyntheticName,
  overrides: Record<string, unknown> = {},
): ModelDims & { params: number } {
  const dims = specForShapes({ ...syntheticConfig(name), ...overrides });
  const params = checkpointWeights(dims).reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0);
  return { ...dims, params };
}

/** config.json of a synthetic checkpoint, and its safetensors file planned from it. */
function checkpointPlan(
  name: SyntheticName,
  o: Pick<SyntheticOptions, 'dtype' | 'overrides'>,
): { config: Record<string, unknown>; plan: SafetensorsPlan } {
  const dtype = o.dtype ?? 'float32';
  const config = { ...syntheticConfig(name), torch_dtype: dtype, ...o.overrides };
  // The header needs only the config: plan the checkpoint from the expected tensor list.
  const shapes = checkpointWeights(specForShapes(config));
  const plan = planSafetensors(
    shapes.map((e) => ({ name: e.name, dtype: /norm/.test(e.name) ? 'F32' : ST[dtype], shape: e.shape })),
    { format: 'pt', synthetic: name },
  );
  return { config, plan };
}

/** The checkpoint's linear layers and LM head: holes in a quantized form's checkpoint. */
const isMatrix = (n: string): boolean => /(proj|lm_head)\.weight$/.test(n);

/**
 * Bytes buildSynthetic writes: the checkpoint (its matrices as holes when quantized), then the base
 * store prepareBase makes of it — a quantized form's codes, or on the CPU a half-precision
 * checkpoint's float32 copy (quantize/base.ts).
 */
function diskBytes(name: SyntheticName, o: SyntheticOptions): number {
  const { plan } = checkpointPlan(name, o);
  const written = plan.slots.filter((s) => !(o.scheme && isMatrix(s.name)));
  const checkpoint = written.reduce((sum, s) => sum + s.byteLength, plan.header.length);
  const shape = syntheticShape(name, o.overrides);
  const floatBytes = (o.dtype ?? 'float32') === 'float32' ? 4 : 2;
  const store = o.scheme
    ? storeBytesOf({ ...shape, tied: false }, o.scheme, floatBytes)
    : baseOnCpu(o.device) && floatBytes === 2
      ? 4 * shape.params
      : 0;
  return checkpoint + store;
}

/**
 * Refuses, before anything is written, a synthetic model this computer cannot hold in memory (the
 * bench's --quantize form: refuseBenchOverMemory) or whose build does not fit on the data folder's disk.
 */
async function refuseUnfit(name: SyntheticName, o: SyntheticOptions): Promise<void> {
  await refuseBenchOverMemory(syntheticShape(name, o.overrides), {
    scheme: o.scheme ?? null,
    device: o.device as DeviceChoice | undefined,
    use: o.use ?? 'chat',
    step: o.step,
    memory: o.memory,
  });
  const need = diskBytes(name, o) + DISK_RESERVE;
  const free = freeBytes(o.dataDir);
  if (need > free)
    throw new ConfigError(
      'disk-full',
      `the synthetic ${name} model needs ${byteSize(need)} of disk space in ${o.dataDir} (its weights, deleted after the bench, and ${byteSize(DISK_RESERVE)} left free), but only ${byteSize(free)} is free`,
    );
}

/**
 * Writes the synthetic checkpoint `name` (config.json + model.safetensors) into `dir`. With `holes`
 * the linear layers and the LM head are left as holes (their store is written as codes instead).
 * Also used on its own to make a persistent folder for side-by-side runs against PyTorch.
 */
export async function writeSyntheticCheckpoint(
  name: SyntheticName,
  dir: string,
  o: Pick<SyntheticOptions, 'dtype' | 'seed' | 'overrides'> & { holes?: boolean } = {},
): Promise<void> {
  makeFolders(dir);
  const { config, plan } = checkpointPlan(name, o);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const fill = uniformFiller(STD, o.seed ?? 1);
  await writeSafetensorsStream(join(dir, 'model.safetensors'), plan, {
    skip: (slot) => !!o.holes && isMatrix(slot.name),
    produce: (slot, sink) =>
      streamFill(slot, sink, (p) => {
        if (/norm/.test(slot.name)) new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4).fill(1);
        else fill(p, slot.dtype);
      }),
  });
}

/** Builds the synthetic model `name` in the data folder and prepares it in the requested form. */
export async function buildSynthetic(name: SyntheticName, o: SyntheticOptions): Promise<SyntheticModel> {
  await refuseUnfit(name, o);
  sweepScratchFolders(o.dataDir);
  const dir = makeScratchFolder(o.dataDir, `synthetic-${name}`);
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  const onExit = () => dispose();
  process.once('exit', onExit);
  try {
    const quantized = !!o.scheme;
    await writeSyntheticCheckpoint(name, dir, { ...o, holes: quantized });
    const spec = await prepareBase(loadModelSpec(dir), o.scheme ?? null, {
      dataDir: dir,
      device: o.device,
      onProgress: o.onProgress,
      produce: quantized ? randomCodes(o.scheme!, o.seed ?? 1) : undefined,
    });
    return {
      spec,
      dir,
      dispose: () => {
        process.removeListener('exit', onExit);
        dispose();
      },
    };
  } catch (e) {
    process.removeListener('exit', onExit);
    dispose();
    throw e;
  }
}

/** xorshift128's four words of state from a seed (never all zero). */
function xorshiftState(seed: number): Uint32Array {
  const init = mulberry32(seed);
  const state = Uint32Array.from({ length: 4 }, () => init() * 2 ** 32);
  state[0] ||= 1;
  return state;
}

/**
 * Uniform random bytes from a seed (xorshift128, ~0.5 s a GB here; the 8B shape's int4 codes are
 * ~4 GB): the same seed gives the same codes, so two runs' losses compare.
 */
function seededBytes(seed: number): (out: Uint8Array) => void {
  const state = xorshiftState(seed);
  return (out) => {
    // The state in locals for the loop (a closure's variables would be several times slower).
    let [x, y, z, w] = state;
    const words = out.byteOffset % 4 === 0 ? Math.floor(out.length / 4) : 0;
    const u = new Uint32Array(out.buffer, out.byteOffset, words);
    const draws = words + (out.length - 4 * words); // one per whole word, then one per tail byte
    for (let i = 0; i < draws; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
      if (i < words) u[i] = w;
      else out[4 * words + (i - words)] = w & 0xff;
    }
    state.set([x, y, z, w]);
  };
}

/** Random codes and scales for a store's quantized slots (weights of standard deviation 0.02). */
function randomCodes(scheme: QuantScheme, seed: number): (slot: TensorSlot, sink: TensorSink) => boolean {
  const rng = mulberry32(seed + 7);
  const codes = seededBytes(seed + 11);
  return (slot, sink) => {
    const part = /\.(qweight|scales|qzeros)$/.exec(slot.name)?.[1];
    if (!part) return false;
    if (part === 'qweight') streamFill(slot, sink, codes);
    else if (part === 'qzeros') streamFill(slot, sink, (p) => p.fill(scheme.bits === 4 ? 0x88 : 0x80));
    else {
      // Uniform codes have standard deviation (2^bits)/√12 around the zero point; a ±10% jitter keeps
      // scales distinct. The head's blocks are 8-bit (store.ts headScheme).
      const bits = slot.name.startsWith('lm_head.') ? 8 : scheme.bits;
      const s = STD / (2 ** bits / Math.sqrt(12));
      streamFill(slot, sink, (p) => {
        const f = new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4);
        for (let i = 0; i < f.length; i++) f[i] = s * (0.9 + 0.2 * rng());
      });
    }
    return true;
  };
}

/** The dimensions expectedWeights needs, before the checkpoint file exists. */
function specForShapes(cfg: Record<string, unknown>): ModelDims {
  const n = (k: string) => cfg[k] as number;
  return {
    arch: 'llama',
    hiddenSize: n('hidden_size'),
    numLayers: n('num_hidden_layers'),
    numHeads: n('num_attention_heads'),
    numKvHeads: n('num_key_value_heads'),
    headDim: n('hidden_size') / n('num_attention_heads'),
    intermediateSize: n('intermediate_size'),
    vocabSize: n('vocab_size'),
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieEmbeddings: false,
    maxPositions: n('max_position_embeddings'),
  };
}
