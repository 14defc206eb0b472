// 'runs/*': training runs. Starting, pausing, resuming and cancelling go through the TrainingService
// (jobs/training.ts), which runs the trainer in the engine's 'train' process, one training job per device.

import { z } from 'zod';
import type { ReftError } from '../../../native-runtime/errors.ts';
import type { TrainOptions } from '../../../native-runtime/training/options.ts';
import { OptionError, optionIssues, TRAIN_OPTION_KEYS } from '../../../native-runtime/training/options.ts';
import type { BackendContext } from '../context.ts';
import { RunParamsSchema } from '../jobs/run-params.ts';
import { StartManySchema, sweepRunWho } from '../jobs/sweep-params.ts';
import { refusalOfSweepRun } from '../jobs/training.ts';
import type { AdapterRecord } from '../library/adapters.ts';
import { estimateRun, type RunEstimate } from '../library/estimates.ts';
import { listRunEntries, type RunListEntry } from '../library/run-list.ts';
import {
  type RunLogLine,
  type RunLogRead,
  readRunLog,
  readRunLogSince,
  readRunLogTail,
} from '../library/run-logs.ts';
import { checkRun, previewRun, type RunCheck, type RunPreview } from '../library/run-preview.ts';
import {
  deleteRun,
  getRunForCharts,
  getRunRecord,
  RUN_STATUSES,
  type RunDetail,
  type RunRecord,
} from '../library/runs.ts';
import type { CountProgress } from '../library/token-counts.ts';
import { CancellableRequests } from '../rpc/cancellable-requests.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const PosInt = z.number().int().positive();
const Id = z.object({ id: PosInt }).strict();
/** A window's id for an estimate or a start, so that it can stop it (runs/estimate-cancel, runs/start-cancel). */
const RequestId = z.string().min(1).max(100);

// Estimates in flight: a measurement is minutes of training steps at desktop sizes, holding the
// device meanwhile; a memory check may wait minutes on the data's token count.
const estimates = new CancellableRequests('estimating');
// Starts checking a run (the same memory check, the same wait), stopped as estimates are.
const starts = new CancellableRequests('starting');

/**
 * The memory check's token count told to the window that asked under `requestId`, as
 * 'datasets/token-progress' pushes (what a token count's own requestId gets); nobody without one.
 */
function countProgressOf(ctx: BackendContext, requestId: string | undefined): CountProgress | undefined {
  if (requestId === undefined) return undefined;
  return (done, total) => ctx.events.emit('datasets/token-progress', { requestId, done, total });
}

/** A bad training option is refused as the CLI and the Train form refuse it (code, field, message). */
function refuseOptions(params: unknown): OptionError | null {
  if (typeof params !== 'object' || params === null) return null;
  const options = Object.fromEntries(
    Object.entries(params).filter(([k]) => (TRAIN_OPTION_KEYS as string[]).includes(k)),
  );
  const [first] = optionIssues(options);
  return first ? new OptionError(first) : null;
}

/** refuseOptions for each run of a sweep, the first refusal naming its run as startMany names it. */
function refuseSweepOptions(params: unknown): ReftError | null {
  const runs = (params as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs)) return null;
  for (const [i, run] of runs.entries()) {
    const refused = refuseOptions(run);
    if (refused)
      return refusalOfSweepRun(
        refused,
        sweepRunWho(i, runs.length, (run as { name?: unknown }).name),
      ) as ReftError;
  }
  return null;
}

export const runsHandlers = defineHandlers({
  /** What the Runs page's rows show (run-list.ts); `ids` for the runs a change names, `query` to search. */
  'runs/list': handler(
    z
      .object({
        status: z.enum(RUN_STATUSES).optional(),
        ids: z.array(PosInt).max(1000).optional(),
        query: z.string().max(200).optional(),
      })
      .strict(),
    (p, ctx): RunListEntry[] => listRunEntries(ctx.lib, p),
  ),
  /** The run with its metrics thinned for charts (a long run's every point: the CLI's `runs show`). */
  'runs/get': handler(Id, (p, ctx): Promise<RunDetail> => getRunForCharts(ctx.lib, p.id)),
  /**
   * Validates, records the run (config, dataset version, model fingerprint, system info) and queues it.
   * The memory check may wait on the data's token count (minutes for a big version): with a
   * requestId, 'datasets/token-progress' pushes say how far it is and runs/start-cancel stops it;
   * its window closing stops it too. Stopped, nothing is recorded.
   */
  'runs/start': handler(
    RunParamsSchema.extend({ requestId: RequestId.optional() }),
    async ({ requestId, ...p }, ctx): Promise<RunRecord & { runId: number }> => {
      const run = await starts.run(requestId, ctx.client, (signal) =>
        ctx.training.start(p, { signal, onProgress: countProgressOf(ctx, requestId) }),
      );
      return { ...run, runId: run.id };
    },
    { refuse: refuseOptions },
  ),
  /**
   * A sweep: several runs (the Train wizard's "Try several values"), each validated as runs/start
   * validates one, then recorded together with their sweep and queued — all or none. Its requestId
   * is followed and stopped as runs/start's.
   */
  'runs/start-many': handler(
    StartManySchema,
    async ({ requestId, runs }, ctx): Promise<{ sweepId: number; runIds: number[]; runs: RunRecord[] }> => {
      const r = await starts.run(requestId, ctx.client, (signal) =>
        ctx.training.startMany(runs, { signal, onProgress: countProgressOf(ctx, requestId) }),
      );
      return { ...r, runIds: r.runs.map((run) => run.id) };
    },
    { refuse: refuseSweepOptions },
  ),
  /**
   * Stops the runs/start or runs/start-many started with that requestId: it answers with a
   * 'cancelled' error and records nothing; the token count its memory check waited on stops too
   * unless another request (the estimate's, a histogram's) waits on it.
   */
  'runs/start-cancel': handler(z.object({ requestId: RequestId }).strict(), (p): { cancelled: boolean } => ({
    cancelled: starts.cancel(p.requestId),
  })),
  /**
   * Trainable parameters, adapter size, memory and (measured) time for the same params as runs/start.
   * A batch refused at the max length waits on the data's token count (its longest example): with a
   * requestId, 'datasets/token-progress' pushes say how far that count is.
   */
  'runs/estimate': handler(
    RunParamsSchema.extend({ calibrate: z.boolean().optional(), requestId: RequestId.optional() }),
    ({ calibrate, requestId, ...p }, ctx): Promise<RunEstimate> =>
      estimates.run(requestId, ctx.client, (signal) =>
        estimateRun(ctx.lib, ctx.engine, ctx.jobs, p, {
          calibrate,
          signal,
          onCountProgress: countProgressOf(ctx, requestId),
        }),
      ),
    { refuse: refuseOptions },
  ),
  /**
   * Stops the runs/estimate started with that requestId: it answers with a 'cancelled' error. Its
   * measurement keeps nothing as measured and frees the device at once; the token count it waited
   * on stops too unless another request (a histogram's count, another estimate) waits on it.
   */
  'runs/estimate-cancel': handler(
    z.object({ requestId: RequestId }).strict(),
    (p): { cancelled: boolean } => ({ cancelled: estimates.cancel(p.requestId) }),
  ),
  /** The model's shape and every problem of the options with it (what the Train form checks inline). */
  'runs/check': handler(
    z
      .object({
        modelId: PosInt,
        options: z.custom<TrainOptions>((v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
      })
      .strict(),
    (p, ctx): RunCheck => checkRun(ctx.lib, p.modelId, p.options),
  ),
  /** Example `example` (0-based) of the run's data, tokenized and intervened exactly as training will. */
  'runs/preview': handler(
    RunParamsSchema.extend({ example: z.number().int().min(0).max(1e9).optional() }),
    ({ example, ...p }, ctx): Promise<RunPreview> => previewRun(ctx.lib, ctx.engine, p, example ?? 0),
    { refuse: refuseOptions },
  ),
  'runs/pause': handler(Id, (p, ctx): RunRecord => ctx.training.pause(p.id)),
  'runs/resume': handler(Id, (p, ctx): RunRecord => ctx.training.resume(p.id)),
  /** Stops a run for good; with keepCheckpoint its last checkpoint becomes an adapter. */
  'runs/cancel': handler(
    z.object({ id: PosInt, keepCheckpoint: z.boolean().optional() }).strict(),
    (p, ctx): RunRecord & { keptAdapterId: number | null } =>
      ctx.training.cancel(p.id, { keepCheckpoint: p.keepCheckpoint }),
  ),
  /** A stopped run's last checkpoint as an adapter in the library (tagged 'checkpoint'). */
  'runs/keep-checkpoint': handler(Id, (p, ctx): AdapterRecord => ctx.training.keepCheckpoint(p.id)),
  /** Deletes a stopped run with its metrics, checkpoints and log; its adapters stay. */
  'runs/delete': handler(Id, (p, ctx): { id: number; deletedFolders: number } => {
    const r = deleteRun(ctx.lib, p.id);
    ctx.events.emit('library/changed', { kind: 'runs', id: p.id, action: 'removed' });
    return r;
  }),
  /** The run's log, oldest first (the last `limit` lines); new lines arrive as 'runs/log' pushes. */
  'runs/logs': handler(
    z.object({ id: PosInt, limit: z.number().int().min(1).max(10_000).optional() }).strict(),
    (p, ctx): RunLogLine[] => {
      getRunRecord(ctx.lib, p.id);
      return readRunLog(ctx.lib, p.id, p.limit);
    },
  ),
  /**
   * A follower's read of the log: without `offset` its last lines, with it the lines appended since
   * that byte; `end` is where the next read goes on. A window following a run another process trains
   * (no 'runs/log' pushes) reads only what each step added, not the whole tail again.
   */
  'runs/log-since': handler(
    z.object({ id: PosInt, offset: z.number().int().min(0).optional() }).strict(),
    (p, ctx): RunLogRead => {
      getRunRecord(ctx.lib, p.id);
      return p.offset === undefined
        ? readRunLogTail(ctx.lib, p.id)
        : readRunLogSince(ctx.lib, p.id, p.offset);
    },
  ),
});

export type RunsHandlers = ClientApi<typeof runsHandlers>;
