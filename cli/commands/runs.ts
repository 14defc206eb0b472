// `reft-studio runs list|show|logs|resume|cancel`: training runs recorded in the library. `runs resume`
// continues a paused or interrupted run from its last checkpoint in this process (the same
// jobs/run-execution.ts code the studio uses, cli/run-training.ts), with the live progress of `train`;
// with --json its progress streams as JSON-lines events on stderr and its result (the run's fields
// and `outcome`) is the one object on stdout.
// `runs logs` prints the run's log (library/run-logs.ts, what the Runs page's Log tab shows); with
// --follow it polls the file for new lines until the run stops, wherever it runs (the studio, another
// CLI).

import { setTimeout as sleep } from 'node:timers/promises';
import { CANCEL_POLL_MS } from '../../electron/backend/jobs/run-execution.ts';
import { versionName } from '../../electron/backend/library/datasets.ts';
import type { Library } from '../../electron/backend/library/library.ts';
import { getModel, listModels } from '../../electron/backend/library/models.ts';
import { failureRemedy } from '../../electron/backend/library/run-failures.ts';
import { type RunLogLine, readRunLogSince, readRunLogTail } from '../../electron/backend/library/run-logs.ts';
import {
  cancelRun,
  checkResumable,
  getRun,
  getRunBesidesMetrics,
  getRunRecord,
  listRuns,
  RUN_STATUSES,
  type RunRecord,
  type RunStatus,
  requeueRun,
  runStillExecuting,
} from '../../electron/backend/library/runs.ts';
import { ValidationError } from '../../native-runtime/errors.ts';
import { badValue, intAtLeast, parseId, str, UsageError } from '../args.ts';
import { type Command, formatTime, nextCommand } from '../command.ts';
import { catchInterrupts } from '../interrupt.ts';
import { runShowText } from '../run-show-text.ts';
import {
  checkOutFolders,
  executeRunHere,
  failedRunNext,
  type OutFolders,
  printStopped,
  resumeCommand,
  runFailed,
  writeOutFolders,
} from '../run-training.ts';
import { runsListText } from '../runs-list-text.ts';

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
        throw badValue('--status', `one of ${RUN_STATUSES.join(', ')}`, status);
      }
      const { runs, modelNames } = await ctx.withLibrary((lib) => ({
        runs: listRuns(lib, { status: status as RunStatus | undefined }),
        modelNames: new Map(listModels(lib).map((m) => [m.id, m.name])),
      }));
      ctx.print({ runs }, () =>
        runs.length ? runsListText(runs, modelNames) : status ? `no runs are ${status}` : 'no runs yet',
      );
      return 0;
    },
  },
  {
    name: 'runs show',
    summary: 'show a run: what happened, configuration, probe answers, metrics',
    usage: 'runs show ID',
    examples: ['runs show 7', 'runs show 7 --json'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const { run, model, dataset } = await ctx.withLibrary((lib) => {
        const run = getRun(lib, id);
        // Removing a model from the library clears its runs' model id.
        const model = run.modelId !== null ? getModel(lib, run.modelId).name : null;
        const dataset = run.datasetVersionId !== null ? versionName(lib, run.datasetVersionId) : null;
        return { run, model, dataset };
      });
      ctx.print({ ...run }, () =>
        runShowText(run, {
          model,
          dataset,
          resume: resumeCommand(ctx, run.id),
          adapter: (adapterId) => nextCommand(ctx.values, 'adapters', 'show', adapterId),
          failedNext: failureRemedy(run.errorCode) === 'resume' ? null : failedRunNext(ctx, run),
        }),
      );
      return 0;
    },
  },
  {
    name: 'runs logs',
    summary: "print a run's log: what the studio and the trainer said about it",
    usage: 'runs logs ID [--tail N] [--follow]',
    options: {
      tail: { type: 'string', value: 'N', description: 'only the last N lines (default: the whole log)' },
      follow: {
        type: 'boolean',
        description: 'then print new lines as they come, until the run stops (Ctrl-C stops sooner)',
      },
    },
    examples: ['runs logs 7', 'runs logs 7 --tail 20 --follow', 'runs logs 7 --json'],
    async run(ctx) {
      const id = parseId(ctx.args[0]);
      const tail = intAtLeast(ctx.values, 'tail', 1) ?? Number.POSITIVE_INFINITY;
      return ctx.withLibrary(async (lib) => {
        getRunRecord(lib, id); // an unknown id is refused, not shown as an empty log
        const first = readRunLogTail(lib, id, tail);
        if (ctx.values.follow !== true) {
          ctx.print({ runId: id, lines: first.lines }, () =>
            first.lines.length ? first.lines.map(logLineText).join('\n') : `run ${id} has no log lines yet`,
          );
          return 0;
        }
        // People see each line as it comes; --json keeps its one object, printed when following ends.
        const lines: RunLogLine[] = [];
        const show = (more: RunLogLine[]) => {
          if (ctx.json) lines.push(...more);
          else if (more.length) ctx.print({}, () => more.map(logLineText).join('\n'));
        };
        show(first.lines);
        const interrupted = await followRunLog(
          first.end,
          (offset) => readRunLogSince(lib, id, offset),
          runLetGo(lib, id),
          show,
        );
        if (ctx.json) ctx.print({ runId: id, lines }, () => '');
        return interrupted ? 130 : 0;
      });
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
      return ctx.withLibrary(async (lib) => {
        const running = getRunRecord(lib, id).status === 'running';
        const cancelled = cancelRun(lib, id);
        // A run training in another process reads 'cancelled' at once but trains to the end of its
        // step: say it stopped only once its process has let go of it (jobs/run-execution.ts).
        const stopped = !running || (await stoppedWithin(lib, id, cancelWaitMs(cancelled)));
        const run = getRunRecord(lib, id);
        const at = run.lastStep ? ` at step ${run.lastStep}` : '';
        ctx.print({ ...run, stopped }, () =>
          stopped
            ? `run ${id} cancelled${at}`
            : `run ${id} cancelled; it is still finishing its step ${(run.lastStep ?? 0) + 1} and stops at its end (see: ${nextCommand(ctx.values, 'runs', 'show', id)})`,
        );
        return 0;
      });
    },
  },
];

/**
 * How long `runs cancel` waits for a run training elsewhere to stop: until the trainer reads the
 * status (CANCEL_POLL_MS, or the step's end) and finishes its step, taking a step as long as the
 * run's steps so far (an overestimate: loading the model is counted in), within 3 s to a minute.
 */
function cancelWaitMs(run: RunRecord): number {
  const step = run.startedAt && run.lastStep ? (Date.now() - run.startedAt) / run.lastStep : 10_000;
  return Math.min(60_000, Math.max(3000, CANCEL_POLL_MS + 2 * step + 1000));
}

/** Whether the run's process lets go of it (it stopped) within `ms`. */
async function stoppedWithin(lib: Library, id: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (runStillExecuting(lib, id)) {
    if (Date.now() > until) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Whether a followed run has stopped and its process let go of it: a run cancelled from another
 * process reads 'cancelled' at once but trains on to the end of its step, and writes its last lines
 * then. The wait for it to let go is bounded as `runs cancel`'s (cancelWaitMs), since letting go is
 * best effort.
 */
function runLetGo(lib: Library, id: number): () => boolean {
  let until: number | null = null;
  return () => {
    const run = getRunRecord(lib, id);
    if (run.status === 'queued' || run.status === 'running') return false;
    until ??= Date.now() + cancelWaitMs(run);
    return !runStillExecuting(lib, id) || Date.now() > until;
  };
}

/** One log line for people: when (UTC, as every time the CLI prints), who, what (a warning said so). */
function logLineText(l: RunLogLine): string {
  return `${formatTime(l.at)}  ${l.source.padEnd(7)}  ${l.level === 'warn' ? 'warning: ' : ''}${l.text}`;
}

/** How often `runs logs --follow` looks for new lines and at the run's status. */
const FOLLOW_POLL_MS = 500;

/**
 * Shows the lines appended to a run's log from byte `offset` on, until `letGo` says the run has
 * stopped (and the lines it wrote as it stopped are shown) or Ctrl-C; returns whether Ctrl-C (or a
 * closed output) ended it.
 */
async function followRunLog(
  offset: number,
  readSince: (offset: number) => { lines: RunLogLine[]; end: number },
  letGo: () => boolean,
  show: (lines: RunLogLine[]) => void,
): Promise<boolean> {
  const ctrlC = catchInterrupts(() => {});
  let end = offset;
  let stopped = false;
  try {
    for (;;) {
      const more = readSince(end);
      end = more.end;
      show(more.lines);
      if (ctrlC.requested) return true;
      // The studio writes a run's last line ("completed; …", "paused at step N") just after its
      // status, before letting go: once stopped, one more quiet poll reads it.
      if (stopped && more.lines.length === 0) return false;
      if (!stopped) stopped = letGo();
      if (more.lines.length === 0 || stopped)
        await sleep(FOLLOW_POLL_MS, undefined, { signal: ctrlC.signal }).catch(() => {});
    }
  } finally {
    ctrlC.release();
  }
}
