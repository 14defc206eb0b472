// 'system/*': what the backend runs on (versions, data folder, ONNX Runtime execution providers).

import { z } from 'zod';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';
import { type SystemInfo, systemInfo } from '../system-info.ts';

export type { ExecutionProvider, SystemInfo } from '../system-info.ts';

export const systemHandlers = defineHandlers({
  'system/info': handler(z.object({}).strict(), (_p, ctx): SystemInfo => systemInfo(ctx.lib.dataDir)),
});

export type SystemHandlers = ClientApi<typeof systemHandlers>;
