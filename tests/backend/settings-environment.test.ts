// The Settings page's engine and Hugging Face preferences through the RPC: validated, applied to the
// environment at once (HF_TOKEN, HF_HUB_CACHE, REFT_STUDIO_THREADS, REFT_STUDIO_GPU), the device used
// by runs that do not name one, and the token never sent back to a window.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { planRun } from '../../electron/backend/library/run-plan.ts';
import { detectNvidia, noNvidiaGpu } from '../../native-runtime/runtime/gpus.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('settings-env');
let b: Backend;
const saved = {
  token: process.env.HF_TOKEN,
  cache: process.env.HF_HUB_CACHE,
  threads: process.env.REFT_STUDIO_THREADS,
  gpu: process.env.REFT_STUDIO_GPU,
};

const { call } = inProcess(() => b);
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code: string }) => e.code,
  );

before(() => {
  delete process.env.HF_TOKEN;
  delete process.env.HF_HUB_CACHE;
  delete process.env.REFT_STUDIO_THREADS;
  delete process.env.REFT_STUDIO_GPU;
  b = createBackend(join(root, 'data'), { seedDemo: false });
});
after(async () => {
  await b.close();
  for (const [k, v] of [
    ['HF_TOKEN', saved.token],
    ['HF_HUB_CACHE', saved.cache],
    ['REFT_STUDIO_THREADS', saved.threads],
    ['REFT_STUDIO_GPU', saved.gpu],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test('defaults, then a token and a cache folder applied at once; the token is never sent back', async () => {
  const r0 = await call('settings/environment');
  assert.equal(r0.device, 'cpu');
  assert.equal(r0.threads, 0);
  assert.equal(r0.hub.token, null);
  assert.equal(r0.dataDir, join(root, 'data'));
  const token = 'hf_abcdefghijklmnopWXYZ';
  const r1 = await call('settings/environment-set', { hubToken: token, hubCachePath: join(root, 'hf') });
  assert.deepEqual(r1.hub, {
    token: 'settings',
    tokenHint: '…WXYZ',
    cachePath: join(root, 'hf'),
    cachePathFrom: 'settings',
  });
  assert.equal(process.env.HF_TOKEN, token);
  assert.equal(process.env.HF_HUB_CACHE, join(root, 'hf'));
  const all = await call('settings/get');
  assert.equal(all['hub.token'], true);
  assert.equal(await call('settings/get', { key: 'hub.token' }), true);
  assert.doesNotMatch(JSON.stringify(all), /abcdefghij/);
  assert.equal(await code(call('settings/set', { key: 'hub.token', value: 'x' })), 'use-environment');
  assert.equal(await code(call('settings/environment-set', { hubToken: 'not-a-token' })), 'bad-token');
  assert.equal(await code(call('settings/environment-set', { hubCachePath: 'relative/x' })), 'bad-path');
  // Bug: a file was saved as the cache folder ("Cache folder saved."), and every scan then failed.
  const file = join(root, 'not-a-folder.txt');
  writeFileSync(file, 'x');
  assert.equal(await code(call('settings/environment-set', { hubCachePath: file })), 'not-a-folder');
  await assert.rejects(
    call('settings/environment-set', { hubCachePath: file }),
    /is a file; the cache must be a folder$/,
  );
  assert.equal(
    (await call('settings/environment')).hub.cachePath,
    join(root, 'hf'),
    'the saved folder is kept',
  );
  // Cleared: the environment is as it was at launch.
  const r2 = await call('settings/environment-set', { hubToken: null, hubCachePath: null });
  assert.equal(r2.hub.token, null);
  assert.equal(process.env.HF_TOKEN, undefined);
  assert.equal(process.env.HF_HUB_CACHE, undefined);
});

test('threads reach new sessions through REFT_STUDIO_THREADS; the device is the runs’ default', async () => {
  await call('settings/environment-set', { threads: 3 });
  assert.equal(process.env.REFT_STUDIO_THREADS, '3');
  await call('settings/environment-set', { threads: 0 });
  assert.equal(process.env.REFT_STUDIO_THREADS, undefined);
  assert.equal(await code(call('settings/environment-set', { threads: -1 })), 'invalid-params');

  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'd.jsonl');
  writeJsonl(file, 4);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  assert.equal(planRun(b.lib, { modelId, datasetId }, {}).config.device, 'cpu');
  await call('settings/environment-set', { device: 'auto' });
  assert.equal((await call('settings/environment')).device, 'auto');
  assert.equal(planRun(b.lib, { modelId, datasetId }, {}).config.device, 'auto');
  assert.equal(
    planRun(b.lib, { modelId, datasetId, device: 'cpu' }, {}).config.device,
    'cpu',
    'a run may name its own',
  );
  await call('settings/environment-set', { device: 'cpu' });
  assert.equal(planRun(b.lib, { modelId, datasetId }, {}).config.device, 'cpu');
});

test('the GPU for CUDA reaches the engine through REFT_STUDIO_GPU; cleared, the first again', async () => {
  assert.equal((await call('settings/environment')).gpu, null);
  const r = await call('settings/environment-set', { gpu: 1 });
  assert.equal(r.gpu, 1);
  assert.equal(process.env.REFT_STUDIO_GPU, '1');
  assert.equal((await call('settings/environment-set', { threads: 2 })).gpu, 1, 'other changes keep it');
  assert.equal((await call('settings/environment-set', { gpu: null, threads: 0 })).gpu, null);
  assert.equal(process.env.REFT_STUDIO_GPU, undefined);
  for (const gpu of [-1, 1.5, 300, '1'])
    assert.equal(
      await code(call('settings/environment-set', { gpu } as never)),
      'invalid-params',
      String(gpu),
    );
  assert.equal(await code(call('settings/set', { key: 'engine.gpu', value: 1 })), 'use-environment');
});

test('with no setting, the environment a backend starts in is kept (not the one the module loaded in)', async () => {
  // A host started after its environment changed (a test, an embedding app) used to lose HF_HUB_CACHE
  // and HF_TOKEN: an empty setting restored what the variables were when this module was imported.
  process.env.HF_HUB_CACHE = join(root, 'exported-cache');
  process.env.HF_TOKEN = 'hf_exportedTokenABCD';
  const other = createBackend(join(root, 'data2'), { seedDemo: false });
  try {
    assert.equal(process.env.HF_HUB_CACHE, join(root, 'exported-cache'));
    assert.equal(process.env.HF_TOKEN, 'hf_exportedTokenABCD');
    const r = (await other.handle({
      type: 'request',
      id: 1,
      method: 'settings/environment',
      params: {},
    })) as {
      result: { hub: Record<string, unknown> };
    };
    assert.deepEqual(r.result.hub, {
      token: 'environment',
      tokenHint: '…ABCD',
      cachePath: join(root, 'exported-cache'),
      cachePathFrom: 'environment',
    });
    // A setting still wins, and clearing it gives the exported value back.
    await call('settings/environment-set', { hubCachePath: join(root, 'hf2') });
    assert.equal(process.env.HF_HUB_CACHE, join(root, 'hf2'));
    await call('settings/environment-set', { hubCachePath: null });
    assert.equal(process.env.HF_HUB_CACHE, join(root, 'exported-cache'));
  } finally {
    await other.close();
  }
});

test('a bf16 run where CUDA cannot run is refused in the machine’s words, by start and preview alike', async () => {
  // Bug: with no NVIDIA GPU at all, the refusal advised the CUDA runtime pack, which cannot help.
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'bf16.jsonl');
  writeJsonl(file, 4);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  const noGpu = noNvidiaGpu(await detectNvidia());
  const why = noGpu ? `: ${noGpu}` : ', and the CUDA runtime pack is not installed';
  const refused = (method: string) => ({
    message: `${method}: bfloat16 needs CUDA${why}: choose float32 or float16`,
  });
  const run = { modelId, datasetId, dtype: 'bf16', device: 'cuda', maxSteps: 1 } as const;
  await assert.rejects(call('runs/start', run), refused('runs/start'));
  await assert.rejects(call('runs/preview', { ...run, example: 0 }), refused('runs/preview'));
  assert.deepEqual(await call('runs/list', {}), []);
});
