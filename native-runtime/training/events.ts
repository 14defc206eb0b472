// What a training run reports while it works, declared once for every reader: the trainer's hooks,
// the engine process's messages, the studio's 'jobs/progress' pushes (as the push's `detail`) and the
// CLI's `--json` event stream (one object per line). Types only, importing nothing from Node: the
// renderer imports this module too.
//
//   {event: 'progress', step, totalSteps, epoch, loss, lr, gradNorm, tokensPerS, etaS, evalLoss?}
//       (a resumed run reports its checkpoint's step again with the held-out loss a pause stopped)
//   {event: 'checkpoint', step, dir, removed?, last?}
//   {event: 'sample', step, prompt, output}     a probe prompt's greedy answer at a checkpoint
//   {event: 'data-progress', done, total}      rows of the dataset read and tokenized before the
//       first step, at most every 250 ms (none for a file read within 100 ms); the --json stream
//       has them as a count ({event: 'progress', kind: 'count', label: 'preparing data', unit: 'rows'})
//   {event: 'log', message, level?}             a human-readable note (data summary, resume, fallback);
//       level 'warn' on a warning (a fallback to the CPU, a software adapter: notices.ts)
//   {event: 'device', requested, device, fallback, precision}   where the steps run and in what
//       precision (fp32, fp16, bf16: what the session computes in, whatever `dtype` asked), once the
//       session exists
//
// Between the trainer and its callers only (the engine's messages, not the --json stream), each
// phase of the run as it begins (TrainPhase), so that no caller reads it from a log line's words.

import type { NoteLevel } from '../notices.ts';
import type { ComputeUsed } from '../runtime/precision-used.ts';

/** The numbers of one finished optimizer step. */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  /** Epochs done, fractional (step / steps per epoch). */
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerS: number;
  /** Seconds left at the current speed (NaN before a step of this session is timed). */
  etaS: number;
  /** Held-out loss, on the steps where it was measured. */
  evalLoss?: number;
}

export interface CheckpointWritten {
  step: number;
  dir: string;
  /** Older checkpoints of the run deleted to keep the newest `keepCheckpoints`. */
  removed?: string[];
  /** The run ends here: its last planned step, or where early stopping stops it. */
  last?: true;
}

export interface ProbeSample {
  step: number;
  prompt: string;
  output: string;
  /** Why the output is empty though tokens were generated (empty-answer.ts); absent otherwise. */
  emptyNote?: string;
}

/** How far a run's data preparation is: rows read and tokenized of the file's (phase 'data'). */
export interface DataProgress {
  done: number;
  total: number;
}

export type TrainProgressEvent = { event: 'progress' } & TrainProgress;
export type CheckpointEvent = { event: 'checkpoint' } & CheckpointWritten;
export type SampleEvent = { event: 'sample' } & ProbeSample;
export type DeviceEvent = { event: 'device' } & ComputeUsed;
export type DataProgressEvent = { event: 'data-progress' } & DataProgress;
export interface LogEvent {
  event: 'log';
  message: string;
  /** Set by whoever said it, on warnings only (never read from the message's words). */
  level?: NoteLevel;
}

/**
 * Where a run is, told as each phase begins: 'data' (reading and tokenizing the dataset), 'model'
 * (the base weights' form decided, then the session loaded), 'conversion' while the base weights
 * are converted into the data folder's store (only where that form needs it; 'model' again after),
 * and 'training' once the session exists, until the run ends. So: data → model → [conversion →
 * model] → training.
 */
export type TrainPhase = 'data' | 'conversion' | 'model' | 'training';

/** Everything a training run reports, tagged by `event`. */
export type TrainEvent =
  | TrainProgressEvent
  | DataProgressEvent
  | CheckpointEvent
  | SampleEvent
  | LogEvent
  | DeviceEvent;
