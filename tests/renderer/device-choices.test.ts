// The Settings page's Device choices: an unavailable provider says why, and so does one that runs
// only on a software adapter (WebGPU with no GPU found), which `reft-studio devices` lists as
// "available (software)" — the page used to offer it as a plain "GPU (WebGPU)".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fallbackLine } from '../../native-runtime/runtime/device-choice.ts';
import { detectDevices } from '../../native-runtime/runtime/devices.ts';
import { choiceText, deviceChoices, devicesNote } from '../../renderer/src/lib/device-choices.ts';
import type { DevicesReport } from '../../renderer/src/lib/rpc/handlers.ts';
import { fakeSmi } from '../helpers/fake-smi.ts';
import { tempDir } from '../helpers/temp.ts';

const report = (providers: DevicesReport['providers']) => ({ auto: 'cpu', providers }) as DevicesReport;

test('a software WebGPU adapter is offered with why it is slow; an unavailable CUDA with why not', () => {
  const slow =
    'software adapter (no GPU found): Vulkan emulated on the CPU, far slower than a GPU for real models';
  const noGpu = 'no NVIDIA GPU: no NVIDIA driver loaded';
  const cs = deviceChoices(
    report([
      { name: 'cpu', state: 'available', reason: null },
      { name: 'cuda', state: 'unavailable', reason: noGpu },
      { name: 'webgpu', state: 'available', reason: slow, software: true },
      { name: 'tensorrt', state: 'not-supported', reason: 'the studio does not install TensorRT' },
    ]),
  );
  assert.deepEqual(
    cs.map((c) => [c.id, choiceText(c), c.disabled, c.reason]),
    [
      ['cpu', 'CPU', false, null],
      ['auto', 'Automatic (now: CPU)', false, null],
      ['cuda', 'NVIDIA GPU (CUDA) — unavailable', true, noGpu],
      ['webgpu', 'GPU (WebGPU) — software, on the CPU', false, slow],
    ],
  );
});

test('a WebGPU on a real GPU is a plain choice, with no reason shown', () => {
  const cs = deviceChoices(report([{ name: 'webgpu', state: 'available', reason: null, software: false }]));
  const webgpu = cs.find((c) => c.id === 'webgpu');
  assert.ok(webgpu);
  assert.equal(choiceText(webgpu), 'GPU (WebGPU)');
  assert.equal(webgpu.reason, null);
});

test('while the devices load: CPU and Automatic, and a stored GPU kept chosen as being checked', () => {
  assert.deepEqual(
    deviceChoices('checking', 'cpu').map((c) => c.label),
    ['CPU', 'Automatic'],
  );
  assert.deepEqual(
    deviceChoices('checking', 'webgpu').map((c) => [c.id, c.label, c.disabled]),
    [
      ['cpu', 'CPU', false],
      ['auto', 'Automatic', false],
      ['webgpu', 'GPU (WebGPU) (checking…)', false],
    ],
  );
  assert.equal(
    devicesNote('checking', 'webgpu'),
    'Checking which GPUs run here… GPU (WebGPU) stays chosen meanwhile.',
  );
  assert.equal(devicesNote(report([]), 'webgpu'), null);
});

test('a report that failed offers every device and says it could not check', () => {
  assert.deepEqual(
    deviceChoices(null, 'cuda').map((c) => c.id),
    ['cpu', 'auto', 'cuda', 'webgpu', 'dml', 'coreml'],
  );
  assert.match(devicesNote(null) ?? '', /^Could not check which GPUs run here/);
});

test('a stored CUDA fallback points the studio to Settings, the command line to the CLI', () => {
  const d = {
    requested: 'cuda',
    device: 'cpu',
    fallback:
      'cuda: the CUDA runtime pack is not installed (run `reft-studio runtime install cuda`; a command that was already running when it was installed does not see it)',
  };
  assert.equal(
    fallbackLine(d, 'studio'),
    "device 'cuda' unavailable — cuda: the CUDA runtime pack is not installed (install it in Settings → NVIDIA GPU runtime); running on cpu",
  );
  assert.match(fallbackLine(d), /run `reft-studio runtime install cuda`; a command/);
  const again = {
    ...d,
    fallback: 'cuda: the CUDA runtime pack at /x is incomplete: run `reft-studio runtime install cuda` again',
  };
  assert.match(
    fallbackLine(again, 'studio'),
    /incomplete: install it again in Settings → NVIDIA GPU runtime; running on cpu$/,
  );
});

test('CUDA without its pack: the CLI is told the command, the Settings page its own card', {
  skip: process.platform !== 'linux' || process.arch !== 'x64',
}, async () => {
  // An NVIDIA GPU (nvidia-smi a stand-in) and a data folder with no CUDA pack.
  const dir = tempDir('device-choices-');
  const smi = fakeSmi(
    dir,
    `case "$1" in
  --query-gpu*) echo "0, NVIDIA GeForce RTX 3060, 12288, 580.95.05";;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac`,
  );
  const env = { ...process.env, REFT_STUDIO_GPU: undefined, CUDA_VISIBLE_DEVICES: undefined };
  const r = await detectDevices({ dataDir: dir, nvidiaSmi: smi, env, probe: false });
  const cuda = r.providers.find((p) => p.name === 'cuda');
  assert.equal(cuda?.state, 'not-installed');
  // `reft-studio devices` prints `reason`.
  assert.equal(
    cuda?.reason,
    'the CUDA runtime pack is not installed: run `reft-studio runtime install cuda`',
  );
  const choice = deviceChoices(r as DevicesReport).find((c) => c.id === 'cuda');
  assert.equal(
    choice?.reason,
    'the CUDA runtime pack is not installed: install it in Settings → NVIDIA GPU runtime',
  );
});

test('a stored device this ONNX Runtime lacks (not in the report) stays listed, unavailable with why', () => {
  const cs = deviceChoices(report([{ name: 'cpu', state: 'available', reason: null }]), 'dml');
  const dml = cs.find((c) => c.id === 'dml');
  assert.ok(dml, 'listed, so the select shows it chosen');
  assert.equal(choiceText(dml), 'GPU (DirectML) — unavailable');
  assert.equal(dml.reason, 'ONNX Runtime has no DirectML provider here (a GPU on Windows)');
  assert.equal(deviceChoices(report([]), 'cpu').length, 2, 'nothing added for what is listed anyway');
});
