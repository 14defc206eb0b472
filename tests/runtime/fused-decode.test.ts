// The fused decoding step (generation/fused-step.ts: GroupQueryAttention with its rotary,
// SkipSimplifiedLayerNormalization) against the general decoder (models/decoder.ts, itself checked
// against transformers by the golden tests): the same next-token logits from the same cache, token
// after token, on the device under test (the CPU unless REFT_STUDIO_DEVICE names another; the GPU
// check runs this file on CUDA).
// Tolerances as fractions of the largest |logit|: float32 1e-4 (measured 5e-7 here: the same
// arithmetic in another order); float16 1e-2 (measured 3.6e-3 on the CPU) and bfloat16 8e-2 against
// the float32 decoder, as half-precision.test.ts bounds the general decoder's half graphs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildFusedStep,
  type FusedStepOptions,
  fusedStepOptions,
  fusedStepProblem,
  rotaryCache,
} from '../../native-runtime/generation/fused-step.ts';
import { fusedDecodeProblem } from '../../native-runtime/generation/generator.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { buildDecoder } from '../../native-runtime/models/decoder.ts';
import { WeightRefs } from '../../native-runtime/models/weight-refs.ts';
import { prepareBaseLogged } from '../../native-runtime/quantize/base.ts';
import { createSession, type DeviceChoice, ort } from '../../native-runtime/runtime/session.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

type Dt = NonNullable<ModelSpec['compute']>;
const device = (process.env.REFT_STUDIO_DEVICE ?? 'cpu') as DeviceChoice;
const onCuda = device === 'cuda';
const TOL: Record<Dt, number> = { float32: 1e-4, float16: 1e-2, bfloat16: 8e-2 };
/** The dtypes GroupQueryAttention has kernels for on the device under test. */
const DTYPES: Dt[] = onCuda ? ['float16', 'bfloat16'] : ['float32', 'float16'];

const f32 = (n: number[], shape: number[]) => new ort.Tensor('float32', Float32Array.from(n), shape);
// A cache as [key.0, value.0, key.1, …]: fed as past_*, read back from present_*.
const kvName = (prefix: string, j: number) => `${prefix}_${j % 2 ? 'value' : 'key'}.${j >> 1}`;
const pastFeeds = (past: ort.Tensor[]) => Object.fromEntries(past.map((t, j) => [kvName('past', j), t]));
const presentOf = (r: Record<string, ort.Tensor>, layers: number) =>
  Array.from({ length: 2 * layers }, (_, j) => r[kvName('present', j)]);

/** The general decoder over a float32 cache: logits of the last token and the grown cache. */
async function generalStep(spec: ModelSpec) {
  const b = new GraphBuilder('general');
  const dg = buildDecoder(b, spec, { withCache: true, lastLogitsOnly: true });
  b.output(dg.logits!, 'logits');
  const s = await createSession(b.graph, {
    device,
    requireDevice: device !== 'cpu',
    weightsDir: dg.weightsDir,
  });
  return async (ids: number[], past: ort.Tensor[], pos0: number) => {
    const T = ids.length;
    const P = past[0].dims[2];
    const r = await s.session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + T).fill(1n), [1, P + T]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (_, t) => BigInt(pos0 + t)),
        [1, T],
      ),
      ...pastFeeds(past),
    });
    const cache = presentOf(r, spec.numLayers);
    return { logits: r.logits.data as Float32Array, cache };
  };
}

/** The fused step of `spec` in `spec.compute` over a float32 cache given as graph inputs. */
function fusedStepGraph(spec: ModelSpec, opts: FusedStepOptions) {
  const { numLayers: L, numKvHeads: K, headDim: E } = spec;
  const dt = spec.compute ?? 'float32';
  const b = new GraphBuilder('fused');
  const w = new WeightRefs(b, spec);
  const token = b.input('token', 'int64', [1, 1]);
  const pastLen = b.input('past_len', 'int32', [1]);
  const rows = b.input('rows', 'int64', []);
  const past = Array.from({ length: L }, (_, i) => ({
    k: b.cast(b.input(`past_key.${i}`, 'float32', [1, K, 'P', E]), dt),
    v: b.cast(b.input(`past_value.${i}`, 'float32', [1, K, 'P', E]), dt),
  }));
  const { cos, sin } = rotaryCache(b, spec, rows);
  const step = buildFusedStep(b, spec, w, { token, past, pastLen, cos, sin }, opts);
  b.output(step.logits, 'logits');
  step.present.forEach((c, i) => {
    b.output(b.cast(c.k, 'float32'), `present_key.${i}`);
    b.output(b.cast(c.v, 'float32'), `present_value.${i}`);
  });
  return { graph: b.graph, weightsDir: w.dir };
}

/** The fused step as a function: one token over a float32 cache. */
async function fusedStep(spec: ModelSpec, opts: FusedStepOptions) {
  const { graph, weightsDir } = fusedStepGraph(spec, opts);
  const L = spec.numLayers;
  const s = await createSession(graph, { device, requireDevice: device !== 'cpu', weightsDir });
  return async (id: number, past: ort.Tensor[]) => {
    const P = past[0].dims[2];
    const r = await s.session.run({
      token: new ort.Tensor('int64', BigInt64Array.of(BigInt(id)), [1, 1]),
      past_len: new ort.Tensor('int32', Int32Array.of(P), [1]),
      rows: new ort.Tensor('int64', BigInt64Array.of(BigInt(P + 1)), []),
      ...pastFeeds(past),
    });
    const cache = presentOf(r, L);
    return { logits: r.logits.data as Float32Array, cache };
  };
}

const argmax = (x: Float32Array) => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);
const relErr = (a: Float32Array, b: Float32Array) => {
  let d = 0,
    m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / m;
};

/**
 * Runs a 19-token prompt through the general decoder, then 6 tokens through both (each fed the
 * general decoder's greedy token); the largest relative logit error.
 */
async function compare(spec: ModelSpec, dt: Dt, opts: FusedStepOptions): Promise<number> {
  const general = await generalStep(spec);
  const fused = await fusedStep({ ...spec, compute: dt }, opts);
  const empty = Array.from({ length: 2 * spec.numLayers }, () =>
    f32([], [1, spec.numKvHeads, 0, spec.headDim]),
  );
  const prompt = Array.from({ length: 19 }, (_, i) => (i * 37 + 11) % spec.vocabSize);
  let g = await general(prompt, empty, 0);
  let fusedCache = g.cache;
  let worst = 0;
  for (let t = 0; t < 6; t++) {
    const id = argmax(g.logits);
    const f = await fused(id, fusedCache);
    g = await general([id], g.cache, prompt.length + t);
    worst = Math.max(worst, relErr(g.logits, f.logits));
    assert.equal(f.cache[0].dims[2], prompt.length + t + 1, 'the step appends one entry to the cache');
    fusedCache = f.cache;
  }
  return worst;
}

describe('fused decoding step', () => {
  for (const name of ['llama', 'qwen2', 'qwen3', 'gemma']) {
    const spec = loadModelSpec(modelDir(name));
    for (const dt of DTYPES)
      for (const stackQkv of [false, true])
        it(`${name} ${dt}${stackQkv ? ', q/k/v stacked' : ''}: the general decoder's logits within ${TOL[dt]} on ${device}`, async () => {
          const err = await compare(spec, dt, { stackQkv });
          assert.ok(err <= TOL[dt], `relative logit error ${err}`);
        });
  }

  for (const quantize of ['int8', 'int4'])
    for (const dt of DTYPES)
      it(`llama over ${quantize} codes (MatMulNBits) in ${dt}: the general decoder's logits within ${TOL[dt]} on ${device}`, async () => {
        // The general decoder computes over the same codes in float32: the fused step's own error.
        const spec = await prepareBaseLogged(loadModelSpec(modelDir('llama')), quantize, {
          dataDir: tempDir('fused-quantized-'),
          device,
        });
        const opts = fusedStepOptions(onCuda ? 'cuda' : 'cpu');
        // Every linear layer and the head on the codes (q/k/v unstacked on CUDA too: codes, not floats).
        const nbits = fusedStepGraph({ ...spec, compute: dt }, opts).graph.nodes.filter(
          (n) => n.op === 'MatMulNBits',
        );
        assert.equal(nbits.length, 7 * spec.numLayers + 1);
        const err = await compare(spec, dt, opts);
        assert.ok(err <= TOL[dt], `relative logit error ${err}`);
      });

  it('stacked q/k/v: one product a layer instead of three, where no per-head norm sits between', () => {
    const gemms = (name: string, stackQkv: boolean) =>
      fusedStepGraph(loadModelSpec(modelDir(name)), { stackQkv }).graph.nodes.filter((n) => n.op === 'Gemm')
        .length;
    const L = loadModelSpec(modelDir('qwen2')).numLayers;
    assert.equal(gemms('qwen2', false) - gemms('qwen2', true), 2 * L);
    assert.equal(gemms('qwen3', true), gemms('qwen3', false));
    assert.deepEqual(fusedStepOptions('cpu'), { stackQkv: false });
    assert.deepEqual(fusedStepOptions('cuda'), { stackQkv: true });
  });

  it("Llama 3's rope scaling: the same inverse frequencies as the decoder", async () => {
    const spec = loadModelSpec(modelDir('llama'));
    // originalMaxPositions small enough that every band of the scaling changes some frequency.
    const scaled: ModelSpec = {
      ...spec,
      rope: {
        theta: spec.rope!.theta,
        scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 },
      },
    };
    const dt = DTYPES[0];
    const err = await compare(scaled, dt, fusedStepOptions(onCuda ? 'cuda' : 'cpu'));
    assert.ok(err <= TOL[dt], `relative logit error ${err}`);
  });

  it('says which models and devices it cannot serve', async () => {
    const llama = loadModelSpec(modelDir('llama'));
    assert.equal(fusedStepProblem(llama, 'cpu'), null);
    assert.equal(fusedStepProblem({ ...llama, compute: 'bfloat16' }, 'cuda'), null);
    assert.match(fusedStepProblem(llama, 'cuda') ?? '', /float32/);
    assert.match(
      fusedStepProblem({ ...llama, headDim: 24 }, 'cpu') ?? '',
      /head size 24 is not a multiple of 16/,
    );
    assert.match(fusedStepProblem({ ...llama, compute: 'bfloat16' }, 'cpu') ?? '', /bfloat16/);
    assert.equal(fusedStepProblem(loadModelSpec(modelDir('gemma')), 'cpu'), null);
    assert.match(fusedStepProblem(loadModelSpec(modelDir('gpt2')), 'cpu') ?? '', /gpt2/);
    assert.equal(fusedStepProblem(loadModelSpec(modelDir('qwen3')), 'cpu'), null);
    // Phi-3 even without its window: the step reads q/k/v and gate/up as separate matrices.
    const phi3 = loadModelSpec(modelDir('phi3'));
    assert.match(fusedStepProblem(phi3, 'cpu') ?? '', /sliding-window/);
    assert.match(fusedStepProblem({ ...phi3, slidingWindow: null }, 'cpu') ?? '', /fused \(Phi-3\)/);
    assert.match(
      fusedStepProblem(
        {
          ...llama,
          rope: {
            theta: 1e4,
            scaling: {
              type: 'longrope',
              shortFactor: [],
              longFactor: [],
              originalMaxPositions: 8,
              attentionFactor: 1,
            },
          },
        },
        'cpu',
      ) ?? '',
      /longrope/,
    );
    assert.match((await fusedDecodeProblem(llama, 'webgpu')) ?? '', /webgpu/);
    const prev = process.env.REFT_STUDIO_FUSED_DECODE;
    process.env.REFT_STUDIO_FUSED_DECODE = '0';
    try {
      assert.match((await fusedDecodeProblem(llama, 'cpu')) ?? '', /REFT_STUDIO_FUSED_DECODE=0/);
    } finally {
      if (prev === undefined) delete process.env.REFT_STUDIO_FUSED_DECODE;
      else process.env.REFT_STUDIO_FUSED_DECODE = prev;
    }
  });
});
