// The studio's engine runs in processes (electron/backend/jobs/engine.ts), real backend and SQLite
// file, real ONNX Runtime:
//   - a crash of the training process (SIGKILL, as a segfault in a driver would end it) fails only
//     that run, as 'interrupted' with a one-line reason; the backend answers on, and the run resumes
//     from its checkpoint and completes in a new process, every step's metrics recorded once (those
//     lost in flight come from the checkpoint);
//   - a CUDA runtime pack installed while the studio runs (tests/fixtures/cuda-pack: fake providers
//     beside a copy of the app's libonnxruntime.so.1) is used by the next engine process, no restart:
//     it loads ONNX Runtime from the pack and still generates on the CPU; removed, back to the app's.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import type { WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { truncateMetrics } from '../../electron/backend/library/runs.ts';
import { ortPackage, packDir } from '../../native-runtime/runtime/cuda-pack.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const FAKE_PACK = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));
const root = tempDir('engine-processes');
const dataDir = join(root, 'data');
let b: Backend;
const { call } = inProcess(() => b);

before(() => {
  b = createBackend(dataDir, { seedDemo: false, watchHubCache: false });
});
after(async () => {
  await b.close();
});

const engine = () => b.engine as WorkerEngine;

/** The run once `ready` holds for it (polled through runs/get). */
// biome-ignore lint/suspicious/noExplicitAny: tests read the run field by field
function runWhen(id: number, what: string, ready: (r: any) => boolean) {
  return waitFor(
    what,
    async () => {
      const r = await call('runs/get', { id });
      return ready(r) ? r : null;
    },
    180_000,
    20,
  );
}

test('a killed training process interrupts its run only; the run resumes in a new process', {
  timeout: 240_000,
}, async () => {
  const model = await call('models/add', { path: LLAMA_FIXTURE, name: 'fixture llama' });
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 40);
  const imp = await call('datasets/import', { path: file, name: 'arith' });
  const { runId } = await call('runs/start', {
    modelId: model.id,
    datasetId: imp.dataset.id,
    intervention: 'loreft',
    layers: '1;2',
    positions: 'f1+l1',
    rank: 2,
    lr: 0.004,
    epochs: 2,
    batchSize: 1,
    checkpointEvery: 5,
  });
  await waitFor(
    'a checkpoint and a few more steps',
    async () => {
      const r = await call('runs/get', { id: runId });
      return r.checkpoints.length >= 1 && r.lastStep >= r.checkpoints.at(-1).step + 2 && r.lastStep < 70
        ? r
        : null;
    },
    120_000,
    20,
  );
  const train = engine()
    .processes()
    .find((p) => p.lane === 'train');
  assert.ok(train, 'the run trains in the train lane’s process');
  assert.notEqual(train.pid, process.pid);
  process.kill(train.pid, 'SIGKILL');

  const stopped = await runWhen(
    runId,
    'the run to stop',
    (r) => r.status !== 'running' && r.status !== 'queued',
  );
  assert.equal(stopped.status, 'interrupted', 'resumable, not failed');
  assert.match(stopped.error ?? '', /the engine process stopped \(signal SIGKILL\)/);
  // The backend lives on: it answers, and the engine's other lanes still work.
  assert.equal((await call('models/list', {})).length, 1);

  // Reports the engine sent but the host never recorded (a host killed with them in flight): the
  // resume takes them from the checkpoint, which carries every step's metrics.
  truncateMetrics(b.lib, runId, 2);
  await call('runs/resume', { id: runId });
  const done = await runWhen(
    runId,
    'the resumed run to finish',
    (r) => r.status === 'completed' || r.status === 'failed',
  );
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.deepEqual(
    done.metrics.map((m: { step: number }) => m.step),
    Array.from({ length: 80 }, (_, i) => i + 1),
    'every step exactly once across the crash',
  );
  const again = engine()
    .processes()
    .find((p) => p.lane === 'train');
  assert.ok(again && again.pid !== train.pid, 'a new training process');
});

test('a CUDA pack installed while the studio runs reaches the next engine process, no restart', {
  timeout: 180_000,
  skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'the CUDA pack is Linux x64 only' : false,
}, async () => {
  const appOrt = join(ortPackage().binDir, 'libonnxruntime.so.1');
  const packOrt = join(packDir(dataDir), 'ort', 'libonnxruntime.so.1');
  const info = () => b.engine.call('processInfo', {});
  const before = await info();
  assert.equal(before.ortLibrary, appOrt);
  assert.equal(before.cudaPack, null);

  const events: { state: string }[] = [];
  b.events.onAny((topic, d) => {
    if (topic === 'runtime/progress') events.push(d as { state: string });
  });
  await call('system/runtime-install', { name: 'cuda', from: FAKE_PACK });
  await waitFor(
    'the install to end',
    async () => events.find((e) => e.state !== 'running') ?? null,
    60_000,
    50,
  );
  assert.equal(events.at(-1)?.state, 'done', JSON.stringify(events.at(-1)));

  const withPack = await info();
  assert.notEqual(withPack.pid, before.pid, 'a new engine process');
  assert.equal(withPack.ortLibrary, packOrt, 'ONNX Runtime loaded from the pack');
  assert.equal(withPack.cudaPack, packDir(dataDir));
  // The pack's copy of ONNX Runtime runs the CPU engine as before.
  const model = (await call('models/list', {}))[0];
  const gen = await call('generate/run', {
    modelId: model.id,
    prompt: 'Question 1: what is',
    maxNewTokens: 4,
  });
  assert.equal(gen.tokens, 4);
  const devices = await call('system/devices', {});
  assert.equal(devices.ortLibrary, packOrt, 'Settings reports the engine’s library');
  const cuda = devices.providers.find((p: { name: string }) => p.name === 'cuda');
  assert.equal(cuda.needsRestart, undefined, 'nothing to restart');

  await call('system/runtime-remove', { name: 'cuda' });
  const after = await info();
  assert.equal(after.ortLibrary, appOrt, 'back to the app’s library once the pack is removed');
});
