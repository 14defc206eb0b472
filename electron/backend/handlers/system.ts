// 'system/*': what the backend runs on (versions, data folder, ONNX Runtime execution providers).

import { z } from 'zod';
import { deviceMemories, trainsOnGpu } from '../library/device-memory.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';
import { type SystemInfo, systemInfo } from '../system-info.ts';

export type { ExecutionProvider, SystemInfo } from '../system-info.ts';

export const systemHandlers = defineHandlers({
  'system/info': handler(
    z.object({}).strict(),
    async (_p, ctx): Promise<SystemInfo & { gpuMemBytes: number | null }> => {
      // The NVIDIA GPU's memory where runs on the automatic device go there (the CUDA runtime pack
      // installed): the Base weights choice says what `auto` picks on it.
      const devices = await deviceMemories();
      const gpu = trainsOnGpu('auto', ctx.lib.dataDir, devices) === 'cuda';
      const gpuMemBytes = gpu ? (devices.find((d) => d.device === 'cuda')?.memoryBytes ?? null) : null;
      return { ...systemInfo(ctx.lib.dataDir), gpuMemBytes };
    },
  ),
});

export type SystemHandlers = ClientApi<typeof systemHandlers>;
