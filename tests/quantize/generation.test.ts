// Generation on a quantized base runs one token per run: ONNX Runtime does not pre-pack the
// MatMulNBits of a Loop body, so the in-graph decoding loop (generation/decode-loop.ts) would
// dequantize every weight for every token. The tokens match the same model's forward passes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { quantizedSpec } from './helpers.ts';

test('int4: no decoding loop in the graph; greedy tokens equal argmax of full forward passes', async () => {
  const spec = await quantizedSpec(modelDir('llama'), 'int4');
  const gen = await Generator.load(spec);
  assert.ok(!gen.session.inputNames.includes('chunk_steps'), 'a quantized generator carries the decode loop');
  const prompt = [1, 5, 9, 200, 17];
  const r = await gen.generate([prompt], { greedy: true, maxNewTokens: 6, eosTokenIds: [] });
  const fwd = await loadForwardModel(spec);
  const ids = [...prompt];
  for (let i = 0; i < 6; i++) {
    const T = ids.length;
    const out = await runForward(fwd, BigInt64Array.from(ids, BigInt), new BigInt64Array(T).fill(1n), [1, T]);
    const logits = out.logits.data as Float32Array;
    const V = spec.vocabSize;
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[(T - 1) * V + v] > logits[(T - 1) * V + best]) best = v;
    ids.push(best);
  }
  assert.deepEqual(r.tokens[0], ids.slice(prompt.length));
});
