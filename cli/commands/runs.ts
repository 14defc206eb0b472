// `reft-studio runs list|show|resume|cancel`: training runs recorded in the library. `runs resume`
// continues a paused or interrupted run from its last checkpoint in this process (the same
// jobs/run-execution.ts code the studio uses, cli/run-training.ts), with the live progress of `train`;
// with --json it streams NDJSON events ending with the result (the run's fields and `outcome`).

import {
  cancelRun,
  checkResumable,
  getRun,
  getRunBesidesMetrics,
  listRuns,
  RUN_STATUSES,
  type RunStatus,
  requeueRun,
} from '../../electron/backend/library/runs.ts';
import { ValidationError } from '../../native-runtime/errors.ts';
import {
  deviceColumn,
  deviceText,
  runAskedDevice,
  runDevice,
} from '../../native-runtime/runtime/device-choice.ts';
import { parseId, str, UsageError } from '../args.ts';
import { type Command, formatTime, table } from '../command.ts';
import {
  checkOutFolders,
  executeRunHere,
  failedRunNext,
  type OutFolders,
  printStopped,
  runFailed,
  writeOutFolders,
} from '../run-training.ts';

export const runsCommands: Command[] = [
  {
    name: 'runs list',
    summary: 'list training runs, newest first',
    usage: `runs list [--status ${RUN_STATUSES.join('|')}]`,
    options: { status: { type: 'string', description: 'only runs with this status' } },
    examples: ['runs list', 'runs list --status paused'],
    async run(ctx) {
      const status = str(ctx.values, 'status');
      if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')} (got "${status}")`);
      }
      const runs = await ctx.withLibrary((lib) => listRuns(lib, { status: status as RunStatus | undefined }));
      ctx.print({ runs }, () =>
        runs.length
          ? table(
              ['ID', 'NAME', 'STATUS', 'MODEL', 'DEVICE', 'STEP', 'LOSS', 'CREATED'],
              runs.map((r) => [
                r.id,
                r.name,
                r.status,
                r.modelId,
                deviceColumn(runDevice(r)),
                r.lastStep,
                r.lastLoss?.toFixed(4),
                formatTime(r.createdAt),
              ]),
            )
          : status
            ? `no runs are ${status}`
            : 'no runs yet',
      );
      return 0;
    },
  },
  {
    name: 'runs show',
    summary: 'show a run: status, configuration and metrics',
    usage: 'runs show ID',
    examples: ['runs show 7', 'runs show 7 --json'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const run = await ctx.withLibrary((lib) => getRun(lib, id));
      ctx.print({ ...run }, () => {
        const head = `run ${run.id}${run.name ? ` "${run.name}"` : ''}: ${run.status}${run.error ? ` (${run.error})` : ''}`;
        const metrics = run.metrics.length
          ? table(
              ['STEP', 'EPOCH', 'LOSS', 'LR', 'GRAD_NORM', 'TOK/S', 'EVAL_LOSS'],
              run.metrics.map((m) => [
                m.step,
                m.epoch?.toFixed(2),
                m.loss?.toFixed(4),
                m.lr?.toExponential(2),
                m.gradNorm?.toFixed(3),
                m.tokensPerS?.toFixed(0),
                m.evalLoss?.toFixed(4),
              ]),
            )
          : 'no metrics recorded';
        const next = run.status === 'failed' ? `${failedRunNext(ctx, run)}\n` : '';
        // No device recorded: no step has run yet, or a run from before runs recorded it.
        const ran = runDevice(run);
        const asked = `device: ${runAskedDevice(run.config)} asked for`;
        const device = ran
          ? deviceText(ran)
          : run.lastStep === null
            ? `${asked}; no step has run yet`
            : `${asked}; where its steps ran was not recorded`;
        return `${head}\n${next}${device}\nconfig: ${JSON.stringify(run.config)}\n${metrics}`;
      });
      return 0;
    },
  },
  {
    name: 'runs resume',
    summary: 'continue a paused, interrupted or failed run from its last checkpoint (in this process)',
    usage: 'runs resume ID [--out DIR]',
    options: {
      out: {
        type: 'string',
        value: 'DIR',
        description: 'also write the adapter folder here when the run completes (as train --out)',
      },
    },
    examples: ['runs resume 7', 'runs resume 7 --out ./pirate --json'],
    stream: true,
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const out = str(ctx.values, 'out');
      return ctx.withLibrary(async (lib) => {
        const before = getRunBesidesMetrics(lib, id);
        checkResumable(before);
        // The run keeps its --export-pyreft folder (the trainer writes it); --out comes with this command.
        const folders: OutFolders = { out, exportPyreft: before.config.exportPyreft as string | null };
        checkOutFolders(ctx, folders);
        if (!requeueRun(lib, id))
          throw new ValidationError('not-resumable', `run ${id} cannot be resumed now`);
        const ck = before.checkpoints.at(-1);
        ctx.progress.log(
          `run ${id}: resuming ${ck ? `from step ${ck.step}` : 'from the start'} of ${before.totalSteps ?? '?'}`,
        );
        const { outcome, summary, run } = await executeRunHere(ctx, lib, id, out);
        if (outcome === 'failed') throw runFailed(ctx, run, out);
        if (outcome !== 'completed' || !summary) return printStopped(ctx, run, outcome, out);
        const adapter = writeOutFolders(summary.adapter, folders);
        ctx.print({ ...run, outcome, adapter, pyreft: summary.pyreft ?? null }, () =>
          [
            `run ${id}: completed; adapter ${run.adapterId} in the library`,
            `adapter: ${adapter}`,
            ...(summary.pyreft ? [`pyreft export: ${summary.pyreft}`] : []),
          ].join('\n'),
        );
        return 0;
      });
    },
  },
  {
    name: 'runs cancel',
    summary: 'cancel a queued or running run',
    usage: 'runs cancel ID',
    examples: ['runs cancel 7'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const run = await ctx.withLibrary((lib) => cancelRun(lib, id));
      ctx.print({ ...run }, () => `run ${id} cancelled`);
      return 0;
    },
  },
];
