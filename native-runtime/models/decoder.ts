// The forward graph of a decoder-only language model (Llama, Mistral, Qwen2, Qwen3, Gemma, GPT-2, Phi-3),
// built from a ModelSpec with weights referenced in place inside the safetensors files (weight-refs.ts).
// One builder serves every use: exact logits (debug forward), generation with a KV cache, and the
// training graph (interventions are inserted by the `afterBlock` hook on the residual stream).
//
// Graph inputs: input_ids (B, T) int64, attention_mask (B, S) int64, position_ids (B, T) int64 and,
// with a cache, past_key.i / past_value.i (B, K, P, E) float32. Outputs: logits (B, T, V) float32
// (or only the last position's (B, 1, V)) and new_key.i / new_value.i (B, K, T, E): only this pass's
// keys and values, which the caller appends to its own cache. (onnxruntime-node copies every output
// into a fresh JavaScript buffer, so returning the whole grown cache each step cost a copy of it and
// left it as garbage; the past can be fed at a larger capacity with the unused slots masked out.)
// The whole grown cache is returned too, as present_key.i / present_value.i (B, K, P+T, E): a WebGPU
// session keeps those on the device and feeds them back (generator.ts), so the cache never crosses
// to the host. Both exist in every cached graph; an output nobody fetches costs nothing.
//
// Precision: spec.compute (default float32). In float16/bfloat16 the weights are used as stored
// (WeightRefs), the residual stream, the linear layers, rotary and attention products run in that
// dtype; norm statistics (with the norm's weight), attention scores + mask + softmax, the logits, the
// cache as graph I/O and the afterBlock hook (interventions) are float32. No ReduceMean or Softmax
// ever sees a half tensor (CUDA has no bf16 ReduceMean), and graph inputs/outputs stay float32.

import type { GraphBuilder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';
import type { ModelSpec } from './config.ts';
import {
  activation,
  applyRotary,
  attention,
  attentionBias,
  layerNorm,
  rmsNorm,
  rotaryTables,
  scalarLike,
} from './layers.ts';
import { gpt2Prefix, type HeadFn, WeightRefs } from './weight-refs.ts';

export interface BlockHookContext {
  b: GraphBuilder;
  /** Batch and new-token counts as a (2,) int64 shape vector [B, T]. */
  batchSeq: Value;
}

export interface DecoderOptions {
  withCache?: boolean;
  /** Emit hidden_states.i outputs like transformers (0 = embeddings, last = after the final norm). */
  hiddenStates?: boolean;
  /** Compute logits for the last position only (generation): saves a (T, V) product per prompt. */
  lastLogitsOnly?: boolean;
  /** Stop after the final norm: the caller applies the LM head (see DecoderGraph.finalHidden/head). */
  headless?: boolean;
  /** Rewrites the residual stream leaving block `layer`; h: (B, T, D). */
  afterBlock?: (layer: number, h: Value, ctx: BlockHookContext) => Value;
  /**
   * Weights declared by another decoder of the same model (built in the root graph): an If/Loop body
   * reads them from the outer scope instead of declaring a second copy (generation/decode-loop.ts).
   */
  weightsFrom?: WeightRefs;
  /** Declare the cache outputs (default true); false leaves them to the caller (DecoderGraph.cache). */
  cacheOutputs?: boolean;
}

export interface DecoderGraph {
  inputIds: Value;
  attentionMask: Value;
  positionIds: Value;
  /** (B, T, V), or (B, 1, V) with lastLogitsOnly; null when headless. */
  logits: Value | null;
  hidden: Value[];
  /**
   * The residual stream entering each layer, then leaving the last one (before the final norm), (N, D):
   * numLayers + 1 values. Training can keep only these and recompute each layer in the backward.
   */
  blockInputs: Value[];
  /** The residual stream after the final norm, (N, D). */
  finalHidden: Value;
  /** The LM head, (N, D) → (N, V) (tied to the embeddings where the model says so). */
  head: HeadFn;
  batchSeq: Value;
  /** Folder the external weight locations are relative to. */
  weightsDir: string;
  /** The weights as this decoder reads them (pass as `weightsFrom` to share them). */
  weights: WeightRefs;
  /** Per layer with a cache: the past inputs, this pass's keys/values and the grown cache, float32. */
  cache: { pastK: Value; pastV: Value; kNew: Value; vNew: Value; k: Value; v: Value }[];
}

/**
 * Rotary inverse frequencies, including Llama 3 and linear scaling; for longrope each divided by
 * its entry of `factors` (default short_factor: ropeTables switches to long_factor by length).
 * Computed in float32 steps as transformers does (1 / (factor · θ^(2i/dim)), each operation rounded
 * to float32, and so the scalings after it): computed in double, a frequency lands an ulp away, and
 * position · frequency drifts by up to 4e-3 rad at Phi-3.5's 131072 positions.
 */
export function ropeInvFreq(spec: ModelSpec, factors?: number[]): Float32Array {
  const rope = spec.rope!;
  const dim = spec.headDim;
  const inv = new Float32Array(dim / 2);
  const sc = rope.scaling;
  const ext = sc?.type === 'longrope' ? (factors ?? sc.shortFactor) : null;
  const f32 = Math.fround;
  for (let i = 0; i < dim / 2; i++) {
    const base = f32(f32(rope.theta) ** f32((2 * i) / dim));
    inv[i] = 1 / (ext ? f32(f32(ext[i]) * base) : base);
  }
  // Linear and Llama 3 scaling as transformers' _compute_linear_scaling_rope_parameters and
  // _compute_llama3_parameters write them: each operation in float32, in their order.
  if (sc?.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] = f32(inv[i] / f32(sc.factor));
  if (sc?.type === 'llama3') {
    const old = f32(sc.originalMaxPositions);
    const factor = f32(sc.factor);
    const lowWavelen = f32(sc.originalMaxPositions / sc.lowFreqFactor);
    const highWavelen = f32(sc.originalMaxPositions / sc.highFreqFactor);
    for (let i = 0; i < inv.length; i++) {
      const f = inv[i];
      const wavelen = f32(f32(2 * Math.PI) / f);
      if (wavelen > lowWavelen) inv[i] = f32(f / factor);
      else if (wavelen >= highWavelen) {
        const smooth = f32(
          f32(f32(old / wavelen) - f32(sc.lowFreqFactor)) / f32(sc.highFreqFactor - sc.lowFreqFactor),
        );
        inv[i] = f32(f32(f32(f32(1 - smooth) * f) / factor) + f32(smooth * f));
      }
    }
  }
  return inv;
}

/** The rotary tables for `positionIds` (rotaryTables), with LongRoPE's long table and scale where the spec has them. */
export function ropeTables(b: GraphBuilder, spec: ModelSpec, positionIds: Value): { cos: Value; sin: Value } {
  const sc = spec.rope?.scaling;
  if (sc?.type !== 'longrope') return rotaryTables(b, positionIds, ropeInvFreq(spec));
  return rotaryTables(b, positionIds, ropeInvFreq(spec, sc.shortFactor), {
    invFreq: ropeInvFreq(spec, sc.longFactor),
    beyond: sc.originalMaxPositions,
    scale: sc.attentionFactor,
  });
}

/** The cache outputs of a cached graph (and of its decoding loop): what a WebGPU session keeps on the device. */
export function cacheOutputs(spec: ModelSpec): string[] {
  return Array.from({ length: spec.numLayers }, (_, i) =>
    ['new_', 'present_', 'chunk_new_', 'chunk_present_'].flatMap((p) => [`${p}key.${i}`, `${p}value.${i}`]),
  ).flat();
}

interface CacheIO {
  past: (layer: number) => { k: Value; v: Value } | null;
  /** Declares this pass's keys/values (B, K, T, E) and the whole cache (B, K, S, E) as outputs. */
  present: (layer: number, k: Value, v: Value, kAll: Value, vAll: Value) => void;
}

function cacheIO(b: GraphBuilder, spec: ModelSpec, enabled: boolean, declare: boolean): CacheIO {
  if (!enabled) return { past: () => null, present: () => {} };
  if (!declare)
    return {
      past: (i) => ({
        k: b.input(`past_key.${i}`, 'float32', ['B', spec.numKvHeads, 'P', spec.headDim]),
        v: b.input(`past_value.${i}`, 'float32', ['B', spec.numKvHeads, 'P', spec.headDim]),
      }),
      present: () => {},
    };
  const K = spec.numKvHeads,
    E = spec.headDim;
  return {
    past: (i) => ({
      k: b.input(`past_key.${i}`, 'float32', ['B', K, 'P', E]),
      v: b.input(`past_value.${i}`, 'float32', ['B', K, 'P', E]),
    }),
    present: (i, k, v, kAll, vAll) => {
      b.output(k, `new_key.${i}`);
      b.output(v, `new_value.${i}`);
      b.output(kAll, `present_key.${i}`);
      b.output(vAll, `present_value.${i}`);
    },
  };
}

/** (N, H·E) → (B, H, T, E) */
function toHeads(b: GraphBuilder, x: Value, batchSeq: Value, heads: number, headDim: number): Value {
  const shape = b.concat([batchSeq, b.ints([heads, headDim])], 0);
  return b.transpose(b.reshape(x, shape, ['B', 'T', heads, headDim]), [0, 2, 1, 3]);
}

/** (B, H, T, E) → (N, H·E) */
function fromHeads(b: GraphBuilder, x: Value, heads: number, headDim: number): Value {
  return b.reshape(b.transpose(x, [0, 2, 1, 3]), [-1, heads * headDim], ['N', heads * headDim]);
}

export function buildDecoder(b: GraphBuilder, spec: ModelSpec, opts: DecoderOptions = {}): DecoderGraph {
  const w = new WeightRefs(b, spec, opts.weightsFrom);
  const cacheValues: DecoderGraph['cache'] = [];
  const inputIds = b.input('input_ids', 'int64', ['B', 'T']);
  const attentionMask = b.input('attention_mask', 'int64', ['B', 'S']);
  const positionIds = b.input('position_ids', 'int64', ['B', 'T']);
  const cache = cacheIO(b, spec, !!opts.withCache, opts.cacheOutputs ?? true);
  const D = spec.hiddenSize,
    H = spec.numHeads,
    K = spec.numKvHeads,
    E = spec.headDim;
  const dt = w.compute;
  const half = dt !== 'float32';
  const toDt = (v: Value) => b.cast(v, dt);
  const to32 = (v: Value) => b.cast(v, 'float32');
  const batchSeq = b.shapeOf(inputIds); // [B, T]
  const bsd = b.concat([batchSeq, b.ints([D])], 0);
  const ctx: BlockHookContext = { b, batchSeq };
  const fullBias = attentionBias(b, attentionMask, inputIds);
  const sw = spec.slidingWindow;
  const windowBias = sw ? attentionBias(b, attentionMask, inputIds, sw.size) : fullBias;
  const isGpt2 = spec.arch === 'gpt2';
  // Phi-3 stores q/k/v and gate/up each as one matrix: one product, its output split (the weights
  // are read in place, never sliced or copied).
  const fused = spec.arch === 'phi3';
  const p = isGpt2 ? gpt2Prefix(w) : 'model.';
  const flatIds = b.reshape(inputIds, [-1], ['N']);

  // Embeddings, as (N, D).
  let h = w.embed(isGpt2 ? `${p}wte.weight` : `${p}embed_tokens.weight`, flatIds);
  if (isGpt2) h = b.add(h, w.embed(`${p}wpe.weight`, b.reshape(positionIds, [-1], ['N'])));
  if (spec.embedScale !== 1) h = b.mul(h, scalarLike(b, spec.embedScale, h));
  const hidden: Value[] = [];
  const to3d = (x: Value) => b.reshape(x, bsd, ['B', 'T', D]);
  if (opts.hiddenStates) hidden.push(to32(to3d(h)));

  const rot32 = spec.rope ? ropeTables(b, spec, positionIds) : null;
  const rot = rot32 && { cos: toDt(rot32.cos), sin: toDt(rot32.sin) };
  // Norms in float32 (statistics and weight), the result back in the compute dtype.
  const rms = (x: Value, weight: string, offset: 0 | 1) =>
    half
      ? toDt(rmsNorm(b, to32(x), w.get32(weight), spec.norm.eps, offset))
      : rmsNorm(b, x, w.get(weight), spec.norm.eps, offset);
  const norm = (x: Value, wname: string, bname?: string) =>
    spec.norm.kind === 'rms'
      ? rms(x, wname, spec.norm.weightOffset)
      : half
        ? toDt(layerNorm(b, to32(x), w.get32(wname), w.get32(bname!), spec.norm.eps, false))
        : layerNorm(b, x, w.get(wname), w.get(bname!), spec.norm.eps);

  const blockInputs: Value[] = [];
  for (let i = 0; i < spec.numLayers; i++) {
    blockInputs.push(h);
    const L = isGpt2 ? `${p}h.${i}.` : `${p}layers.${i}.`;
    const bias = sw?.layers[i] ? windowBias : fullBias;
    // --- attention -------------------------------------------------------------------------------
    const x = isGpt2 ? norm(h, `${L}ln_1.weight`, `${L}ln_1.bias`) : norm(h, `${L}input_layernorm.weight`);
    let q: Value, k: Value, v: Value;
    if (isGpt2) {
      const qkv = w.conv1d(x, `${L}attn.c_attn.weight`, `${L}attn.c_attn.bias`);
      [q, k, v] = b.opN('Split', [qkv, b.ints([D, D, D])], { axis: -1 }, { outputs: 3 });
    } else if (fused) {
      const qkv = w.linearT(x, `${L}self_attn.qkv_proj.weight`);
      [q, k, v] = b.opN('Split', [qkv, b.ints([H * E, K * E, K * E])], { axis: -1 }, { outputs: 3 });
    } else {
      q = w.linearT(x, `${L}self_attn.q_proj.weight`, `${L}self_attn.q_proj.bias`);
      k = w.linearT(x, `${L}self_attn.k_proj.weight`, `${L}self_attn.k_proj.bias`);
      v = w.linearT(x, `${L}self_attn.v_proj.weight`, `${L}self_attn.v_proj.bias`);
    }
    let qh = toHeads(b, q, batchSeq, H, E);
    let kh = toHeads(b, k, batchSeq, K, E);
    let vh = toHeads(b, v, batchSeq, K, E);
    if (spec.qkNorm) {
      qh = rms(qh, `${L}self_attn.q_norm.weight`, 0);
      kh = rms(kh, `${L}self_attn.k_norm.weight`, 0);
    }
    if (rot) {
      qh = applyRotary(b, qh, rot.cos, rot.sin, E);
      kh = applyRotary(b, kh, rot.cos, rot.sin, E);
    }
    const past = cache.past(i);
    if (past) {
      // The cache is float32 as graph I/O: this pass's keys join it in float32, attention reads it
      // in the compute dtype.
      const kNew = to32(kh),
        vNew = to32(vh);
      const kAll = b.concat([past.k, kNew], 2, ['B', K, 'S', E]);
      const vAll = b.concat([past.v, vNew], 2, ['B', K, 'S', E]);
      cache.present(i, kNew, vNew, kAll, vAll);
      cacheValues.push({ pastK: past.k, pastV: past.v, kNew, vNew, k: kAll, v: vAll });
      kh = toDt(kAll);
      vh = toDt(vAll);
    }
    const att = fromHeads(
      b,
      attention(b, qh, kh, vh, bias, { numHeads: H, numKvHeads: K, headDim: E }),
      H,
      E,
    );
    const o = isGpt2
      ? w.conv1d(att, `${L}attn.c_proj.weight`, `${L}attn.c_proj.bias`)
      : w.linearT(att, `${L}self_attn.o_proj.weight`, `${L}self_attn.o_proj.bias`);
    h = b.add(h, o);
    // --- MLP -------------------------------------------------------------------------------------
    if (isGpt2) {
      const y = norm(h, `${L}ln_2.weight`, `${L}ln_2.bias`);
      const up = w.conv1d(y, `${L}mlp.c_fc.weight`, `${L}mlp.c_fc.bias`);
      h = b.add(h, w.conv1d(activation(b, spec.act, up), `${L}mlp.c_proj.weight`, `${L}mlp.c_proj.bias`));
    } else {
      const y = norm(h, `${L}post_attention_layernorm.weight`);
      let gate: Value, up: Value;
      if (fused) {
        const gateUp = w.linearT(y, `${L}mlp.gate_up_proj.weight`);
        const I = spec.intermediateSize;
        [gate, up] = b.opN('Split', [gateUp, b.ints([I, I])], { axis: -1 }, { outputs: 2 });
      } else {
        gate = w.linearT(y, `${L}mlp.gate_proj.weight`, `${L}mlp.gate_proj.bias`);
        up = w.linearT(y, `${L}mlp.up_proj.weight`, `${L}mlp.up_proj.bias`);
      }
      const act = b.mul(activation(b, spec.act, gate), up);
      h = b.add(h, w.linearT(act, `${L}mlp.down_proj.weight`, `${L}mlp.down_proj.bias`));
    }
    // --- interventions on the block output (pyreft's block_output) -----------------------------
    if (opts.afterBlock) {
      // Interventions see and return float32 (their parameters and optimizer state are float32).
      const h3 = opts.afterBlock(i, to32(to3d(h)), ctx);
      h = toDt(b.reshape(h3, [-1, D], ['N', D]));
    }
    if (opts.hiddenStates && i < spec.numLayers - 1) hidden.push(to32(to3d(h)));
  }

  blockInputs.push(h);
  h = isGpt2 ? norm(h, `${p}ln_f.weight`, `${p}ln_f.bias`) : norm(h, `${p}norm.weight`);
  if (opts.hiddenStates) hidden.push(to32(to3d(h)));
  const headDt = w.head();
  // The head takes rows in any float dtype and gives float32 logits wherever it is applied (the loss
  // reads them).
  const head: HeadFn = half ? (bb, x) => bb.cast(headDt(bb, bb.cast(x, dt)), 'float32') : headDt;
  const logits = opts.headless ? null : lmHead(b, h, head, batchSeq, spec.vocabSize, !!opts.lastLogitsOnly);
  return {
    inputIds,
    attentionMask,
    positionIds,
    logits,
    hidden,
    blockInputs,
    finalHidden: h,
    head,
    batchSeq,
    weightsDir: w.dir,
    weights: w,
    cache: cacheValues,
  };
}

/**
 * Logits from the final hidden states h (N, D): (B, T, V), or only the last position's (B, 1, V).
 * May be called inside an If branch (b a subgraph builder) on values of the parent graph.
 */
export function lmHead(
  b: GraphBuilder,
  h: Value,
  head: HeadFn,
  batchSeq: Value,
  vocab: number,
  lastOnly: boolean,
): Value {
  const D = h.shape[1];
  let x = h;
  let outShape = b.concat([batchSeq, b.ints([vocab])], 0);
  if (lastOnly) {
    const h3 = b.reshape(h, b.concat([batchSeq, b.ints([D as number])], 0), ['B', 'T', D]);
    x = b.reshape(b.slice(h3, [-1], [Number.MAX_SAFE_INTEGER], [1]), [-1, D as number], ['B', D]);
    outShape = b.concat([b.slice(batchSeq, [0], [1], [0]), b.ints([1, vocab])], 0);
  }
  return b.reshape(head(b, x), outShape, ['B', lastOnly ? 1 : 'T', vocab]);
}
