// Which execution providers can run the engine here, and why the others cannot: the report behind
// `reft-studio devices`, the Settings page (system/devices) and `--device auto`.
//   cpu      always.
//   cuda     Linux x64: an NVIDIA driver new enough for the provider's CUDA, the CUDA runtime pack
//            (cuda-pack.ts) with every CUDA/cuDNN library it needs, and a probe that runs a MatMul.
//   webgpu   bundled in onnxruntime-node (not Linux arm64): a probe that runs a MatMul on it. An
//            adapter that is a CPU one (Mesa's lavapipe; webgpu-adapter.ts decides) works but is
//            far slower than a GPU: marked `software` and never chosen by auto.
//   dml, coreml  listed when bundled; not chosen by auto (DirectML is in maintenance mode, CoreML
//            runs only part of the training graph), usable when asked for.
// Probes run in child processes (provider-probe.ts); their answers are cached per process.

import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { type ThreadChoice, threadChoice } from './cpu-threads.ts';
import {
  engineEnv,
  LAUNCH_MARKER,
  loadedOrtLibrary,
  ortPackage,
  type PackStatus,
  packStatus,
} from './cuda-pack.ts';
import { type GpuChoice, gpuChoiceProblemAmong, tryGpuChoice } from './gpu-choice.ts';
import {
  detectNvidia,
  detectVulkan,
  type NvidiaInfo,
  noNvidiaGpu,
  renderNodes,
  type VulkanInfo,
} from './gpus.ts';
import { probeProvider } from './provider-probe.ts';
import { softwareAdapterReason, webgpuAdapter } from './webgpu-adapter.ts';

export type ProviderName = 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml' | 'tensorrt';

export interface ProviderState {
  name: ProviderName;
  /** available: runs here now; unavailable: something is missing (reason); not-installed: needs a pack. */
  state: 'available' | 'unavailable' | 'not-installed' | 'not-supported';
  /** One line: why not, or null, in the command line's words (`reft-studio devices`). */
  reason: string | null;
  /**
   * The same line in the studio's words where they differ (what the CLI does with a command, the
   * studio does in Settings); its pages read it through device-choice.ts studioReason.
   */
  studioReason?: string;
  /** WebGPU on a CPU adapter (works, but far slower than a GPU for real models). */
  software?: boolean;
  /** WebGPU: the adapter runs float16 shaders (--dtype fp16; auto for fp16 checkpoints). */
  half?: boolean;
  /** CUDA: available after a restart (the pack was installed after this CLI process started). */
  needsRestart?: boolean;
}

export interface DevicesReport {
  platform: string;
  arch: string;
  ortVersion: string;
  /** The libonnxruntime.so.1 the engine loaded: this process, or in the studio its engine processes (null off Linux). */
  ortLibrary: string | null;
  /** The processor, its logical CPUs, and the threads each session's CPU kernels get (0: ORT counts). */
  cpu: { model: string | null; logicalCpus: number } & ThreadChoice;
  nvidia: NvidiaInfo;
  /** The GPU CUDA sessions use (gpu-choice.ts), or null when REFT_STUDIO_GPU is malformed or hidden. */
  gpu: GpuChoice | null;
  vulkan: VulkanInfo;
  /** GPUs the kernel exposes as render nodes (any vendor), e.g. ["renderD128 (0x10de)"]. */
  renderNodes: string[];
  cudaPack: PackStatus | null;
  providers: ProviderState[];
  /** What `--device auto` runs on. */
  auto: ProviderName;
}

const require = createRequire(import.meta.url);

function bundledBackends(): { name: string; bundled: boolean }[] {
  try {
    const ort = require('onnxruntime-node') as {
      listSupportedBackends(): { name: string; bundled: boolean }[];
    };
    return ort.listSupportedBackends();
  } catch {
    return [{ name: 'cpu', bundled: true }];
  }
}

export interface DetectOptions {
  /** The data folder (where the CUDA pack lives). */
  dataDir: string;
  /** false: skip the child-process probes (faster; states say 'unknown' as unavailable). */
  probe?: boolean;
  env?: NodeJS.ProcessEnv;
  nvidiaSmi?: string;
  /** Probe WebGPU again instead of reusing this process's earlier answer. */
  fresh?: boolean;
  /**
   * The engine runs in processes started with the pack's environment (the studio's backend,
   * electron/backend/jobs/engine.ts): a pack installed after this process started needs no restart.
   */
  engineProcesses?: boolean;
}

async function cudaState(
  o: DetectOptions,
  nvidia: NvidiaInfo,
  pack: PackStatus | null,
): Promise<ProviderState> {
  const s = (state: ProviderState['state'], reason: string | null, extra: Partial<ProviderState> = {}) => ({
    name: 'cuda' as const,
    state,
    reason,
    ...extra,
  });
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return s(
      'not-supported',
      `the studio installs the CUDA provider on Linux x64 only (this is ${process.platform} ${process.arch})`,
    );
  const noGpu = noNvidiaGpu(nvidia);
  if (noGpu) return s('unavailable', noGpu);
  const gpu = gpuChoiceProblemAmong(nvidia.gpus, o.env ?? process.env);
  if (gpu) return s('unavailable', gpu);
  if (!pack)
    return s(
      'not-installed',
      'the CUDA runtime pack is not installed: run `reft-studio runtime install cuda`',
      {
        studioReason: 'the CUDA runtime pack is not installed: install it in Settings → NVIDIA GPU runtime',
      },
    );
  if (pack.problems.length) return s('unavailable', pack.problems[0]);
  const required = pack.missing.filter((m) => m.required);
  if (required.length)
    return s(
      'unavailable',
      `missing ${required.map((m) => m.name).join(', ')} — install ${[...new Set(required.map((m) => m.hint))].join('; ')}`,
    );
  const drv = Number(nvidia.driverCudaVersion?.split('.')[0]);
  if (pack.manifest.cudaMajor && drv && drv < pack.manifest.cudaMajor)
    return s(
      'unavailable',
      `the NVIDIA driver ${nvidia.driverVersion} supports CUDA ${nvidia.driverCudaVersion}; the provider needs CUDA ${pack.manifest.cudaMajor}: update the driver`,
    );
  if (o.probe === false) return s('unavailable', 'not probed');
  // Probe with the environment an engine process gets, so a pack installed just now is judged too.
  const { [LAUNCH_MARKER]: _started, ...current } = o.env ?? process.env;
  const env = engineEnv(o.dataDir, current) ?? current;
  const r = await probeProvider('cuda', { env });
  if (!r.ok) return s('unavailable', r.reason);
  return pack.active || o.engineProcesses
    ? s('available', null)
    : s('available', null, { needsRestart: true });
}

async function webgpuState(o: DetectOptions, vulkan: VulkanInfo, nvidia: NvidiaInfo): Promise<ProviderState> {
  const base = { name: 'webgpu' as const };
  if (!bundledBackends().some((b) => b.name === 'webgpu'))
    return {
      ...base,
      state: 'not-supported' as const,
      reason: `onnxruntime-node has no WebGPU provider for ${process.platform} ${process.arch}`,
    };
  if (process.platform === 'linux' && !vulkan.loader)
    return {
      ...base,
      state: 'unavailable' as const,
      reason:
        'the Vulkan loader (libvulkan.so.1) is not installed (Debian/Ubuntu: apt install libvulkan1 mesa-vulkan-drivers)',
    };
  if (o.probe === false) return { ...base, state: 'unavailable' as const, reason: 'not probed' };
  // A CPU adapter (lavapipe) is told apart from a GPU by webgpu-adapter.ts's one rule.
  const a = await webgpuAdapter({ env: o.env, nvidia, vulkan, fresh: o.fresh });
  if (!a.ok) return { ...base, state: 'unavailable' as const, reason: a.reason };
  return {
    ...base,
    state: 'available' as const,
    reason: a.software ? softwareAdapterReason(a) : null,
    software: a.software,
    half: a.half === true,
  };
}

export async function detectDevices(o: DetectOptions): Promise<DevicesReport> {
  const env = o.env ?? process.env;
  const [nvidia, vulkan] = [await detectNvidia({ smi: o.nvidiaSmi }), detectVulkan(env)];
  const nodes = renderNodes();
  const pack = packStatus(o.dataDir, 'cuda', env);
  const bundled = bundledBackends();
  const webgpu = await webgpuState(o, vulkan, nvidia);
  const providers: ProviderState[] = [
    { name: 'cpu', state: 'available', reason: null },
    await cudaState(o, nvidia, pack),
    webgpu,
  ];
  for (const name of ['dml', 'coreml'] as const)
    if (bundled.some((b) => b.name === name)) providers.push({ name, state: 'available', reason: null });
  providers.push({
    name: 'tensorrt',
    state: 'not-supported',
    reason: 'the studio does not install TensorRT',
  });
  return {
    platform: process.platform,
    arch: process.arch,
    ortVersion: ortPackage().version,
    ortLibrary: loadedOrtLibrary(),
    cpu: { model: cpus()[0]?.model ?? null, logicalCpus: cpus().length, ...threadChoice() },
    nvidia,
    gpu: tryGpuChoice(env), // null: cudaState says why
    vulkan,
    renderNodes: nodes,
    cudaPack: pack,
    providers,
    auto: pickAuto(providers),
  };
}

/** auto: CUDA when it runs in this process, then WebGPU on a real GPU, else the CPU. */
export function pickAuto(providers: ProviderState[]): ProviderName {
  const ok = (n: ProviderName) => providers.find((p) => p.name === n && p.state === 'available');
  const cuda = ok('cuda');
  if (cuda && !cuda.needsRestart) return 'cuda';
  const webgpu = ok('webgpu');
  if (webgpu && !webgpu.software) return 'webgpu';
  return 'cpu';
}
