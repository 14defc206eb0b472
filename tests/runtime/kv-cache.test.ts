// The generator keeps the key/value cache itself, in buffers that grow in 64-token blocks and are fed
// back whole with the unused slots masked out (generator.ts, KvCache). Long generations cross several
// growths; every token must still be what a cache-free forward pass over the whole sequence predicts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { modelDir } from '../helpers/fixtures.ts';

test('150 cached greedy tokens (three cache growths, a left-padded neighbour) match cache-free passes', async () => {
  const spec = loadModelSpec(modelDir('llama'));
  const gen = await Generator.load(spec);
  const prompts = [
    [1, 15, 27, 99, 3, 44, 51, 8],
    [1, 200, 7],
  ];
  const r = await gen.generate(prompts, { greedy: true, maxNewTokens: 150, eosTokenIds: [] });
  assert.equal(r.tokens[0].length, 150);
  const full = await loadForwardModel(spec);
  for (const [row, prompt] of prompts.entries()) {
    const seq = [...prompt, ...r.tokens[row]];
    const T = seq.length - 1; // the last token was sampled, never fed
    const out = await runForward(
      full,
      BigInt64Array.from(seq.slice(0, T), BigInt),
      new BigInt64Array(T).fill(1n),
      [1, T],
    );
    const logits = out.logits.data as Float32Array;
    const V = logits.length / T;
    for (let t = prompt.length - 1; t < T; t++) {
      const step = logits.subarray(t * V, (t + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (step[v] > step[best]) best = v;
      const got = seq[t + 1];
      // A different token is only acceptable at a numerical tie (cached vs full sums round differently).
      if (got !== best)
        assert.ok(
          step[best] - step[got] < 1e-4,
          `row ${row} position ${t}: cached ${got}, full pass ${best}`,
        );
    }
  }
});
