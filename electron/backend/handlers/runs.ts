// 'runs/*': training runs and their metrics. Starting runs belongs to the engine (added later as
// 'runs/start'); cancel here marks the run cancelled and stops its job if one is executing it.

import { z } from 'zod';
import {
  cancelRun,
  getRun,
  listRuns,
  RUN_STATUSES,
  type RunDetail,
  type RunRecord,
} from '../library/runs.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();

export const runsHandlers = defineHandlers({
  'runs/list': handler(
    z.object({ status: z.enum(RUN_STATUSES).optional() }).strict(),
    (p, ctx): RunRecord[] => listRuns(ctx.lib, p),
  ),
  'runs/get': handler(Id, (p, ctx): RunDetail => getRun(ctx.lib, p.id)),
  'runs/cancel': handler(Id, (p, ctx): RunRecord => {
    const run = cancelRun(ctx.lib, p.id);
    const job = ctx.jobs.findByRun(p.id);
    if (job) ctx.jobs.cancel(job.id);
    ctx.events.emit('library/changed', { kind: 'runs', id: p.id, action: 'updated' });
    return run;
  }),
});

export type RunsHandlers = ClientApi<typeof runsHandlers>;
