// The Playground keeps two loaded models in the 'infer' process and releases older ones. One that a
// generation is still decoding with must wait for it: two other models opened meanwhile (another
// tab, a comparison) released its session under it, and the answer failed with "ONNX Runtime
// failed: Session already disposed".

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createBackend } from '../../electron/backend/host.ts';
import { inProcess, ROOT, tempDir, waitFor } from './helpers.ts';

const b = createBackend(join(tempDir('playground-eviction'), 'data'), {
  seedDemo: false,
  watchHubCache: false,
});
after(() => b.close());
const { call } = inProcess(() => b);

test('a generation in progress keeps its model while two others are opened', async () => {
  const ids: number[] = [];
  for (const name of ['llama', 'qwen2', 'gpt2'])
    ids.push(
      (await call('models/add', { path: join(ROOT, 'tests', 'fixtures', 'golden', 'models', name) })).id,
    );
  const ask = (modelId: number, maxNewTokens: number, requestId?: string) =>
    call('generate/run', { modelId, prompt: 'Hi', maxNewTokens, temperature: 0, chat: false, requestId });
  await ask(ids[0], 2); // loaded once, so the long answer below starts decoding at once
  let tokens = 0;
  const stop = b.events.onAny((topic, data) => {
    if (topic === 'generate/token' && (data as { requestId: string }).requestId === 'long') tokens++;
  });
  let settled = false;
  const long = ask(ids[0], 400, 'long').finally(() => (settled = true));
  await waitFor('the long answer to start', async () => tokens > 0, 60_000, 5);
  // Two other models: the first one's is now the oldest of three, past the two kept.
  await ask(ids[1], 2);
  await ask(ids[2], 2);
  assert.equal(settled, false, 'the long answer was still decoding (else this test proves nothing)');
  const r = await long;
  stop();
  assert.ok(r.tokens > 20, `the whole answer came (${r.tokens} tokens)`);
  // Released after its answer, not kept: the newest two stay, and a new request reloads it and works.
  assert.equal((await ask(ids[0], 2)).tokens, 2);
});
