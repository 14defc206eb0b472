// Quantized bases in the library, through the backend's RPC (in-process host, real engine processes,
// real SQLite): a model's base-form setting, runs defaulting to it and recording it, the adapter
// manifest naming the form it was trained on, the estimate's weights shrinking with it, the
// playground answering in it, and the converted weights leaving with the model.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from '../backend/helpers.ts';

const root = tempDir('quantize-lib');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;

const { call } = inProcess(() => b);

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

test('a model set to int4: estimates, runs, adapters and the playground use it; removal deletes it', async () => {
  const run = { modelId, datasetId, layers: '1', rank: 2, positions: 'f1+l1', maxSteps: 2, batchSize: 2 };
  const before = await call('runs/estimate', { ...run, calibrate: false });
  // Automatic until chosen: the fixture's float32 weights fit, so the estimate counts float32.
  assert.equal((await call('models/get', { id: modelId })).quantize, 'auto');
  const m = await call('models/setQuantize', { id: modelId, quantize: 'int4' });
  assert.equal(m.quantize, 'int4');
  const est = await call('runs/estimate', { ...run, calibrate: false });
  assert.ok(
    est.memory.weightsBytes < before.memory.weightsBytes / 2,
    `int4 weights ${est.memory.weightsBytes} vs fp32 ${before.memory.weightsBytes}`,
  );

  const { runId } = await call('runs/start', run);
  const done = await waitFor('the run to finish', async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: runId });
    return ['completed', 'failed'].includes(r.status) ? r : null;
  });
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.equal(done.config.quantize, 'int4');
  const adapter = (await call('adapters/list')).find((a: { runId: number | null }) => a.runId === runId);
  const manifest = JSON.parse(readFileSync(join(adapter.path, 'manifest.json'), 'utf8'));
  assert.equal(manifest.baseModel.form, 'int4-b32');

  const g = await call('generate/run', { modelId, prompt: 'hello', maxNewTokens: 3, temperature: 0 });
  assert.equal(typeof g.text, 'string');

  const bases = join(dataDir, 'bases', m.fingerprint);
  assert.deepEqual(readdirSync(bases), ['int4-b32']);
  await call('models/remove', { id: modelId });
  assert.ok(!existsSync(bases), 'converted weights left behind');
});
