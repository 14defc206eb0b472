// The Train wizard's Device field before and after the devices probe answers (train/device-offer.ts):
// the CPU and Automatic at once, the GPUs once known, and a GPU already chosen kept chosen meanwhile.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProviderState } from '../../renderer/src/lib/rpc/handlers.ts';
import { deviceOffer } from '../../renderer/src/lib/train/device-offer.ts';

const values = (o: ReturnType<typeof deviceOffer>) => o.choices.map((c) => c.value);

test('while the probe runs: the CPU and Automatic, and a GPU chosen before shown as being checked', () => {
  const plain = deviceOffer('checking', 'cpu');
  assert.deepEqual(values(plain), ['cpu', 'auto']);
  assert.deepEqual(plain.aside, {
    text: 'Checking which GPUs run here… the CPU can be chosen now.',
    spoken: false,
  });
  const cuda = deviceOffer('checking', 'cuda');
  assert.deepEqual(values(cuda), ['cpu', 'auto', 'cuda']);
  assert.equal(cuda.choices[2]?.label, 'CUDA (checking…)');
  assert.equal(cuda.aside?.text, 'Checking which GPUs run here… CUDA stays chosen meanwhile.');
});

test('once it answers: every choice, those that cannot run disabled with why; a chosen one said', () => {
  const providers: ProviderState[] = [
    { name: 'cpu', state: 'available', reason: null },
    { name: 'cuda', state: 'unavailable', reason: 'no NVIDIA GPU: no NVIDIA driver loaded' },
    { name: 'webgpu', state: 'available', reason: null },
  ];
  const o = deviceOffer(providers, 'cuda');
  assert.deepEqual(values(o), ['cpu', 'auto', 'cuda', 'webgpu', 'dml', 'coreml']);
  assert.deepEqual(Object.keys(o.unavailable).sort(), ['coreml', 'cuda', 'dml']);
  assert.deepEqual(o.aside, {
    text: 'CUDA cannot run here (no NVIDIA GPU: no NVIDIA driver loaded): the run would train on the CPU.',
    spoken: true,
  });
  assert.equal(deviceOffer(providers, 'webgpu').aside, null);
  assert.equal(deviceOffer(providers, undefined).aside, null);
});

test('a probe that failed offers every choice and says it could not check', () => {
  const o = deviceOffer(null, 'cpu');
  assert.equal(o.choices.length, 6);
  assert.deepEqual(o.unavailable, {});
  assert.match(o.aside?.text ?? '', /^Could not check which GPUs run here/);
});
