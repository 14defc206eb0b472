// The playground's backend (in-process host, real engine in its worker, real SQLite file): a
// conversation through the chat template, seeded sampling that repeats, and several adapters composed
// with a strength and a switch each — where off, or a strength of 0, is the base model exactly and a
// lone adapter at strength 1 is that adapter as trained.

import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('playground');
let b: Backend;
let modelId: number;
let adapterA: number;
let adapterB: number;

const { call, callError } = inProcess(() => b);
const errorCode = async (method: string, params: unknown) => (await callError(method, params)).code;

async function train(seed: number, lr: number): Promise<number> {
  const datasetId = (await call('datasets/list'))[0].id;
  const run = await call('runs/start', {
    modelId,
    datasetId,
    layers: '1;2',
    rank: 2,
    positions: 'l1',
    maxSteps: 6,
    batchSize: 4,
    lr,
    seed,
  });
  return waitFor('the run', async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: run.runId });
    return r.status === 'completed' ? r.adapterId : null;
  });
}

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  await call('datasets/import', { path: file });
  adapterA = await train(1, 0.05);
  adapterB = await train(2, 0.05);
});
after(() => b.close());

const prompt = 'Question 5: what is 5 plus 5?';

/** The Playground answer stored last (generate/run records each). */
const last = () =>
  b.lib.db
    .prepare(
      "SELECT adapter_id AS adapterId, params_json AS params FROM generations WHERE kind = 'playground' ORDER BY id DESC LIMIT 1",
    )
    .get() as { adapterId: number | null; params: string };

const ids = async (params: Record<string, unknown>) => (await call('generate/run', params)).text as string;

test('composition: off or strength 0 is the base model; one adapter at 1 is that adapter', async () => {
  // Through the chat template on every side, as the adapters were trained.
  const greedy = { modelId, prompt, maxNewTokens: 8, temperature: 0, chat: true };
  const base = await ids(greedy);
  const a = await ids({ ...greedy, adapterId: adapterA });
  assert.notEqual(a, base, 'the adapter changes the answer (else this test proves nothing)');
  assert.equal(await ids({ ...greedy, adapters: [{ id: adapterA, scale: 1 }] }), a);
  assert.equal(
    await ids({
      ...greedy,
      adapters: [
        { id: adapterA, scale: 1, enabled: false },
        { id: adapterB, scale: 2, enabled: false },
      ],
    }),
    base,
  );
  assert.equal(
    await ids({
      ...greedy,
      adapters: [
        { id: adapterA, scale: 0 },
        { id: adapterB, scale: 0 },
      ],
    }),
    base,
  );
  // Both on at different strengths differ from each alone (the dials do something).
  const both = await ids({
    ...greedy,
    adapters: [
      { id: adapterA, scale: 1.5 },
      { id: adapterB, scale: 0.5 },
    ],
  });
  assert.notEqual(both, base);
  assert.equal(
    await errorCode('generate/run', { ...greedy, adapters: [{ id: adapterA, scale: 2.5 }] }),
    'invalid-params',
  );
  assert.equal(
    await errorCode('generate/run', { ...greedy, adapters: [{ id: adapterA }, { id: adapterA }] }),
    'invalid-params',
  );
  assert.equal(
    await errorCode('generate/run', { ...greedy, adapterId: adapterA, adapters: [{ id: adapterB }] }),
    'invalid-params',
  );
});

test('two answers at once on one composition, at different strengths, are each as if asked alone', async () => {
  // They share one loaded session: each request sets the strengths and switches on it and the runner
  // copies them into that request's own feed before anything awaits (engine-tasks.ts generateTask).
  // An await in between would let one request decode with another's strength (checked: it does).
  const at = (a: number, b: number, bOn = true) => ({
    modelId,
    prompt,
    maxNewTokens: 12,
    temperature: 0,
    chat: true,
    adapters: [
      { id: adapterA, scale: a },
      { id: adapterB, scale: b, enabled: bOn },
    ],
  });
  // 0.5× and 2× of one adapter, the other off; then both on, at two strengths.
  const cases = [at(0.5, 0, false), at(2, 0, false), at(2, 2), at(1, 1)];
  const alone: string[] = [];
  for (const c of cases) alone.push(await ids(c));
  assert.equal(
    new Set(alone).size,
    cases.length,
    'each setting answers differently (else this proves nothing)',
  );
  for (const order of [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
  ])
    assert.deepEqual(
      await Promise.all(order.map((i) => ids(cases[i]))),
      order.map((i) => alone[i]),
    );
});

test('a conversation through the chat template; it must end with the user; seeds repeat', async () => {
  const messages = [
    { role: 'system', content: 'You are a pirate.' },
    { role: 'user', content: 'Hello?' },
    { role: 'assistant', content: 'Arr.' },
    { role: 'user', content: 'Where is the ship?' },
  ];
  const r = await call('generate/run', { modelId, messages, maxNewTokens: 6, temperature: 0 });
  assert.ok(r.tokens >= 1);
  // The conversation is longer than its last message alone: the template saw every turn.
  const last = await call('generate/run', {
    modelId,
    messages: [messages[3]],
    maxNewTokens: 6,
    temperature: 0,
  });
  assert.ok(r.promptTokens > last.promptTokens + 8, `${r.promptTokens} vs ${last.promptTokens}`);
  assert.equal(
    await errorCode('generate/run', { modelId, messages: messages.slice(0, 3) }),
    'invalid-params',
  );
  assert.equal(await errorCode('generate/run', { modelId, prompt, messages }), 'invalid-params');
  const sampled = { modelId, prompt, maxNewTokens: 10, temperature: 1.2, topP: 0.95, topK: 40, seed: 7 };
  assert.equal(await ids(sampled), await ids(sampled));
  assert.equal(
    await ids({ ...sampled, adapters: [{ id: adapterA, scale: 1 }] }),
    await ids({ ...sampled, adapters: [{ id: adapterA, scale: 1 }] }),
  );
});

test('a conversation grown past the context says that its earlier turns count, and what to do', async () => {
  const turn = 'word '.repeat(20);
  const history = [
    { role: 'user', content: turn },
    { role: 'assistant', content: turn },
    { role: 'user', content: turn },
    { role: 'assistant', content: turn },
  ];
  // Bug: a short message after a few turns failed with "the prompt has 305 tokens; the model takes
  // at most 255", and so did every next one, with no word that the history was the reason.
  const grown = await callError('generate/run', {
    modelId,
    messages: [...history, { role: 'user', content: 'Hi?' }],
    maxNewTokens: 4,
  });
  assert.equal(grown.code, 'prompt-too-long');
  assert.match(
    grown.message,
    /^the prompt has \d+ tokens; the model takes at most 255 \(the conversation so far counts: start a New chat to go on\)$/,
  );
  // One long message alone: there is no history to blame.
  const alone = await callError('generate/run', {
    modelId,
    messages: [{ role: 'user', content: turn.repeat(5) }],
    maxNewTokens: 4,
  });
  assert.equal(alone.code, 'prompt-too-long');
  assert.match(alone.message, /^the prompt has \d+ tokens; the model takes at most 255$/);
});

test('a chat-trained adapter on a copy of its base without a chat template: the adapter is named', async () => {
  // The same weights (so the adapters fit it), without the chat template they were trained through.
  const bare = join(root, 'no-template');
  cpSync(LLAMA_FIXTURE, bare, { recursive: true });
  rmSync(join(bare, 'chat_template.jinja'));
  const bareId = (await call('models/add', { path: bare, name: 'no template' })).id;
  const { name } = await call('adapters/get', { id: adapterA });
  // Bug: "<model folder>: the model has no chat template", as if the model alone were at fault.
  const expected = `adapter ${adapterA} ("${name}") was trained on chat-formatted prompts, and this model has no chat template: send the prompt with chat: false (“Plain prompt” in the Playground), which it was not trained on, or use it on a model with the chat template it was trained with`;
  for (const using of [{ adapterId: adapterA }, { adapters: [{ id: adapterA }] }]) {
    const e = await callError('generate/run', { modelId: bareId, prompt, maxNewTokens: 2, ...using });
    assert.equal(e.code, 'adapter-needs-chat-template');
    assert.equal(e.message, expected);
  }
  // As the message says: sent plain, it answers.
  const r = await call('generate/run', {
    modelId: bareId,
    prompt,
    chat: false,
    maxNewTokens: 2,
    adapterId: adapterA,
  });
  assert.ok(r.tokens >= 1);
});

test('a prompt with no chat value is sent as generate sends it: plain on the base, as trained with an adapter', async () => {
  const asked = { modelId, prompt, maxNewTokens: 2, temperature: 0 };
  const tokens = async (params: Record<string, unknown>) =>
    (await call('generate/run', { ...asked, ...params })).promptTokens as number;
  const plain = await tokens({ chat: false });
  const templated = await tokens({ chat: true });
  assert.ok(templated > plain, 'the template adds tokens (else this test proves nothing)');
  // Bug: the base model got the chat template, where `generate --prompt` without --chat sends it plain.
  assert.equal(await tokens({}), plain);
  // An adapter trained through the chat template gets it, as `generate --adapter` does.
  assert.equal(await tokens({ adapterId: adapterA }), templated);
  assert.equal(await tokens({ adapters: [{ id: adapterA, scale: 0.5 }] }), templated);
});

test('a stored answer records what made it: the adapters of a composition, every sampling value', async () => {
  const sampled = {
    modelId,
    prompt,
    maxNewTokens: 3,
    temperature: 0.9,
    topP: 0.9,
    topK: 5,
    repetitionPenalty: 1.3,
    seed: 4,
  };
  // Bug: the Playground's composition of one adapter was stored with no adapter, and no
  // repetition penalty was stored at all.
  await call('generate/run', { ...sampled, adapters: [{ id: adapterA, scale: 1.5 }] });
  let row = last();
  assert.equal(row.adapterId, adapterA);
  assert.deepEqual(JSON.parse(row.params), {
    adapters: [{ id: adapterA, scale: 1.5, enabled: true }],
    maxNewTokens: 3,
    temperature: 0.9,
    topP: 0.9,
    topK: 5,
    repetitionPenalty: 1.3,
    seed: 4,
    chat: 'auto',
    device: 'cpu',
    deviceFallback: null,
  });
  // Several adapters: none of them alone made it; the list says which, at what strength and switch.
  await call('generate/run', {
    modelId,
    messages: [{ role: 'user', content: 'Hi?' }],
    maxNewTokens: 2,
    adapters: [{ id: adapterA }, { id: adapterB, scale: 0.5, enabled: false }],
  });
  row = last();
  assert.equal(row.adapterId, null);
  const params = JSON.parse(row.params);
  assert.deepEqual(params.adapters, [
    { id: adapterA, scale: 1, enabled: true },
    { id: adapterB, scale: 0.5, enabled: false },
  ]);
  assert.equal(params.conversation, true);
  assert.equal(params.maxNewTokens, 2);
  // Bug: one adapter switched off (or at strength 0) was stored as that adapter, though the answer
  // is the base model's; the params still say how it was sent.
  for (const off of [{ enabled: false }, { scale: 0 }]) {
    await call('generate/run', { ...sampled, adapters: [{ id: adapterA, ...off }] });
    row = last();
    assert.equal(row.adapterId, null, JSON.stringify(off));
    assert.deepEqual(JSON.parse(row.params).adapters, [{ id: adapterA, scale: 1, enabled: true, ...off }]);
  }
});

test('stop texts end the answer before them, as generate --stop; too many or too long are refused', async () => {
  const asked = { modelId, prompt, chat: false, maxNewTokens: 16, temperature: 0 };
  const full = await call('generate/run', asked);
  // Two characters from the middle of the answer, so more text follows them.
  const stop = [...full.text].slice(4, 6).join('');
  assert.ok(stop.length === 2 && full.text.indexOf(stop) >= 0, full.text);
  const pushed: string[] = [];
  const off = b.events.onAny((topic, d) => {
    if (topic === 'generate/token' && (d as { requestId: string }).requestId === 'stop-1')
      pushed.push((d as { text: string }).text);
  });
  try {
    // Bug: generate/run refused 'stop' (unknown key), where the CLI has --stop.
    const r = await call('generate/run', { ...asked, stop: ['never there', stop], requestId: 'stop-1' });
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.text, full.text.slice(0, full.text.indexOf(stop)));
    assert.equal(pushed.join(''), r.text, 'the stop text is never streamed');
  } finally {
    off();
  }
  assert.deepEqual(JSON.parse(last().params).stop, ['never there', stop]);
  for (const bad of [Array.from({ length: 9 }, (_, i) => `s${i}`), ['x'.repeat(201)], ['']])
    assert.equal(await errorCode('generate/run', { ...asked, stop: bad }), 'invalid-params');
});
