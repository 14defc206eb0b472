// runs/start refuses a run the engine would refuse at its start for the computer's memory, before
// recording it (library/run-memory-check.ts), and the run estimate says the same in the same words:
// the weights in the form asked for, then one step at the data's longest example (as the trainer
// judges it), not at the max length. Worded for the Train wizard: its fields, not the CLI's flags.
// The model is a Llama-7B shape of as many layers as make its float32 weights outgrow this computer,
// in a sparse file: only its header is read.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { trainingStartIssue } from '../../native-runtime/runtime/precision.ts';
import { setEnvFor } from '../helpers/env.ts';
import { sparseLlama } from '../helpers/models.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('run-memory-check');
// float32 weights ~1.3 × this computer's memory (more than the 90% they may take); int4 a fifth of that.
const layers = Math.ceil((1.3 * totalmem() - 1.05e9) / 0.81e9);
const model = sparseLlama(root, layers);
const spec = loadModelSpec(model);
const MAX_LENGTH = 1024;
// The smallest batch whose int4 step is refused at the max length (the engine's own rule); it fits
// at a few tokens an example.
let batch = 1;

let b: Backend;
let nextId = 1;
async function reply(method: string, params: unknown) {
  return b.handle({ type: 'request', id: nextId++, method, params });
}
// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function call<T = any>(method: string, params: unknown = {}): Promise<T> {
  const r = await reply(method, params);
  if (r.type !== 'reply') throw Object.assign(new Error(`${method}: ${r.error.message}`), r.error);
  return r.result as T;
}
async function refusal(
  method: string,
  params: unknown,
): Promise<{ code: string; field?: string; message: string }> {
  const r = await reply(method, params);
  assert.equal(r.type, 'error', `${method} was refused`);
  return (r as { error: { code: string; field?: string; message: string } }).error;
}
async function datasetOf(name: string, rows: { prompt: string; completion: string }[]): Promise<number> {
  const file = join(root, `${name}.jsonl`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  return (await call('datasets/import', { path: file, name })).dataset.id;
}

let modelId: number;
let short: number;
let long: number;
before(async () => {
  while (!(await trainingStartIssue(spec, { quantize: 'int4', device: 'cpu', batch, tokens: MAX_LENGTH })))
    batch *= 2;
  b = createBackend(join(root, 'data'), { seedDemo: false });
  modelId = (await call('models/add', { path: model })).id;
  const rows = Array.from({ length: batch }, (_, i) => ({ prompt: `Question ${i}?`, completion: 'Yes.' }));
  short = await datasetOf('short', rows);
  long = await datasetOf('long', [
    ...rows,
    { prompt: 'Tell a long story.', completion: 'and then '.repeat(2000) },
  ]);
});
after(() => b.close());

test('float32 weights over the memory: refused at runs/start as the estimate says, naming the wizard’s fields', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const p = {
    modelId,
    datasetId: short,
    quantize: 'none',
    device: 'cpu',
    maxLength: MAX_LENGTH,
    batchSize: 1,
  };
  const estimate = await call('runs/estimate', { ...p, calibrate: false });
  const refused = await refusal('runs/start', p);
  assert.equal(refused.code, 'model-too-large');
  assert.equal(refused.field, 'quantize');
  assert.equal(refused.message, estimate.memory.problem);
  assert.match(
    refused.message,
    /in float32 on the CPU, .*choose int8 \(.*\) or int4 \(.*\) as base weights, or a GPU as the device$/,
  );
  assert.doesNotMatch(refused.message, /--quantize|REFT_STUDIO_MEMORY_CHECK/);
  assert.deepEqual(await call('runs/list'), [], 'no run was recorded');
});

test('one step: judged at the data’s longest example, as the trainer judges it, not at the max length', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const p = { modelId, quantize: 'int4', device: 'cpu', maxLength: MAX_LENGTH, batchSize: batch };
  // Short examples: a batch of them fits, though one at the max length would not.
  const fits = await call('runs/estimate', { ...p, datasetId: short, calibrate: false });
  assert.equal(fits.memory.problem, null);
  // One example as long as the max length: the step at the max length is refused, before any record.
  const over = await call('runs/estimate', { ...p, datasetId: long, calibrate: false });
  const refused = await refusal('runs/start', { ...p, datasetId: long });
  assert.equal(refused.code, 'batch-too-large');
  assert.equal(refused.message, over.memory.problem);
  assert.match(refused.message, new RegExp(`^a training step of ${batch} × ${MAX_LENGTH} tokens needs`));
  assert.doesNotMatch(refused.message, /REFT_STUDIO_MEMORY_CHECK/);
  assert.deepEqual(await call('runs/list'), [], 'no run was recorded');
});
