// Push topics the backend broadcasts to every connected client (over the WebSocket or the Electron
// MessagePort). Topics are `domain/what`; data shapes are declared here so the renderer can import
// them as types through rpc/contract.ts.

import type { WireError } from '../../native-runtime/errors.ts';
import type { InstallProgress } from '../../native-runtime/runtime/runtime-install.ts';
import type { JobProgress } from './jobs/queue.ts';

export type LibraryKind = 'models' | 'datasets' | 'runs' | 'adapters' | 'settings' | 'evaluations';

export interface LibraryChange {
  kind: LibraryKind;
  /** The entry that changed; absent when many did. */
  id?: number;
  action: 'added' | 'removed' | 'updated';
}

/** A piece of generated text of a 'generate/run' request, as soon as it is complete. */
export interface GenerateToken {
  requestId: string;
  text: string;
}

/** A runtime pack install started by 'system/runtime-install'. */
export interface RuntimeProgress extends InstallProgress {
  name: string;
  state: 'running' | 'done' | 'failed';
  error?: WireError;
}

export interface PushTopics {
  'jobs/progress': JobProgress;
  'library/changed': LibraryChange;
  'generate/token': GenerateToken;
  'runtime/progress': RuntimeProgress;
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
