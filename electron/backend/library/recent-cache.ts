// A map that keeps only its `limit` most recently used entries: for caches filled by what a user does
// (one entry per configuration measured), which would otherwise grow for as long as the studio runs.

export class RecentCache<K, V> {
  // A Map iterates in insertion order: re-inserting an entry on use keeps the least recent first.
  readonly #entries = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, not ${limit}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value for `key` (now the most recently used), or undefined. */
  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** Keeps `value` for `key`, dropping the least recently used entry past the limit. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.limit) this.#entries.delete(this.#entries.keys().next().value as K);
  }
}
