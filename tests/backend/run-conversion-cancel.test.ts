// Pausing and cancelling a studio run while its base weights are being converted (a bf16 model with
// Base weights = int8, through the backend's RPC with the real engine process): the run stops within
// moments of the request, reads paused or cancelled, the model store holds no finished-looking file
// (only the resumable partial file and its journal), and the next run finishes the conversion and
// trains.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import type { RunLogLine } from '../../electron/backend/library/run-logs.ts';
import { slowToConvertLlama } from '../helpers/models.ts';
import { inProcess, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('run-conversion-cancel');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;
const logs = new Map<number, string[]>();

const { call, settled: settledIn } = inProcess(() => b);

before(async () => {
  const model = await slowToConvertLlama(join(root, 'model'));
  b = createBackend(dataDir, { seedDemo: false });
  b.events.onAny((topic, data) => {
    if (topic !== 'runs/log') return;
    const { runId, line } = data as { runId: number; line: RunLogLine };
    logs.set(runId, [...(logs.get(runId) ?? []), line.text]);
  });
  modelId = (await call('models/add', { path: model })).id;
  await call('models/setQuantize', { id: modelId, quantize: 'int8' });
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

const options = {
  layers: '1',
  rank: 2,
  positions: 'f1+l1',
  intervention: 'loreft',
  maxSteps: 1,
  batchSize: 1,
};
const converting = (runId: number) =>
  waitFor(
    `run ${runId} to start converting`,
    async () => (logs.get(runId) ?? []).some((l) => l.startsWith('converting the base weights')),
    120_000,
    5,
  );
// A cancelled job leaves the queue at once; its engine call ends when the engine process has heard
// the cancel (jobs.idle: the device is free again), which is what "stops" means here.
const settled = (runId: number, states: string[]) => settledIn(runId, states, 60_000, 10);
/** The files of the model's converted forms, relative to `<data>/bases/<fingerprint>/`. */
const storeFiles = (): string[] =>
  existsSync(join(dataDir, 'bases'))
    ? readdirSync(join(dataDir, 'bases'), { recursive: true })
        .map(String)
        .filter((f) => /\./.test(f))
    : [];
const finished = (files: string[]) => files.some((f) => /weights\.safetensors$/.test(f));

test('cancelled during the conversion: stops at once, reads cancelled, leaves no store that looks finished', async (t) => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...options, name: 'cancel me' });
  await converting(runId);
  const asked = Date.now();
  assert.equal((await call('runs/cancel', { id: runId })).status, 'cancelled');
  const run = await settled(runId, ['cancelled']);
  const waited = Date.now() - asked;
  t.diagnostic(`the engine stopped ${waited} ms after the cancel`);
  assert.ok(waited < 10_000, `stopped ${waited} ms after the cancel`);
  assert.equal(run.lastStep ?? 0, 0, 'no step ran');
  assert.ok(!(logs.get(runId) ?? []).some((l) => /^loading the model/.test(l)), 'stopped in the conversion');
  const files = storeFiles();
  assert.ok(!finished(files), `a store that looks finished: ${files.join(', ')}`);
  assert.ok(!files.some((f) => f.endsWith('convert.lock')), `the lock is released: ${files.join(', ')}`);
});

test('paused during the conversion: reads paused; resumed, it converts on and trains', async (t) => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...options, name: 'pause me' });
  await converting(runId);
  const asked = Date.now();
  assert.equal((await call('runs/pause', { id: runId })).status, 'running');
  const paused = await settled(runId, ['paused']);
  t.diagnostic(`paused ${Date.now() - asked} ms after the request`);
  assert.equal(paused.lastStep ?? 0, 0, 'no step ran');
  assert.ok(!finished(storeFiles()), storeFiles().join(', '));
  logs.delete(runId);
  await call('runs/resume', { id: runId });
  const done = await settled(runId, ['completed', 'failed']);
  assert.equal(done.status, 'completed', done.error ?? '');
  const shown = logs.get(runId) ?? [];
  assert.ok(
    shown.some((l) => /^converting the base weights to 8 bits: 100% of/.test(l)),
    shown.join('\n'),
  );
  const files = storeFiles();
  assert.ok(finished(files), files.join(', '));
  assert.ok(!files.some((f) => /\.partial/.test(f)), `no partial file left: ${files.join(', ')}`);
});

test('a new run after a cancelled conversion uses the finished store without converting again', async () => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...options, name: 'after' });
  const done = await settled(runId, ['completed', 'failed']);
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.ok(!(logs.get(runId) ?? []).some((l) => l.startsWith('converting the base weights to 8 bits')));
});
