// How the graph builders read a model's weights: initializers pointing into the safetensors files
// (the checkpoint's own, or a converted base store, quantize/store.ts), never copied.
// - linear layers: Gemm(x, W, transB=1) on float weights; MatMulNBits on a store's quantized codes
// - embeddings: rows gathered in the stored dtype, then cast, so a half-precision table is never
//   widened whole (only the batch's rows are)
// - the LM head: a function applied wherever the logits are needed (If branches included)
// Weights stored in f16/bf16 and read as matrices are cast inside the graph: ORT folds that Cast into
// a private fp32 copy per session, which is why CPU runs use a converted fp32 store instead.
// With a half-precision `spec.compute`, get() and embed() give the compute dtype instead: weights
// stored in it are used as they are (no copy, no widening); get32() serves the norms' float32 math.

import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { UnsupportedError } from '../errors.ts';
import type { SafetensorsDtype } from '../formats/safetensors.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import type { DType } from '../ir/dtype.ts';
import type { Value } from '../ir/graph.ts';
import { chunkedMatMulNBits, type QuantizedMatrix, setGpuCodes, setTransposed } from '../quantize/linear.ts';
import { accuracyLevelFor, BACKWARD_SCHEME, headScheme } from '../quantize/scheme.ts';
import { storeMatrices } from '../quantize/store.ts';
import type { ModelSpec } from './config.ts';
import { linear, linearT } from './layers.ts';

/** The LM head: x (N, D) → logits (N, V). May be called in any (sub)graph builder. */
export type HeadFn = (b: GraphBuilder, x: Value) => Value;

const ST_TO_DTYPE: Partial<Record<SafetensorsDtype, DType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  U8: 'uint8',
};

export class WeightRefs {
  readonly dir: string;
  /** Where weights (and their casts) are declared: the root builder, shared with `from`. */
  readonly #decl: GraphBuilder;
  #raw = new Map<string, Value>();
  #f32 = new Map<string, Value>();
  #dt = new Map<string, Value>();
  #quant = new Map<string, QuantizedMatrix>();
  #stacked = new Map<string, Value>();
  #dims: Record<string, [number, number]> | null = null;
  readonly #accuracy: number;
  /** The dtype activations and matrices compute in. */
  readonly compute: DType;

  /**
   * `b` emits the ops (products, gathers). With `from`, the weights are those `from` declared (an
   * If/Loop body reads them from the outer graph: no second initializer, no second cast).
   */
  constructor(
    private b: GraphBuilder,
    private spec: ModelSpec,
    from?: WeightRefs,
  ) {
    this.#decl = from ? from.#decl : b;
    if (from) {
      this.#raw = from.#raw;
      this.#f32 = from.#f32;
      this.#dt = from.#dt;
      this.#quant = from.#quant;
      this.#stacked = from.#stacked;
    }
    // ORT rejects external-data paths that leave the model folder, and the Hugging Face cache uses
    // symlinks into blobs/: resolve real paths and point ORT at the folder that holds the files.
    const first = spec.weights.get(spec.weights.names()[0]);
    this.dir = dirname(realpathSync(first.file));
    this.#accuracy = spec.base?.accuracyLevel ?? accuracyLevelFor('cpu');
    // A quantized base computes in half precision too: MatMulNBits reads its scales cast (linear.ts).
    this.compute = spec.compute ?? 'float32';
  }

  has(name: string): boolean {
    return this.spec.weights.has(name) || this.spec.weights.has(`${name}.qweight`);
  }

  /** The stored tensor as an initializer in its own dtype. */
  raw(name: string): Value {
    const hit = this.#raw.get(name);
    if (hit) return hit;
    const { file, info } = this.spec.weights.get(name);
    const real = realpathSync(file);
    if (dirname(real) !== this.dir) {
      throw new UnsupportedError(
        'weights-split-folders',
        `${name}: weight files lie in different folders (${dirname(real)} vs ${this.dir})`,
      );
    }
    const dtype = ST_TO_DTYPE[info.dtype];
    if (!dtype)
      throw new UnsupportedError(
        'unsupported-dtype',
        `${basename(file)}: tensor ${name} has dtype ${info.dtype}; only F32, F16 and BF16 weights are supported`,
      );
    const v = this.#decl.initializer(name, dtype, info.shape, {
      kind: 'external',
      location: basename(real),
      offset: info.offset,
      length: info.byteLength,
    });
    this.#raw.set(name, v);
    return v;
  }

  /** The weight as float32 (cast inside the graph when stored in f16/bf16). */
  get32(name: string): Value {
    const hit = this.#f32.get(name);
    if (hit) return hit;
    const raw = this.raw(name);
    const out = raw.dtype === 'float32' ? raw : this.#decl.cast(raw, 'float32');
    this.#f32.set(name, out);
    return out;
  }

  /** The weight in the compute dtype: as stored when it matches, else cast (folded by ORT at load). */
  get(name: string): Value {
    if (this.compute === 'float32') return this.get32(name);
    const hit = this.#dt.get(name);
    if (hit) return hit;
    const raw = this.raw(name);
    const out = raw.dtype === this.compute ? raw : this.#decl.cast(raw, this.compute);
    this.#dt.set(name, out);
    return out;
  }

  opt(name: string): Value | null {
    return this.has(name) ? this.get(name) : null;
  }

  /** A store's quantized matrix `name` (codes, scales, zero points), or null when stored as floats. */
  quantized(name: string): QuantizedMatrix | null {
    const hit = this.#quant.get(name);
    if (hit) return hit;
    const scheme = this.spec.base?.scheme;
    if (!scheme || !this.spec.weights.has(`${name}.qweight`)) return null;
    const q = this.raw(`${name}.qweight`);
    const [N, , blob] = q.shape as number[];
    const s = name === 'lm_head.weight' ? headScheme(scheme) : scheme;
    if ((blob * 8) / s.bits !== s.blockSize)
      throw new UnsupportedError(
        'bad-store',
        `${name}: stored blocks do not match ${s.bits}-bit blocks of ${s.blockSize}`,
      );
    const scales = this.raw(`${name}.scales`);
    // The true input width from the store's metadata: the block grid may be padded past it.
    this.#dims ??= storeMatrices(this.spec.weights);
    const K = this.#dims[name]?.[1] ?? this.spec.weights.get(`${name}.qweight`).info.shape[1] * s.blockSize;
    const m: QuantizedMatrix = {
      q,
      scales,
      zp: s.zeroPoints ? this.raw(`${name}.qzeros`) : null,
      N,
      K,
      scheme: s,
    };
    if (this.spec.base?.onGpu) setGpuCodes(q);
    if (this.spec.base?.backward === 'transposed' && this.spec.weights.has(`${name}.qweight_t`)) {
      setTransposed(q, {
        q: this.raw(`${name}.qweight_t`),
        scales: this.raw(`${name}.scales_t`),
        zp: null,
        N: K,
        K: N,
        scheme: BACKWARD_SCHEME,
      });
    }
    this.#quant.set(name, m);
    return m;
  }

  /** y = x·Wᵀ (+ b) for a Hugging Face Linear weight W (out, in). */
  linearT(x: Value, name: string, biasName?: string): Value {
    const bias = biasName ? this.opt(biasName) : null;
    const q = this.quantized(name);
    return q
      ? chunkedMatMulNBits(this.b, x, q, this.#accuracy, bias)
      : linearT(this.b, x, this.get(name), bias);
  }

  /**
   * y = x·[W₀; W₁; …]ᵀ (+ [b₀; b₁; …]): several Linear layers over the same x as one Gemm, their
   * weights stacked by rows in the compute dtype. The stacking is a Concat of initializers declared
   * in the root graph, which ORT folds once at session creation: a copy of those weights, paid for
   * one kernel instead of several wherever x passes (the fused decoding step on a GPU). Float bases
   * only; the biases must be all present or all absent (the caller checks).
   */
  stackedLinearT(x: Value, names: string[], biasNames: string[]): Value {
    const stack = (ns: string[]) => {
      const key = ns.join('\n');
      let v = this.#stacked.get(key);
      if (!v) {
        const parts = ns.map((n) => this.get(n));
        const rows = parts.reduce((r, p) => r + (p.shape[0] as number), 0);
        v = this.#decl.concat(parts, 0, [rows, ...parts[0].shape.slice(1)]);
        this.#stacked.set(key, v);
      }
      return v;
    };
    const biased = biasNames.filter((n) => this.has(n));
    if (biased.length !== 0 && biased.length !== biasNames.length)
      throw new Error(`stackedLinearT: only some of ${biasNames.join(', ')} exist`);
    return linearT(this.b, x, stack(names), biased.length ? stack(biased) : null);
  }

  /** y = x·W + b for GPT-2's Conv1D weight W (in, out); stores hold it as (out, in) rows. */
  conv1d(x: Value, name: string, biasName: string): Value {
    const bias = this.get(biasName);
    const q = this.quantized(name);
    if (q) return chunkedMatMulNBits(this.b, x, q, this.#accuracy, bias);
    const w = this.spec.base?.dir ? null : this.get(name);
    // A converted float store keeps Conv1D weights as (out, in) rows too.
    return w ? linear(this.b, x, w, bias) : linearT(this.b, x, this.get(name), bias);
  }

  /** Rows `ids` (N,) of an embedding table in the compute dtype (N, D). */
  embed(name: string, ids: Value): Value {
    const rows = this.b.gather(this.raw(name), ids);
    return rows.dtype === this.compute ? rows : this.b.cast(rows, this.compute);
  }

  /**
   * The LM head: tied to the embeddings where the model says so. A store holds its own except in the
   * fp32 form of a tied model, whose one fp32 table serves both (quantize/store.ts).
   */
  head(): HeadFn {
    const spec = this.spec;
    const embedding = spec.arch === 'gpt2' ? `${gpt2Prefix(this)}wte.weight` : 'model.embed_tokens.weight';
    const own = this.has('lm_head.weight') && (!!spec.base?.dir || !spec.tieEmbeddings);
    const name = own ? 'lm_head.weight' : embedding;
    const q = this.quantized(name);
    if (q) return (b, x) => chunkedMatMulNBits(b, x, q, this.#accuracy);
    const w = this.get(name);
    return (b, x) => linearT(b, x, w);
  }
}

/** GPT-2 names carry `transformer.` unless the checkpoint is the original OpenAI conversion. */
export function gpt2Prefix(w: { has(name: string): boolean }): string {
  return w.has('transformer.wte.weight') ? 'transformer.' : '';
}
