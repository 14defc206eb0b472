// 'runs/*': training runs. Starting, pausing, resuming and cancelling go through the TrainingService
// (jobs/training.ts), which runs the trainer in the engine worker, one training job per device.

import { z } from 'zod';
import { OptionError, optionIssues, TRAIN_OPTION_KEYS } from '../../../native-runtime/training/options.ts';
import { RunParamsSchema } from '../jobs/run-params.ts';
import { estimateRun, type RunEstimate } from '../library/estimates.ts';
import { getRun, listRuns, RUN_STATUSES, type RunDetail, type RunRecord } from '../library/runs.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();

/** A bad training option is refused as the CLI and the Train form refuse it (code, field, message). */
function refuseOptions(params: unknown): OptionError | null {
  if (typeof params !== 'object' || params === null) return null;
  const options = Object.fromEntries(
    Object.entries(params).filter(([k]) => (TRAIN_OPTION_KEYS as string[]).includes(k)),
  );
  const [first] = optionIssues(options);
  return first ? new OptionError(first) : null;
}

export const runsHandlers = defineHandlers({
  'runs/list': handler(
    z.object({ status: z.enum(RUN_STATUSES).optional() }).strict(),
    (p, ctx): RunRecord[] => listRuns(ctx.lib, p),
  ),
  'runs/get': handler(Id, (p, ctx): RunDetail => getRun(ctx.lib, p.id)),
  /** Validates, records the run (config, dataset version, model fingerprint, system info) and queues it. */
  'runs/start': handler(
    RunParamsSchema,
    (p, ctx): RunRecord & { runId: number } => {
      const run = ctx.training.start(p);
      return { ...run, runId: run.id };
    },
    { refuse: refuseOptions },
  ),
  /** Trainable parameters, adapter size, memory and (measured) time for the same params as runs/start. */
  'runs/estimate': handler(
    RunParamsSchema.extend({ calibrate: z.boolean().optional() }),
    ({ calibrate, ...p }, ctx): Promise<RunEstimate> =>
      estimateRun(ctx.lib, ctx.engine, ctx.jobs, p, { calibrate }),
    { refuse: refuseOptions },
  ),
  'runs/pause': handler(Id, (p, ctx): RunRecord => ctx.training.pause(p.id)),
  'runs/resume': handler(Id, (p, ctx): RunRecord => ctx.training.resume(p.id)),
  'runs/cancel': handler(Id, (p, ctx): RunRecord => ctx.training.cancel(p.id)),
});

export type RunsHandlers = ClientApi<typeof runsHandlers>;
