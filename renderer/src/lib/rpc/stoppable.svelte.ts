// Long work the window can stop (the backend's rpc/cancellable-requests.ts): it is asked under a
// fresh requestId, Stop sends `<method>-cancel {requestId}`, and its 'cancelled' answer is told apart
// from a failure. A token count, a duplicate search, an adapter export and a run start share this, so
// that their Stop buttons behave alike: the button shows while `busy`, and `stopped` says the last
// was stopped.

import { newRequestId, type RpcClient, RpcError } from './client.ts';

/** The backend's cancel methods, each {requestId} → {cancelled}. */
type CancelMethod =
  | 'adapters/export-cancel'
  | 'datasets/duplicates-cancel'
  | 'datasets/token-lengths-cancel'
  | 'runs/start-cancel';

/** What run() resolves with when the work was stopped. */
export const STOPPED: unique symbol = Symbol('stopped');

export class StoppableRequest {
  /** The requestId of the work in flight; null when none is. */
  id = $state<string | null>(null);
  /** The last work was stopped (Stop, or the view that asked for it going away). */
  stopped = $state(false);
  readonly #rpc: RpcClient;

  /** `prefix`: the requestIds' start ("count"); `cancel`: the method that stops them. */
  constructor(
    rpc: RpcClient,
    readonly prefix: string,
    readonly cancel: CancelMethod,
  ) {
    this.#rpc = rpc;
  }

  get busy(): boolean {
    return this.id !== null;
  }

  /**
   * Runs `work` under a fresh requestId (one after another, its requests may all use it; between
   * two, `stopped` says whether to go on, and work that ends there returns STOPPED); resolves with
   * its answer, or STOPPED once it was stopped. A failure other than that is thrown.
   */
  async run<T>(work: (requestId: string) => Promise<T | typeof STOPPED>): Promise<T | typeof STOPPED> {
    const requestId = newRequestId(this.prefix);
    this.id = requestId;
    this.stopped = false;
    try {
      const r = await work(requestId);
      // An answer that came as Stop was pressed is the work done (an export written): never dropped.
      if (r !== STOPPED) this.stopped = false;
      return r;
    } catch (err) {
      if (!(err instanceof RpcError && err.code === 'cancelled')) throw err;
      this.stopped = true;
      return STOPPED;
    } finally {
      if (this.id === requestId) this.id = null;
    }
  }

  /** Stops the work in flight, if any (its request then answers 'cancelled'). */
  stop(): void {
    if (!this.id) return;
    this.stopped = true;
    this.#rpc.call(this.cancel, { requestId: this.id }).catch(() => {});
  }
}
