// What every RPC handler receives besides its params: the library, the push broadcaster, the job
// queue, the engine (its processes) and the training-run controls. Built by host.ts; kept in its own
// module so handlers and the host don't import each other.

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
}
