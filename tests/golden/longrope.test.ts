// Phi-3's LongRoPE (Phi-3.5, the 128k models): transformers switches a whole pass to long_factor once
// its last position is beyond original_max_position_embeddings, and scales cos/sin by the attention
// factor sqrt(1 + ln(max/original) / ln(original)). The phi3 fixture's golden_forward stays within
// its original 64 positions (short_factor); here the same batch with an original length of 8, so
// the 12-token pass takes the long table and a larger factor (reference: golden_longrope.safetensors,
// from the PyTorch reference tests/tools/torchref.py that made the fixture).
//
// With a KV cache the switch is per pass: keys cached while the sequence was within the original
// length keep their short-table rotation, and only the passes beyond it use long_factor (transformers
// does the same: its cache is never re-rotated). So a cached generation that crosses the original
// length differs from recomputing the whole sequence; the second test pins the cached behaviour
// against torchref's cached greedy, on the fixture with an original length of 16.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { runPython, torchSkipReason } from '../adapters/torch-python.ts';
import { maxAbsDiffMasked, modelDir, modelVariant } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

test('phi3 longrope: a pass beyond the original length uses long_factor and the larger attention factor', async () => {
  const dir = modelVariant(join(tempDir('reft-longrope-'), 'phi3'), 'phi3', (c) => {
    c.original_max_position_embeddings = 8;
  });
  const spec = loadModelSpec(dir);
  const sc = spec.rope?.scaling;
  assert.equal(sc?.type, 'longrope');
  assert.ok(
    sc?.type === 'longrope' &&
      Math.abs(sc.attentionFactor - Math.sqrt(1 + Math.log(32) / Math.log(8))) < 1e-12,
  );
  const golden = loadSafetensors(join(modelDir('phi3'), 'golden_forward.safetensors'));
  const want = loadSafetensors(join(modelDir('phi3'), 'golden_longrope.safetensors')).get('logits')!;
  const ids = golden.get('input_ids')!;
  const mask = golden.get('attention_mask')!.data as BigInt64Array;
  const m = await loadForwardModel(spec);
  const r = await runForward(m, ids.data as BigInt64Array, mask, ids.shape as [number, number]);
  const err = maxAbsDiffMasked(
    r.logits.data as Float32Array,
    want.data as Float32Array,
    mask,
    spec.vocabSize,
  );
  assert.ok(err <= 1e-4, `max logit error ${err}`);
  // The short table would be far off: the switch is what the reference checks.
  const short = maxAbsDiffMasked(
    r.logits.data as Float32Array,
    golden.get('logits')!.data as Float32Array,
    mask,
    spec.vocabSize,
  );
  assert.ok(short > 1e-2, `long and short tables agree (${short}): the test would not see a wrong switch`);
});

const GREEDY_SCRIPT = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torchref
m = torchref.Model(sys.argv[2])
prompt, n = json.loads(sys.argv[3]), int(sys.argv[4])
with torch.no_grad():
    # Cached, one token a pass, as generate() runs it.
    logits, cache = m.forward(torch.tensor([prompt])); cached = []
    for _ in range(n):
        nxt = logits[:, -1].argmax(-1, keepdim=True); cached.append(int(nxt))
        logits, cache = m.forward(nxt, cache=cache)
    # The whole sequence recomputed for every token: every key rotated with the table of the last pass.
    seq = list(prompt)
    for _ in range(n):
        logits, _ = m.forward(torch.tensor([seq])); seq.append(int(logits[0, -1].argmax()))
print(json.dumps({"cached": cached, "recomputed": seq[len(prompt):]}))
`;

test('phi3 longrope with a KV cache crossing the original length: cached keys keep the short table', {
  skip: torchSkipReason(),
}, async () => {
  const dir = modelVariant(join(tempDir('reft-longrope-cache-'), 'phi3'), 'phi3', (c) => {
    c.original_max_position_embeddings = 16;
  });
  // 12 prompt tokens, 12 new: positions 12–15 decode with the short table, 16–23 with the long one.
  const ids = loadSafetensors(join(modelDir('phi3'), 'golden_forward.safetensors')).get('input_ids')!;
  const prompt = Array.from((ids.data as BigInt64Array).subarray(0, 12), Number);
  const n = 12;
  const ref = runPython<{ cached: number[]; recomputed: number[] }>(GREEDY_SCRIPT, [
    fileURLToPath(new URL('../tools/', import.meta.url)),
    dir,
    JSON.stringify(prompt),
    String(n),
  ]);
  assert.notDeepEqual(ref.cached, ref.recomputed, 'crossing made no difference: the test could not fail');
  const gen = await Generator.load(loadModelSpec(dir));
  // One token a run, and the in-graph decoding loop (several tokens a run, positions crossing inside it).
  for (const chunk of [1, 8]) {
    const r = await gen.generate([prompt], { greedy: true, maxNewTokens: n, eosTokenIds: [], chunk });
    assert.deepEqual(r.tokens[0], ref.cached, `chunk ${chunk}`);
  }
});
