// 'system/*': what the backend runs on (versions, data folder, ONNX Runtime execution providers).

import { z } from 'zod';
import type { DeviceChoice } from '../../../native-runtime/runtime/device-choice.ts';
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
      SystemInfo & { cudaMemBytes: number | null; webgpuMemBytes: number | null; defaultDevice: DeviceChoice }
    > => {
      // The memory of the NVIDIA GPU CUDA runs use, where they can (the CUDA runtime pack installed),
      // the memory `auto` weighs for WebGPU runs (runtime/precision.ts), and the device generation
      // uses (Settings): the Base weights choice says what `auto` picks where the model runs.
      const devices = await deviceMemories();
      const cuda = trainsOnGpu('auto', ctx.lib.dataDir, devices) === 'cuda';
      const cudaMemBytes = cuda ? (devices.find((d) => d.device === 'cuda')?.memoryBytes ?? null) : null;
      const info = systemInfo(ctx.lib.dataDir);
      return {
        ...info,
        cudaMemBytes,
        webgpuMemBytes: (await webgpuMemory()).memoryBytes,
        defaultDevice: preferredDevice(ctx.lib) ?? 'cpu',
      };
    },
  ),
});

export type SystemHandlers = ClientApi<typeof systemHandlers>;
