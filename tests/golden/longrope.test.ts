// Phi-3's LongRoPE (Phi-3.5, the 128k models): transformers switches a whole pass to long_factor once
// its last position is beyond original_max_position_embeddings, and scales cos/sin by the attention
// factor sqrt(1 + ln(max/original) / ln(original)). The phi3 fixture's golden_forward stays within
// its original 64 positions (short_factor); here the same batch with an original length of 8, so
// the 12-token pass takes the long table and a larger factor (reference: golden_longrope.safetensors,
// from the hand-written PyTorch Phi-3 that made the fixture).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
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
