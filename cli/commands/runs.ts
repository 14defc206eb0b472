// `reft-studio runs list|show|resume|cancel`: training runs recorded in the library. `runs resume`
// continues a paused or interrupted run from its last checkpoint in this process (the same
// jobs/training.ts code the studio uses, on an in-process engine), printing progress to stderr.

import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import { executeRun } from '../../electron/backend/jobs/training.ts';
import {
  cancelRun,
  getRun,
  listRuns,
  RUN_STATUSES,
  type RunStatus,
  requeueRun,
} from '../../electron/backend/library/runs.ts';
import { ValidationError } from '../../native-runtime/errors.ts';
import { parseId, str, UsageError } from '../args.ts';
import { type Command, formatTime, table } from '../command.ts';

export const runsCommands: Command[] = [
  {
    name: 'runs list',
    summary: 'list training runs, newest first',
    usage: `runs list [--status ${RUN_STATUSES.join('|')}]`,
    options: { status: { type: 'string' } },
    async run(ctx) {
      const status = str(ctx.values, 'status');
      if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}`);
      }
      const runs = await ctx.withLibrary((lib) => listRuns(lib, { status: status as RunStatus | undefined }));
      ctx.print({ runs }, () =>
        runs.length
          ? table(
              ['ID', 'NAME', 'STATUS', 'MODEL', 'STEP', 'LOSS', 'CREATED'],
              runs.map((r) => [
                r.id,
                r.name,
                r.status,
                r.modelId,
                r.lastStep,
                r.lastLoss?.toFixed(4),
                formatTime(r.createdAt),
              ]),
            )
          : 'no runs yet',
      );
      return 0;
    },
  },
  {
    name: 'runs show',
    summary: 'show a run: status, configuration and metrics',
    usage: 'runs show ID',
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
        return `${head}\nconfig: ${JSON.stringify(run.config)}\n${metrics}`;
      });
      return 0;
    },
  },
  {
    name: 'runs resume',
    summary: 'continue a paused or interrupted run from its last checkpoint (in this process)',
    usage: 'runs resume ID',
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const err = (s: string) => process.stderr.write(`${s}\n`);
      const result = await ctx.withLibrary(async (lib) => {
        const before = getRun(lib, id);
        if (before.status !== 'paused' && before.status !== 'interrupted') {
          throw new ValidationError(
            'not-resumable',
            `run ${id} is ${before.status}; only paused or interrupted runs can be resumed`,
          );
        }
        if (!requeueRun(lib, id))
          throw new ValidationError('not-resumable', `run ${id} cannot be resumed now`);
        const ac = new AbortController();
        const onSigint = () => {
          err('pausing: saving a checkpoint at the end of this step');
          ac.abort();
        };
        process.once('SIGINT', onSigint);
        try {
          const outcome = await executeRun(lib, new InProcessEngine(), id, {
            signal: ac.signal,
            abortReason: () => 'pause',
            onLog: (m) => err(m),
            onProgress: (p) =>
              err(
                `step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerS)} tok/s`,
              ),
          });
          return { outcome, run: getRun(lib, id) };
        } finally {
          process.off('SIGINT', onSigint);
        }
      });
      const { metrics: _m, ...run } = result.run;
      ctx.print(
        { ...run, outcome: result.outcome },
        () => `run ${id}: ${result.outcome}${run.error ? ` (${run.error})` : ''}`,
      );
      return result.outcome === 'completed' ? 0 : 1;
    },
  },
  {
    name: 'runs cancel',
    summary: 'cancel a queued or running run',
    usage: 'runs cancel ID',
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const run = await ctx.withLibrary((lib) => cancelRun(lib, id));
      ctx.print({ ...run }, () => `run ${id} cancelled`);
      return 0;
    },
  },
];
