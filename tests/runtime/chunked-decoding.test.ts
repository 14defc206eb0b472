// Decoding a chunk of tokens per run with the graph's own loop (generation/decode-loop.ts) gives
// exactly what one token per run gives: greedy and sampled (temperature, top-k, top-p, same seed),
// a left-padded batch, rows ending early on an end id (the loop stops when all have), stop strings,
// an adapter intervening on the prompt, and the same onToken order. The golden greedy tests run the
// default (chunked) path; this file pins chunk 1 ≡ chunk N on the CPU. A single prompt of a
// Llama-shaped model decodes its chunks with the fused step (fused-step.ts) instead of the general
// decoder: the same checks for it, at batch 1.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fusedDecodeProblem,
  type GenerateOptions,
  Generator,
} from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import {
  type InterventionState,
  type ReftBatch,
  ReftModel,
} from '../../native-runtime/training/reft-model.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { loreftAt } from '../helpers/models.ts';

const spec = loadModelSpec(modelDir('llama'));
const prompts = [
  [1, 5, 9, 13, 200, 31],
  [7, 3],
];

async function both(gen: Generator, o: GenerateOptions, chunk: number) {
  const order: [number, number][][] = [[], []];
  const run = (c: number, k: number) =>
    gen.generate(prompts, { ...o, chunk: c, onToken: (r, id) => order[k].push([r, id]) });
  const one = await run(1, 0);
  const many = await run(chunk, 1);
  return { one, many, order };
}

describe('chunked decoding', () => {
  it('equals one token per run: greedy and sampled, several chunk sizes', async () => {
    const gen = await Generator.load(spec);
    const cases: GenerateOptions[] = [
      { greedy: true },
      { temperature: 0.8, topK: 40, topP: 0.9, seed: 3 },
      { temperature: 1.3, seed: 5 },
      { temperature: 0.7, topP: 0.5, seed: 9 },
      { temperature: 1, topK: 3, seed: 11 },
    ];
    for (const o of cases)
      for (const chunk of [2, 5, 16]) {
        const { one, many, order } = await both(gen, { ...o, maxNewTokens: 13, eosTokenIds: [] }, chunk);
        assert.deepEqual(many.tokens, one.tokens, `${JSON.stringify(o)} chunk ${chunk}`);
        assert.deepEqual(order[1], order[0], 'onToken order');
        assert.equal(many.newTokens, one.newTokens);
      }
  });

  it('a tiny temperature decodes as greedy, in the loop and one token per run', async () => {
    const gen = await Generator.load(spec);
    const o = { maxNewTokens: 10, eosTokenIds: [] };
    const greedy = await gen.generate(prompts, { ...o, greedy: true, chunk: 1 });
    // 1e-40 overflowed logits / T to +Infinity: NaN probabilities drew the last id (JS) or 0 (loop).
    const { one, many } = await both(gen, { ...o, temperature: 1e-40, seed: 2 }, 5);
    assert.deepEqual(one.tokens, greedy.tokens);
    assert.deepEqual(many.tokens, greedy.tokens);
  });

  it('stops rows on end ids and stop strings as one token per run does', async () => {
    const gen = await Generator.load(spec);
    const free = await gen.generate(prompts, { greedy: true, maxNewTokens: 12, eosTokenIds: [], chunk: 1 });
    // Row 1 ends at its 5th token, row 0 at its 9th: the loop runs on with one row ended, then stops.
    const eosIds = [free.tokens[1][4], free.tokens[0][8]].filter((id, i, a) => a.indexOf(id) === i);
    for (const chunk of [3, 8]) {
      const { one, many } = await both(gen, { greedy: true, maxNewTokens: 12, eosTokenIds: eosIds }, chunk);
      assert.deepEqual(many.tokens, one.tokens);
      assert.deepEqual(many.finishReasons, one.finishReasons);
      assert.ok(one.finishReasons.includes('eos'));
    }
    const stopAfter = free.tokens[0][3];
    const shouldStop = (r: number, ids: number[]) => r === 0 && ids.at(-1) === stopAfter;
    const { one, many } = await both(gen, { greedy: true, maxNewTokens: 12, eosTokenIds: [], shouldStop }, 5);
    assert.deepEqual(many.tokens, one.tokens);
    assert.deepEqual(many.finishReasons, ['stop', 'length']);
  });

  it('with an adapter: the prompt pass is intervened, the chunks read its cache', async () => {
    const n = spec.hiddenSize,
      r = 2;
    const iv = loreftAt(spec, 2, r);
    const R = new Float32Array(n * r);
    for (let i = 0; i < r; i++) R[i * r + i] = 1;
    const feed = {
      params: [
        {
          rotate_layer: { data: R, shape: [n, r] },
          weight: { data: Float32Array.from({ length: r * n }, (_, i) => Math.cos(i) * 0.5), shape: [r, n] },
          bias: { data: Float32Array.of(2, -3), shape: [r] },
        },
      ],
      locations: [[[0, 3]], [[1]]],
    };
    const gen = await Generator.load(spec, { interventions: [iv] });
    const base = await (await Generator.load(spec)).generate(prompts, {
      greedy: true,
      maxNewTokens: 10,
      eosTokenIds: [],
    });
    const { one, many } = await both(
      gen,
      { greedy: true, maxNewTokens: 10, eosTokenIds: [], interventions: feed },
      4,
    );
    assert.deepEqual(many.tokens, one.tokens);
    assert.notDeepEqual(one.tokens, base.tokens, 'the adapter changes the continuation');
  });
});

describe('chunked decoding of a single prompt', () => {
  it("the GPU's form of the fused step (q/k/v stacked) decodes the same tokens, in fewer nodes", async () => {
    for (const name of ['llama', 'qwen2']) {
      const spec = loadModelSpec(modelDir(name));
      const plain = await Generator.load(spec);
      process.env.REFT_STUDIO_STACK_QKV = '1';
      const stacked = await Generator.load(spec).finally(() => delete process.env.REFT_STUDIO_STACK_QKV);
      assert.equal(stacked.decoding.fused, true);
      assert.equal(stacked.decoding.loopNodes, plain.decoding.loopNodes! - 4 * spec.numLayers, name);
      const o: GenerateOptions = { greedy: true, maxNewTokens: 17, eosTokenIds: [] };
      const want = await plain.generate([[1, 5, 9, 13, 200, 31, 77, 4]], { ...o, chunk: 1 });
      const got = await stacked.generate([[1, 5, 9, 13, 200, 31, 77, 4]], { ...o, chunk: 8 });
      assert.deepEqual(got.tokens, want.tokens, name);
    }
  });

  const single = [[1, 5, 9, 13, 200, 31, 77, 4]];
  it('a checkpoint computed in another dtype (casts both branches read) still decodes with the fused step', async () => {
    // fp32 weights computed in float16: the general pass declares the casts, the fused loop reads
    // them too (fused-decoding.ts hoistShared); before, the graph was invalid and fell back.
    const spec = { ...loadModelSpec(modelDir('llama')), compute: 'float16' as const };
    for (const stack of ['0', '1']) {
      const notices: string[] = [];
      process.env.REFT_STUDIO_STACK_QKV = stack;
      const gen = await Generator.load(spec, { onNotice: (m) => notices.push(m) }).finally(
        () => delete process.env.REFT_STUDIO_STACK_QKV,
      );
      assert.deepEqual(notices, []);
      assert.equal(gen.decoding.fused, true, `q/k/v stacked: ${stack}`);
      const o: GenerateOptions = { greedy: true, maxNewTokens: 12, eosTokenIds: [] };
      const one = await gen.generate(single, { ...o, chunk: 1 });
      const many = await gen.generate(single, { ...o, chunk: 6 });
      assert.deepEqual(many.tokens, one.tokens);
    }
  });

  const cases: GenerateOptions[] = [
    { greedy: true },
    { temperature: 0.8, topK: 40, topP: 0.9, seed: 3 },
    { temperature: 1.3, seed: 5 },
  ];
  for (const name of ['llama', 'qwen2', 'qwen3', 'gemma']) {
    const s1 = loadModelSpec(modelDir(name));
    it(`${name}: the fused step where it applies, the same tokens as one token per run`, async () => {
      const gen = await Generator.load(s1);
      const fused = (await fusedDecodeProblem(s1, undefined)) === null;
      assert.equal(gen.decoding.fused, fused);
      if (fused) {
        process.env.REFT_STUDIO_FUSED_DECODE = '0';
        const general = await Generator.load(s1).finally(() => delete process.env.REFT_STUDIO_FUSED_DECODE);
        assert.equal(general.decoding.fused, false);
        assert.ok(
          gen.decoding.loopNodes! * 2 < general.decoding.loopNodes!,
          `${gen.decoding.loopNodes} nodes a token, the general decoder ${general.decoding.loopNodes}`,
        );
      }
      for (const o of cases)
        for (const chunk of [4, 16]) {
          const run = (c: number) =>
            gen.generate(single, { ...o, chunk: c, maxNewTokens: 21, eosTokenIds: [] });
          const one = await run(1);
          const many = await run(chunk);
          assert.deepEqual(many.tokens, one.tokens, `${JSON.stringify(o)} chunk ${chunk}`);
          assert.equal(many.newTokens, 21);
        }
      // An end id stops the loop mid-chunk; a stop string at the chunk's end.
      const free = await gen.generate(single, { greedy: true, maxNewTokens: 12, eosTokenIds: [], chunk: 1 });
      const eos = free.tokens[0][6];
      const first = free.tokens[0].indexOf(eos);
      const ended = await gen.generate(single, {
        greedy: true,
        maxNewTokens: 12,
        eosTokenIds: [eos],
        chunk: 8,
      });
      assert.deepEqual(ended.tokens[0], free.tokens[0].slice(0, first + 1));
      assert.deepEqual(ended.finishReasons, ['eos']);
    });
  }

  it("with an adapter: the fused chunks read the intervened prompt pass's cache", async () => {
    const iv = loreftAt(spec, 1);
    const n = spec.hiddenSize;
    const R = new Float32Array(n * 2);
    R[0] = R[3] = 1;
    const feed = {
      params: [
        {
          rotate_layer: { data: R, shape: [n, 2] },
          weight: { data: Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i) * 0.7), shape: [2, n] },
          bias: { data: Float32Array.of(-2, 3), shape: [2] },
        },
      ],
      locations: [[[0, 7]]],
    };
    const gen = await Generator.load(spec, { interventions: [iv] });
    // The check a GPU session runs before keeping the fused step (zeros for the adapter's parameters).
    assert.equal(await gen.probeFused(), null);
    const o = { greedy: true, maxNewTokens: 10, eosTokenIds: [], interventions: feed };
    const one = await gen.generate(single, { ...o, chunk: 1 });
    const many = await gen.generate(single, { ...o, chunk: 5 });
    assert.deepEqual(many.tokens, one.tokens);
    const base = await (await Generator.load(spec)).generate(single, { ...o, interventions: undefined });
    assert.notDeepEqual(one.tokens, base.tokens, 'the adapter changes the continuation');
  });
});

describe('a ReFT session with the decoding loop (the studio generates over it on CUDA)', () => {
  // A LoReFT at layer 1 with fixed parameters, as an adapter's state.
  const iv = loreftAt(spec, 1);
  const n = spec.hiddenSize;
  const state = (): InterventionState => {
    const R = new Float32Array(n * 2);
    R[0] = R[3] = 1;
    return {
      spec: iv,
      rot: null,
      params: new Map([
        ['rotate_layer', { data: R, shape: [n, 2] }],
        [
          'weight',
          { data: Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i) * 0.7), shape: [2, n] },
        ],
        ['bias', { data: Float32Array.of(-2, 3), shape: [2] }],
      ]),
    };
  };

  it('passes, losses and gradients as without it; generation chunked, the same tokens', async () => {
    const plain = await ReftModel.load(spec, [state()]);
    const looped = await ReftModel.load(spec, [state()], { decodeLoop: true });
    assert.equal(plain.decoding.loopNodes, null);
    assert.equal(looped.decoding.fused, (await fusedDecodeProblem(spec, undefined)) === null);
    assert.ok((looped.decoding.loopNodes ?? 0) > 0);

    const B = 2,
      T = 6;
    const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(3 + ((i * 29) % 500)));
    const batch: ReftBatch = {
      inputIds: ids,
      attentionMask: new BigInt64Array(B * T).fill(1n),
      labels: ids,
      dims: [B, T],
      locations: [{ data: BigInt64Array.of(0n, 5n, 1n, 4n), P: 2 }],
    };
    const a = await plain.forward(batch);
    const b = await looped.forward(batch);
    // The same graph in an If branch: bitwise on the CPU; 1e-6 of the largest value leaves room for a
    // GPU's kernel choices (the GPU check runs this file on CUDA).
    const close = (x: ArrayLike<number>, y: ArrayLike<number>, what: string) => {
      let d = 0,
        m = 0;
      for (let i = 0; i < x.length; i++) {
        d = Math.max(d, Math.abs(x[i] - y[i]));
        m = Math.max(m, Math.abs(x[i]));
      }
      assert.ok(x.length === y.length && d <= 1e-6 * m, `${what}: ${d} of ${m}`);
    };
    close(b.logits.data as Float32Array, a.logits.data as Float32Array, 'logits');
    close([b.loss], [a.loss], 'loss');
    const ga = await plain.lossAndGrads(batch);
    const gb = await looped.lossAndGrads(batch);
    close([gb.loss], [ga.loss], 'training loss');
    for (const [name, g] of ga.grads[0]) close(gb.grads[0].get(name) ?? [], g, name);

    const feed = (rows: number[][]) => ({
      params: [Object.fromEntries(state().params)],
      locations: rows.map((p) => [[0, p.length - 1]]),
    });
    for (const rows of [[prompts[0]], prompts]) {
      const o = { greedy: true, maxNewTokens: 12, eosTokenIds: [], interventions: feed(rows) };
      const one = await plain.generator().generate(rows, o);
      const gen = looped.generator();
      assert.ok(gen.chunkSize({}) > 1, 'chunks on this session');
      const many = await gen.generate(rows, o);
      assert.deepEqual(many.tokens, one.tokens, `${rows.length} prompt(s)`);
    }
  });
});
