// One decoding step at batch 1 of a model with RMSNorm and rotary attention (Llama, Mistral, Qwen2,
// Qwen3, Gemma) from ONNX Runtime's fused contrib operators (com.microsoft): GroupQueryAttention with
// the rotary embedding and the cache append inside it, and SkipSimplifiedLayerNormalization (the
// residual add and the next norm in one kernel). fused-decoding.ts runs it in a Loop for every
// generated token of a single prompt.
//
// Why: a cached token has few FLOPs, so on a GPU its time is the count of kernels launched. The
// general decoder's loop body (decoder.ts, written from primitives so autodiff can read it) is ~54
// nodes a layer; this step is 17 (13 on CUDA, q/k/v stacked). Same arithmetic: rotate_half rotary from the same cos/sin tables
// (position·inv_freq in float32, Llama 3 / linear scaling included), 1/√E scale, causal attention
// over the whole cache, RMSNorm with statistics in float32 inside the kernels (Qwen3's per-head
// query/key norms too).
//
// Batch 1 only: GroupQueryAttention reads the cache as right-padded rows (seqlens_k), while the
// generator left-pads a batch. The caller gives the cache compacted (no masked slots) in the compute
// dtype. Kernels: GroupQueryAttention has float32 and float16 on the CPU, float16 and bfloat16 on
// CUDA (fusedStepProblem says which combination cannot run).

import type { GraphBuilder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';
import type { ModelSpec } from '../models/config.ts';
import { ropeInvFreq } from '../models/decoder.ts';
import { activation, scalarLike } from '../models/layers.ts';
import type { WeightRefs } from '../models/weight-refs.ts';

const MS = { domain: 'com.microsoft' };

/** How the step is built for the device that will run it (fusedStepOptions). */
export interface FusedStepOptions {
  /**
   * Queries, keys and values from one Gemm over their weights stacked (a copy of them, folded by ORT
   * when the session starts) instead of three: on a GPU two kernel launches a layer fewer. On the
   * CPU, bound by reading the weights, not worth the memory (TinyLlama shape fp32: 7.2–7.4 vs 6.7
   * tok/s, +450 MB; 31.6M anchor: 190–193 vs 188–210 tok/s).
   */
  stackQkv: boolean;
}

/** The step's form for `device`; REFT_STUDIO_STACK_QKV=0|1 decides stacking anywhere (to compare). */
export function fusedStepOptions(device: 'cpu' | 'cuda'): FusedStepOptions {
  const env = process.env.REFT_STUDIO_STACK_QKV;
  return { stackQkv: env === '1' || (env !== '0' && device === 'cuda') };
}

/** Why the fused step cannot decode `spec` on `device` ('cuda' or the CPU), or null when it can. */
export function fusedStepProblem(spec: ModelSpec, device: 'cpu' | 'cuda'): string | null {
  if (spec.arch === 'gpt2' || spec.norm.kind !== 'rms')
    return `${spec.arch} has no RMSNorm and rotary attention`;
  if (spec.slidingWindow) return 'it has sliding-window attention';
  // The step reads q/k/v and gate/up as separate matrices, and one rotary table for every length.
  if (spec.arch === 'phi3') return 'its projections are fused (Phi-3)';
  if (spec.rope?.scaling?.type === 'longrope') return 'its rotary table changes with the length (longrope)';
  // GroupQueryAttention's shape check with do_rotary (CPU and CUDA alike): the head size a multiple
  // of 16 (its cos/sin tables, E/2 wide, a multiple of 8).
  if (spec.headDim % 16 !== 0) return `its head size ${spec.headDim} is not a multiple of 16`;
  const dt = spec.compute ?? 'float32';
  if (device === 'cuda' && dt === 'float32') return 'CUDA has no float32 GroupQueryAttention';
  if (device === 'cpu' && dt === 'bfloat16') return 'the CPU has no bfloat16 GroupQueryAttention';
  return null;
}

/**
 * Rotary tables for positions 0 … rows − 1, (rows, E/2) in the compute dtype: GroupQueryAttention
 * reads row p for the token at position p. `rows` int64 [].
 */
export function rotaryCache(b: GraphBuilder, spec: ModelSpec, rows: Value): { cos: Value; sin: Value } {
  const inv = ropeInvFreq(spec);
  const pos = b.unsqueeze(
    b.cast(
      b.op('Range', [b.const('int64', [0], []), rows, b.const('int64', [1], [])], {}, { shapes: [['M']] }),
      'float32',
    ),
    [1],
  ); // (M, 1)
  const freqs = b.mul(pos, b.const('float32', inv, [1, inv.length])); // (M, E/2)
  const dt = spec.compute ?? 'float32';
  return { cos: b.cast(b.op('Cos', [freqs]), dt), sin: b.cast(b.op('Sin', [freqs]), dt) };
}

export interface FusedStepInputs {
  /** (1, 1) int64: the token to run. */
  token: Value;
  /** Per layer, the cache so far, (1, K, P, E) in the compute dtype, no masked slots. */
  past: { k: Value; v: Value }[];
  /** (1) int32: P, the tokens already in the cache (the new token's position). */
  pastLen: Value;
  /** rotaryCache's tables, covering position P. */
  cos: Value;
  sin: Value;
}

/** The step: logits (1, V) float32 and each layer's cache with the token appended, (1, K, P + 1, E). */
export function buildFusedStep(
  b: GraphBuilder,
  spec: ModelSpec,
  w: WeightRefs,
  io: FusedStepInputs,
  opts: FusedStepOptions,
): { logits: Value; present: { k: Value; v: Value }[] } {
  const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: E, numLayers: L } = spec;
  const dt = spec.compute ?? 'float32';
  const eps = spec.norm.eps;
  const total = b.reshape(b.add(io.pastLen, b.const('int32', [1], [])), [], []); // int32 []
  // A norm's weight; Gemma's norms scale by 1 + weight (added once, in float32: ORT folds it).
  const gamma = (name: string) =>
    spec.norm.weightOffset ? b.cast(b.add(w.get32(name), b.scalar(1)), dt) : w.get(name);
  const skipNorm = (x: Value, residual: Value, weight: string) => {
    // Outputs: normalized, mean, inverse std, x + residual.
    const [y, , , sum] = b.opN(
      'SkipSimplifiedLayerNormalization',
      [x, residual, gamma(weight)],
      { epsilon: eps },
      { ...MS, outputs: 4, shapes: [[1, D], [1], [1], [1, D]], dtypes: [dt, 'float32', 'float32', dt] },
    );
    return { y, sum };
  };

  // RMSNorm over the last axis (statistics in float32 inside the kernel).
  const norm = (x: Value, weight: string) =>
    b.op(
      'SimplifiedLayerNormalization',
      [x, gamma(weight)],
      { epsilon: eps, axis: -1 },
      { shapes: [x.shape] },
    );

  // SiLU as one kernel: QuickGelu(x) = x·sigmoid(αx), α = 1 (CPU float32/float16, CUDA float16/
  // bfloat16 too); the general decoder's Sigmoid and Mul are two.
  const act = (x: Value) =>
    spec.act === 'silu'
      ? b.op('QuickGelu', [x], { alpha: 1.0 }, { ...MS, shapes: [x.shape] })
      : activation(b, spec.act, x);

  let h = w.embed('model.embed_tokens.weight', b.reshape(io.token, [-1], [1]));
  if (spec.embedScale !== 1) h = b.mul(h, scalarLike(b, spec.embedScale, h)); // Gemma: √D
  let x = norm(h, 'model.layers.0.input_layernorm.weight');
  const present: { k: Value; v: Value }[] = [];
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    const proj = (name: string, heads: number) => {
      let y = w.linearT(x, `${p}self_attn.${name}.weight`, `${p}self_attn.${name}.bias`);
      // Qwen3 normalizes each head of the queries and keys before the rotary embedding.
      const qk = name === 'q_proj' ? 'q_norm' : name === 'k_proj' ? 'k_norm' : null;
      if (spec.qkNorm && qk) y = norm(b.reshape(y, [heads, E]), `${p}self_attn.${qk}.weight`);
      return b.reshape(y, [1, 1, heads * E]);
    };
    // Stacked: one Gemm, read packed by GroupQueryAttention (not where Qwen3's per-head norms sit
    // between the projections and the attention, nor where only some projections have a bias, nor
    // over a quantized base's codes, each matrix its own MatMulNBits).
    const names = ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}self_attn.${n}`);
    const biases = names.map((n) => `${n}.bias`);
    const stack =
      opts.stackQkv && !spec.qkNorm && !spec.base?.scheme && new Set(biases.map((n) => w.has(n))).size === 1;
    const qkv: (Value | null)[] = stack
      ? [
          b.reshape(
            w.stackedLinearT(
              x,
              names.map((n) => `${n}.weight`),
              biases,
            ),
            [1, 1, (H + 2 * K) * E],
          ),
          null,
          null,
        ]
      : [proj('q_proj', H), proj('k_proj', K), proj('v_proj', K)];
    const [att, k, v] = b.opN(
      'GroupQueryAttention',
      [...qkv, io.past[i].k, io.past[i].v, io.pastLen, total, io.cos, io.sin],
      { num_heads: H, kv_num_heads: K, do_rotary: 1, rotary_interleaved: 0 },
      {
        ...MS,
        outputs: 3,
        shapes: [
          [1, 1, H * E],
          [1, K, 'S', E],
          [1, K, 'S', E],
        ],
        dtypes: [dt, dt, dt],
      },
    );
    present.push({ k, v });
    const o = w.linearT(
      b.reshape(att, [1, H * E]),
      `${p}self_attn.o_proj.weight`,
      `${p}self_attn.o_proj.bias`,
    );
    const a = skipNorm(o, h, `${p}post_attention_layernorm.weight`);
    const gate = w.linearT(a.y, `${p}mlp.gate_proj.weight`, `${p}mlp.gate_proj.bias`);
    const up = w.linearT(a.y, `${p}mlp.up_proj.weight`, `${p}mlp.up_proj.bias`);
    const down = w.linearT(b.mul(act(gate), up), `${p}mlp.down_proj.weight`, `${p}mlp.down_proj.bias`);
    const m = skipNorm(
      down,
      a.sum,
      i + 1 < L ? `model.layers.${i + 1}.input_layernorm.weight` : 'model.norm.weight',
    );
    x = m.y;
    h = m.sum;
  }
  const logits = w.head()(b, x);
  return { logits: logits.dtype === 'float32' ? logits : b.cast(logits, 'float32'), present };
}
