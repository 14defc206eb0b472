// Reactive view of the RPC link for the UI: `current` is the transport status, `opens` counts
// successful (re)connections so pages can reload their data after a reconnect, `waiting` how many of
// the person's actions wait for the link to be sent.

import type { RpcClient } from '../rpc/client.ts';
import type { TransportStatus } from '../rpc/transport.ts';

export class Connection {
  current = $state<TransportStatus>({ state: 'connecting', detail: 'Connecting…' });
  opens = $state(0);
  waiting = $state(0);
  readonly rpc: RpcClient;
  readonly online = $derived(this.current.state === 'open');

  constructor(rpc: RpcClient) {
    this.rpc = rpc;
    this.#apply(rpc.transport.status);
    rpc.transport.onStatus((s) => this.#apply(s));
    this.waiting = rpc.waitingCount;
    rpc.onWaiting((n) => {
      this.waiting = n;
    });
  }

  #apply(s: TransportStatus): void {
    this.current = s;
    if (s.state === 'open') this.opens++;
  }
}
