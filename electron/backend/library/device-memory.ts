// The memory of the devices a run can use, for "will it fit": the computer's RAM, and the first
// NVIDIA GPU's memory when nvidia-smi (or the driver) reports one. A GPU's size does not change while
// the studio runs, so it is asked once per process.

import { totalmem } from 'node:os';
import { engineEnv } from '../../../native-runtime/runtime/cuda-pack.ts';
import { detectNvidia, type NvidiaProbeOptions } from '../../../native-runtime/runtime/gpus.ts';

export interface DeviceMemory {
  /** 'cpu', or 'cuda' for an NVIDIA GPU. */
  device: 'cpu' | 'cuda';
  memoryBytes: number;
}

let gpu: Promise<DeviceMemory | null> | null = null;

/** The computer's memory and, when there is one, the first NVIDIA GPU's. */
export async function deviceMemories(probe?: NvidiaProbeOptions): Promise<DeviceMemory[]> {
  const ask = () =>
    detectNvidia(probe).then(
      (n) => {
        const mb = n.gpus.find((g) => g.memoryMb)?.memoryMb;
        return mb ? { device: 'cuda' as const, memoryBytes: mb * 2 ** 20 } : null;
      },
      () => null,
    );
  if (probe) return withCpu(await ask());
  gpu ??= ask();
  return withCpu(await gpu);
}

function withCpu(found: DeviceMemory | null): DeviceMemory[] {
  return [{ device: 'cpu', memoryBytes: totalmem() }, ...(found ? [found] : [])];
}

/**
 * Whether a run asking for `device` trains on the NVIDIA GPU: 'cuda', or 'auto' with the CUDA
 * runtime pack installed (its engine processes start with it; devices.ts says why when it cannot).
 */
export function trainsOnGpu(device: string, dataDir: string, gpus: DeviceMemory[]): boolean {
  if (!gpus.some((d) => d.device === 'cuda')) return false;
  if (device === 'cuda') return true;
  if (device !== 'auto') return false;
  try {
    // An empty environment: a pack this process was itself started with still counts.
    return engineEnv(dataDir, {}) !== null;
  } catch {
    return false;
  }
}
