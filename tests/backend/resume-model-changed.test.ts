// A paused run whose model folder changed since it started is not resumed on the changed files: the
// run's checkpoint holds interventions trained on the model it began with, and planRun refuses such a
// folder ('model-changed') when a run is started, but a resume read the folder afresh and trained on.
// The backend with its engine in process: real ORT, SQLite, a copy of the Llama fixture.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('resume-model-changed');
const model = join(root, 'llama');
let b: Backend;
const { call, settled } = inProcess(() => b);

before(() => {
  cpSync(LLAMA_FIXTURE, model, { recursive: true });
  b = createBackend(join(root, 'data'), { seedDemo: false, engine: new InProcessEngine() });
});
after(() => b.close());

test('a resume of a run whose model files changed since it started is refused, naming the folder', async () => {
  const modelId = (await call('models/add', { path: model })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  let id = 0;
  const stop = b.events.onAny((topic, data) => {
    const d = (data as { detail?: { event?: string; step?: number } | null }).detail;
    if (topic === 'jobs/progress' && d?.event === 'progress' && d.step === 2) b.training.pause(id);
  });
  id = (await call('runs/start', { modelId, datasetId, layers: '1', rank: 2, maxSteps: 6, batchSize: 1 }))
    .runId;
  await settled(id, ['paused']);
  stop();
  // Another checkpoint saved over the folder: another norm epsilon, another model.
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, rms_norm_eps: 0.1 }));
  await call('runs/resume', { id });
  const failed = await settled(id, ['failed', 'completed']);
  assert.equal(failed.status, 'failed', 'not trained on another model');
  // (The studio's message names a temporary folder by its name alone: rpc/user-errors.ts.)
  assert.match(
    failed.error ?? '',
    new RegExp(`^the files in .*llama changed since run ${id} started; put them back`),
  );
  assert.equal(failed.lastStep, 2, 'nothing trained past the pause');
});
