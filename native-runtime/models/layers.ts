// Building blocks of decoder-only transformers as graph fragments: linear layers, norms, rotary
// embeddings, attention with a KV cache, MLPs. Activations in the residual stream are kept 2-D
// (N, D) with N = B·T so every linear layer is a plain 2-D product; attention reshapes to heads.
// Dimension letters: B batch, T new tokens, P past tokens, S = P + T keys, D hidden, H heads,
// K kv heads, E head dim, V vocabulary, F MLP width.
// Fragments compute in the dtype of their input (float32, or float16/bfloat16 with the spec's
// `compute`); decoder.ts keeps norm statistics and softmax in float32 around them.

import type { GraphBuilder } from '../ir/builder.ts';
import type { DType } from '../ir/dtype.ts';
import type { Value } from '../ir/graph.ts';

/** A scalar constant in x's float dtype (half precision through a Cast ORT folds at load). */
export function scalarLike(b: GraphBuilder, v: number, x: Value): Value {
  return x.dtype === 'float32' ? b.scalar(v) : b.cast(b.scalar(v), x.dtype as DType);
}

/** y = x·Wᵀ (+ b) for a Hugging Face Linear weight W (out, in); x: (N, in). */
export function linearT(b: GraphBuilder, x: Value, w: Value, bias?: Value | null): Value {
  // Gemm(x, W, transB=1) reads the weight in its stored layout; with ORT's pre-packing off (see
  // runtime/session.ts) it is never copied and stays in the memory-mapped safetensors file, shared by
  // every session in the process. Measured against the earlier (W·xᵀ)ᵀ form (one FusedMatMul, weight
  // on the left) on this 2-core AVX2 machine: prefill +7–11% (31.6M Llama shape) and +9% (207M),
  // KV-cached decoding +23–31% and +43%, training steps within noise; memory the same.
  return b.op('Gemm', bias ? [x, w, bias] : [x, w], { transB: 1 }, { shapes: [[x.shape[0], w.shape[0]]] });
}

/** y = x·W (+ b) for a weight stored (in, out), as GPT-2's Conv1D does. */
export function linear(b: GraphBuilder, x: Value, w: Value, bias?: Value | null): Value {
  const y = b.matmul(x, w);
  return bias ? b.add(y, bias) : y;
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · (w + offset). */
export function rmsNorm(b: GraphBuilder, x: Value, w: Value, eps: number, weightOffset: 0 | 1): Value {
  // Written as Pow → ReduceMean → Add → Sqrt → Div → Mul, the pattern ORT fuses into one
  // SimplifiedLayerNormalization kernel in inference graphs (decode +2–5%, prefill +3% measured).
  const ms = b.reduceMean(b.op('Pow', [x, b.scalar(2)]), [-1]);
  const scale = weightOffset ? b.add(w, b.scalar(weightOffset)) : w;
  return b.mul(b.div(x, b.sqrt(b.add(ms, b.scalar(eps)))), scale);
}

/**
 * LayerNorm over the last axis with weight and bias (GPT-2), from primitives so autodiff sees them.
 * `fusable: false` for an x that is a Cast from half precision: ORT's LayerNormFusion would take the
 * Cast's half input as the fused kernel's X beside float32 weights, a graph ONNX Runtime then refuses
 * to load ("Type parameter (T) of Optype (LayerNormalization) bound to different types").
 */
export function layerNorm(
  b: GraphBuilder,
  x: Value,
  w: Value,
  bias: Value,
  eps: number,
  fusable = true,
): Value {
  const mean = b.reduceMean(x, [-1]);
  const xc = b.sub(x, mean);
  // Pow is the form ORT fuses into one LayerNormalization kernel in inference graphs (as rmsNorm
  // above); xc·xc is the same value without the fusion.
  const sq = fusable ? b.op('Pow', [xc, b.scalar(2)]) : b.mul(xc, xc);
  const variance = b.reduceMean(sq, [-1]);
  return b.add(b.mul(b.div(xc, b.sqrt(b.add(variance, b.scalar(eps)))), w), bias);
}

export function silu(b: GraphBuilder, x: Value): Value {
  return b.mul(x, b.sigmoid(x));
}

/** GELU, tanh approximation (gelu_pytorch_tanh / gelu_new). */
export function geluTanh(b: GraphBuilder, x: Value): Value {
  const c = Math.sqrt(2 / Math.PI);
  const k = (v: number) => scalarLike(b, v, x);
  const inner = b.mul(b.add(x, b.mul(k(0.044715), b.mul(x, b.mul(x, x)))), k(c));
  return b.mul(b.mul(k(0.5), x), b.add(k(1), b.tanh(inner)));
}

/** Exact GELU via erf. */
export function geluErf(b: GraphBuilder, x: Value): Value {
  const k = (v: number) => scalarLike(b, v, x);
  const e = b.op('Erf', [b.mul(x, k(Math.SQRT1_2))]);
  return b.mul(b.mul(k(0.5), x), b.add(k(1), e));
}

export function activation(b: GraphBuilder, kind: 'silu' | 'gelu_tanh' | 'gelu', x: Value): Value {
  if (kind === 'silu') return silu(b, x);
  if (kind === 'gelu_tanh') return geluTanh(b, x);
  return geluErf(b, x);
}

/**
 * Rotary tables for the given positions: cos/sin of position·inv_freq, duplicated to the head dim
 * as transformers does (cat(freqs, freqs)). positions: (B, T) int64 → cos, sin: (B, 1, T, E), in
 * float32 (cast them once per pass for half precision). `sin` carries rotate_half's sign: its first
 * half is negated, so applyRotary needs no Neg (exact: negation only flips a sign bit).
 * LongRoPE: `long` is the table a row switches to for a pass once its last position is beyond
 * `long.beyond` positions (transformers: max(position_ids) + 1 > beyond), and `scale` multiplies
 * cos and sin (its attention factor).
 */
export function rotaryTables(
  b: GraphBuilder,
  positions: Value,
  invFreq: Float32Array,
  long?: { invFreq: Float32Array; beyond: number; scale: number },
): { cos: Value; sin: Value } {
  const posF = b.cast(positions, 'float32');
  const pos = b.unsqueeze(posF, [-1]); // (B, T, 1)
  let inv = b.const('float32', invFreq, [invFreq.length]);
  if (long) {
    // Per row (transformers decides for the whole batch): the same for one sequence, and a longer
    // neighbour in a batch never changes a row's table.
    const last = b.reduceMax(posF, [1]); // (B, 1)
    const beyond = b.unsqueeze(b.op('Greater', [last, b.scalar(long.beyond - 1)]), [-1]); // (B, 1, 1)
    inv = b.where(beyond, b.const('float32', long.invFreq, [invFreq.length]), inv); // (B, 1, E/2)
  }
  const freqs = b.mul(pos, inv); // (B, T, E/2)
  const emb = b.concat([freqs, freqs], -1); // (B, T, E)
  const e4 = b.unsqueeze(emb, [1]); // (B, 1, T, E)
  const half = invFreq.length;
  const scale = long?.scale ?? 1;
  const sign = b.const(
    'float32',
    Float32Array.from({ length: 2 * half }, (_, i) => (i < half ? -scale : scale)),
    [2 * half],
  );
  const cos = b.op('Cos', [e4]);
  return { cos: scale === 1 ? cos : b.mul(cos, b.scalar(scale)), sin: b.mul(b.op('Sin', [e4]), sign) };
}

/** x·cos + rotate_half(x)·sin, x: (B, H, T, E), with the sign of rotate_half folded into `sin`. */
export function applyRotary(b: GraphBuilder, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const half = headDim / 2;
  const [x1, x2] = b.opN('Split', [x, b.ints([half, half])], { axis: -1 }, { outputs: 2 });
  const swapped = b.concat([x2, x1], -1);
  return b.add(b.mul(x, cos), b.mul(swapped, sin));
}

/**
 * Additive attention bias (B, 1, T, S): 0 where query t may see key s (causal and not padding),
 * the lowest finite float otherwise. A row with every key masked (the pyreft sink, left padding)
 * stays finite, as in transformers; −inf would turn it into NaN and leak everywhere.
 */
export function attentionBias(
  b: GraphBuilder,
  attentionMask: Value,
  inputIds: Value,
  slidingWindow?: number,
): Value {
  const S = b.shapeOf(attentionMask, 1, 2); // [S]
  const T = b.shapeOf(inputIds, 1, 2); // [T]
  const zero = b.const('int64', [0], []);
  const one = b.const('int64', [1], []);
  const s0 = b.squeeze(S, [0]);
  const t0 = b.squeeze(T, [0]);
  const past = b.sub(s0, t0);
  const kpos = b.op('Range', [zero, s0, one], {}, { shapes: [['S']] });
  const qpos = b.op('Range', [past, s0, one], {}, { shapes: [['T']] });
  const causal = b.op('LessOrEqual', [b.unsqueeze(kpos, [0]), b.unsqueeze(qpos, [1])]); // (T, S)
  const keep = b.op('Equal', [attentionMask, b.const('int64', [1], [])]); // (B, S)
  const keep4 = b.unsqueeze(keep, [1, 2]); // (B, 1, 1, S)
  let allowed = b.op('And', [b.unsqueeze(causal, [0, 1]), keep4]); // (B, 1, T, S)
  if (slidingWindow !== undefined) {
    // Key s is within the window of query t when t − s < window. Applied only without a past: a
    // generator's cache slots are not token columns (generator.ts masks the window itself there).
    const dist = b.sub(b.unsqueeze(qpos, [1]), b.unsqueeze(kpos, [0])); // (T, S)
    const near = b.op('Less', [dist, b.const('int64', [slidingWindow], [])]);
    const cached = b.op('Greater', [past, zero]);
    allowed = b.op('And', [allowed, b.unsqueeze(b.op('Or', [near, cached]), [0, 1])]);
  }
  return b.where(allowed, b.scalar(0), b.scalar(-3.4028234663852886e38));
}

export interface AttentionShapes {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * Grouped-query attention. q: (B, H, T, E), k/v: (B, K, S, E), bias (B, 1, T, S) → (B, H, T, E).
 * Queries are grouped per KV head instead of repeating K and V, so the cache is never copied.
 */
export function attention(
  b: GraphBuilder,
  q: Value,
  k: Value,
  v: Value,
  bias: Value,
  s: AttentionShapes,
): Value {
  const { numHeads: H, numKvHeads: K, headDim: E } = s;
  const rep = H / K;
  const qs = b.mul(q, scalarLike(b, 1 / Math.sqrt(E), q));
  let scores: Value;
  if (rep === 1)
    scores = b.matmul(qs, b.transpose(k, [0, 1, 3, 2])); // (B, H, T, S)
  else {
    const qg = b.reshape(qs, [0, K, -1, E], ['B', K, `${rep}*T`, E]); // (B, K, rep·T, E)
    const sg = b.matmul(qg, b.transpose(k, [0, 1, 3, 2])); // (B, K, rep·T, S)
    scores = b.reshape(sg, [0, H, -1, 0], ['B', H, 'T', sg.shape[3]]);
  }
  // Half precision: the scores, their mask and the softmax in float32, the probabilities back in v's dtype.
  const half = scores.dtype !== 'float32';
  const p32 = b.softmax(b.add(half ? b.cast(scores, 'float32') : scores, bias), -1);
  const probs = half ? b.cast(p32, v.dtype) : p32;
  if (rep === 1) return b.matmul(probs, v);
  const pg = b.reshape(probs, [0, K, -1, 0], ['B', K, `${rep}*T`, probs.shape[3]]);
  return b.reshape(b.matmul(pg, v), [0, H, -1, E], ['B', H, 'T', E]);
}
