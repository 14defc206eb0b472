// When training replays layers in the backward: by the activations one sequence would keep.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setEnvFor } from '../../tests/helpers/env.ts';
import type { ModelSpec } from '../models/config.ts';
import { keptActivationBytes, shouldRecompute } from './recompute.ts';

const shape = (hiddenSize: number, intermediateSize: number, numHeads: number, numLayers: number) =>
  ({ hiddenSize, intermediateSize, numHeads, numLayers }) as ModelSpec;
const llama3_8b = shape(4096, 14336, 32, 32);
const tinyllama = shape(2048, 5632, 32, 22);
const GB = 2 ** 30;

test('the 8B shape recomputes on a 24 GB machine, not on a 64 GB one; TinyLlama keeps its activations', (t) => {
  setEnvFor(t, 'REFT_STUDIO_RECOMPUTE', undefined);
  assert.ok(
    Math.abs(keptActivationBytes(llama3_8b) / GB - 7) < 0.5,
    `${keptActivationBytes(llama3_8b) / GB} GB`,
  );
  assert.equal(shouldRecompute(llama3_8b, 24 * GB), true);
  assert.equal(shouldRecompute(llama3_8b, 64 * GB), false);
  assert.equal(shouldRecompute(tinyllama, 24 * GB), false);
  process.env.REFT_STUDIO_RECOMPUTE = '1';
  assert.equal(shouldRecompute(tinyllama, 24 * GB), true);
  process.env.REFT_STUDIO_RECOMPUTE = '0';
  assert.equal(shouldRecompute(llama3_8b, 24 * GB), false);
});
