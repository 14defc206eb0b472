// A library model's base weights setting (Models page → Base weights): automatic until the user picks
// a form, which generation then uses (its first conversion heard by the request as notices); bad
// values are refused at the boundary.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('base-forms');
let b: Backend;
const { call, callError } = inProcess(() => b);

before(() => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
});
after(() => b.close());

test('a new model is automatic; a chosen form is kept and used; others are refused', async () => {
  const m = await call('models/add', { path: LLAMA_FIXTURE });
  assert.equal(m.quantize, 'auto');
  const greedy = { modelId: m.id, prompt: 'Question 5: what is 5 plus 5?', maxNewTokens: 6, temperature: 0 };
  // Automatic on this computer: the fixture's float32 weights fit, so the same text as full precision.
  const auto = (await call('generate/run', greedy)).text;
  assert.equal((await call('models/setQuantize', { id: m.id, quantize: 'none' })).quantize, 'none');
  assert.equal((await call('generate/run', greedy)).text, auto);
  assert.equal((await call('models/setQuantize', { id: m.id, quantize: 'int8' })).quantize, 'int8');
  assert.equal((await call('models/list')).find((r: { id: number }) => r.id === m.id).quantize, 'int8');
  // The first use converts the weights: the request hears it (the playground shows it until text comes).
  const notices: string[] = [];
  const off = b.events.onAny((topic, d) => {
    if (topic === 'generate/notice' && (d as { requestId: string }).requestId === 'bf-1')
      notices.push((d as { text: string }).text);
  });
  await call('generate/run', { ...greedy, requestId: 'bf-1' });
  off();
  assert.ok(
    notices.some((n) => /converting the base weights to 8 bits/.test(n)),
    `notices: ${JSON.stringify(notices)}`,
  );
  // Then the session opens (tens of seconds on a large model): said, not left at the conversion's 90%.
  assert.equal(notices.at(-1), 'loading the model into ONNX Runtime');
  assert.equal(
    (await callError('models/setQuantize', { id: m.id, quantize: 'int3' })).code,
    'invalid-params',
  );
  assert.equal((await call('models/setQuantize', { id: m.id, quantize: 'auto' })).quantize, 'auto');
});
