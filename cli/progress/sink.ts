// What the reporter hands its sinks (bar.ts, the plain-line and event sinks in reporter.ts): kept
// apart so a sink can be written against these without importing the reporter that uses it.

import type {
  ProgressEvent,
  RunCheckpointEvent,
  RunDeviceEvent,
} from '../../electron/backend/jobs/progress-events.ts';

/** A task's current state as the sinks see it. */
export interface TaskView {
  id: number;
  startedAt: number;
  /** The latest snapshot. */
  event: ProgressEvent;
  /** When `event` was taken (ms). */
  at: number;
  /** Exponential moving average of the training loss (bias-corrected); NaN otherwise. */
  smoothedLoss: number;
  /** The last checkpoint's step, for the bar. */
  checkpointStep: number | null;
  finished: boolean;
  /** Set by the first update. */
  updated: boolean;
}

/** Where the reporter's output goes; one implementation per mode. */
export interface Sink {
  progress(t: TaskView): void;
  finish(t: TaskView): void;
  /** `evenQuiet`: an alert (Reporter.log), shown by a sink that --quiet otherwise silences. */
  log(message: string, level: 'info' | 'warn', evenQuiet?: boolean): void;
  checkpoint(c: RunCheckpointEvent): void;
  /**
   * Where a run's steps run. Only the event stream has a field for it: people read a fallback or
   * auto's choice in the log already, and the device in the summary.
   */
  device?(d: RunDeviceEvent): void;
  close(): void;
}
