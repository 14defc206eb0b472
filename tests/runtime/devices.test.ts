// Device detection: the ELF reader the CUDA pack relies on, NVIDIA detection through a fake
// nvidia-smi and a fake /proc/driver/nvidia, failure explanations, auto's choice, and the real
// `reft-studio devices --json` on this machine (whatever it has: one JSON object, every provider with a
// state, one-line reasons without ORT's log format).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import { threadChoice } from '../../native-runtime/runtime/cpu-threads.ts';
import { hintFor, ortPackage } from '../../native-runtime/runtime/cuda-pack.ts';
import { type ProviderState, pickAuto } from '../../native-runtime/runtime/devices.ts';
import { readElfDynamic } from '../../native-runtime/runtime/elf.ts';
import {
  amdVramBytes,
  computeLabel,
  cudaComputeCapability,
  detectNvidia,
  hasBf16Kernels,
  parseRegistryGpuMemory,
  webgpuDeviceMemoryBytes,
} from '../../native-runtime/runtime/gpus.ts';
import { explainFailure } from '../../native-runtime/runtime/provider-probe.ts';
import { createSession, cudaMissing, cudaReachable } from '../../native-runtime/runtime/session.ts';
import { fakeSmi as fakeSmiIn } from '../helpers/fake-smi.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAKE = fileURLToPath(new URL('../fixtures/cuda-pack/', import.meta.url));
const tmp = tempDir('reft-devices-');

test('readElfDynamic reads soname, runpath and needed libraries', () => {
  const ort = readElfDynamic(join(ortPackage().binDir, 'libonnxruntime.so.1'));
  assert.equal(ort.soname, 'libonnxruntime.so.1');
  assert.equal(ort.runpath, '$ORIGIN');
  assert.ok(ort.needed.includes('libc.so.6'));
  const binding = readElfDynamic(join(ortPackage().binDir, 'onnxruntime_binding.node'));
  assert.equal(binding.needed[0], 'libonnxruntime.so.1');
  const fake = readElfDynamic(join(FAKE, 'fake-provider/libonnxruntime_providers_cuda.so'));
  assert.deepEqual(fake.needed, [
    'libcudart.so.12',
    'libcublas.so.12',
    'libcublasLt.so.12',
    'libcudnn.so.9',
    'libc.so.6',
  ]);
  const notElf = join(tmp, 'not-elf.so');
  writeFileSync(notElf, 'hello world, not an ELF file at all.......................................');
  assert.throws(() => readElfDynamic(notElf), { code: 'not-elf' });
});

const fakeSmi = (body: string) => fakeSmiIn(tmp, body);

test('detectNvidia parses nvidia-smi: GPUs, memory, driver, compute capability and the CUDA version it supports', async () => {
  const smi = fakeSmi(`case "$1" in
  *compute_cap*) echo "0, NVIDIA H200, 143771, 580.95.05, 9.0"; echo "1, Tesla T4, 15360, 580.95.05, 7.5";;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac`);
  const r = await detectNvidia({ smi, procDir: join(tmp, 'none') });
  assert.equal(r.source, 'nvidia-smi');
  assert.equal(r.driverVersion, '580.95.05');
  assert.equal(r.driverCudaVersion, '13.0');
  assert.deepEqual(r.gpus, [
    { vendor: 'nvidia', index: 0, name: 'NVIDIA H200', memoryMb: 143771, computeCapability: '9.0' },
    { vendor: 'nvidia', index: 1, name: 'Tesla T4', memoryMb: 15360, computeCapability: '7.5' },
  ]);
  // A driver older than the compute_cap field refuses the query with it: asked again without.
  const gtx1080 = [
    { vendor: 'nvidia', index: 0, name: 'NVIDIA GeForce GTX 1080', memoryMb: 8192, computeCapability: null },
  ];
  const old = fakeSmi(`case "$1" in
  *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'; exit 2;;
  --query-gpu*) echo "0, NVIDIA GeForce GTX 1080, 8192, 470.256.02";;
esac`);
  assert.deepEqual((await detectNvidia({ smi: old, procDir: join(tmp, 'none') })).gpus, gtx1080);
  // Some refuse it with exit status 0, the refusal on stdout or stderr: asked again without too.
  for (const stream of ['', ' >&2']) {
    const quiet = fakeSmi(`case "$1" in
  *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'${stream};;
  --query-gpu*) echo "0, NVIDIA GeForce GTX 1080, 8192, 470.256.02";;
esac`);
    assert.deepEqual((await detectNvidia({ smi: quiet, procDir: join(tmp, 'none') })).gpus, gtx1080);
  }
  assert.equal(await cudaComputeCapability({ smi, procDir: join(tmp, 'none') }, 1), '7.5');
  assert.deepEqual(['9.0', '8.0', '7.5', '6.1', null].map(hasBf16Kernels), [true, true, false, false, true]);
  assert.deepEqual(['8.9', '7.5', null].map(computeLabel), [
    'compute 8.9',
    'compute 7.5 (no bfloat16)',
    null,
  ]);
});

test('detectNvidia falls back to the driver files, and says why when there is nothing', async () => {
  const proc = join(tmp, 'proc-nvidia');
  mkdirSync(join(proc, 'gpus', '0000:01:00.0'), { recursive: true });
  writeFileSync(
    join(proc, 'version'),
    'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n',
  );
  writeFileSync(
    join(proc, 'gpus', '0000:01:00.0', 'information'),
    'Model: \t\t NVIDIA GeForce RTX 4090\nIRQ: 1\n',
  );
  const broken = fakeSmi(
    'echo "NVIDIA-SMI has failed because it could not communicate with the driver" >&2; exit 9',
  );
  const r = await detectNvidia({ smi: broken, procDir: proc });
  assert.equal(r.source, 'proc');
  assert.equal(r.driverVersion, '550.54.14');
  assert.equal(r.gpus[0].name, 'NVIDIA GeForce RTX 4090');
  assert.match(r.note ?? '', /nvidia-smi failed: NVIDIA-SMI has failed/);

  const none = await detectNvidia({ smi: join(tmp, 'no-such-smi'), procDir: join(tmp, 'none') });
  assert.equal(none.driverLoaded, false);
  assert.match(none.note ?? '', /no NVIDIA driver loaded \(nvidia-smi not found/);
});

test('detectNvidia: a message printed with exit status 0 is not a GPU, and a hung nvidia-smi is asked once', async () => {
  const none = join(tmp, 'none');
  const garbage = fakeSmi('echo "[Unknown Error]"; echo "Segmentation fault"');
  const g = await detectNvidia({ smi: garbage, procDir: none });
  assert.deepEqual(g.gpus, []);
  assert.match(g.note ?? '', /nvidia-smi failed: unreadable answer: \[Unknown Error\]/);
  // A good row among noise is kept.
  const mixed = fakeSmi(
    'echo "WARNING: infoROM is corrupted"; echo "0, NVIDIA GeForce RTX 4090, 24564, 580.95.05, 8.9"',
  );
  assert.deepEqual(
    (await detectNvidia({ smi: mixed, procDir: none })).gpus.map((x) => [x.index, x.name]),
    [[0, 'NVIDIA GeForce RTX 4090']],
  );
  const hung = fakeSmi('sleep 30');
  const t0 = Date.now();
  const h = await detectNvidia({ smi: hung, procDir: none, timeoutMs: 1000 });
  assert.ok(Date.now() - t0 < 1900, `asked once (${Date.now() - t0} ms)`);
  assert.match(h.note ?? '', /nvidia-smi hung \(no answer within 1 s\)/);
});

test('detectNvidia: a garbage answer is cut to a short line with a marker', async () => {
  // 600 bytes on one line, control bytes among them: once printed whole in `devices`.
  const garbage = fakeSmi("printf '\\001\\033[2J'; head -c 600 /dev/zero | tr '\\0' 'x'; echo");
  const note = (await detectNvidia({ smi: garbage, procDir: join(tmp, 'none') })).note ?? '';
  assert.match(
    note,
    /^no NVIDIA driver loaded \(nvidia-smi failed: unreadable answer: \\x01\\x1b\[2Jx+… \(\d+ more characters\);/,
  );
  assert.ok(note.length < 200, `${note.length} characters`);
});

/** Whether process `pid` still runs (a zombie no longer runs: in a container nobody may reap it). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('detectNvidia: a hung nvidia-smi script is ended with the processes it started', {
  skip: process.platform !== 'linux',
}, async () => {
  const pidFile = join(tmp, 'smi-child.pid');
  const hung = fakeSmi(`sleep 30 & echo $! > ${pidFile}; wait`);
  const h = await detectNvidia({ smi: hung, procDir: join(tmp, 'none'), timeoutMs: 1000 });
  assert.match(h.note ?? '', /nvidia-smi hung/);
  const child = Number(readFileSync(pidFile, 'utf8'));
  for (let i = 0; i < 20 && running(child); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(running(child), false, `the script's child ${child} still runs`);
});

test('CUDA that cannot start says what is missing first: no NVIDIA GPU before the runtime pack', async () => {
  // What detectNvidia finds, given as data: nothing at all, and a driver with a GPU.
  const none = await detectNvidia({ smi: join(tmp, 'no-such-smi'), procDir: join(tmp, 'none') });
  const gpu = await detectNvidia({
    smi: fakeSmi(`case "$1" in
  --query-gpu*) echo "0, NVIDIA GeForce RTX 3060, 12288, 580.95.05";;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac`),
  });
  const pack =
    'the CUDA runtime pack is not installed (run `reft-studio runtime install cuda`; a command that was already running when it was installed does not see it)';
  // No GPU: installing the pack cannot help, so it is not suggested; the words are `devices`'.
  const noGpu = cudaMissing(none, pack);
  assert.equal(
    noGpu,
    'no NVIDIA GPU: no NVIDIA driver loaded (nvidia-smi not found; ' + join(tmp, 'none') + ' absent)',
  );
  assert.doesNotMatch(noGpu ?? '', /runtime install/);
  // A GPU without the pack: the pack's advice stays.
  assert.equal(cudaMissing(gpu, pack), pack);
  // The pack is there: nothing for this check to say (a failing session explains itself).
  assert.equal(cudaMissing(none, null), null);
  assert.equal(cudaMissing(gpu, null), null);
});

test('the memory of the GPU WebGPU runs on: NVIDIA through nvidia-smi, AMD through sysfs, else unknown', async () => {
  const drm = join(tmp, 'drm');
  for (const [card, vram] of [
    ['card0', null], // an Intel or virtual card: no VRAM file
    ['card1', '17163091968'], // a 16 GiB Radeon
    ['renderD128', '1'], // not a card: ignored
  ] as const) {
    mkdirSync(join(drm, card, 'device'), { recursive: true });
    if (vram) writeFileSync(join(drm, card, 'device', 'mem_info_vram_total'), `${vram}\n`);
  }
  assert.equal(amdVramBytes(drm), 17163091968);
  assert.equal(amdVramBytes(join(tmp, 'no-drm')), null);
  const noSmi = { smi: join(tmp, 'no-such-smi'), procDir: join(tmp, 'none') };
  const smi = fakeSmi(`case "$1" in
  --query-gpu*) echo "0, NVIDIA GeForce RTX 4070, 12282, 580.95.05";;
esac`);
  assert.equal(
    await webgpuDeviceMemoryBytes({ nvidia: { smi, procDir: join(tmp, 'none') }, drmDir: drm }),
    12282 * 2 ** 20,
  );
  const amd = await webgpuDeviceMemoryBytes({ nvidia: noSmi, drmDir: drm });
  assert.equal(amd, process.platform === 'linux' ? 17163091968 : null);
  assert.equal(await webgpuDeviceMemoryBytes({ nvidia: noSmi, drmDir: join(tmp, 'no-drm') }), null);
});

test('on Windows, a discrete GPU’s dedicated memory from the registry; an integrated GPU’s reserve is not one', async () => {
  // `reg query` as Windows 11 prints it for a laptop: Intel's iGPU (128 MiB reserved) and an 8 GB Radeon.
  const key =
    'HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Class\\{4d36e968-e325-11ce-bfc1-08002be10318}';
  const out = [
    '',
    `${key}\\0000`,
    '    HardwareInformation.qwMemorySize    REG_QWORD    0x8000000',
    '',
    `${key}\\0001`,
    '    HardwareInformation.qwMemorySize    REG_QWORD    0x1fe000000',
    '',
    'End of search: 2 match(es) found.',
  ].join('\r\n');
  assert.equal(parseRegistryGpuMemory(out), 0x1fe000000);
  assert.equal(parseRegistryGpuMemory(out.replace('0x1fe000000', '0x10000000')), null, 'integrated only');
  assert.equal(
    parseRegistryGpuMemory('ERROR: The system was unable to find the specified registry key or value.'),
    null,
  );
  // The query as webgpuDeviceMemoryBytes makes it (a stand-in `reg` checks its arguments).
  const reg = fakeSmi(`[ "$1 $3 $4 $5" = "query /s /v HardwareInformation.qwMemorySize" ] || exit 1
printf '%s\\n' '    HardwareInformation.qwMemorySize    REG_QWORD    0x300000000'`);
  const noSmi = { smi: join(tmp, 'no-such-smi'), procDir: join(tmp, 'none') };
  assert.equal(await webgpuDeviceMemoryBytes({ nvidia: noSmi, platform: 'win32', reg }), 12 * 2 ** 30);
  const missing = join(tmp, 'no-such-reg');
  assert.equal(await webgpuDeviceMemoryBytes({ nvidia: noSmi, platform: 'win32', reg: missing }), null);
  // macOS: unified memory, the computer's (null here).
  assert.equal(await webgpuDeviceMemoryBytes({ nvidia: noSmi, platform: 'darwin', reg }), null);
});

test('each missing CUDA library is named by its own family, with its pip wheel', () => {
  assert.match(
    hintFor('libcudart.so.12', 12),
    /^the CUDA 12 runtime: .*pip install nvidia-cuda-runtime-cu12/,
  );
  assert.match(hintFor('libcublasLt.so.12', 12), /^cuBLAS for CUDA 12: .*pip install nvidia-cublas-cu12/);
  assert.match(hintFor('libcublas.so.13', 13), /^cuBLAS for CUDA 13: .*pip install nvidia-cublas`/);
  assert.match(hintFor('libcudnn.so.9', 12), /^cuDNN 9 for CUDA 12: .*nvidia-cudnn-cu12/);
  assert.match(
    hintFor('libcusparse.so.12', 12),
    /^the CUDA 12 runtime libraries: https:\/\/developer\.nvidia\.com\/cuda-downloads$/,
  );
  assert.match(hintFor('libcuda.so.1', 13), /driver 580 or newer/);
});

test('explainFailure turns ORT and Dawn output into one line naming what is missing', () => {
  const dawn =
    'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.\n - While initializing adapter (backend=BackendType::Vulkan)\n';
  const w = explainFailure(
    'webgpu',
    '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:100 ... Failed to get a WebGPU adapter: No supported adapters',
    dawn,
  );
  assert.equal(
    w,
    'webgpu: no WebGPU adapter — the GPU driver was refused: Vulkan shaderUniform*ArrayDynamicIndexing required.',
  );
  const ortLog =
    '\x1b[1;31m2026-12-04 21:34:45.749 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] /onnxruntime_src/x.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory\x1b[m';
  const c = explainFailure(
    'cuda',
    'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library',
    ortLog,
  );
  assert.equal(c, 'cuda: the CUDA provider needs libcudnn.so.9, which the loader cannot find');
  assert.ok(!c.includes('\n'));
});

test('auto prefers CUDA in this process, then WebGPU on a real GPU, else the CPU', () => {
  const p = (
    name: ProviderState['name'],
    state: ProviderState['state'],
    extra: Partial<ProviderState> = {},
  ) => ({ name, state, reason: null, ...extra }) as ProviderState;
  assert.equal(pickAuto([p('cpu', 'available'), p('cuda', 'available'), p('webgpu', 'available')]), 'cuda');
  assert.equal(
    pickAuto([
      p('cpu', 'available'),
      p('cuda', 'available', { needsRestart: true }),
      p('webgpu', 'available'),
    ]),
    'webgpu',
  );
  assert.equal(
    pickAuto([
      p('cpu', 'available'),
      p('cuda', 'not-installed'),
      p('webgpu', 'available', { software: true }),
    ]),
    'cpu',
  );
});

test('reft-studio devices --json: one object, every provider with a state and a clean reason', () => {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/reft-studio.js'), 'devices', '--json', '--data-dir', tmp],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  const d = JSON.parse(r.stdout);
  const names = d.providers.map((p: ProviderState) => p.name);
  for (const n of ['cpu', 'cuda', 'webgpu']) assert.ok(names.includes(n), n);
  for (const p of d.providers as ProviderState[]) {
    assert.ok(['available', 'unavailable', 'not-installed', 'not-supported'].includes(p.state));
    if (p.state !== 'available') assert.ok(p.reason && !p.reason.includes('\n'), `${p.name}: ${p.reason}`);
    // Never ORT's raw log format.
    assert.doesNotMatch(p.reason ?? '', /\[[EWIV]:onnxruntime|\d{4}-\d\d-\d\d \d\d:/);
  }
  assert.equal(d.providers[0].state, 'available');
  // An adapter that starts says whether it runs float16 shaders (lavapipe and desktop GPUs do).
  const webgpu = d.providers.find((p: ProviderState) => p.name === 'webgpu');
  if (webgpu.state === 'available') assert.equal(typeof webgpu.half, 'boolean');
  assert.equal(d.cudaPack, null);
  assert.ok(['cpu', 'cuda', 'webgpu'].includes(d.auto));
  // The CPU's thread count for sessions, as runtime/cpu-threads.ts chooses it (the same environment).
  assert.deepEqual({ threads: d.cpu.threads, from: d.cpu.from }, threadChoice());
  assert.ok(d.cpu.logicalCpus >= 1);
  // Human form: a table with one row per provider.
  const h = spawnSync(process.execPath, [join(ROOT, 'bin/reft-studio.js'), 'devices', '--data-dir', tmp], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /PROVIDER\s+STATE\s+WHY/);
  assert.match(h.stdout, /--device auto runs on: /);
  assert.match(h.stdout, /^CPU: .*, \d+ logical CPUs; ONNX Runtime's CPU kernels run on /m);
  if (webgpu.state === 'available') assert.match(h.stdout, /webgpu\s+available.*, (fp16|fp32 only)/);
});

const LAVAPIPE = ['/usr/share/vulkan/icd.d/lvp_icd.json', '/etc/vulkan/icd.d/lvp_icd.json'].find((f) =>
  existsSync(f),
);

test('an NVIDIA GPU without an NVIDIA Vulkan driver: WebGPU runs on lavapipe, a software adapter, and auto passes it over', {
  skip: LAVAPIPE ? false : 'no lavapipe here',
}, async () => {
  // Docker's compute-only GPU containers: nvidia-smi answers, the Vulkan drivers are Mesa's only
  // (lavapipe, and a hardware manifest whose library offers no device). Once called a GPU.
  const bin = join(tmp, 'smi-on-path');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'nvidia-smi'),
    '#!/bin/sh\ncase "$1" in\n  --query-gpu*) echo "0, NVIDIA H100 80GB HBM3, 81559, 580.95.05, 9.0";;\n  *) echo "CUDA Version: 13.0";;\nesac\n',
    { mode: 0o755 },
  );
  const nvidiaIcd = join(tmp, 'nvidia_icd.json');
  writeFileSync(nvidiaIcd, JSON.stringify({ ICD: { library_path: join(tmp, 'libGLX_nvidia.so.0') } }));
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    VK_DRIVER_FILES: `${LAVAPIPE}:${nvidiaIcd}`,
  };
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'bin/reft-studio.js'), 'devices', '--json', '--data-dir', tmp],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.nvidia.gpus[0]?.name, 'NVIDIA H100 80GB HBM3');
  const webgpu = d.providers.find((p: ProviderState) => p.name === 'webgpu');
  if (webgpu.state !== 'available') return; // no adapter at all (an old Mesa): nothing to mistake
  assert.equal(webgpu.software, true);
  // What it is, in one line; never "slower than the CPU", which a tiny model on lavapipe is not.
  assert.match(
    webgpu.reason,
    /^software adapter \(.+\): Vulkan emulated on the CPU, far slower than a GPU for real models$/,
  );
  assert.equal(d.auto, 'cpu');
  // Sessions' auto decides by the same rule.
  const s = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./native-runtime/runtime/session.ts').then(async (m) => console.log(await m.runsOnWebgpu('auto')))",
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env },
  );
  assert.equal(s.stdout.trim(), 'false', s.stderr);
});

test('a provider that cannot start: one line, a visible fallback, or an error when required', async () => {
  const b = new GraphBuilder('tiny');
  b.output(b.op('Neg', [b.input('x', 'float32', [1])]), 'y');
  // No CUDA pack in this process's ORT folder: CUDA cannot start here (and on machines with one,
  // the process was started with its environment, so this asks for a provider it lacks).
  if (!cudaReachable()) {
    const notes: string[] = [];
    const s = await createSession(b.graph, { device: 'cuda', onNotice: (m) => notes.push(m) });
    assert.equal(s.device, 'cpu');
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^device 'cuda' unavailable — cuda: .*; running on cpu$/);
    assert.ok(!notes[0].includes('\n'));
    assert.equal(
      s.fallback,
      notes[0].replace(/^device 'cuda' unavailable — /, '').replace(/; running on cpu$/, ''),
    );
    await assert.rejects(createSession(b.graph, { device: 'cuda', requireDevice: true }), {
      code: 'provider-unavailable',
    });
  }
  const cpu = await createSession(b.graph, { device: 'cpu' });
  assert.equal(cpu.fallback, null);
});
