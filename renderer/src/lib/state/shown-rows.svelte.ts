// A long list (the Runs and Adapters tables) shows its first rows and more on request. A library
// grown over months has thousands of entries: 2,000 runs in one table were 36,000 DOM nodes and took
// 5 s to show (and again on every change while a run trained elsewhere). The lists are newest first,
// so the first rows are the ones looked for; an entry opened by address is always shown.

import { untrack } from 'svelte';

/** Rows shown at first, and how many more each "Show more" adds. */
export const ROWS_PER_STEP = 100;

export class ShownRows {
  limit = $state(ROWS_PER_STEP);

  /** The rows of `list` shown now. */
  of<T>(list: readonly T[]): readonly T[] {
    return list.length > this.limit ? list.slice(0, this.limit) : list;
  }

  more(): void {
    this.limit += ROWS_PER_STEP;
  }

  /**
   * Shows entry `id` of `list` too, where the list has it (an entry opened by its address, past the
   * rows shown). Called from an effect, which follows the list and the id, not the rows shown.
   */
  reveal(list: readonly { id: number }[] | undefined, id: number | null): void {
    const index = id === null ? -1 : (list?.findIndex((e) => e.id === id) ?? -1);
    if (index < 0) return;
    untrack(() => {
      if (index >= this.limit) this.limit = (Math.floor(index / ROWS_PER_STEP) + 1) * ROWS_PER_STEP;
    });
  }
}
