// Which NVIDIA GPU CUDA sessions run on, on a machine with several. GPUs are numbered as nvidia-smi
// numbers them (PCI bus order), which is what `devices` and the Settings page list. CUDA's own default
// numbering puts the fastest GPU first, so the two can disagree on a machine with different GPUs:
// before its first CUDA session the engine sets CUDA_DEVICE_ORDER=PCI_BUS_ID (unless the person set
// it), and CUDA's device n is then nvidia-smi's GPU n.
//   REFT_STUDIO_GPU=n   (Settings → GPU) GPU n; unset: the first GPU CUDA can see
//   CUDA_VISIBLE_DEVICES, when the person sets it, still hides GPUs: CUDA renumbers the visible ones
//   from 0, so GPU n runs as the position of n in that list.
// Only CUDA takes a device number here: the WebGPU provider picks its adapter itself (the
// high-performance one) and DirectML numbers adapters its own way.

import { ConfigError } from '../errors.ts';
import { detectNvidia, type GpuInfo, type NvidiaProbeOptions } from './gpus.ts';

export interface GpuChoice {
  /** The GPU as nvidia-smi numbers it, or null where CUDA_VISIBLE_DEVICES names GPUs by UUID. */
  index: number | null;
  /** CUDA's device number for it (the CUDA provider's deviceId). */
  deviceId: number;
  from: 'REFT_STUDIO_GPU' | 'default';
}

/** REFT_STUDIO_GPU when it is a whole number ≥ 0, else null. */
function setting(env: NodeJS.ProcessEnv): number | null {
  const raw = env.REFT_STUDIO_GPU?.trim();
  if (!raw) return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(
      'bad-gpu',
      `REFT_STUDIO_GPU must be a GPU number (0, 1, …), not ${JSON.stringify(raw)}`,
    );
  return n;
}

/** The GPU CUDA sessions use, from REFT_STUDIO_GPU and CUDA_VISIBLE_DEVICES; throws on a GPU they hide. */
export function gpuChoice(env: NodeJS.ProcessEnv = process.env): GpuChoice {
  const wanted = setting(env);
  const raw = env.CUDA_VISIBLE_DEVICES?.trim();
  const visible = raw === undefined ? null : raw.split(',').map((s) => s.trim());
  const numeric = visible?.every((v) => /^\d+$/.test(v)) ? visible.map(Number) : null;
  if (wanted === null) {
    const index = visible === null ? 0 : (numeric?.[0] ?? null);
    return { index, deviceId: 0, from: 'default' };
  }
  if (visible === null) return { index: wanted, deviceId: wanted, from: 'REFT_STUDIO_GPU' };
  const at = numeric?.indexOf(wanted) ?? -1;
  if (at < 0)
    throw new ConfigError(
      'gpu-hidden',
      numeric
        ? `GPU ${wanted} is hidden by CUDA_VISIBLE_DEVICES=${raw}: choose one of ${numeric.join(', ')}, or unset it`
        : `REFT_STUDIO_GPU cannot pick a GPU when CUDA_VISIBLE_DEVICES names them by UUID (${raw}): unset one of them`,
    );
  return { index: wanted, deviceId: at, from: 'REFT_STUDIO_GPU' };
}

/**
 * Makes CUDA number GPUs as nvidia-smi does (see the header), unless the environment already says
 * how. Must run before the process's first CUDA session: CUDA reads it once, when it starts.
 */
export function alignCudaNumbering(env: NodeJS.ProcessEnv = process.env): void {
  env.CUDA_DEVICE_ORDER ??= 'PCI_BUS_ID';
}

/**
 * null when the chosen GPU is among `gpus` (nvidia-smi's list; an empty list cannot tell), else why
 * not — e.g. REFT_STUDIO_GPU=2 on a machine with two GPUs, where a CUDA session would fail with a bare
 * "invalid device ordinal".
 */
export function gpuChoiceProblemAmong(gpus: GpuInfo[], env: NodeJS.ProcessEnv = process.env): string | null {
  let c: GpuChoice;
  try {
    c = gpuChoice(env);
  } catch (e) {
    return (e as Error).message;
  }
  if (c.from === 'default' || c.index === null) return null;
  if (!gpus.length || gpus.some((g) => g.index === c.index)) return null;
  const have = `${gpus.length === 1 ? 'GPU' : 'GPUs'} ${gpus.map((g) => g.index).join(', ')}`;
  return `GPU ${c.index} (REFT_STUDIO_GPU) does not exist: this machine has ${have}`;
}

// The machine's GPUs do not change while a process runs: nvidia-smi is asked once.
let detected: ReturnType<typeof detectNvidia> | null = null;
export function machineNvidia(): ReturnType<typeof detectNvidia> {
  if (!detected) detected = detectNvidia();
  return detected;
}

/** gpuChoiceProblemAmong the GPUs nvidia-smi lists (asked only when a GPU is chosen). */
export async function gpuChoiceProblem(
  env: NodeJS.ProcessEnv = process.env,
  probe?: NvidiaProbeOptions,
): Promise<string | null> {
  if (!env.REFT_STUDIO_GPU?.trim()) return null;
  const { gpus } = await (probe ? detectNvidia(probe) : machineNvidia());
  return gpuChoiceProblemAmong(gpus, env);
}

/** gpuChoice, or null where the setting is malformed or hidden (whoever starts a session reports why). */
export function tryGpuChoice(env: NodeJS.ProcessEnv = process.env): GpuChoice | null {
  try {
    return gpuChoice(env);
  } catch {
    return null;
  }
}

/** nvidia-smi's number of the GPU CUDA sessions use, for memory figures: 0 when the choice is unclear. */
export function chosenGpuIndex(env: NodeJS.ProcessEnv = process.env): number {
  return tryGpuChoice(env)?.index ?? 0;
}
