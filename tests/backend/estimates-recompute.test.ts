// A run's memory estimate follows the trainer: where layers are replayed in the backward
// (training/recompute.ts), one layer's activations are kept, not every layer's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryEstimate } from '../../electron/backend/library/estimates.ts';

const llama3_8b = {
  params: 8.03e9,
  numLayers: 32,
  hiddenSize: 4096,
  intermediateSize: 14336,
  numHeads: 32,
  vocabSize: 128256,
};

test('activations in the estimate: all 32 layers kept, or one replayed at a time', (t) => {
  const saved = process.env.REFT_STUDIO_RECOMPUTE;
  t.after(() => {
    if (saved === undefined) delete process.env.REFT_STUDIO_RECOMPUTE;
    else process.env.REFT_STUDIO_RECOMPUTE = saved;
  });
  process.env.REFT_STUDIO_RECOMPUTE = '0';
  const kept = memoryEstimate(llama3_8b, 1, 256, 1e6, { quantize: 'int4' });
  process.env.REFT_STUDIO_RECOMPUTE = '1';
  const replayed = memoryEstimate(llama3_8b, 1, 256, 1e6, { quantize: 'int4' });
  assert.equal(replayed.weightsBytes, kept.weightsBytes);
  assert.ok(kept.activationBytes > 3e9, `kept ${kept.activationBytes}`);
  assert.ok(replayed.activationBytes < kept.activationBytes / 4, `replayed ${replayed.activationBytes}`);
});
