// The Playground's 'generate/run' refuses a request the model cannot serve before the engine converts
// the library model's base (its Base weights setting, int8 here) or opens a session: a prompt longer
// than the context, a blank one on a model that adds no start token, the chat template of a model that
// has none, a prompt and answer past the window of a model mixing sliding-window and full layers.
// The error is the refusal itself, no conversion notice comes first, and nothing is written
// under <data>/bases; a request the model can serve still converts and answers afterwards.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { qwenMixedWindow } from '../helpers/fixtures.ts';
import { modelWithoutBosOrTemplate } from '../training/helpers.ts';
import { inProcess, tempDir } from './helpers.ts';

const root = tempDir('generate-refusals');
const data = join(root, 'data');
let b: Backend;
let modelId: number;
let mixedId: number;
const { call, callError } = inProcess(() => b);

before(async () => {
  const model = modelWithoutBosOrTemplate(join(root, 'model'));
  b = createBackend(data, { seedDemo: false });
  modelId = (await call('models/add', { path: model })).id;
  await call('models/setQuantize', { id: modelId, quantize: 'int8' });
  mixedId = (await call('models/add', { path: qwenMixedWindow(join(root, 'qwen2-mixed')) })).id;
  await call('models/setQuantize', { id: mixedId, quantize: 'int8' });
});
after(() => b.close());

/** The request's error and the notices it heard (a conversion's progress would be one). */
async function refusal(params: Record<string, unknown>, requestId: string) {
  const notices: string[] = [];
  const off = b.events.onAny((topic, d) => {
    if (topic === 'generate/notice' && (d as { requestId: string }).requestId === requestId)
      notices.push((d as { text: string }).text);
  });
  try {
    const error = await callError('generate/run', { modelId, maxNewTokens: 4, ...params, requestId });
    return { error, notices };
  } finally {
    off();
  }
}

test('refused before the base is converted: too long, blank, no chat template, past a mixed window', async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [
      { prompt: 'word '.repeat(3000) },
      'prompt-too-long',
      /^the prompt has \d+ tokens; the model takes at most 255$/,
    ],
    [{ prompt: '   ' }, 'empty-prompt', /^the prompt is empty and this model adds no start token/],
    [{ prompt: 'hello', chat: true }, 'missing-chat-template', /the model has no chat template$/],
    [
      { messages: [{ role: 'user', content: 'hello' }] },
      'missing-chat-template',
      // The Playground's own option, by its label: not "send a single prompt", which it has no button for.
      /^this model has no chat template, so it cannot read a conversation: tick “Plain prompt” under Sampling to send only your last message$/,
    ],
    [
      { modelId: mixedId, prompt: 'hi', maxNewTokens: 3, chat: false },
      'sliding-window-mixed',
      /must fit in its 4-token window: the prompt has 3 tokens and 3 new ones were asked for; ask for at most 2 new tokens$/,
    ],
  ];
  for (const [i, [params, code, message]] of cases.entries()) {
    const { error, notices } = await refusal(params, `r-${i}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.deepEqual(notices, [], 'no conversion before the refusal');
    assert.equal(existsSync(join(data, 'bases')), false, `no converted base written (${code})`);
  }
  // The refusals left no failed load behind: a prompt the model reads converts and answers.
  const r = await call('generate/run', { modelId, prompt: 'hello', maxNewTokens: 2, temperature: 0 });
  assert.ok(r.tokens >= 1);
  assert.equal(existsSync(join(data, 'bases')), true);
});
