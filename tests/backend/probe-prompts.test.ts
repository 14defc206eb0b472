// Probe prompts are refused at runs/start, as generation's prompt checks would refuse them, before
// the run is recorded. They were checked only once the probe's model had loaded: on the Llama
// fixture (256 positions) a long one gave "probe answers before training failed: the prompt has N
// tokens…" in the log, and failed again at every checkpoint of a run that trained on regardless.
// runs/estimate and runs/preview (the Train form's panels) refuse them alike: they once answered
// as if all was well, and only Start refused.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('probe-prompts');
let b: Backend;
let modelId: number;
let datasetId: number;
const { call, callError } = inProcess(() => b);

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

test('a probe prompt longer than the model reads is refused at the start, naming which one', async () => {
  // Within the 4000 characters the schema allows, well past the fixture's 255 prompt tokens.
  const long = 'one two three four five six seven eight nine ten '.repeat(60);
  assert.ok(long.length <= 4000);
  const e = (await callError('runs/start', {
    modelId,
    datasetId,
    maxSteps: 1,
    probe: { prompts: ['Question 3?', long], every: 1 },
  })) as { code: string; message: string; field?: string };
  assert.equal(e.code, 'prompt-too-long');
  assert.match(e.message, /^probe prompt 2 of 2: the prompt has \d+ tokens; the model takes at most 255$/);
  assert.equal(e.field, 'probe.prompts.1');
  // Nothing was recorded.
  assert.deepEqual(await call('runs/list'), []);
});

test('runs/estimate and runs/preview report a bad probe prompt as runs/start would', async () => {
  const long = 'one two three four five six seven eight nine ten '.repeat(60);
  const params = { modelId, datasetId, maxSteps: 1, probe: { prompts: [long], every: 1 } };
  for (const [method, extra] of [
    ['runs/estimate', { calibrate: false }],
    ['runs/preview', { example: 0 }],
  ] as const) {
    const e = (await callError(method, { ...params, ...extra })) as {
      code: string;
      message: string;
      field?: string;
    };
    assert.equal(e.code, 'prompt-too-long', method);
    assert.match(e.message, /^the probe prompt: the prompt has \d+ tokens; the model takes at most 255$/);
    assert.equal(e.field, 'probe.prompts.0', method);
  }
});
