// The Runs page's controls through the backend's RPC (in-process host, real engine in its worker,
// real SQLite file): cancel keeping the last checkpoint as an adapter, keep-checkpoint on a stopped
// run, the run's log (stored and pushed), and deleting a run while its adapters stay.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import type { PushMessage } from '../../electron/backend/rpc/envelope.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('run-controls');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;
const pushes: PushMessage[] = [];

const { call, callError } = inProcess(() => b);

const long = {
  layers: '1;2',
  rank: 2,
  positions: 'f1+l1',
  intervention: 'loreft',
  lr: 0.004,
  maxSteps: 400,
  batchSize: 1,
  checkpointEvery: 1000,
};

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  b.events.onAny((topic, data) => pushes.push({ type: 'push', topic, data }));
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 16);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

const runOf = (id: number) => call('runs/get', { id });
const settled = (id: number, states: string[]) =>
  waitFor(`run ${id} to settle`, async () => {
    await b.jobs.idle();
    const r = await runOf(id);
    return states.includes(r.status) ? r : null;
  });
const someSteps = (id: number, n: number) =>
  waitFor(`${n} steps`, async () => ((await runOf(id)).lastStep >= n ? true : null), 60_000, 10);

test('cancel with keepCheckpoint: the last checkpoint becomes an adapter of the run, tagged', async () => {
  pushes.length = 0;
  const run = await call('runs/start', { modelId, datasetId, ...long, name: 'keep me' });
  await someSteps(run.runId, 3);
  assert.equal((await callError('runs/delete', { id: run.runId })).code, 'not-deletable');
  assert.equal((await callError('runs/keep-checkpoint', { id: run.runId })).code, 'run-active');
  const c = await call('runs/cancel', { id: run.runId, keepCheckpoint: true });
  assert.equal(c.status, 'cancelled');
  const done = await settled(run.runId, ['cancelled']);
  const step = done.checkpoints.at(-1).step;
  assert.equal(step, done.lastStep, 'cancel checkpointed the last step');
  const adapterId = await waitFor('the kept adapter', async () => (await runOf(run.runId)).adapterId);
  const a = await call('adapters/get', { id: adapterId });
  assert.equal(a.runId, run.runId);
  assert.deepEqual(a.tags, ['checkpoint']);
  assert.match(a.name, new RegExp(`^keep me — step ${step} of 400$`));
  assert.equal(a.manifest.metrics.step, step);
  assert.ok(existsSync(join(a.path, 'adapter.safetensors')));
  assert.ok(!a.path.startsWith(join(dataDir, 'runs')), 'the adapter lives apart from the run');
  // The run says its last checkpoint is that adapter (the page offers no second keep).
  assert.equal((await runOf(run.runId)).lastCheckpointAdapterId, adapterId);
  // Keeping again returns the same adapter.
  assert.equal((await call('runs/keep-checkpoint', { id: run.runId })).id, adapterId);
  // The adapter is usable: the playground generates with it.
  const g = await call('generate/run', { modelId, adapterId, prompt: 'Question 1?', maxNewTokens: 3 });
  assert.ok(g.tokens >= 1);

  // The log tells the story, stored and pushed.
  const lines: { text: string; source: string }[] = await call('runs/logs', { id: run.runId });
  const texts = lines.map((l) => l.text).join('\n');
  assert.match(texts, /^queued: 400 steps/m);
  assert.match(texts, /^started: loreft rank 2 on layers 1;2/m);
  assert.match(texts, new RegExp(`^cancelled \\(last checkpoint: step ${step}\\)`, 'm'));
  assert.match(texts, new RegExp(`kept the checkpoint at step ${step} as adapter #${adapterId}`));
  const pushed = pushes
    .filter((p) => p.topic === 'runs/log')
    .map((p) => (p.data as { line: { text: string } }).line.text);
  assert.deepEqual(
    pushed,
    lines.map((l) => l.text),
  );
});

test('keep-checkpoint on a paused run; a run without checkpoints says so', async () => {
  const run = await call('runs/start', { modelId, datasetId, ...long });
  await someSteps(run.runId, 2);
  await call('runs/pause', { id: run.runId });
  const p = await settled(run.runId, ['paused']);
  assert.equal(p.lastCheckpointAdapterId, null, 'not kept yet');
  const a = await call('runs/keep-checkpoint', { id: run.runId });
  assert.equal(a.manifest.metrics.step, p.checkpoints.at(-1).step);
  assert.equal((await runOf(run.runId)).lastCheckpointAdapterId, a.id);
  // Cancelling the paused run with keep returns the same adapter at once.
  const c = await call('runs/cancel', { id: run.runId, keepCheckpoint: true });
  assert.equal(c.keptAdapterId, a.id);
  // A queued run paused before its first step has no checkpoint.
  const blocker = await call('runs/start', { modelId, datasetId, ...long });
  const waiting = await call('runs/start', { modelId, datasetId, ...long });
  await call('runs/pause', { id: waiting.runId });
  assert.equal((await callError('runs/keep-checkpoint', { id: waiting.runId })).code, 'no-checkpoint');
  // Resumed, it waits behind the blocker again; paused again, then cancelled.
  await call('runs/resume', { id: waiting.runId });
  await call('runs/pause', { id: waiting.runId });
  await call('runs/cancel', { id: blocker.runId });
  await call('runs/cancel', { id: waiting.runId });
  await settled(blocker.runId, ['cancelled']);
  // Every change the user made is in the log, each with its time: a run paused or resumed while
  // queued logged nothing (nothing ran it to say so).
  const logOf = async (id: number) =>
    ((await call('runs/logs', { id })) as { text: string; at: number }[]).map((l) => {
      assert.ok(l.at > 0, 'when');
      return l.text;
    });
  assert.deepEqual((await logOf(waiting.runId)).slice(1), [
    'paused',
    'queued to resume',
    'paused',
    'cancelled',
  ]);
  // One line per event: the keep is logged when it happens; the cancel that returns the same
  // adapter afterwards only says it cancelled.
  const step = p.checkpoints.at(-1).step;
  assert.deepEqual((await logOf(run.runId)).slice(-2), [
    `kept the checkpoint at step ${step} as adapter #${a.id}`,
    `cancelled (last checkpoint: step ${step})`,
  ]);
});

test('runs/delete removes the run, its metrics and folders; its adapters stay', async () => {
  const [withAdapter] = (await call('runs/list', { status: 'cancelled' })).filter(
    (r: { name: string | null }) => r.name === 'keep me',
  );
  const detail = await runOf(withAdapter.id);
  const adapterId = detail.adapterId;
  const folder = join(dataDir, 'runs', String(withAdapter.id));
  assert.ok(existsSync(folder));
  const r = await call('runs/delete', { id: withAdapter.id });
  assert.ok(r.deletedFolders >= 1);
  assert.equal((await callError('runs/get', { id: withAdapter.id })).code, 'not-found');
  assert.ok(!existsSync(folder));
  const a = await call('adapters/get', { id: adapterId });
  assert.equal(a.runId, null);
  assert.ok(existsSync(a.path), 'the adapter folder is kept');
  assert.deepEqual(await call('runs/logs', { id: 999 }).catch((e) => e.code), 'not-found');
});
