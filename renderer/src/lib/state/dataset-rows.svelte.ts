// The rows of one dataset version as a virtualised list sees them: the total matching the filter,
// and blocks of rows fetched (datasets/rows) only when the list scrolls near them, so a version of
// any size opens at once and scrolls without loading everything. Blocks are replaced whole
// ($state.raw); an annotation replaces the meta of its row in place, and `refresh` reloads the
// blocks in place when the library changed elsewhere (another window, another client).

import type { RpcClient } from '../rpc/client.ts';
import { errorMessage } from '../rpc/client.ts';
import type { DatasetRow, RowMeta } from '../rpc/handlers.ts';

export const ROWS_BLOCK = 200;

export interface RowFilter {
  search?: string;
  tag?: string;
  minRating?: number;
}

/**
 * Where a row list stands at one of its rows: to open the list of the version an edit of that row
 * made at the same place (the same filter, the row as far down the window), with focus back on it.
 */
export interface RowListPlace {
  filter: RowFilter;
  /** The row's position in the filtered list, and how far below the list's top it shows (px). */
  position: number;
  shownAt: number;
  /** The row's index in the version. */
  index: number;
}

export interface LoadedRow {
  row: DatasetRow;
  meta: RowMeta;
}

export class DatasetRows {
  /** Rows matching the filter; null until the first block arrived. */
  total = $state<number | null>(null);
  error = $state<string | null>(null);
  #blocks = $state.raw<ReadonlyMap<number, LoadedRow[]>>(new Map());
  #pending = new Set<number>();
  /** Blocks whose load failed (the link dropped): a refresh tries them again. */
  #failed = new Set<number>();
  /** The refresh under way, if any; `#refreshAgain`: a change came in while it ran. */
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;
  /** Bumped by every reset, so replies to an older query are dropped. */
  #generation = 0;
  readonly #rpc: RpcClient;
  readonly #datasetId: number;
  #versionId: number;
  #filter: RowFilter = {};

  constructor(rpc: RpcClient, datasetId: number, versionId: number, filter: RowFilter = {}) {
    this.#rpc = rpc;
    this.#datasetId = datasetId;
    this.#versionId = versionId;
    this.#filter = filter;
  }

  get versionId(): number {
    return this.#versionId;
  }

  /**
   * Loads the rows again where they are: the blocks loaded (or loading) are fetched anew and swapped
   * in whole, so the list neither empties nor scrolls, and a first load that failed is retried.
   * Calls while one runs are folded into one more run after it, so the last change is always seen.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#refreshAgain = false;
          await this.#reload();
        } while (this.#refreshAgain);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  async #reload(): Promise<void> {
    const generation = this.#generation;
    const wanted = [...new Set([...this.#blocks.keys(), ...this.#pending, ...this.#failed])];
    const blocks = wanted.length ? wanted : [0];
    try {
      const pages = await Promise.all(blocks.map((b) => this.#fetch(b)));
      if (generation !== this.#generation) return;
      const total = pages[0]?.total ?? 0;
      // Blocks that arrived meanwhile (the list scrolled) are kept; none past the new total.
      const next = new Map(this.#blocks);
      blocks.forEach((b, i) => {
        const page = pages[i];
        if (page) next.set(b, page.rows);
      });
      for (const b of next.keys()) if (b > 0 && b * ROWS_BLOCK >= total) next.delete(b);
      this.#blocks = next;
      this.total = total;
      this.error = null;
      this.#failed.clear();
    } catch (err) {
      if (generation === this.#generation) this.error = errorMessage(err);
    }
  }

  /** Starts over with another version or filter (the list scrolls back to the top). */
  reset(versionId: number, filter: RowFilter = this.#filter): void {
    this.#versionId = versionId;
    this.#filter = filter;
    this.#generation++;
    this.#pending.clear();
    this.#failed.clear();
    this.#blocks = new Map();
    this.total = null;
    this.error = null;
    void this.ensure(0, 0);
  }

  /** The row at a position of the filtered list, or null while its block is loading. */
  at(position: number): LoadedRow | null {
    return this.#blocks.get(Math.floor(position / ROWS_BLOCK))?.[position % ROWS_BLOCK] ?? null;
  }

  /** Loads the blocks covering positions first..last that are not loaded yet. */
  async ensure(first: number, last: number): Promise<void> {
    const from = Math.floor(Math.max(0, first) / ROWS_BLOCK);
    const to = Math.floor(Math.max(first, last) / ROWS_BLOCK);
    const loads: Promise<void>[] = [];
    for (let b = from; b <= to; b++) {
      if (this.#blocks.has(b) || this.#pending.has(b)) continue;
      if (this.total !== null && b * ROWS_BLOCK >= this.total) break;
      loads.push(this.#load(b));
    }
    await Promise.all(loads);
  }

  async #load(block: number): Promise<void> {
    const generation = this.#generation;
    this.#pending.add(block);
    try {
      const page = await this.#fetch(block);
      if (generation !== this.#generation) return;
      this.#blocks = new Map(this.#blocks).set(block, page.rows);
      this.total = page.total;
    } catch (err) {
      if (generation !== this.#generation) return;
      this.error = errorMessage(err);
      this.#failed.add(block);
    } finally {
      if (generation === this.#generation) this.#pending.delete(block);
    }
  }

  /** One block of the version under the current filter, with the total matching it. */
  async #fetch(block: number): Promise<{ rows: LoadedRow[]; total: number }> {
    const f = this.#filter;
    const page = await this.#rpc.call('datasets/rows', {
      datasetId: this.#datasetId,
      versionId: this.#versionId,
      offset: block * ROWS_BLOCK,
      limit: ROWS_BLOCK,
      ...(f.search?.trim() ? { search: f.search.trim() } : {}),
      ...(f.tag?.trim() ? { tag: f.tag.trim() } : {}),
      ...(f.minRating ? { minRating: f.minRating } : {}),
    });
    return { rows: page.rows.map((row, i) => ({ row, meta: page.meta[i] as RowMeta })), total: page.total };
  }

  /** Puts updated annotations (datasets/annotate's reply) into the loaded rows. */
  updateMeta(updated: readonly RowMeta[]): void {
    const byIndex = new Map(updated.map((m) => [m.index, m]));
    const next = new Map<number, LoadedRow[]>();
    for (const [b, rows] of this.#blocks)
      next.set(
        b,
        rows.map((r) => {
          const m = byIndex.get(r.meta.index);
          return m ? { row: r.row, meta: m } : r;
        }),
      );
    this.#blocks = next;
  }
}
