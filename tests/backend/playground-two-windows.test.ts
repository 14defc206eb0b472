// The Playground in two windows on one host, both generating on the same model at once (in-process
// host, real engine in its 'infer' process): both answer, each from its own request, and Stop in one
// window (generate/cancel of its request) ends that answer only.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GenerateToken } from '../../electron/backend/events.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor } from './helpers.ts';

const root = tempDir('playground-two-windows');
let b: Backend;
let modelId: number;
const windowA = inProcess(() => b);
const windowB = inProcess(() => b);
const tokens = new Map<string, string[]>();
/** B's Stop, pressed as its first piece of text arrives (the fixture's short context ends it soon). */
let stopB: Promise<unknown> | null = null;

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  b.events.onAny((topic, data) => {
    if (topic !== 'generate/token') return;
    const t = data as GenerateToken;
    tokens.set(t.requestId, [...(tokens.get(t.requestId) ?? []), t.text]);
    if (t.requestId === 'window-b' && !stopB)
      stopB = windowB.call('generate/cancel', { requestId: 'window-b' });
  });
  modelId = (await windowA.call('models/add', { path: LLAMA_FIXTURE })).id;
});
after(() => b.close());

test('two windows generate at once on one model; Stop in one stops only its own answer', async () => {
  const ask = (requestId: string, maxNewTokens: number) => ({
    modelId,
    prompt: 'Question 5: what is 5 plus 5?',
    chat: false,
    maxNewTokens,
    temperature: 0,
    requestId,
  });
  const a = windowA.call('generate/run', ask('window-a', 48));
  // Another request under an id in flight is refused; the first goes on.
  const twice = await windowB.callError('generate/run', ask('window-a', 4));
  assert.deepEqual(
    [twice.code, twice.message],
    ['duplicate-request', 'request window-a is already generating'],
  );
  const b2 = windowB.call('generate/run', ask('window-b', 2000)).then(
    () => 'finished',
    (e: { code?: string }) => e.code,
  );
  await waitFor("B's Stop", async () => stopB);
  assert.deepEqual(await stopB, { cancelled: true });
  assert.equal(await b2, 'cancelled');
  // An answer that ended is no longer in flight: a Stop after it stops nothing.
  assert.deepEqual(await windowB.call('generate/cancel', { requestId: 'window-b' }), { cancelled: false });
  const answer = await a;
  assert.equal(answer.requestId, 'window-a');
  assert.ok(answer.tokens > 0);
  assert.equal(tokens.get('window-a')?.join(''), answer.text, "A's pushes are A's whole answer");
  // Asked alone, the same request answers the same text: B's run beside it changed nothing of it.
  const alone = await windowA.call('generate/run', ask('window-a-again', 48));
  assert.equal(alone.text, answer.text);
});
