// The Runs page's controls through the backend's RPC (in-process host, real engine in its worker,
// real SQLite file): cancel keeping the last checkpoint as an adapter, keep-checkpoint on a stopped
// run, the run's log (stored and pushed), and deleting a run while its adapters stay.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import type { PushMessage } from '../../electron/backend/rpc/envelope.ts';
import { readStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { readTrainerState } from '../../native-runtime/training/checkpoint.ts';
import { WORDS } from '../training/helpers.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('run-controls');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;
const pushes: PushMessage[] = [];

const { call, callError, settled } = inProcess(() => b);

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

test('keep-checkpoint on a paused run that keeps the best: the best evaluation’s parameters so far', async () => {
  // tests/training/keep-best.test.ts's data (each prompt its own completion): the held-out loss falls,
  // then rises for a few steps at a time.
  const file = join(root, 'words.jsonl');
  writeFileSync(
    file,
    WORDS.map((w, i) =>
      JSON.stringify({ prompt: `Tell me about the ${w}.`, completion: WORDS[(i * 7 + 3) % WORDS.length] }),
    ).join('\n'),
  );
  const words = (await call('datasets/import', { path: file })).dataset.id;
  const run = await call('runs/start', {
    modelId,
    datasetId: words,
    name: 'best',
    layers: '1;3',
    positions: 'f1+l1',
    rank: 4,
    lr: 0.05,
    batchSize: 4,
    seed: 3,
    maxSteps: 400,
    evalSplit: 0.2,
    evalEvery: 1,
    checkpointEvery: 1,
    keepBest: true,
  });
  // Paused once the best is two steps behind; a step in flight may still improve on it, then the
  // run goes on and pauses again.
  let p: Awaited<ReturnType<typeof runOf>>;
  let best: { step: number; evalLoss: number } | null | undefined;
  for (let tries = 0; ; tries++) {
    await waitFor('the best behind the last step', async () => {
      const r = await runOf(run.runId);
      return r.best && r.lastStep >= r.best.step + 2 ? true : null;
    });
    await call('runs/pause', { id: run.runId });
    p = await settled(run.runId, ['paused']);
    best = readTrainerState(p.checkpoints.at(-1).path).best?.best;
    if ((best && best.step < p.checkpoints.at(-1).step) || tries === 4) break;
    await call('runs/resume', { id: run.runId });
  }
  const ckpt = p.checkpoints.at(-1);
  assert.ok(
    best && best.step < ckpt.step,
    `the best (${best?.step}) is before the last checkpoint (${ckpt.step})`,
  );
  assert.equal(p.best.step, best.step, 'runs/get names the same best');
  const a = await call('runs/keep-checkpoint', { id: run.runId });
  assert.equal(a.name, `best — step ${ckpt.step} of 400, the best so far: step ${best.step}'s`);
  assert.equal(a.manifest.metrics.bestStep, best.step);
  assert.equal(a.manifest.metrics.evalLoss, best.evalLoss);
  // Its parameters are the best step's (that step's checkpoint), not the last checkpoint's.
  const params = (dir: string) =>
    readStudioAdapter(dir).interventions.map((iv) => Object.values(iv.params).map((t) => [...t.data]));
  const bestCkpt = p.checkpoints.find((c: { step: number }) => c.step === best.step);
  assert.deepEqual(params(a.path), params(bestCkpt.path));
  assert.notDeepEqual(params(a.path), params(ckpt.path));
  await call('runs/cancel', { id: run.runId });
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
