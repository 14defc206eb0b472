// The packaged app's backend, end to end, from its bundles alone: the app is staged as
// electron-builder.yml packs it (packaged-app.ts), the bundled backend host (utility-entry.cjs) runs
// under plain Node as Electron's utility process would (utility-process-shim.cjs stands in for its
// parentPort, the Electron binary cannot be downloaded here) and forks the bundled engine processes.
// Through the MessagePort the window would use, it opens a library in a temp data folder, seeds the
// demo from the resources, lists the devices (ONNX Runtime's providers probed in child processes),
// imports a model and a dataset ('files' process), counts tokens ('counts' process), trains a few
// steps ('train' process) and generates with the adapter ('infer' process).

import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ServerMessage } from '../../electron/backend/rpc/envelope.ts';
import { LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from '../backend/helpers.ts';
import { type PackagedApp, stagePackagedApp } from './packaged-app.ts';

let packaged: PackagedApp;
let host: ChildProcess;
let stderr = '';
const work = tempDir('bundle-smoke');
const dataDir = join(work, 'data');
const fromParent: unknown[] = [];
const replies = new Map<number, (m: ServerMessage) => void>();
let nextId = 1;

/** One request through the window's MessagePort; its result, or a failure naming the error. */
// biome-ignore lint/suspicious/noExplicitAny: results are read field by field
function call(method: string, params: unknown = {}): Promise<any> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    replies.set(id, (m) =>
      m.type === 'reply'
        ? resolve(m.result)
        : reject(new Error(`${method}: ${JSON.stringify(m)}\n${stderr}`)),
    );
    host.send({ type: 'port', data: { type: 'request', id, method, params } });
  });
}

before(() => {
  packaged = stagePackagedApp();
  host = fork(join(packaged.app, 'dist', 'electron', 'utility-entry.cjs'), ['--data-dir', dataDir], {
    // The installed app has no checkout around it: not its folder, not tsx's loader.
    cwd: work,
    execArgv: ['--require', join(import.meta.dirname, 'utility-process-shim.cjs')],
    env: { ...process.env, NODE_OPTIONS: '', REFT_TEST_RESOURCES_PATH: packaged.resources },
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  host.stdout?.on('data', (d) => (stderr += d));
  host.stderr?.on('data', (d) => (stderr += d));
  host.on('message', (m: { type: string; data: ServerMessage }) => {
    if (m.type === 'parent') fromParent.push(m.data);
    else if (m.type === 'port' && m.data.type !== 'push' && m.data.id !== null)
      replies.get(m.data.id)?.(m.data);
  });
});

after(async () => {
  if (host.exitCode !== null) return;
  const exited = new Promise((r) => host.once('exit', r));
  host.send({ type: 'parent', data: { type: 'shutdown' } });
  await exited;
});

test('the bundled backend opens a library, trains in a bundled engine process and generates', {
  timeout: 300_000,
}, async () => {
  // 'ready', or 'fatal' with why (an exit before either fails the assertion with its stderr).
  const ready = await waitFor('the host to start', async () => fromParent[0] ?? host.exitCode !== null);
  assert.deepEqual(ready, { type: 'ready', dataDir }, stderr);
  host.send({ type: 'connect' });

  // The demo comes from extraResources (process.resourcesPath), its schema from the packed migrations.
  const demo = await call('models/list');
  assert.deepEqual(
    demo.map((m: { isDemo: boolean }) => m.isDemo),
    [true],
  );
  // Settings' devices: ONNX Runtime found from the bundle, its providers probed in child processes.
  const devices = await call('system/devices');
  assert.deepEqual(devices.providers[0], { ...devices.providers[0], name: 'cpu', state: 'available' });
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(work, 'train.jsonl');
  writeJsonl(file, 8);
  const dataset = (await call('datasets/import', { path: file })).dataset;
  assert.equal(dataset.latest.rowCount, 8);
  const lengths = await call('datasets/token-lengths', { datasetId: dataset.id, modelId });
  assert.equal(lengths.count, 8);
  assert.ok(lengths.min > 0, 'every example has tokens');

  const run = await call('runs/start', {
    modelId,
    datasetId: dataset.id,
    layers: '1;2',
    rank: 2,
    positions: 'l1',
    maxSteps: 2,
    batchSize: 4,
  });
  const done = await waitFor(
    'the run to end',
    async () => {
      const r = await call('runs/get', { id: run.runId });
      return ['completed', 'failed', 'cancelled', 'interrupted'].includes(r.status) ? r : null;
    },
    180_000,
    200,
  );
  assert.equal(done.status, 'completed', `${done.error}\n${stderr}`);

  const answer = await call('generate/run', {
    modelId,
    adapterId: done.adapterId,
    prompt: 'Question 5: what is 5 plus 5?',
    maxNewTokens: 4,
    temperature: 0,
  });
  assert.equal(typeof answer.text, 'string');
  assert.ok(answer.text.length > 0, 'the adapter generated some text');
});
