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

/**
 * A list read for a search box (runs/list's and adapters/list's query). `searched` is the search of
 * the list shown, read off that list, so the two change together: set before its list came, a cleared
 * search showed the empty list it had found as an empty library ("No runs yet") and took the search
 * box, and the focus in it, off the page until the list came.
 */
export class SearchedResource<T extends object> extends Resource<T> {
  /** The search each list read answers. */
  #answers = new WeakMap<T, string>();
  /** The search the next read asks. */
  #asked = '';

  constructor(load: (query: string) => Promise<T>) {
    super(async () => {
      const query = this.#asked;
      const list = await load(query);
      this.#answers.set(list, query);
      return list;
    });
  }

  /** The search the list shown answers; '' for every entry. */
  get searched(): string {
    return (this.value && this.#answers.get(this.value)) ?? '';
  }

  /** Lists the entries matching `query` (every entry for ''). */
  search(query: string): Promise<void> {
    this.#asked = query.trim();
    return this.refresh();
  }

  /** Shows `list` in place of the list shown (a row changed), for the same search. */
  replace(list: T): void {
    this.#answers.set(list, this.searched);
    this.value = list;
  }
}
