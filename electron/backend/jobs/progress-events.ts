// The event stream of long work as scripts read it: `reft-studio <long command> --json` writes one
// of these per line on stderr while it works (its result is the one JSON object on stdout, or
// {"error": …} when it fails). Training events are the trainer's own (native-runtime/training/
// events.ts, also the `detail` of the backend's 'jobs/progress' pushes) with three additions: `kind`
// ('train'), `runId` and `elapsedS`. Byte transfers (downloads, runtime packs) and counted work
// (rows, tensors, benchmark steps) are progress events of their own kind, for the CLI today and for
// backend pushes of the same work. README.md ("Progress and events") documents these shapes; change
// them there too. Types only: plain JSON crosses every boundary.

import type {
  CheckpointEvent,
  DeviceEvent,
  LogEvent,
  TrainProgressEvent,
} from '../../../native-runtime/training/events.ts';

export type { TrainProgress } from '../../../native-runtime/training/events.ts';

interface Timed {
  /** Seconds since this task started in this process. */
  elapsedS: number;
}

/** One optimizer step: the trainer's progress event, tagged with its kind and run. */
export type TrainStepEvent = TrainProgressEvent &
  Timed & {
    kind: 'train';
    /** The library run, when the run is recorded there. */
    runId?: number;
  };

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

/** Progress of one task, discriminated by `kind`. */
export type ProgressEvent = TrainStepEvent | TransferProgressEvent | CountProgressEvent;

/** A note for people; `level: 'warn'` on warnings. */
export type NoteEvent = LogEvent;

/** A checkpoint written, with its run when the run is in the library. */
export type RunCheckpointEvent = CheckpointEvent & { runId?: number };

/**
 * Where a run's steps run (the provider, and why not the one asked for) and in what precision, with
 * its run when recorded.
 */
export type RunDeviceEvent = DeviceEvent & { runId?: number };

/** One line of the stream. How the command ended is not in it: that is stdout's one object. */
export type StreamEvent = ProgressEvent | NoteEvent | RunCheckpointEvent | RunDeviceEvent;
