// Does WebGPU start here, and on a GPU or on a CPU implementation of Vulkan (Mesa's lavapipe,
// SwiftShader)? The one rule behind `reft-studio devices`, `--device auto` (devices.ts pickAuto,
// session.ts plan) and the warning of a session opened on a software adapter.
// onnxruntime-node does not say which adapter Dawn took (no adapter info in its API, none in ORT's
// verbose log), so Dawn is asked in a probe (provider-probe.ts) that sees only the hardware Vulkan
// drivers (VK_DRIVER_FILES): an adapter found there is the one Dawn takes in a session too, as it
// prefers discrete and integrated GPUs to CPU ones. A manifest alone proves nothing: Mesa installs
// Intel's and AMD's on machines with neither, and Docker's compute-only NVIDIA containers have the
// NVIDIA driver but no NVIDIA Vulkan driver — there WebGPU runs on lavapipe, ~1000× slower than the GPU.
// That probe runs only where the kernel shows a GPU (NVIDIA's driver or a render node); an adapter
// found otherwise on Linux is a software one. Other systems' adapters count as GPUs (Metal, D3D12).

import { existsSync } from 'node:fs';
import { detectNvidia, detectVulkan, type NvidiaInfo, renderNodes, type VulkanInfo } from './gpus.ts';
import { type ProbeResult, probeProvider } from './provider-probe.ts';

export interface WebgpuAdapter extends ProbeResult {
  /** The adapter is a CPU implementation: works, but far slower than a GPU for real models. */
  software: boolean;
  /** Why it is a software one, in one line (null for a GPU or when WebGPU does not start). */
  softwareWhy: string | null;
}

export interface AdapterOptions {
  env?: NodeJS.ProcessEnv;
  /** What detectNvidia found (devices.ts has it already); asked here otherwise. */
  nvidia?: NvidiaInfo;
  vulkan?: VulkanInfo;
  /** Probe again instead of reusing this process's earlier answer. */
  fresh?: boolean;
}

/** A GPU the kernel shows: NVIDIA's driver, or a render node of any vendor. */
function kernelGpu(nvidia: NvidiaInfo): boolean {
  return nvidia.driverLoaded || existsSync('/proc/driver/nvidia/version') || renderNodes().length > 0;
}

// nvidia-smi's answer, asked once per process.
let nvidiaAnswer: Promise<NvidiaInfo> | null = null;
const nvidiaHere = (): Promise<NvidiaInfo> => {
  nvidiaAnswer ??= detectNvidia();
  return nvidiaAnswer;
};

async function findAdapter(o: AdapterOptions): Promise<WebgpuAdapter> {
  const env = o.env ?? process.env;
  const gpu = (r: ProbeResult): WebgpuAdapter => ({ ...r, software: false, softwareWhy: null });
  if (process.platform !== 'linux') return gpu(await probeProvider('webgpu', { env }));
  const hardware = (o.vulkan ?? detectVulkan(env)).drivers.filter((d) => !d.software);
  const nvidia = o.nvidia ?? (await nvidiaHere());
  const seen = kernelGpu(nvidia);
  if (seen && hardware.length) {
    const files = hardware.map((d) => d.file).join(':');
    const r = await probeProvider('webgpu', {
      env: { ...env, VK_DRIVER_FILES: files, VK_ICD_FILENAMES: files },
    });
    if (r.ok) return gpu(r);
  }
  const r = await probeProvider('webgpu', { env });
  if (!r.ok) return { ...r, software: false, softwareWhy: null };
  const nvidiaVulkan = hardware.some((d) => /nvidia/i.test(`${d.file} ${d.library}`));
  return {
    ...r,
    software: true,
    softwareWhy: !seen
      ? 'no GPU found'
      : nvidia.driverLoaded && !nvidiaVulkan
        ? "no NVIDIA Vulkan driver: nvidia_icd.json; in Docker NVIDIA_DRIVER_CAPABILITIES needs 'graphics'"
        : 'no Vulkan driver offers the GPU',
  };
}

let cached: Promise<WebgpuAdapter> | null = null;

/** The WebGPU adapter here, probed once per process (again with `fresh`, or for another `env`). */
export function webgpuAdapter(o: AdapterOptions = {}): Promise<WebgpuAdapter> {
  if (o.env && o.env !== process.env) return findAdapter(o);
  if (o.fresh || !cached) cached = findAdapter(o);
  return cached;
}

/** Whether WebGPU runs on a GPU here (auto's question): no probe on Linux where the kernel shows none. */
export async function webgpuOnGpu(): Promise<boolean> {
  if (process.platform === 'linux' && !kernelGpu(await nvidiaHere())) return false;
  const a = await webgpuAdapter();
  return a.ok && !a.software;
}

/**
 * Why a software adapter is not offered as a GPU (`devices`, Settings). Not "slower than the CPU
 * provider": on a tiny model lavapipe can beat it (llama fixture prefill 2440 vs 1273 tok/s); on a
 * real model's sizes it is far behind any GPU.
 */
export const softwareAdapterReason = (a: WebgpuAdapter): string =>
  `software adapter (${a.softwareWhy}): Vulkan emulated on the CPU, far slower than a GPU for real models`;

/**
 * The one line a command prints when its sessions run on a software adapter; its sayers mark it a
 * warning (notices.ts).
 */
export const softwareAdapterLine = (a: WebgpuAdapter): string =>
  `webgpu runs on a software adapter (${a.softwareWhy}), Vulkan emulated on the CPU: no GPU is used`;
