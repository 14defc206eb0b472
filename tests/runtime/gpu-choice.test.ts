// Which NVIDIA GPU CUDA sessions use (gpu-choice.ts): REFT_STUDIO_GPU against CUDA_VISIBLE_DEVICES,
// CUDA numbered as nvidia-smi numbers, a GPU that does not exist said in one line, and the memory
// figures of the chosen GPU. No GPU needed: nvidia-smi is a stand-in script.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deviceMemories } from '../../electron/backend/library/device-memory.ts';
import { detectDevices } from '../../native-runtime/runtime/devices.ts';
import {
  alignCudaNumbering,
  chosenGpuIndex,
  gpuChoice,
  gpuChoiceProblem,
  gpuChoiceProblemAmong,
} from '../../native-runtime/runtime/gpu-choice.ts';
import { cudaDeviceMemoryBytes, type GpuInfo } from '../../native-runtime/runtime/gpus.ts';
import { fakeSmi } from '../helpers/fake-smi.ts';
import { tempDir } from '../helpers/temp.ts';

const tmp = tempDir('reft-gpu-choice-');
const TWO = fakeSmi(
  tmp,
  `case "$1" in
  --query-gpu*) echo "0, NVIDIA GeForce RTX 3060, 12288, 580.95.05"; echo "1, NVIDIA GeForce RTX 4090, 24564, 580.95.05";;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac`,
);
const probe = { smi: TWO, procDir: join(tmp, 'none') };
const gpus: GpuInfo[] = [
  { vendor: 'nvidia', index: 0, name: 'A', memoryMb: 1, computeCapability: '8.6' },
  { vendor: 'nvidia', index: 1, name: 'B', memoryMb: 2, computeCapability: '7.5' },
];

test('the GPU: the first by default, REFT_STUDIO_GPU picks one, CUDA_VISIBLE_DEVICES renumbers', () => {
  assert.deepEqual(gpuChoice({}), { index: 0, deviceId: 0, from: 'default' });
  assert.deepEqual(gpuChoice({ REFT_STUDIO_GPU: '1' }), { index: 1, deviceId: 1, from: 'REFT_STUDIO_GPU' });
  assert.deepEqual(gpuChoice({ REFT_STUDIO_GPU: ' ' }), { index: 0, deviceId: 0, from: 'default' });
  // CUDA sees only GPUs 2 and 3, as its devices 0 and 1.
  assert.deepEqual(gpuChoice({ CUDA_VISIBLE_DEVICES: '2,3' }), { index: 2, deviceId: 0, from: 'default' });
  assert.deepEqual(gpuChoice({ CUDA_VISIBLE_DEVICES: '2,3', REFT_STUDIO_GPU: '3' }), {
    index: 3,
    deviceId: 1,
    from: 'REFT_STUDIO_GPU',
  });
  assert.deepEqual(gpuChoice({ CUDA_VISIBLE_DEVICES: 'GPU-8f3a' }), {
    index: null,
    deviceId: 0,
    from: 'default',
  });
  assert.throws(() => gpuChoice({ CUDA_VISIBLE_DEVICES: '2,3', REFT_STUDIO_GPU: '0' }), {
    code: 'gpu-hidden',
    message: 'GPU 0 is hidden by CUDA_VISIBLE_DEVICES=2,3: choose one of 2, 3, or unset it',
  });
  assert.throws(() => gpuChoice({ CUDA_VISIBLE_DEVICES: 'GPU-8f3a', REFT_STUDIO_GPU: '0' }), {
    code: 'gpu-hidden',
  });
  for (const bad of ['-1', '1.5', 'first'])
    assert.throws(() => gpuChoice({ REFT_STUDIO_GPU: bad }), { code: 'bad-gpu' }, bad);
  assert.equal(chosenGpuIndex({ REFT_STUDIO_GPU: 'first' }), 0, 'memory figures fall back to the first');
  assert.equal(chosenGpuIndex({ REFT_STUDIO_GPU: '1' }), 1);
});

test('CUDA numbers GPUs as nvidia-smi does unless the person chose an order', () => {
  const env: NodeJS.ProcessEnv = {};
  alignCudaNumbering(env);
  assert.equal(env.CUDA_DEVICE_ORDER, 'PCI_BUS_ID');
  const own: NodeJS.ProcessEnv = { CUDA_DEVICE_ORDER: 'FASTEST_FIRST' };
  alignCudaNumbering(own);
  assert.equal(own.CUDA_DEVICE_ORDER, 'FASTEST_FIRST');
});

test('a GPU that does not exist is one line, before any CUDA session', async () => {
  assert.equal(gpuChoiceProblemAmong(gpus, { REFT_STUDIO_GPU: '1' }), null);
  assert.equal(gpuChoiceProblemAmong(gpus, {}), null);
  assert.equal(gpuChoiceProblemAmong([], { REFT_STUDIO_GPU: '5' }), null, 'nothing listed: cannot tell');
  assert.equal(
    gpuChoiceProblemAmong(gpus, { REFT_STUDIO_GPU: '2' }),
    'GPU 2 (REFT_STUDIO_GPU) does not exist: this machine has GPUs 0, 1',
  );
  assert.match(gpuChoiceProblemAmong(gpus, { REFT_STUDIO_GPU: 'x' }) ?? '', /must be a GPU number/);
  assert.equal(await gpuChoiceProblem({ REFT_STUDIO_GPU: '1' }, probe), null);
  assert.match((await gpuChoiceProblem({ REFT_STUDIO_GPU: '7' }, probe)) ?? '', /GPU 7 .* has GPUs 0, 1/);
});

test('devices: CUDA unavailable with that line; the choice in the report', async () => {
  const r = await detectDevices({
    dataDir: tmp,
    nvidiaSmi: TWO,
    env: { ...process.env, REFT_STUDIO_GPU: '4' },
  });
  const cuda = r.providers.find((p) => p.name === 'cuda');
  assert.equal(r.gpu?.index, 4);
  if (process.platform === 'linux' && process.arch === 'x64') {
    assert.equal(cuda?.state, 'unavailable');
    assert.equal(cuda?.reason, 'GPU 4 (REFT_STUDIO_GPU) does not exist: this machine has GPUs 0, 1');
  }
  const ok = await detectDevices({
    dataDir: tmp,
    nvidiaSmi: TWO,
    env: { ...process.env, REFT_STUDIO_GPU: '1' },
  });
  assert.deepEqual(ok.gpu, { index: 1, deviceId: 1, from: 'REFT_STUDIO_GPU' });
  assert.notEqual(ok.providers.find((p) => p.name === 'cuda')?.reason, cuda?.reason);
});

test('memory figures are the chosen GPU’s', async () => {
  assert.equal(await cudaDeviceMemoryBytes(probe), 12288 * 2 ** 20);
  assert.equal(await cudaDeviceMemoryBytes(probe, 1), 24564 * 2 ** 20);
  const saved = process.env.REFT_STUDIO_GPU;
  process.env.REFT_STUDIO_GPU = '1';
  try {
    const m = await deviceMemories(probe);
    assert.equal(m.find((d) => d.device === 'cuda')?.memoryBytes, 24564 * 2 ** 20);
  } finally {
    if (saved === undefined) delete process.env.REFT_STUDIO_GPU;
    else process.env.REFT_STUDIO_GPU = saved;
  }
});

test('reft-studio devices says which GPU CUDA runs on, and a missing one in the CUDA row', () => {
  const bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(TWO, join(bin, 'nvidia-smi'));
  const devices = (gpu: string) =>
    spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../../bin/reft-studio.js', import.meta.url)), 'devices', '--data-dir', tmp],
      { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, REFT_STUDIO_GPU: gpu } },
    ).stdout;
  assert.match(
    devices(''),
    /^CUDA runs on GPU 0 \(the first; REFT_STUDIO_GPU=N or Settings → GPU picks another\)$/m,
  );
  assert.match(devices('1'), /^CUDA runs on GPU 1 \(REFT_STUDIO_GPU, the Settings page's GPU\)$/m);
  const missing = devices('3');
  assert.doesNotMatch(missing, /CUDA runs on/);
  if (process.platform === 'linux' && process.arch === 'x64')
    assert.match(
      missing,
      /^cuda +unavailable +GPU 3 \(REFT_STUDIO_GPU\) does not exist: this machine has GPUs 0, 1$/m,
    );
});
