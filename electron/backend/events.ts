// Push topics the backend broadcasts to every connected client (over the WebSocket or the Electron
// MessagePort). Topics are `domain/what`; data shapes are declared here so the renderer can import
// them as types through rpc/contract.ts.

import type { WireError } from '../../native-runtime/errors.ts';
import type { NoteLevel } from '../../native-runtime/notices.ts';
import type { InstallProgress } from '../../native-runtime/runtime/runtime-install.ts';
import type { TrainEvent } from '../../native-runtime/training/events.ts';
import type { DownloadProgress } from './hub/download.ts';
import type { RunLogLine } from './library/run-logs.ts';

export type {
  CheckpointEvent,
  DataProgress,
  DataProgressEvent,
  LogEvent,
  SampleEvent,
  TrainEvent,
  TrainProgress,
  TrainProgressEvent,
} from '../../native-runtime/training/events.ts';

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A job of the queue (jobs/queue.ts) as clients see it. */
export interface JobInfo {
  id: number;
  kind: string;
  device: string;
  label: string | null;
  /** The library run this job executes, if any (runs/cancel finds the job by it). */
  runId: number | null;
  state: JobState;
  /** 0..1 when the job reports it. */
  progress: number | null;
  message: string | null;
  error: WireError | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** An evaluation job's progress: examples done out of total. */
export interface EvaluateProgressEvent {
  event: 'evaluate-progress';
  done: number;
  total: number;
}

/** A model download's transfer (hub/download.ts), with the library id once it is added. */
export interface DownloadProgressEvent extends DownloadProgress {
  event: 'download-progress';
  modelId?: number;
}

/** One event of the work a job runs, tagged by `event` (training: native-runtime/training/events.ts). */
export type JobDetail = TrainEvent | EvaluateProgressEvent | DownloadProgressEvent;

/**
 * Pushed on 'jobs/progress' on every state change (detail null) and every report (detail: what the
 * job reported). A training job's run is `runId`; its steps come as {event: 'progress', step, loss, …}.
 */
export interface JobProgress extends JobInfo {
  detail: JobDetail | null;
}

export type LibraryKind = 'models' | 'datasets' | 'runs' | 'adapters' | 'settings' | 'evaluations';

export interface LibraryChange {
  kind: LibraryKind;
  /** The entry that changed; absent when many did. */
  id?: number;
  action: 'added' | 'removed' | 'updated';
  /** Made by another process on the same data folder (a CLI command): library/outside-changes.ts. */
  elsewhere?: true;
}

/** A piece of generated text of a 'generate/run' request, as soon as it is complete. */
export interface GenerateToken {
  requestId: string;
  text: string;
}

/** What loading the model of a 'generate/run' request says before its text (a conversion's progress, …). */
export interface GenerateNotice {
  requestId: string;
  text: string;
  /** 'warn' where its sayer marked it a warning (a fallback to the CPU): notices.ts. */
  level?: NoteLevel;
}

/**
 * How far a 'datasets/token-lengths' request started with `requestId` is: examples counted of how
 * many it counts (null until known), pushed now and then while it runs (the Datasets histogram's
 * "Counted 12,000 of 200,000 rows").
 */
export interface TokenCountProgress {
  requestId: string;
  done: number;
  total: number | null;
}

/** Snapshot folders that appeared in or left the Hugging Face cache (hub/watch.ts). */
export interface CacheChange {
  cacheDir: string;
  added: string[];
  /** Snapshots seen before whose files changed (the weights linked after config.json). */
  changed: string[];
  removed: string[];
}

/**
 * A runtime pack install started by 'system/runtime-install', or a pack's removal. Also pushed when
 * another process (the CLI's `runtime install|remove`) installed or removed one: 'done' or
 * 'removed' with `elsewhere` (handlers/devices.ts, followPackChanges).
 */
export interface RuntimeProgress extends InstallProgress {
  name: string;
  /** 'cancelled': stopped by Cancel (system/runtime-cancel), which is not a failure. */
  state: 'running' | 'done' | 'failed' | 'cancelled' | 'removed';
  error?: WireError;
  /**
   * 'done': what the installer warned of (its onWarning, e.g. a previous pack it could not delete),
   * in the words the CLI prints; absent when nothing.
   */
  warnings?: string[];
  /** Done by another process on the same data folder, not by this host. */
  elsewhere?: true;
}

/** A line added to a run's log (library/run-logs.ts), as it is written. */
export interface RunLogPush {
  runId: number;
  line: RunLogLine;
}

export interface PushTopics {
  'jobs/progress': JobProgress;
  'library/changed': LibraryChange;
  'generate/token': GenerateToken;
  'generate/notice': GenerateNotice;
  'datasets/token-progress': TokenCountProgress;
  'runs/log': RunLogPush;
  'runtime/progress': RuntimeProgress;
  'models/cache-changed': CacheChange;
}

export type PushTopic = keyof PushTopics;
type Listener = <T extends PushTopic>(topic: T, data: PushTopics[T]) => void;

/** A tiny typed broadcaster: transports subscribe with onAny and forward every push. */
export class BackendEvents {
  #listeners = new Set<Listener>();

  emit<T extends PushTopic>(topic: T, data: PushTopics[T]): void {
    for (const l of this.#listeners) {
      try {
        l(topic, data);
      } catch (e) {
        // One broken client must not stop the others from hearing about it.
        console.error(`push listener failed on ${topic}: ${(e as Error).message}`);
      }
    }
  }

  /** Subscribes to every topic; returns the unsubscribe function. */
  onAny(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
