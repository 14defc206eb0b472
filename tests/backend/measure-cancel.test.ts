// Stopping the Train page's "Measure speed" (runs/estimate with calibrate): runs/estimate-cancel and
// the requester's connection closing both end it at once, keep nothing as measured, and free the
// device for the run that waits on it. A measurement's engine process is frozen (SIGSTOP) to stand
// for a large model's training step, which holds it for minutes (a 1.1B model's: about 3 minutes on
// 2 cores) and so never hears a polite cancel in time.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { JobProgress } from '../../electron/backend/events.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('measure-cancel');
const dataDir = join(root, 'data');
let b: Backend;
let engine: WorkerEngine;
let params: Record<string, unknown>;
const progress: JobProgress[] = [];
const { call, callError } = inProcess(() => b);

before(async () => {
  engine = new WorkerEngine({ dataDir });
  b = createBackend(dataDir, { seedDemo: false, engine });
  b.events.onAny((topic, data) => {
    if (topic === 'jobs/progress') progress.push(data as JobProgress);
  });
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 16);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  params = { modelId, datasetId, layers: '1;2', rank: 2, positions: 'f1+l1', batchSize: 4 };
  // A first measurement starts the engine's training process.
  await call('runs/estimate', { ...params, batchSize: 3, calibrate: true });
});
after(() => b.close());

/** Freezes the training process, as a step of a large model holds it; the measurement asked then waits on it. */
async function frozenMeasurement(ask: () => Promise<unknown>): Promise<{ answer: Promise<unknown> }> {
  const lane = engine.processes().find((p) => p.lane === 'train');
  assert.ok(lane, 'a training process');
  process.kill(lane.pid, 'SIGSTOP');
  progress.length = 0;
  const answer = ask();
  answer.catch(() => {});
  await waitFor('the measurement to hold the device', async () =>
    progress.some((j) => j.kind === 'calibrate' && j.state === 'running'),
  );
  return { answer };
}

const calibrateFolders = () =>
  existsSync(join(dataDir, 'tmp'))
    ? readdirSync(join(dataDir, 'tmp')).filter((n) => n.startsWith('calibrate-'))
    : [];

test('runs/estimate-cancel stops a measurement at once: nothing kept, the waiting run starts', async () => {
  const { answer } = await frozenMeasurement(() =>
    callError('runs/estimate', { ...params, calibrate: true, requestId: 'measure-1' }),
  );
  // A run asked for meanwhile waits for the device.
  const run = await call('runs/start', { ...params, epochs: 1 });
  assert.equal((await call('runs/get', { id: run.runId })).status, 'queued');
  const t0 = Date.now();
  assert.deepEqual(await call('runs/estimate-cancel', { requestId: 'measure-1' }), { cancelled: true });
  const refused = (await answer) as { code: string };
  assert.equal(refused.code, 'cancelled');
  // Bug: the engine heard the cancel only after its step, minutes later, and held the device until then.
  const started = await waitFor(
    'the waiting run to train',
    async () => {
      const r = await call('runs/get', { id: run.runId });
      return r.status !== 'queued' && r;
    },
    10_000,
  );
  assert.ok(Date.now() - t0 < 10_000, `the device was free after ${Date.now() - t0} ms`);
  assert.notEqual(started.status, 'failed', started.error ?? '');
  await b.jobs.idle();
  assert.equal((await call('runs/get', { id: run.runId })).status, 'completed');
  // Nothing was kept as measured: the same configuration is not measured until asked again.
  const after = await call('runs/estimate', params);
  assert.equal(after.calibration, null);
  assert.equal(after.calibrationSkipped, 'not-requested');
  await waitFor('the measurement folder to go', async () => calibrateFolders().length === 0, 10_000);
  // A request that is not (or no longer) measuring: nothing to stop.
  assert.deepEqual(await call('runs/estimate-cancel', { requestId: 'measure-1' }), { cancelled: false });
});

test('a measurement stops when the connection that asked for it closes', async () => {
  const link = new AbortController();
  const { answer } = await frozenMeasurement(() =>
    b.handle(
      { type: 'request', id: 9001, method: 'runs/estimate', params: { ...params, calibrate: true } },
      { gone: link.signal },
    ),
  );
  link.abort();
  const reply = (await answer) as { type: string; error?: { code: string } };
  assert.equal(reply.type, 'error');
  assert.equal(reply.error?.code, 'cancelled');
  // Bug: the tab was gone, the device stayed busy with its measurement.
  const idle = b.jobs.idle().then(() => true);
  const late = new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref());
  assert.ok(await Promise.race([idle, late]), 'the device is free');
  // The next measurement starts a fresh training process and measures.
  const measured = await call('runs/estimate', { ...params, calibrate: true });
  assert.ok(measured.calibration?.stepMs > 0 && !measured.calibration.cached);
});
