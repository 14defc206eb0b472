// A value loaded over RPC, with its loading flag and error kept for the UI. `value` is $state.raw:
// lists are replaced whole on every reload, never mutated in place.

import { untrack } from 'svelte';
import { errorMessage, type RpcClient } from '../rpc/client.ts';
import type { LibraryChange, PushTopic, PushTopics } from '../rpc/handlers.ts';

export class Resource<T> {
  value = $state.raw<T | undefined>(undefined);
  error = $state<string | null>(null);
  loading = $state(false);
  #load: () => Promise<T>;
  #seq = 0;

  constructor(load: () => Promise<T>) {
    this.#load = load;
  }

  get loaded(): boolean {
    return this.value !== undefined;
  }

  async refresh(): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const v = await this.#load();
      if (seq !== this.#seq) return; // a newer reload won
      this.value = v;
      this.error = null;
    } catch (err) {
      if (seq !== this.#seq) return;
      this.error = errorMessage(err);
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}

/** Reloads the resources each time the backend link (re)opens. Call during component init. */
export function refreshOnConnect(
  connection: { readonly opens: number },
  ...resources: Array<{ refresh(): Promise<void> }>
): void {
  $effect(() => {
    if (connection.opens === 0) return;
    untrack(() => {
      for (const r of resources) void r.refresh();
    });
  });
}

/** Subscribes to a push topic for the lifetime of the calling component. */
export function onPush<T extends PushTopic>(
  rpc: Pick<RpcClient, 'subscribe'>,
  topic: T,
  cb: (data: PushTopics[T]) => void,
): void {
  $effect(() => rpc.subscribe(topic, cb));
}

/** Calls `cb` with the change when the backend reports a change to one of `kinds`. */
export function onLibraryChange(
  rpc: Pick<RpcClient, 'subscribe'>,
  kinds: ReadonlyArray<LibraryChange['kind']>,
  cb: (change: LibraryChange) => void,
): void {
  onPush(rpc, 'library/changed', (d) => {
    if (kinds.includes(d.kind)) cb(d);
  });
}
