// The backend as a plain-Node object: the library, the RPC handlers, the push broadcaster and the
// job queue. The Electron utility process (utility-entry.ts), `reft-studio serve` (serve.ts) and the
// tests each create one with createBackend and attach a transport to it.

import type { BackendContext } from './context.ts';
import { BackendEvents } from './events.ts';
import { allHandlers } from './handlers/index.ts';
import { JobQueue } from './jobs/queue.ts';
import { closeLibrary, type OpenLibraryOptions, openLibrary } from './library/library.ts';
import type { HandlerSet } from './rpc/define-handlers.ts';
import { dispatch } from './rpc/dispatch.ts';
import type { ErrorMessage, ReplyMessage } from './rpc/envelope.ts';

export interface Backend extends BackendContext {
  dataDir: string;
  handlers: HandlerSet;
  /** Dispatches one raw message (JSON text or decoded object) to the handlers. Never throws. */
  handle(raw: unknown): Promise<ReplyMessage | ErrorMessage>;
  /** Cancels running jobs and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

export function createBackend(dataDir: string, opts: OpenLibraryOptions = {}): Backend {
  const lib = openLibrary(dataDir, opts);
  const events = new BackendEvents();
  const jobs = new JobQueue((p) => events.emit('jobs/progress', p));
  const ctx: BackendContext = { lib, events, jobs };
  let closed = false;
  return {
    ...ctx,
    dataDir: lib.dataDir,
    handlers: allHandlers,
    handle: (raw) =>
      dispatch(allHandlers, raw, ctx, {
        onInternalError: (method, err) => console.error(`internal error in ${method}:`, err),
      }),
    async close() {
      if (closed) return;
      closed = true;
      for (const j of jobs.list()) jobs.cancel(j.id);
      // Give cancelled jobs a moment to stop writing before the database goes away.
      await Promise.race([jobs.idle(), new Promise((r) => setTimeout(r, 2000))]);
      closeLibrary(lib);
    },
  };
}
