// A measurement for the GPU check, not an engine path: greedy decoding with a fused one-token step
// (com.microsoft GroupQueryAttention with its rotary, SkipSimplifiedLayerNormalization, Gemm) beside
// the engine's generator, on the same model, device and dtype. It answers, before anything is built
// into the product, whether fewer nodes a token (the GPU's launch bound: bench decode's us_per_node)
// buy the decode target: same tokens? how many tok/s? Prints one JSON object.
//   node dist/gpu/fused-decode.mjs MODEL_DIR cpu|cuda fp32|fp16 [NEW_TOKENS]
// Llama-shaped models only (Llama, Mistral, Qwen2: no sliding window, q/k norm or rope scaling); batch 1, so GQA's
// right-padding assumption holds. CUDA's GQA has fp16/bf16 kernels only; the CPU's Gemm has no fp16.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeLoopNodes } from '../../native-runtime/generation/decode-loop.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { Value } from '../../native-runtime/ir/graph.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { ropeInvFreq } from '../../native-runtime/models/decoder.ts';
import { linearT } from '../../native-runtime/models/layers.ts';
import { WeightRefs } from '../../native-runtime/models/weight-refs.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { DEVICES, type DeviceChoice } from '../../native-runtime/runtime/device-choice.ts';
import { createSession } from '../../native-runtime/runtime/session.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';

const [dir, device, dtArg, newArg] = process.argv.slice(2);
const dt = ({ fp32: 'float32', fp16: 'float16' } as const)[dtArg as 'fp32'];
if (!dir || !(DEVICES as readonly string[]).includes(device) || !dt) {
  console.error('usage: fused-decode.mjs MODEL_DIR cpu|cuda fp32|fp16 [NEW_TOKENS]');
  process.exit(2);
}
const N = Number(newArg ?? 128);
const loaded = loadModelSpec(dir);
if (
  loaded.arch === 'gpt2' ||
  loaded.arch === 'gemma' ||
  loaded.qkNorm ||
  loaded.slidingWindow ||
  loaded.rope?.scaling
)
  throw new Error(
    'fused-decode: llama-shaped models (q/k/v biases allowed) without q/k norms, sliding windows or rope scaling only',
  );
// The weights as the engine reads them on this device (a float32 store for a half checkpoint on the CPU).
const spec = {
  ...(await prepareBase(loaded, null, { dataDir: join(tmpdir(), 'reft-fused-decode'), device })),
  compute: dt,
};
const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: E, numLayers: L, vocabSize: V } = spec;
const MS = { domain: 'com.microsoft' };
const eps = spec.norm.eps;

// The step: one token in, logits and the grown cache out.
const b = new GraphBuilder('fused-decode-step');
const w = new WeightRefs(b, spec);
const ids = b.input('input_ids', 'int64', [1, 1]);
const seqlens = b.input('seqlens_k', 'int32', [1]); // tokens before this one
const total = b.input('total_len', 'int32', []);
const cos = b.cast(b.input('cos_cache', 'float32', ['M', E / 2]), dt);
const sin = b.cast(b.input('sin_cache', 'float32', ['M', E / 2]), dt);
let h = w.embed('model.embed_tokens.weight', b.reshape(ids, [-1], ['N']));
const norm = (x: Value, name: string) =>
  b.op('SimplifiedLayerNormalization', [x, w.get(name)], { epsilon: eps, axis: -1 }, { shapes: [[1, D]] });
const skipNorm = (x: Value, skip: Value, name: string) =>
  b.opN(
    'SkipSimplifiedLayerNormalization',
    [x, skip, w.get(name)],
    { epsilon: eps },
    {
      ...MS,
      outputs: 4,
      shapes: [[1, D], [1], [1], [1, D]],
      dtypes: [dt, 'float32', 'float32', dt],
    },
  );
let x = norm(h, 'model.layers.0.input_layernorm.weight');
for (let i = 0; i < L; i++) {
  const p = `model.layers.${i}.`;
  const past = ['key', 'value'].map((kv) => b.input(`past_${kv}.${i}`, dt, [1, K, 'P', E]));
  const proj = (name: string, width: number) =>
    b.reshape(
      linearT(b, x, w.get(`${p}self_attn.${name}.weight`), w.opt(`${p}self_attn.${name}.bias`)),
      [1, 1, width],
      [1, 1, width],
    );
  const [att, presentK, presentV] = b.opN(
    'GroupQueryAttention',
    [
      proj('q_proj', H * E),
      proj('k_proj', K * E),
      proj('v_proj', K * E),
      past[0],
      past[1],
      seqlens,
      total,
      cos,
      sin,
    ],
    { num_heads: H, kv_num_heads: K, do_rotary: 1, rotary_interleaved: 0 },
    {
      ...MS,
      outputs: 3,
      shapes: [
        [1, 1, H * E],
        [1, K, 'T', E],
        [1, K, 'T', E],
      ],
      dtypes: [dt, dt, dt],
    },
  );
  b.output(presentK, `present_key.${i}`);
  b.output(presentV, `present_value.${i}`);
  const o = linearT(b, b.reshape(att, [1, H * E], [1, H * E]), w.get(`${p}self_attn.o_proj.weight`));
  const [xa, , , ha] = skipNorm(o, h, `${p}post_attention_layernorm.weight`);
  const gate = linearT(b, xa, w.get(`${p}mlp.gate_proj.weight`));
  const up = linearT(b, xa, w.get(`${p}mlp.up_proj.weight`));
  const down = linearT(b, b.mul(b.mul(gate, b.op('Sigmoid', [gate])), up), w.get(`${p}mlp.down_proj.weight`));
  const next = i + 1 < L ? `model.layers.${i + 1}.input_layernorm.weight` : 'model.norm.weight';
  [x, , , h] = skipNorm(down, ha, next);
}
b.output(b.cast(w.head()(b, x), 'float32'), 'logits');
const fusedNodes = b.graph.nodes.length;
const session = await createSession(b.graph, {
  device: device as DeviceChoice,
  requireDevice: device !== 'cpu',
  weightsDir: w.dir,
});

// Rotary tables for every position the run reaches (GQA reads row = position).
const inv = ropeInvFreq(spec);
const M = 64 + N + 1;
const cosA = new Float32Array(M * (E / 2));
const sinA = new Float32Array(M * (E / 2));
for (let t = 0; t < M; t++)
  for (let j = 0; j < E / 2; j++) {
    cosA[t * (E / 2) + j] = Math.cos(t * inv[j]);
    sinA[t * (E / 2) + j] = Math.sin(t * inv[j]);
  }
const tables = {
  cos_cache: new ort.Tensor('float32', cosA, [M, E / 2]),
  sin_cache: new ort.Tensor('float32', sinA, [M, E / 2]),
};
const empty = () =>
  dt === 'float32'
    ? new ort.Tensor('float32', new Float32Array(0), [1, K, 0, E])
    : new ort.Tensor('float16', new Uint16Array(0), [1, K, 0, E]);

/** Greedy tokens, the prompt fed one token a run; ms a new token after the first. */
async function fused(prompt: number[]): Promise<{ tokens: number[]; ms: number }> {
  const cache: Record<string, ort.Tensor> = {};
  const keep = (i: number, k: ort.Tensor, v: ort.Tensor) => {
    cache[`past_key.${i}`] = k;
    cache[`past_value.${i}`] = v;
  };
  for (let i = 0; i < L; i++) keep(i, empty(), empty());
  const tokens: number[] = [];
  let t0 = 0;
  for (let step = 0, id = prompt[0]; step < prompt.length + N - 1; step++) {
    if (step === prompt.length) t0 = performance.now();
    const r = await session.session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(id)]), [1, 1]),
      seqlens_k: new ort.Tensor('int32', Int32Array.from([step]), [1]),
      total_len: new ort.Tensor('int32', Int32Array.from([step + 1]), []),
      ...tables,
      ...cache,
    });
    for (let i = 0; i < L; i++) keep(i, r[`present_key.${i}`], r[`present_value.${i}`]);
    if (step + 1 < prompt.length) id = prompt[step + 1];
    else {
      const lg = r.logits.data as Float32Array;
      let best = 0;
      for (let j = 1; j < V; j++) if (lg[j] > lg[best]) best = j;
      tokens.push(best);
      id = best;
    }
  }
  return { tokens, ms: (performance.now() - t0) / Math.max(1, N - 1) };
}

const prompt = Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % V);
const gen = await Generator.load(spec, { device: device as DeviceChoice, requireDevice: device !== 'cpu' });
await fused(prompt); // warm-up (first runs autotune kernels)
const f = await fused(prompt);
const engine: Record<string, unknown> = {};
for (const chunk of [1, 8]) {
  await gen.generate([prompt], { greedy: true, maxNewTokens: 8, eosTokenIds: [], chunk });
  const r = await gen.generate([prompt], { greedy: true, maxNewTokens: N, eosTokenIds: [], chunk });
  const same = r.tokens[0].findIndex((t, i) => t !== f.tokens[i]);
  engine[`c${chunk}`] = {
    tokens_per_s: 1000 / (r.decodeMs / (r.newTokens - 1)),
    same_tokens_as_fused: same < 0 ? r.tokens[0].length : same,
  };
}
console.log(
  JSON.stringify({
    device: session.device,
    dtype: dtArg,
    new_tokens: N,
    fused_tokens_per_s: 1000 / f.ms,
    fused_nodes: fusedNodes,
    engine_loop_nodes: decodeLoopNodes(buildReftGraph(spec, [], { decodeLoop: true }).graph),
    engine,
  }),
);
