// The generator keeps the key/value cache itself, in buffers that grow in 64-token blocks and are fed
// back whole with the unused slots masked out (generator.ts, KvCache). Long generations cross several
// growths; every token must still be what a cache-free forward pass over the whole sequence predicts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { modelDir } from '../helpers/fixtures.ts';
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
