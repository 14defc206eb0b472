// Long requests a window can stop: it names one with a `requestId` of its own, and a second request
// (`…-cancel {requestId}`) aborts its signal. The signal also aborts when the requester's connection
// closes (a tab closed or reloaded): its request failed in that window at once, and no other window
// knows the id, so the work would go on for nobody — holding an engine process, or a device.

import { ValidationError } from '../../../native-runtime/errors.ts';
import type { ClientLink } from '../context.ts';

export class CancellableRequests {
  #inFlight = new Map<string, AbortController>();

  /** `doing`: what a request does, for the refusal of a second one under the same id ("searching"). */
  constructor(readonly doing: string) {}

  /** Runs `work` under a signal that cancel(requestId) or the client's going away aborts. */
  async run<T>(
    requestId: string | undefined,
    client: ClientLink | undefined,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (requestId !== undefined && this.#inFlight.has(requestId))
      throw new ValidationError('duplicate-request', `request ${requestId} is already ${this.doing}`);
    const ac = new AbortController();
    const requesterGone = () => ac.abort();
    if (client?.gone.aborted) ac.abort();
    client?.gone.addEventListener('abort', requesterGone, { once: true });
    if (requestId !== undefined) this.#inFlight.set(requestId, ac);
    try {
      return await work(ac.signal);
    } finally {
      if (requestId !== undefined) this.#inFlight.delete(requestId);
      client?.gone.removeEventListener('abort', requesterGone);
    }
  }

  /** Stops the request started under `requestId`; false when none is in flight. */
  cancel(requestId: string): boolean {
    const ac = this.#inFlight.get(requestId);
    ac?.abort();
    return !!ac;
  }
}
