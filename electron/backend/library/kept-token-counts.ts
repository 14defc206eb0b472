// Token counts of frozen versions kept for datasets/token-lengths, so the histogram comes back at once
// when the page or maxLength changes (a frozen version's counts for a model never change). Bounded by
// what the results weigh, not only by how many: a result holds a length per row (two or three arrays
// of numbers), ~16-24 MB at a million rows, and six of them kept ~100 MB in the studio's process.

import type { TokenLengths } from '../../../native-runtime/training/token-lengths.ts';

interface Kept {
  counts: Promise<TokenLengths>;
  /** Numbers the result holds (0 while it is being counted: the requests waiting hold it then). */
  numbers: number;
}

export class KeptTokenCounts {
  readonly #kept = new Map<string, Kept>();
  #numbers = 0;

  /** Defaults: 4M numbers (~32 MB as JS arrays), at most 6 results. */
  constructor(
    readonly maxNumbers = 4_000_000,
    readonly maxResults = 6,
  ) {}

  /** How many numbers the kept results hold (at most maxNumbers). */
  get numbers(): number {
    return this.#numbers;
  }

  get size(): number {
    return this.#kept.size;
  }

  /** A kept or running count for `key`, now the most recently used. */
  get(key: string): Promise<TokenLengths> | undefined {
    const hit = this.#kept.get(key);
    if (!hit) return undefined;
    this.#kept.delete(key);
    this.#kept.set(key, hit);
    return hit.counts;
  }

  /** Keeps a count once it resolves (a failed one is dropped), the least recently used going first. */
  keep(key: string, counts: Promise<TokenLengths>): void {
    this.#drop(key);
    const entry: Kept = { counts, numbers: 0 };
    this.#kept.set(key, entry);
    counts.then(
      (c) => {
        if (this.#kept.get(key) !== entry) return;
        entry.numbers = c.lengths.length + c.promptLengths.length + (c.indices?.length ?? 0);
        this.#numbers += entry.numbers;
        this.#trim();
      },
      () => {
        if (this.#kept.get(key) === entry) this.#drop(key);
      },
    );
    this.#trim();
  }

  /**
   * Drops `counts` kept under `key` now, not once it fails: a count being stopped, which a request
   * coming meanwhile would join, only to fail 'cancelled' with it.
   */
  discard(key: string, counts: Promise<TokenLengths>): void {
    if (this.#kept.get(key)?.counts === counts) this.#drop(key);
  }

  /** Drops the counts of a frozen file (its content hash starts their keys): the file was deleted. */
  forget(contentHash: string): void {
    for (const key of [...this.#kept.keys()]) if (key.startsWith(`${contentHash}:`)) this.#drop(key);
  }

  #drop(key: string): void {
    const old = this.#kept.get(key);
    if (!old) return;
    this.#numbers -= old.numbers;
    this.#kept.delete(key);
  }

  /** Drops the least recently used past either bound (a result over maxNumbers alone is not kept). */
  #trim(): void {
    while (this.#numbers > this.maxNumbers || this.#kept.size > this.maxResults)
      this.#drop(this.#kept.keys().next().value as string);
  }
}

/**
 * This process's kept counts (datasets/token-lengths'), keyed `<content hash>:…`: here rather than in
 * the handler so that every delete of a frozen file (frozen-file-reclaim.ts) drops its counts.
 */
export const keptTokenCounts = new KeptTokenCounts();
