// The progress event stream of long work, one discriminated union (`event`, then `kind`) shared by
// `reft-studio <long command> --json` (one event per line on stdout) and the backend: a training
// event carries the same fields, under the same names, as the training metrics of a 'jobs/progress'
// push (step, totalSteps, epoch, loss, lr, gradNorm, tokensPerS, etaS, evalLoss, runId). README.md
// ("Progress and events") documents these shapes for scripts; change them there too.
//
// Plain data only: events cross worker, process and network boundaries as JSON.

import type { WireError } from '../../../native-runtime/errors.ts';

/** One optimizer step's numbers: the trainer's TrainProgress, as the backend stores and pushes them. */
export interface TrainStepFields {
  step: number;
  totalSteps: number;
  /** Epochs done, fractional. */
  epoch: number;
  /** This step's loss (not smoothed). */
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerS: number;
  /** The trainer's estimate of the seconds left. */
  etaS: number;
  /** Held-out loss, on the steps where it was measured. */
  evalLoss?: number;
}

interface Timed {
  /** Seconds since this task started in this process. */
  elapsedS: number;
}

export interface TrainProgressEvent extends TrainStepFields, Timed {
  event: 'progress';
  kind: 'train';
  /** The library run, when the run is recorded there. */
  runId?: number;
}

/** Bytes moved: a download, a runtime pack, a big file read. */
export interface TransferProgressEvent extends Timed {
  event: 'progress';
  kind: 'transfer';
  /** What is moving, e.g. a file name. */
  label: string;
  bytes: number;
  /** null while unknown. */
  totalBytes: number | null;
  bytesPerS: number;
  etaS: number | null;
}

/** Counted units: rows imported, tensors quantized, examples evaluated, benchmark steps. */
export interface CountProgressEvent extends Timed {
  event: 'progress';
  kind: 'count';
  label: string;
  /** Plural noun of what is counted: 'rows', 'tensors', 'steps'. */
  unit: string;
  done: number;
  total: number | null;
  perS: number;
  etaS: number | null;
}

export type ProgressEvent = TrainProgressEvent | TransferProgressEvent | CountProgressEvent;

export interface LogEvent {
  event: 'log';
  level: 'info' | 'warn';
  message: string;
}

export interface CheckpointEvent {
  event: 'checkpoint';
  runId?: number;
  step: number;
  dir: string;
}

/**
 * The last event of a command that finished or was interrupted: the command's result fields at the
 * top level (the same fields its plain `--json` object would have). Interrupted training carries
 * `status: 'paused' | 'interrupted'` and `resume`, the command that continues it.
 */
export type ResultEvent = { event: 'result' } & Record<string, unknown>;

/** The last event of a command that failed (exit 1, or 2 for bad usage). */
export interface ErrorEvent {
  event: 'error';
  error: WireError;
}

export type StreamEvent = ProgressEvent | LogEvent | CheckpointEvent | ResultEvent | ErrorEvent;
