// Training from the command line, shared by `train` and `runs resume`: a recorded run executed with
// the studio's own code (jobs/training.ts executeRun) on a WorkerEngine, so ONNX Runtime's blocking
// calls run off this thread and the bar, the clock and Ctrl-C stay live. Progress, notes and
// checkpoints go to the reporter (ctx.progress).
//
// Ctrl-C: the first pauses at the end of the step with a checkpoint (status 'paused'); a second
// within 2 s terminates the engine worker at once, leaving the last checkpoint on disk (status
// 'interrupted'). Both can be continued with `reft-studio runs resume ID`; the exit code is 130.

import { WorkerEngine } from '../electron/backend/jobs/engine.ts';
import type { TrainSummary } from '../electron/backend/jobs/engine-tasks.ts';
import { executeRun, type RunOutcome } from '../electron/backend/jobs/training.ts';
import type { Library } from '../electron/backend/library/library.ts';
import { getRun, type RunDetail } from '../electron/backend/library/runs.ts';
import type { TrainConfig } from '../native-runtime/training/config.ts';
import { str } from './args.ts';
import type { CommandContext } from './command.ts';
import { catchInterrupts, type Interrupts } from './interrupt.ts';

export interface TrainingOutcome {
  outcome: RunOutcome;
  /** The trainer's summary, when the run completed. */
  summary: TrainSummary | null;
  run: RunDetail;
}

function interrupts(ctx: CommandContext, engine: WorkerEngine): Interrupts {
  const i = catchInterrupts((m) => ctx.progress.log(m), {
    first: 'pausing: finishing this step and saving a checkpoint (Ctrl-C again within 2 s to stop at once)',
    stop: 'stopping now; the run keeps its last checkpoint',
  });
  // Terminating the worker is what makes it "at once": the step in flight is dropped.
  i.onStopNow(() => void engine.close());
  return i;
}

/** Runs a recorded run (queued) to its end, a pause or a stop. */
export async function executeRunHere(
  ctx: CommandContext,
  lib: Library,
  runId: number,
): Promise<TrainingOutcome> {
  const engine = new WorkerEngine();
  const ctrlC = interrupts(ctx, engine);
  const task = ctx.progress.train({ totalSteps: getRun(lib, runId).totalSteps ?? 0, runId });
  let summary: TrainSummary | null = null;
  try {
    const outcome = await executeRun(lib, engine, runId, {
      signal: ctrlC.signal,
      // A pause keeps the run resumable ('paused'); a stop at once leaves it 'interrupted'.
      abortReason: () => (ctrlC.stopNow ? 'shutdown' : 'pause'),
      onLog: (m) => ctx.progress.log(m),
      onProgress: (p) => task.update(p),
      onCheckpoint: (c) => ctx.progress.checkpoint({ runId, ...c }),
      onResult: (s) => {
        summary = s;
      },
    });
    return { outcome, summary, run: getRun(lib, runId) };
  } finally {
    task.done();
    ctrlC.release();
    await engine.close();
  }
}

/** The command that continues a run, with the same --data-dir. */
export function resumeCommand(ctx: CommandContext, runId: number): string {
  const dir = str(ctx.values, 'data-dir');
  return `reft-studio runs resume ${runId}${dir ? ` --data-dir ${JSON.stringify(dir)}` : ''}`;
}

/**
 * Prints how a paused/interrupted/cancelled run ended and returns exit code 130. The result event
 * (or the one --json object) carries status, the last checkpoint and the resume command.
 */
export function printStopped(ctx: CommandContext, run: RunDetail, outcome: RunOutcome): number {
  const ck = run.checkpoints.at(-1) ?? null;
  const resumable = outcome === 'paused' || outcome === 'interrupted';
  const resume = resumable ? resumeCommand(ctx, run.id) : null;
  ctx.print(
    {
      status: outcome,
      runId: run.id,
      step: run.lastStep ?? 0,
      totalSteps: run.totalSteps,
      checkpoint: ck ? { step: ck.step, dir: ck.path } : null,
      resume,
    },
    () =>
      [
        `run ${run.id} ${outcome} at step ${run.lastStep ?? 0} of ${run.totalSteps ?? '?'}` +
          (outcome === 'interrupted' ? ' (the steps after the last checkpoint will be redone)' : ''),
        ck ? `last checkpoint: step ${ck.step}, ${ck.path}` : 'no checkpoint yet: a resume starts over',
        ...(resume ? [`continue it with: ${resume}`] : []),
      ].join('\n'),
  );
  return 130;
}

export interface CheckpointTraining {
  summary: TrainSummary | null;
  /** The last checkpoint written or resumed from. */
  lastCheckpoint: { step: number; dir: string } | null;
  /** Ctrl-C: 'paused' (checkpoint at the stop) or 'interrupted' (stopped at once). */
  stopped: 'paused' | 'interrupted' | null;
  step: number;
}

/** `train --resume CKPT`: a checkpoint folder outside the library, trained on a WorkerEngine. */
export async function trainFromCheckpoint(
  ctx: CommandContext,
  config: TrainConfig,
): Promise<CheckpointTraining> {
  const engine = new WorkerEngine();
  const ctrlC = interrupts(ctx, engine);
  let task: ReturnType<CommandContext['progress']['train']> | null = null;
  let lastCheckpoint: CheckpointTraining['lastCheckpoint'] = null;
  let step = 0;
  try {
    const summary = await engine.call(
      'train',
      { config },
      {
        signal: ctrlC.signal,
        onEvent: (event, data) => {
          if (event === 'progress') {
            const p = data as Parameters<NonNullable<typeof task>['update']>[0];
            task ??= ctx.progress.train({ totalSteps: p.totalSteps });
            task.update(p);
            step = p.step;
          } else if (event === 'checkpoint') {
            lastCheckpoint = data as { step: number; dir: string };
            ctx.progress.checkpoint(lastCheckpoint);
          } else if (event === 'log') ctx.progress.log(data as string);
        },
      },
    );
    return { summary, lastCheckpoint, stopped: null, step };
  } catch (e) {
    if (!ctrlC.signal.aborted) throw e;
    return { summary: null, lastCheckpoint, stopped: ctrlC.stopNow ? 'interrupted' : 'paused', step };
  } finally {
    (task as ReturnType<CommandContext['progress']['train']> | null)?.done();
    ctrlC.release();
    await engine.close();
  }
}
