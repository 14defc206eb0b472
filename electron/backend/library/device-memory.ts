// The memory of the devices a run can use, for "will it fit": the computer's RAM, and the memory of
// the NVIDIA GPU sessions use (runtime/gpu-choice.ts; runtime/gpus.ts asks once per process) when there is one.

import { totalmem } from 'node:os';
import { engineEnv } from '../../../native-runtime/runtime/cuda-pack.ts';
import { chosenGpuIndex } from '../../../native-runtime/runtime/gpu-choice.ts';
import { cudaDeviceMemoryBytes, type NvidiaProbeOptions } from '../../../native-runtime/runtime/gpus.ts';

export interface DeviceMemory {
  /** 'cpu', or 'cuda' for an NVIDIA GPU. */
  device: 'cpu' | 'cuda';
  memoryBytes: number;
}

/** The computer's memory and, when there is one, the GPU sessions use (Settings → GPU, else the first). */
export async function deviceMemories(probe?: NvidiaProbeOptions): Promise<DeviceMemory[]> {
  const gpu = await cudaDeviceMemoryBytes(probe, chosenGpuIndex());
  return [
    { device: 'cpu', memoryBytes: totalmem() },
    ...(gpu ? [{ device: 'cuda' as const, memoryBytes: gpu }] : []),
  ];
}

/**
 * Which API a run asking for `device` trains on the NVIDIA GPU through, or null for the computer:
 * 'cuda', or 'auto' with the CUDA runtime pack installed (its engine processes start with it;
 * devices.ts says why when it cannot); 'webgpu', asked for by name, runs on that GPU too (the trainer
 * weighs its memory, training/reft-model.ts). 'auto' without the pack counts the computer: whether
 * WebGPU would start is the engine's probe, not known here.
 */
export function trainsOnGpu(device: string, dataDir: string, gpus: DeviceMemory[]): 'cuda' | 'webgpu' | null {
  if (!gpus.some((d) => d.device === 'cuda')) return null;
  if (device === 'cuda') return 'cuda';
  if (device === 'webgpu') return 'webgpu';
  if (device !== 'auto') return null;
  try {
    // An empty environment: a pack this process was itself started with still counts.
    return engineEnv(dataDir, {}) !== null ? 'cuda' : null;
  } catch {
    return null;
  }
}
