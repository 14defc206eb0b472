// The backend as a plain-Node object: the library, the RPC handlers, the push broadcaster and the
// job queue. The Electron utility process (utility-entry.ts), `reft-studio serve` (serve.ts) and the
// tests each create one with createBackend and attach a transport to it.

import type { BackendContext, ClientLink } from './context.ts';
import type { OpenOptions } from './db/database.ts';
import { BackendEvents } from './events.ts';
import { followPackChanges, probeDevicesEarly } from './handlers/devices.ts';
import { allHandlers } from './handlers/index.ts';
import { watchHubCache } from './hub/watch.ts';
import { type Engine, WorkerEngine } from './jobs/engine.ts';
import { JobQueue } from './jobs/queue.ts';
import { TrainingService } from './jobs/training.ts';
import { seedDemo } from './library/demo.ts';
import { applyEnvironment } from './library/environment.ts';
import { nextEvaluationJobId } from './library/evaluation-jobs.ts';
import { closeLibrary, openLibrary } from './library/library.ts';
import { watchOutsideChanges } from './library/outside-changes.ts';
import { checkRunFiles } from './library/runs.ts';
import type { HandlerSet } from './rpc/define-handlers.ts';
import { dispatch } from './rpc/dispatch.ts';
import type { ErrorMessage, ReplyMessage } from './rpc/envelope.ts';

export interface Backend extends BackendContext {
  dataDir: string;
  handlers: HandlerSet;
  /**
   * Dispatches one raw message (JSON text or decoded object) to the handlers, from `client` when it
   * came over a connection (the transports). Never throws.
   */
  handle(raw: unknown, client?: ClientLink): Promise<ReplyMessage | ErrorMessage>;
  /** Cancels running jobs and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

export interface BackendOptions extends OpenOptions {
  /** Register the demo model and dataset in an empty library (default true). */
  seedDemo?: boolean;
  /** The engine to run training and generation on (default: engine processes, started on first use). */
  engine?: Engine;
  /** Poll the Hugging Face cache for new snapshots (default true). */
  watchHubCache?: boolean;
  /** Poll the library for changes other processes commit, a CLI's (default true). */
  watchLibrary?: boolean;
  /**
   * Start the devices report now, in the background, rather than at the first page that asks: its
   * probes and the 'infer' engine process it asks (default false: the studio's own starts, serve and
   * Electron's utility process, turn it on; the tests' many backends would each start processes
   * that load ONNX Runtime, which few of them ask for).
   */
  probeDevices?: boolean;
}

export function createBackend(dataDir: string, opts: BackendOptions = {}): Backend {
  const lib = openLibrary(dataDir, opts);
  if (opts.seedDemo !== false) seedDemo(lib);
  // Start-up consistency beyond the database: checkpoint rows whose folders are gone.
  const fileReport = checkRunFiles(lib);
  if (fileReport.forgottenCheckpoints) {
    console.error(
      `library: forgot ${fileReport.forgottenCheckpoints} checkpoint(s) whose folders are missing`,
    );
  }
  // The Settings page's engine and Hugging Face preferences (threads, HF_TOKEN, HF_HUB_CACHE).
  applyEnvironment(lib);
  const events = new BackendEvents();
  // Job ids go on past the evaluation jobs recorded before (a window may remember one it started).
  const jobs = new JobQueue((p) => events.emit('jobs/progress', p), { firstId: nextEvaluationJobId(lib) });
  const engine = opts.engine ?? new WorkerEngine({ dataDir: lib.dataDir });
  const training = new TrainingService(lib, engine, jobs, events);
  const ctx: BackendContext = { lib, events, jobs, engine, training };
  if (opts.probeDevices) probeDevicesEarly(ctx);
  // Tells clients when models appear in the Hugging Face cache (downloads by other tools).
  const cacheWatcher = opts.watchHubCache === false ? null : watchHubCache(events);
  // Tells clients what a CLI on the same data folder adds, removes or trains meanwhile, and the CUDA
  // pack it installs or removes.
  const libraryWatcher =
    opts.watchLibrary === false
      ? null
      : watchOutsideChanges(lib, events, { alsoCheck: followPackChanges(ctx) });
  let closed = false;
  return {
    ...ctx,
    dataDir: lib.dataDir,
    handlers: allHandlers,
    handle: (raw, client) =>
      dispatch(allHandlers, raw, client ? { ...ctx, client } : ctx, {
        onInternalError: (method, err) => console.error(`internal error in ${method}:`, err),
      }),
    async close() {
      if (closed) return;
      closed = true;
      cacheWatcher?.stop();
      libraryWatcher?.stop();
      // Running trainings stop at a checkpoint and stay resumable ('interrupted').
      training.shutdown();
      for (const j of jobs.list()) jobs.cancel(j.id, { closing: true });
      // Give cancelled jobs a moment to checkpoint and stop writing before the database goes away.
      // (The timer is cleared after the race: left running, it kept the process alive 10 s.)
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([jobs.idle(), new Promise((r) => (grace = setTimeout(r, 10_000)))]);
      clearTimeout(grace);
      await engine.close();
      closeLibrary(lib);
    },
  };
}
