// 'system/*': what the backend runs on (versions, data folder, ONNX Runtime execution providers).

import { z } from 'zod';
import type { DeviceChoice } from '../../../native-runtime/runtime/device-choice.ts';
import { hasBf16Kernels } from '../../../native-runtime/runtime/gpus.ts';
import { deviceMemories, trainsOnGpu, webgpuMemory } from '../library/device-memory.ts';
import { preferredDevice } from '../library/environment.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';
import { type SystemInfo, systemInfo } from '../system-info.ts';

export type { ExecutionProvider, SystemInfo } from '../system-info.ts';

export const systemHandlers = defineHandlers({
  'system/info': handler(
    z.object({}).strict(),
    async (
      _p,
      ctx,
    ): Promise<
      SystemInfo & {
        cudaMemBytes: number | null;
        /** Whether that GPU has bfloat16 kernels (Ampere on; runtime/gpus.ts hasBf16Kernels). */
        cudaBf16: boolean;
        webgpuMemBytes: number | null;
        defaultDevice: DeviceChoice;
      }
    > => {
      // The memory of the NVIDIA GPU CUDA runs use, where they can (the CUDA runtime pack installed),
      // the memory `auto` weighs for WebGPU runs (runtime/precision.ts), and the device generation
      // uses (Settings): the Base weights choice says what `auto` picks where the model runs.
      const devices = await deviceMemories();
      const cuda = trainsOnGpu('auto', ctx.lib.dataDir, devices) === 'cuda';
      const gpu = cuda ? devices.find((d) => d.device === 'cuda') : undefined;
      const cudaMemBytes = gpu?.memoryBytes ?? null;
      const info = systemInfo(ctx.lib.dataDir);
      return {
        ...info,
        cudaMemBytes,
        cudaBf16: hasBf16Kernels(gpu?.computeCapability ?? null),
        webgpuMemBytes: (await webgpuMemory()).memoryBytes,
        defaultDevice: preferredDevice(ctx.lib) ?? 'cpu',
      };
    },
  ),
});

export type SystemHandlers = ClientApi<typeof systemHandlers>;
