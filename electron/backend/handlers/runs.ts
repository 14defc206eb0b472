// 'runs/*': training runs. Starting, pausing, resuming and cancelling go through the TrainingService
// (jobs/training.ts), which runs the trainer in the engine worker, one training job per device.

import { z } from 'zod';
import { INTERVENTION_TYPES } from '../../../native-runtime/interventions/kinds.ts';
import type { AdapterRecord } from '../library/adapters.ts';
import { estimateRun, type RunEstimate } from '../library/estimates.ts';
import { type RunLogLine, readRunLog } from '../library/run-logs.ts';
import {
  deleteRun,
  getRun,
  listRuns,
  RUN_STATUSES,
  type RunDetail,
  type RunRecord,
} from '../library/runs.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();
const PosInt = z.number().int().positive();

/** The run form (renderer's TrainPage sends the first block) plus advanced trainer options. */
export const RunParamsSchema = z
  .object({
    modelId: PosInt,
    datasetId: PosInt,
    datasetVersionId: PosInt.optional(),
    evalDatasetVersionId: PosInt.optional(),
    name: z.string().max(200).optional(),
    intervention: z.enum(INTERVENTION_TYPES as [string, ...string[]]).optional(),
    layers: z.union([z.string().max(2000), z.array(z.number().int().min(0)).max(1000)]).optional(),
    positions: z.string().max(40).optional(),
    shareWeights: z.boolean().optional(),
    rank: z.number().int().min(1).max(65536).optional(),
    lr: z.number().positive().max(10).optional(),
    epochs: z.number().int().min(1).max(100000).optional(),
    maxSteps: z.number().int().min(0).max(1e9).optional(),
    batchSize: z.number().int().min(1).max(4096).optional(),
    gradAccum: z.number().int().min(1).max(4096).optional(),
    maxLength: z
      .number()
      .int()
      .min(2)
      .max(1 << 20)
      .optional(),
    dropout: z.number().min(0).lt(1).optional(),
    weightDecay: z.number().min(0).optional(),
    warmupRatio: z.number().min(0).max(1).optional(),
    schedule: z.enum(['linear', 'cosine', 'constant']).optional(),
    maxGradNorm: z.number().min(0).optional(),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    evalSplit: z.number().min(0).lt(1).optional(),
    evalEvery: z.number().int().min(0).optional(),
    checkpointEvery: z.number().int().min(0).optional(),
    device: z.enum(['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml']).optional(),
    probe: z
      .object({
        prompts: z.array(z.string().min(1).max(4000)).max(8),
        every: PosInt,
        maxNewTokens: z.number().int().min(1).max(512).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const runsHandlers = defineHandlers({
  'runs/list': handler(
    z.object({ status: z.enum(RUN_STATUSES).optional() }).strict(),
    (p, ctx): RunRecord[] => listRuns(ctx.lib, p),
  ),
  'runs/get': handler(Id, (p, ctx): RunDetail => getRun(ctx.lib, p.id)),
  /** Validates, records the run (config, dataset version, model fingerprint, system info) and queues it. */
  'runs/start': handler(RunParamsSchema, (p, ctx): RunRecord & { runId: number } => {
    const run = ctx.training.start(p as Parameters<typeof ctx.training.start>[0]);
    return { ...run, runId: run.id };
  }),
  /** Trainable parameters, adapter size, memory and (measured) time for the same params as runs/start. */
  'runs/estimate': handler(
    RunParamsSchema.extend({ calibrate: z.boolean().optional() }),
    ({ calibrate, ...p }, ctx): Promise<RunEstimate> =>
      estimateRun(ctx.lib, ctx.engine, ctx.jobs, p as Parameters<typeof ctx.training.start>[0], {
        calibrate,
      }),
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
      getRun(ctx.lib, p.id);
      return readRunLog(ctx.lib, p.id, p.limit);
    },
  ),
});

export type RunsHandlers = ClientApi<typeof runsHandlers>;
