// The memory of the devices a run can use, for "will it fit": the computer's RAM, and the memory of
// the NVIDIA GPU sessions use (runtime/gpu-choice.ts; runtime/gpus.ts asks once per process) when there is one.

import { totalmem } from 'node:os';
import { engineEnv } from '../../../native-runtime/runtime/cuda-pack.ts';
import { chosenGpuIndex } from '../../../native-runtime/runtime/gpu-choice.ts';
import {
  cudaComputeCapability,
  cudaDeviceMemoryBytes,
  type NvidiaProbeOptions,
  webgpuRunMemoryBytes,
} from '../../../native-runtime/runtime/gpus.ts';

export interface DeviceMemory {
  /** 'cpu', 'cuda' for an NVIDIA GPU, or 'webgpu' for the GPU a WebGPU run uses (a run's estimate). */
  device: 'cpu' | 'cuda' | 'webgpu';
  memoryBytes: number;
  /** An NVIDIA GPU's compute capability where known ("7.5": no bfloat16 before 8.0). */
  computeCapability?: string | null;
}

/** The computer's memory and, when there is one, the GPU sessions use (Settings → GPU, else the first). */
export async function deviceMemories(probe?: NvidiaProbeOptions): Promise<DeviceMemory[]> {
  const gpu = await cudaDeviceMemoryBytes(probe, chosenGpuIndex());
  const computeCapability = gpu ? await cudaComputeCapability(probe, chosenGpuIndex()) : null;
  return [
    { device: 'cpu', memoryBytes: totalmem() },
    ...(gpu ? [{ device: 'cuda' as const, memoryBytes: gpu, computeCapability }] : []),
  ];
}

/**
 * Which API a run asking for `device` trains on a GPU through, or null for the computer: 'cuda' on
 * an NVIDIA GPU, or 'auto' with the CUDA runtime pack installed (its engine processes start with it;
 * devices.ts says why when it cannot); 'webgpu', asked for by name, on whatever GPU WebGPU finds (the
 * trainer weighs its memory, training/reft-model.ts: webgpuMemory). 'auto' without the pack counts
 * the computer: whether WebGPU would start is the engine's probe, not known here.
 */
export function trainsOnGpu(device: string, dataDir: string, gpus: DeviceMemory[]): 'cuda' | 'webgpu' | null {
  if (device === 'webgpu') return 'webgpu';
  if (!gpus.some((d) => d.device === 'cuda')) return null;
  if (device === 'cuda') return 'cuda';
  if (device !== 'auto') return null;
  return cudaPackReady(dataDir) ? 'cuda' : null;
}

/** Whether the engine processes of `dataDir` start with a usable CUDA runtime pack. */
export function cudaPackReady(dataDir: string): boolean {
  try {
    // An empty environment: a pack this process was itself started with still counts.
    return engineEnv(dataDir, {}) !== null;
  } catch {
    return false;
  }
}

/**
 * The memory a WebGPU run lives in, as the engine weighs it (runtime/precision.ts, training/reft-model.ts):
 * the GPU's the machine reports (an NVIDIA or AMD card's), else the computer's (Apple's unified memory).
 */
export async function webgpuMemory(): Promise<DeviceMemory> {
  return { device: 'webgpu', memoryBytes: await webgpuRunMemoryBytes() };
}
