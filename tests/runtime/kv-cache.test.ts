// The generator keeps the key/value cache itself, in buffers that grow in 64-token blocks and are fed
// back whole with the unused slots masked out (generator.ts, KvCache). Long generations cross several
// growths; every token must still be what a cache-free forward pass over the whole sequence predicts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { mulberry32 } from '../../native-runtime/generation/sampling.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { MODEL_ARCHS, modelDir } from '../helpers/fixtures.ts';
import { assertCacheFreeGreedy } from '../helpers/greedy.ts';

test('150 cached greedy tokens (three cache growths, a left-padded neighbour) match cache-free passes', async () => {
  const spec = loadModelSpec(modelDir('llama'));
  const gen = await Generator.load(spec);
  const prompts = [
    [1, 15, 27, 99, 3, 44, 51, 8],
    [1, 200, 7],
  ];
  const r = await gen.generate(prompts, { greedy: true, maxNewTokens: 150, eosTokenIds: [] });
  assert.equal(r.tokens[0].length, 150);
  await assertCacheFreeGreedy(spec, prompts, r.tokens);
});

// Every architecture, both decoding paths (a token a run; the in-graph loop, whose single prompt
// takes the fused step where it applies): a prompt longer than one 64-token cache block beside
// shorter, left-padded ones, and that long prompt alone.
for (const arch of MODEL_ARCHS)
  test(`${arch}: cached greedy tokens match cache-free passes (prompt past a cache block, padding)`, async () => {
    const spec = loadModelSpec(modelDir(arch));
    const gen = await Generator.load(spec);
    const rng = mulberry32(7);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(rng() * (spec.vocabSize - 3)));
    const batch = [ids(70), ids(5), ids(33)];
    for (const chunk of [1, 8])
      for (const prompts of [batch, [batch[0]]]) {
        const r = await gen.generate(prompts, { greedy: true, maxNewTokens: 24, eosTokenIds: [], chunk });
        assert.ok(r.tokens.every((t) => t.length === 24));
        await assertCacheFreeGreedy(spec, prompts, r.tokens);
      }
  });
