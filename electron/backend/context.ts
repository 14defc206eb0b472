// What every RPC handler receives besides its params: the library, the push broadcaster, the job
// queue, the engine (its processes) and the training-run controls, and which client sent the request.
// Built by host.ts; kept in its own module so handlers and the host don't import each other.

import type { BackendEvents } from './events.ts';
import type { Engine } from './jobs/engine.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { TrainingService } from './jobs/training.ts';
import type { Library } from './library/library.ts';

export interface BackendContext {
  lib: Library;
  events: BackendEvents;
  jobs: JobQueue;
  engine: Engine;
  training: TrainingService;
  /** The connection the request came over (a window's port, a tab's WebSocket); absent in-process. */
  client?: ClientLink;
}

/**
 * A client's connection. Its requests in flight fail in the window the moment the link drops
 * (renderer/src/lib/rpc/client.ts), so work only that request waits for may stop with it.
 */
export interface ClientLink {
  /** Aborted when the connection closes: the window or tab closed or reloaded, the link dropped. */
  gone: AbortSignal;
}
