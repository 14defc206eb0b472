// When training replays layers in the backward: by the activations the run's micro-batch would keep,
// against the memory its weights leave.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setEnvFor } from '../../tests/helpers/env.ts';
import { syntheticShape } from '../bench/synthetic.ts';
import { keptActivationBytes, replayedActivationBytes, shouldRecompute } from './recompute.ts';

const llama3_8b = syntheticShape('llama3-8b');
const tinyllama = syntheticShape('tinyllama-1.1b');
const GB = 2 ** 30;

test('kept activations grow with the batch and the length, and halve in half precision', () => {
  const one = keptActivationBytes(llama3_8b, { batch: 1, tokens: 512 });
  assert.ok(Math.abs(one / GB - 2.88) < 0.05, `${one / GB} GiB`);
  assert.equal(keptActivationBytes(llama3_8b, { batch: 4, tokens: 512 }), 4 * one);
  assert.equal(keptActivationBytes(llama3_8b, { batch: 4, tokens: 512, bytesPerValue: 2 }), 2 * one);
  // The scores of the layer being differentiated grow with the square of the length.
  assert.ok(keptActivationBytes(llama3_8b, { batch: 1, tokens: 1024 }) > 2 * one);
  assert.equal(keptActivationBytes(llama3_8b), one, 'one float32 sequence of 512 tokens by default');
  // Replaying keeps the residual stream and one layer: about a fifth for the 32-layer model.
  const replayed = replayedActivationBytes(llama3_8b, { batch: 1, tokens: 512 });
  assert.ok(replayed < one / 4 && replayed > one / 10, `${replayed / one}`);
});

test('the run replays layers where its activations would not fit beside the weights', (t) => {
  setEnvFor(t, 'REFT_STUDIO_RECOMPUTE', undefined);
  const bf16 = { bytesPerValue: 2, weightsBytes: 16.06e9 };
  assert.equal(shouldRecompute(llama3_8b, 24 * GB, { batch: 1, tokens: 512, ...bf16 }), false);
  assert.equal(shouldRecompute(llama3_8b, 24 * GB, { batch: 4, tokens: 512, ...bf16 }), true);
  assert.equal(shouldRecompute(llama3_8b, 48 * GB, { batch: 4, tokens: 512, ...bf16 }), false);
  assert.equal(shouldRecompute(llama3_8b, 80 * GB, { batch: 4, tokens: 512, ...bf16 }), false);
  assert.equal(shouldRecompute(llama3_8b, 80 * GB, { batch: 16, tokens: 1024, ...bf16 }), true);
  // TinyLlama in float32 on a 24 GB computer: one sequence kept, a batch of 8 replayed.
  const f32 = { weightsBytes: 4.4e9 };
  assert.equal(shouldRecompute(tinyllama, 24 * GB, { batch: 1, tokens: 512, ...f32 }), false);
  assert.equal(shouldRecompute(tinyllama, 24 * GB, { batch: 8, tokens: 512, ...f32 }), true);
  // The same batch fits once the weights take less of the memory.
  assert.equal(shouldRecompute(tinyllama, 24 * GB, { batch: 2, tokens: 512, weightsBytes: 22e9 }), true);
  assert.equal(shouldRecompute(tinyllama, 24 * GB, { batch: 2, tokens: 512, weightsBytes: 1e9 }), false);
});

test('REFT_STUDIO_RECOMPUTE forces the choice either way', (t) => {
  setEnvFor(t, 'REFT_STUDIO_RECOMPUTE', '1');
  assert.equal(shouldRecompute(tinyllama, 1024 * GB, { batch: 1, tokens: 16 }), true);
  process.env.REFT_STUDIO_RECOMPUTE = '0';
  assert.equal(shouldRecompute(llama3_8b, 1 * GB, { batch: 8, tokens: 2048 }), false);
});
