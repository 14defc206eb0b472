// How far the token count a memory check waits on is. A batch refused at the max length makes the
// check (the backend's run-memory-check.ts) count the whole dataset for its longest example —
// minutes for a big one —, and both the run estimate and the run start wait on it. The backend
// pushes 'datasets/token-progress' under the requestId of each request that waits: this follows one
// request's, shows them in the same words wherever they show, and says them now and then.

import { ProgressAnnouncer } from '../announce.svelte.ts';
import { formatCount } from '../format.ts';
import type { RpcClient } from '../rpc/client.ts';

export class MemoryCheckCount {
  /** How far the count is; null while the request followed waits on none. */
  progress = $state<{ done: number; total: number | null } | null>(null);
  #said = new ProgressAnnouncer();

  /** "Counting the data’s tokens for the memory check: 1,000 of 60,000 examples"; null while none counts. */
  get note(): string | null {
    const c = this.progress;
    if (!c) return null;
    return `Counting the data’s tokens for the memory check: ${formatCount(c.done)}${c.total !== null ? ` of ${formatCount(c.total)}` : ''} examples`;
  }

  /**
   * Follows the count of the request asked under `requestId` (while `current()` holds: a newer
   * request may have taken over), until the function returned is called.
   */
  follow(rpc: RpcClient, requestId: string, current: () => boolean = () => true): () => void {
    this.progress = null;
    return rpc.subscribe('datasets/token-progress', (p) => {
      if (p.requestId !== requestId || !current()) return;
      this.progress = { done: p.done, total: p.total };
      const note = this.note;
      if (note) this.#said.report(note);
    });
  }
}
