// A small job queue for long work (training, evaluation, export). Jobs run one at a time per device
// ('cpu', 'cuda:0', ...) in FIFO order; jobs on different devices run side by side. A job is an async
// function that gets an AbortSignal and a report() callback; cancel() drops a queued job or aborts a
// running one. The device is held until the function actually returns, even after a cancel, so two
// jobs never share a device. The engine supplies the functions; this module knows nothing of training.

import { CancelledError, toWireError, type WireError } from '../../../native-runtime/errors.ts';
import type { JobDetail, JobInfo, JobProgress, JobState } from '../events.ts';

export type { JobInfo, JobProgress, JobState } from '../events.ts';

const KEEP_FINISHED = 200;

/**
 * The cancel of every job when the studio closes: no one asked to stop that work, so what records
 * it (an evaluation) says it was interrupted, as a crash leaves it, not cancelled.
 */
export class StudioClosedError extends CancelledError {
  constructor(wasQueued: boolean) {
    super(wasQueued ? 'the studio closed before it started' : 'the studio closed before it finished');
  }
}

export interface JobContext {
  signal: AbortSignal;
  /** `detail`: one event of the work (a training step, an evaluation's count), pushed as it is. */
  report(update: { progress?: number; message?: string; detail?: JobDetail }): void;
}

export interface JobSpec<T> {
  kind: string;
  device?: string;
  label?: string;
  runId?: number;
  run: (ctx: JobContext) => Promise<T>;
}

interface Entry {
  info: JobInfo;
  spec: JobSpec<unknown>;
  abort: AbortController;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Resolves `ended`: the job's function has returned, or it was dropped before it ran. */
  markEnded: () => void;
}

export class JobQueue {
  #nextId: number;
  #jobs = new Map<number, Entry>();
  #busy = new Set<string>();
  #onProgress: (p: JobProgress) => void;
  #idleWaiters: (() => void)[] = [];

  /**
   * `firstId`: the first job's id. A studio gives one past the ids of jobs a window may remember
   * from before a restart (its recorded evaluation jobs), so that no new job is taken for one of them.
   */
  constructor(onProgress: (p: JobProgress) => void = () => {}, opts: { firstId?: number } = {}) {
    this.#onProgress = onProgress;
    this.#nextId = opts.firstId ?? 1;
  }

  /**
   * `done` settles when the job's state does (a cancel rejects it at once); `ended` resolves once its
   * function has actually returned (or it was dropped while queued): what it reads is free only then.
   */
  enqueue<T>(spec: JobSpec<T>): { id: number; done: Promise<T>; ended: Promise<void> } {
    const id = this.#nextId++;
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<T>((res, rej) => {
      resolve = res as (v: unknown) => void;
      reject = rej;
    });
    // Callers may ignore `done`; a failed or cancelled job must not become an unhandled rejection.
    done.catch(() => {});
    let markEnded!: () => void;
    const ended = new Promise<void>((r) => (markEnded = r));
    const info: JobInfo = {
      id,
      kind: spec.kind,
      device: spec.device ?? 'cpu',
      label: spec.label ?? null,
      runId: spec.runId ?? null,
      state: 'queued',
      progress: null,
      message: null,
      error: null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
    };
    this.#jobs.set(id, {
      info,
      spec: spec as JobSpec<unknown>,
      abort: new AbortController(),
      resolve,
      reject,
      markEnded,
    });
    this.#emit(info);
    this.#pump();
    return { id, done, ended };
  }

  /**
   * Cancels a queued or running job; false if it is unknown or already finished. `closing`: the
   * studio is closing (the job's `done` rejects with StudioClosedError).
   */
  cancel(id: number, opts: { closing?: boolean } = {}): boolean {
    const e = this.#jobs.get(id);
    if (!e || (e.info.state !== 'queued' && e.info.state !== 'running')) return false;
    const wasQueued = e.info.state === 'queued';
    this.#finish(e, 'cancelled', null);
    const why = opts.closing ? new StudioClosedError(wasQueued) : new CancelledError();
    e.abort.abort(why);
    e.reject(why);
    if (wasQueued) {
      e.markEnded();
      this.#checkIdle();
    }
    return true;
  }

  get(id: number): JobInfo | undefined {
    const e = this.#jobs.get(id);
    return e ? { ...e.info } : undefined;
  }

  /** The unfinished job executing a library run, if any. */
  findByRun(runId: number): JobInfo | undefined {
    const e = [...this.#jobs.values()].find(
      (x) => x.info.runId === runId && (x.info.state === 'queued' || x.info.state === 'running'),
    );
    return e ? { ...e.info } : undefined;
  }

  /** Whether a job is executing on `device` now. */
  deviceBusy(device: string): boolean {
    return this.#busy.has(device);
  }

  list(): JobInfo[] {
    return [...this.#jobs.values()].map((e) => ({ ...e.info }));
  }

  /** Resolves when no job is queued or running (and every device is free). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  #isIdle(): boolean {
    return this.#busy.size === 0 && ![...this.#jobs.values()].some((e) => e.info.state === 'queued');
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #emit(info: JobInfo, detail?: JobDetail): void {
    try {
      this.#onProgress({ ...info, detail: detail ?? null });
    } catch {}
  }

  #finish(e: Entry, state: JobState, error: WireError | null): void {
    e.info.state = state;
    e.info.error = error;
    e.info.finishedAt = Date.now();
    this.#emit(e.info);
    this.#prune();
  }

  /** Forgets the oldest finished jobs beyond KEEP_FINISHED, so a long-lived host does not grow. */
  #prune(): void {
    // Entries are only bookkeeping: a cancelled job still returning keeps its device through its
    // own closure, so forgetting its entry is safe.
    const finished = [...this.#jobs.values()].filter((x) => x.info.finishedAt !== null);
    for (const x of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)))
      this.#jobs.delete(x.info.id);
  }

  #pump(): void {
    for (const e of this.#jobs.values()) {
      if (e.info.state !== 'queued' || this.#busy.has(e.info.device)) continue;
      this.#start(e);
    }
  }

  #start(e: Entry): void {
    const device = e.info.device;
    this.#busy.add(device);
    e.info.state = 'running';
    e.info.startedAt = Date.now();
    this.#emit(e.info);
    const report: JobContext['report'] = (u) => {
      if (e.info.state !== 'running') return;
      if (u.progress !== undefined) e.info.progress = Math.min(1, Math.max(0, u.progress));
      if (u.message !== undefined) e.info.message = u.message;
      this.#emit(e.info, u.detail);
    };
    // Run on a later tick so enqueue() returns before the job's synchronous part starts.
    Promise.resolve()
      .then(() => e.spec.run({ signal: e.abort.signal, report }))
      .then(
        (v) => {
          if (e.info.state === 'running') {
            e.info.progress = 1;
            this.#finish(e, 'completed', null);
            e.resolve(v);
          }
        },
        (err) => {
          if (e.info.state === 'running') {
            const cancelled = err instanceof CancelledError || e.abort.signal.aborted;
            this.#finish(e, cancelled ? 'cancelled' : 'failed', cancelled ? null : toWireError(err));
            e.reject(err);
          }
        },
      )
      .finally(() => {
        e.markEnded();
        this.#busy.delete(device);
        this.#pump();
        this.#checkIdle();
      });
  }
}
