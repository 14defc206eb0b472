// Training from the command line, shared by `train` and `runs resume`: a recorded run executed with
// the studio's own code (jobs/run-execution.ts executeRun) on an in-process engine. Progress, notes and
// checkpoints go to the reporter (ctx.progress).
//
// Ctrl-C: the first lets the step in flight finish, then pauses with a checkpoint at that step
// (status 'paused'); before the first step (preparing the data, converting the base weights, loading
// the model: minutes for a large model) there is no step to finish, so it pauses at once, saying what
// the next run does of the phase it stopped (prepares the data again; resumes a conversion where it
// stopped). A second within 2 s stops at once — as soon as the ONNX Runtime call in flight
// returns, without writing a checkpoint — leaving the last one on disk (status 'interrupted'). Both
// can be continued with `reft-studio runs resume ID`; the exit code is 130.
//
// Why in-process and why process.exit: ORT's run() blocks its thread, and a worker thread that is
// terminated (or a process that exits) while a worker is inside run() aborts in onnxruntime-node
// ("terminate called after throwing Napi::Error"). On the main thread a signal handler only runs
// between ORT calls, where exiting is safe.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessEngine } from '../electron/backend/jobs/engine.ts';
import type { TrainSummary } from '../electron/backend/jobs/engine-tasks.ts';
import { executeRun, type RunOutcome } from '../electron/backend/jobs/run-execution.ts';
import { checkExportDestination } from '../electron/backend/library/export-destination.ts';
import { closeLibrary, type Library } from '../electron/backend/library/library.ts';
import { failureRemedy } from '../electron/backend/library/run-failures.ts';
import { appendRunLog } from '../electron/backend/library/run-logs.ts';
import {
  getRunBesidesMetrics,
  getRunRecord,
  type RunBesidesMetrics,
  type RunRecord,
  setRunStatus,
} from '../electron/backend/library/runs.ts';
import { ConfigError, DbError } from '../native-runtime/errors.ts';
import { checkFolderToWrite, copyOf } from '../native-runtime/formats/atomic-write.ts';
import { writeExportableFolder } from '../native-runtime/formats/export-marker.ts';
import type { ComputeUsed } from '../native-runtime/runtime/precision-used.ts';
import { readTrainerState } from '../native-runtime/training/checkpoint.ts';
import type { TrainConfig } from '../native-runtime/training/config.ts';
import type { DataProgress, LogEvent, TrainPhase, TrainProgress } from '../native-runtime/training/events.ts';
import { sessionNotices } from './base-form.ts';
import { type CommandContext, nextCommand } from './command.ts';
import { catchInterrupts, type Interrupts } from './interrupt.ts';
import type { CountTask, TrainTask } from './progress/reporter.ts';

export interface TrainingOutcome {
  outcome: RunOutcome;
  /** The trainer's summary, when the run completed. */
  summary: TrainSummary | null;
  /** The run as it ended, without its metric points (nothing printed needs them). */
  run: RunBesidesMetrics;
}

/** Where the run is, as the trainer tells it (TrainHooks.onPhase): what a Ctrl-C stops. */
interface Stage {
  phase: TrainPhase;
}

/**
 * The data preparation's rows as a count ('preparing data': a bar, lines, or --json count events),
 * from the trainer's numbers (TrainHooks.onDataProgress); it ends as the next phase begins.
 */
function preparingCount(ctx: CommandContext): { rows(p: DataProgress): void; done(): void } {
  let task: CountTask | null = null;
  return {
    rows: (p) => {
      task ??= ctx.progress.count({ label: 'preparing data', unit: 'rows', total: p.total });
      task.update(p.done, p.total);
    },
    done: () => task?.done(),
  };
}

/** What a Ctrl-C before the steps says, by the phase it stops. */
const STOPPING_BEFORE_STEPS: Record<Exclude<TrainPhase, 'training'>, string> = {
  data: 'stopping the data preparation before training starts (a resume prepares the data again)',
  conversion: 'stopping before training starts (a conversion of the base weights resumes where it stopped)',
  model: 'stopping before training starts',
};

function interrupts(ctx: CommandContext, stage: Stage): Interrupts {
  return catchInterrupts((m) => ctx.progress.log(m), {
    // Read when the Ctrl-C comes.
    get first() {
      return stage.phase === 'training'
        ? 'pausing at the end of this step, with a checkpoint (Ctrl-C again within 2 s to stop at once)'
        : STOPPING_BEFORE_STEPS[stage.phase];
    },
    stop: 'stopping now, without a new checkpoint',
  });
}

/**
 * The trainer's abort signal for a Ctrl-C pause: aborted at the end of a step (the trainer then
 * checkpoints that step and stops) rather than at once (it would drop a half-accumulated step) —
 * except before the steps begin, where the data preparation stops at its next rows and the conversion
 * at its next tensor.
 */
function pauseAtStepEnd(
  ctrlC: Interrupts,
  stage: Stage,
): { signal: AbortSignal; stepDone(p: TrainProgress): void } {
  const ac = new AbortController();
  ctrlC.signal.addEventListener('abort', () => stage.phase === 'training' || ac.abort(), { once: true });
  return {
    signal: ac.signal,
    // After the last step there is nothing to pause: the run completes.
    stepDone: (p) => {
      if (ctrlC.requested && p.step < p.totalSteps && !ac.signal.aborted) ac.abort();
    },
  };
}

/**
 * Runs a recorded run (queued) to its end or a pause; a stop at once exits the process (130).
 * `out` is the --out folder the command will copy the adapter to, named in the resume command.
 */
export async function executeRunHere(
  ctx: CommandContext,
  lib: Library,
  runId: number,
  out?: string,
): Promise<TrainingOutcome> {
  const stage: Stage = { phase: 'data' };
  const ctrlC = interrupts(ctx, stage);
  const task = ctx.progress.train({ totalSteps: getRunRecord(lib, runId).totalSteps ?? 0, runId });
  ctrlC.onStopNow(() => {
    setRunStatus(lib, runId, 'interrupted', 'stopped with Ctrl-C');
    appendRunLog(lib, runId, 'studio', 'stopped at once with Ctrl-C; resumable from its last checkpoint');
    task.done();
    const code = printStopped(ctx, getRunBesidesMetrics(lib, runId), 'interrupted', out);
    closeLibrary(lib);
    process.exit(code);
  });
  const pause = pauseAtStepEnd(ctrlC, stage);
  const preparing = preparingCount(ctx);
  let summary: TrainSummary | null = null;
  try {
    const outcome = await executeRun(lib, new InProcessEngine(), runId, {
      audience: 'cli',
      signal: pause.signal,
      // Ctrl-C keeps the run resumable ('paused'): a cancelled run is final in the library.
      abortReason: () => 'pause',
      onLog: sessionNotices(ctx.progress),
      onPhase: (p) => {
        stage.phase = p;
        if (p !== 'data') preparing.done();
      },
      onDataProgress: preparing.rows,
      onProgress: (p) => {
        task.update(p);
        pause.stepDone(p);
      },
      onCheckpoint: (c) => ctx.progress.checkpoint({ runId, ...c }),
      onDevice: (d) => ctx.progress.device({ runId, ...d }),
      onResult: (s) => {
        summary = s;
      },
    });
    return { outcome, summary, run: getRunBesidesMetrics(lib, runId) };
  } catch (e) {
    // The library could record neither the run nor its stop (a full disk): it reads interrupted.
    if (e instanceof DbError && (e.code === 'disk-full' || e.code === 'library-read-only'))
      throw new DbError(e.code, `${e.message} (${failedRunNext(ctx, { id: runId, errorCode: null }, out)})`, {
        cause: e,
      });
    throw e;
  } finally {
    preparing.done();
    task.done();
    ctrlC.release();
  }
}

/**
 * What to do about a failed run: how to continue it once the cause is put right, or, where its own
 * settings or data were refused (a resume would fail the same way), a new run.
 */
export function failedRunNext(
  ctx: CommandContext,
  run: Pick<RunRecord, 'id' | 'errorCode'>,
  out?: string,
): string {
  const remedy = failureRemedy(run.errorCode);
  return remedy === 'fix-dataset'
    ? 'resuming would fail the same way: fix the dataset, then start a new run with reft-studio train'
    : remedy === 'change-settings'
      ? 'resuming would fail the same way: start a new run with reft-studio train and other settings'
      : `once that is put right: ${resumeCommand(ctx, run.id, out)}`;
}

/** The error of a failed run, with what to do next. */
export function runFailed(
  ctx: CommandContext,
  run: Pick<RunRecord, 'id' | 'error' | 'errorCode'>,
  out?: string,
): ConfigError {
  return new ConfigError(
    'run-failed',
    `${run.error ?? `run ${run.id} failed`} (${failedRunNext(ctx, run, out)})`,
  );
}

/**
 * The command that continues a run, with the same --data-dir and --out: the run itself does not
 * record --out (the library keeps its own copy of the adapter), so the command must carry it.
 */
export function resumeCommand(ctx: CommandContext, runId: number, out?: string): string {
  return nextCommand(ctx.values, 'runs', 'resume', runId, ...(out ? ['--out', out] : []));
}

/** The folders a command writes the finished adapter to besides the library's own. */
export interface OutFolders {
  /** --out: a copy of the studio adapter folder. */
  out?: string | null;
  /** --export-pyreft: the pyreft folder the trainer writes. */
  exportPyreft?: string | null;
}

/**
 * Refused before a run starts: a --checkpoint-dir that cannot be made and written; an --out or
 * --export-pyreft (folders replaced whole when training ends) unless new, empty or a previous
 * export, or one in or around the data folder.
 */
export function checkOutFolders(ctx: CommandContext, f: OutFolders & { checkpointDir?: string }): void {
  // Checkpoints are written from the first one on: a folder they cannot go in is refused before
  // the run is recorded, not by the run failing at its first checkpoint.
  if (f.checkpointDir)
    checkFolderToWrite(f.checkpointDir, `--checkpoint-dir ${f.checkpointDir} cannot hold checkpoints`);
  if (f.out) checkExportDestination(f.out, { dataDir: ctx.dataDir, replaceExports: true, label: '--out' });
  if (f.exportPyreft)
    checkExportDestination(f.exportPyreft, {
      dataDir: ctx.dataDir,
      replaceExports: true,
      label: '--export-pyreft',
    });
}

/**
 * After a library run completes: copies its adapter to --out (atomically, marked as an export, so a
 * re-run may replace it; the trainer marked --export-pyreft's folder), and returns where the adapter
 * now is for the user (--out, else the library's folder).
 */
export function writeOutFolders(adapter: string, f: OutFolders): string {
  if (f.out)
    writeExportableFolder(
      f.out,
      readdirSync(adapter).map((name) => [name, copyOf(join(adapter, name))]),
      'studio',
    );
  return f.out ?? adapter;
}

/**
 * Prints how a paused/interrupted/cancelled run ended and returns exit code 130. The one --json
 * object carries status, the last step and its loss, the last checkpoint and the resume command.
 */
export function printStopped(
  ctx: CommandContext,
  run: Pick<RunBesidesMetrics, 'id' | 'checkpoints' | 'lastStep' | 'lastLoss' | 'totalSteps'>,
  outcome: RunOutcome,
  out?: string,
): number {
  const ck = run.checkpoints.at(-1) ?? null;
  const resumable = outcome === 'paused' || outcome === 'interrupted';
  const resume = resumable ? resumeCommand(ctx, run.id, out) : null;
  ctx.print(
    {
      status: outcome,
      runId: run.id,
      step: run.lastStep ?? 0,
      totalSteps: run.totalSteps,
      // The last step's loss, as `runs show --json` has it (null before the first step).
      lastLoss: run.lastLoss,
      checkpoint: ck ? { step: ck.step, dir: ck.path } : null,
      resume,
    },
    () =>
      [
        `run ${run.id} ${outcome} at step ${run.lastStep ?? 0} of ${run.totalSteps ?? '?'}` +
          (outcome === 'interrupted' ? ' (the steps after the last checkpoint will be redone)' : '') +
          // Ctrl-C here pauses: a cancel came from elsewhere, and the terminal should say so.
          (outcome === 'cancelled' ? ' (cancelled from the studio or `reft-studio runs cancel`)' : ''),
        ck ? `last checkpoint: step ${ck.step}, ${ck.path}` : 'no checkpoint yet: a resume starts over',
        ...(resume ? [`continue it with: ${resume}`] : []),
      ].join('\n'),
  );
  return 130;
}

interface CheckpointTraining {
  /** The last checkpoint written or resumed from. */
  lastCheckpoint: { step: number; dir: string } | null;
  step: number;
}

/** What a stopped `train --resume` prints (exit 130): where it stopped and how to continue. */
function printCheckpointStop(
  ctx: CommandContext,
  r: CheckpointTraining,
  status: 'paused' | 'interrupted',
  out: string,
): number {
  const ck = r.lastCheckpoint;
  const resume = ck ? nextCommand(ctx.values, 'train', '--resume', ck.dir, '--out', out) : null;
  ctx.print({ status, step: r.step, checkpoint: ck, resume }, () =>
    [
      `training ${status} at step ${r.step}`,
      ck ? `last checkpoint: step ${ck.step}, ${ck.dir}` : 'no checkpoint was written',
      ...(resume ? [`continue it with: ${resume}`] : []),
    ].join('\n'),
  );
  return 130;
}

/**
 * `train --resume CKPT`: a checkpoint folder outside the library, trained in-process. Returns the
 * summary, or prints where a Ctrl-C stopped it and returns 130 (a second Ctrl-C exits at once).
 */
export async function trainFromCheckpoint(
  ctx: CommandContext,
  config: TrainConfig & { out: string },
): Promise<TrainSummary | number> {
  const stage: Stage = { phase: 'data' };
  const ctrlC = interrupts(ctx, stage);
  const bar: { task: TrainTask | null } = { task: null };
  const from = config.resumeFrom ? readTrainerState(config.resumeFrom).step : 0;
  const r: CheckpointTraining = {
    lastCheckpoint: config.resumeFrom ? { step: from, dir: config.resumeFrom } : null,
    step: from,
  };
  ctrlC.onStopNow(() => {
    bar.task?.done();
    process.exit(printCheckpointStop(ctx, r, 'interrupted', config.out));
  });
  const pause = pauseAtStepEnd(ctrlC, stage);
  const notice = sessionNotices(ctx.progress);
  const preparing = preparingCount(ctx);
  try {
    return await new InProcessEngine().call(
      'train',
      { config },
      {
        signal: pause.signal,
        onEvent: (event, data) => {
          if (event === 'progress') {
            const p = data as TrainProgress;
            bar.task ??= ctx.progress.train({ totalSteps: p.totalSteps });
            bar.task.update(p);
            r.step = p.step;
            pause.stepDone(p);
          } else if (event === 'checkpoint') {
            r.lastCheckpoint = data as { step: number; dir: string };
            ctx.progress.checkpoint(r.lastCheckpoint);
          } else if (event === 'device') ctx.progress.device(data as ComputeUsed);
          else if (event === 'phase') {
            stage.phase = data as TrainPhase;
            if (stage.phase !== 'data') preparing.done();
          } else if (event === 'data-progress') preparing.rows(data as DataProgress);
          else if (event === 'log') {
            const { message, level } = data as Omit<LogEvent, 'event'>;
            notice(message, level);
          }
        },
      },
    );
  } catch (e) {
    if (!pause.signal.aborted) throw e;
    bar.task?.done();
    return printCheckpointStop(ctx, r, 'paused', config.out);
  } finally {
    preparing.done();
    bar.task?.done();
    ctrlC.release();
  }
}

/** "best: step 40, held-out loss 1.2340 (the adapter's)": a line of train's summary and of `runs show`. */
export function bestText(best: { step: number; evalLoss: number }, kept: boolean): string {
  return `best: step ${best.step}, held-out loss ${best.evalLoss.toFixed(4)}${kept ? " (the adapter's)" : ''}`;
}
