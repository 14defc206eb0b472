// Probe prompts are refused at runs/start, as generation's prompt checks would refuse them, before
// the run is recorded. They were checked only once the probe's model had loaded: on the Llama
// fixture (256 positions) a long one gave "probe answers before training failed: the prompt has N
// tokens…" in the log, and failed again at every checkpoint of a run that trained on regardless.
// runs/estimate and runs/preview (the Train form's panels) refuse them alike: they once answered
// as if all was well, and only Start refused.
// The probes' answers before training load the model first: a bf16 checkpoint's conversion (half a
// minute at TinyLlama's shape, minutes at 8B) happened there without a line in the run's log. They
// chose their base form by chatting's `auto` rule while the trainer chose by training's, so near the
// memory thresholds a run converted two stores (int4 for the probes, int8 for training). The probes
// then loaded the base the trainer prepared; now they load nothing: every answer, those before
// training included, is written on the training session (the base converted once, in the run's form).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

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

test("the probes answer on the run's own session: the base converted once by the trainer, loaded once", async () => {
  // A bf16 checkpoint becomes a float32 store on the CPU, converted by the trainer in the run's form.
  const bf16 = (await call('models/add', { path: join(LLAMA_FIXTURE, '..', 'llama-bf16') })).id;
  const { runId } = await call('runs/start', {
    modelId: bf16,
    datasetId,
    maxSteps: 1,
    layers: '1',
    rank: 1,
    probe: { prompts: ['Question 3?'], every: 1, maxNewTokens: 2 },
  });
  const run = await waitFor('the run to end', async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: runId });
    return r.status !== 'running' && r.status !== 'queued' ? r : null;
  });
  assert.equal(run.status, 'completed', run.error ?? '');
  const lines: string[] = (await call('runs/logs', { id: runId })).map((l: { text: string }) => l.text);
  // The conversion is the trainer's, said once; the probes prepare no base of their own.
  const converted = lines.findIndex((l) => /^converting the base weights to 32 bits: 100% of /.test(l));
  assert.ok(converted >= 0, lines.join('\n'));
  assert.deepEqual(
    lines.filter((l) => /converting/.test(l) && l.startsWith('probe prompts: ')),
    [],
    lines.join('\n'),
  );
  // Then the trainer opens its session, on which the probes answer: they open none of their own.
  assert.ok(converted < lines.indexOf('loading the model into ONNX Runtime'), lines.join('\n'));
  assert.deepEqual(
    lines.filter((l) => /loading the model/.test(l)),
    ['loading the model into ONNX Runtime'],
    lines.join('\n'),
  );
  const samples: Array<{ step: number }> = (await call('runs/get', { id: runId })).samples;
  assert.deepEqual([...new Set(samples.map((s) => s.step))], [0, 1], 'answers before training and at step 1');
});
