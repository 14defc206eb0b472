// Which rows of a version are which rows of another, by content: every row's hash packed in typed
// arrays, and ids handed down by content and occurrence (the k-th copy of a row takes the id of the
// k-th copy). Used by the annotations' upgrade (dataset-annotations.ts) and by a re-import, whose
// hashes the engine's 'files' process computes: so no database here.

import { hash } from 'node:crypto';
import { grown } from '../../../native-runtime/typed-arrays.ts';
import type { DatasetRow } from './dataset-formats.ts';
import { frozenRows } from './frozen-files.ts';
import { runThrough } from './sliced-scans.ts';

export function rowHash(row: DatasetRow): string {
  // crypto.hash with a hex digest: a third of createHash's time a row (a re-import hashes millions).
  return hash('sha256', JSON.stringify(row)).slice(0, 32);
}

/**
 * The rowHash of every row of a version, as 4 words a row (its 32 hex digits' 16 bytes): 16 MB for
 * a million rows, where an array of strings and a Map over them took several hundred.
 */
export interface RowHashes {
  count: number;
  words: Uint32Array;
}

/** Row `i`'s rowHash as rowHash spells it. */
export const rowHashAt = (h: RowHashes, i: number): string =>
  Buffer.from(h.words.buffer, h.words.byteOffset + i * 16, 16).toString('hex');

/** Rows matched between the points where inheritingRowIds may pause (a few ms of typed-array work). */
const ROWS_A_PAUSE = 4096;

/** The rowHash of every row of a frozen file, streamed (a version is never held whole). */
export function frozenRowHashes(path: string): RowHashes {
  let words = new Uint32Array(4 * 1024);
  let bytes = Buffer.from(words.buffer);
  let count = 0;
  for (const row of frozenRows(path)) {
    if (4 * count === words.length) {
      words = grown(words, new Uint32Array(words.length * 2));
      bytes = Buffer.from(words.buffer);
    }
    bytes.write(rowHash(row), 16 * count++, 16, 'hex');
  }
  return { count, words };
}

/** RowHashes built a row at a time (an import's rows as they are written). */
export class RowHashList {
  #words = new Uint32Array(4 * 1024);
  #bytes = Buffer.from(this.#words.buffer);
  #count = 0;

  add(row: DatasetRow): void {
    if (4 * this.#count === this.#words.length) {
      this.#words = grown(this.#words, new Uint32Array(this.#words.length * 2));
      this.#bytes = Buffer.from(this.#words.buffer);
    }
    this.#bytes.write(rowHash(row), 16 * this.#count++, 16, 'hex');
  }

  hashes(): RowHashes {
    return { count: this.#count, words: this.#words };
  }
}

/**
 * How many rows have the hash of an earlier row (a row there three times counts 2): an
 * open-addressing table of row numbers keyed by the hash's first word, already uniformly random.
 */
export function repeatedRows(h: RowHashes): number {
  let size = 1024;
  while (size < 2 * h.count) size *= 2;
  const mask = size - 1;
  const slot = new Int32Array(size).fill(-1);
  let repeats = 0;
  for (let i = 0; i < h.count; i++) {
    for (let s = h.words[4 * i] & mask; ; s = (s + 1) & mask) {
      const j = slot[s];
      if (j === -1) {
        slot[s] = i;
        break;
      }
      if (sameHash(h.words, i, h.words, j)) {
        repeats++;
        break;
      }
    }
  }
  return repeats;
}

/** Whether row `i` of `a` and row `j` of `b` have the same hash. */
function sameHash(a: Uint32Array, i: number, b: Uint32Array, j: number): boolean {
  return (
    a[4 * i] === b[4 * j] &&
    a[4 * i + 1] === b[4 * j + 1] &&
    a[4 * i + 2] === b[4 * j + 2] &&
    a[4 * i + 3] === b[4 * j + 3]
  );
}

/**
 * The rows of a version by content, in typed arrays (an open-addressing table keyed by the hash's
 * first word, which is already uniformly random): each content's rows in order, as a chain that
 * `take` walks from the first row not yet taken.
 */
class RowsByContent {
  readonly #words: Uint32Array;
  readonly #mask: number;
  /** Per slot: a row of that content (-1: empty slot), and its next row not yet taken (-1: none). */
  readonly #key: Int32Array;
  readonly #cursor: Int32Array;
  /** Per row: the next row of the same content. */
  readonly #next: Int32Array;

  constructor(h: RowHashes) {
    this.#words = h.words;
    let size = 1024;
    while (size < 2 * h.count) size *= 2;
    this.#mask = size - 1;
    this.#key = new Int32Array(size).fill(-1);
    this.#cursor = new Int32Array(size).fill(-1);
    this.#next = new Int32Array(h.count);
  }

  /** The table filled with the rows of `h`, a scan (sliced-scans.ts). */
  static *of(h: RowHashes): Generator<void, RowsByContent> {
    const table = new RowsByContent(h);
    // Backwards, each row put before the ones after it: every chain ends up in row order.
    for (let j = h.count - 1; j >= 0; j--) {
      if (j % ROWS_A_PAUSE === 0) yield;
      const slot = table.#slot(h.words, j);
      table.#key[slot] = j;
      table.#next[j] = table.#cursor[slot];
      table.#cursor[slot] = j;
    }
    return table;
  }

  /** The slot of the content of row `i` of `words` (its own, or the empty one it would take). */
  #slot(words: Uint32Array, i: number): number {
    let slot = words[4 * i] & this.#mask;
    while (this.#key[slot] !== -1 && !sameHash(this.#words, this.#key[slot], words, i))
      slot = (slot + 1) & this.#mask;
    return slot;
  }

  /** The first row not yet taken with the content of row `i` of `words` that `ok` accepts, taken; else -1. */
  take(words: Uint32Array, i: number, ok: (row: number) => boolean): number {
    const slot = this.#slot(words, i);
    let row = this.#cursor[slot];
    while (row !== -1 && !ok(row)) row = this.#next[row];
    if (row !== -1) this.#cursor[slot] = this.#next[row];
    return row;
  }
}

/**
 * Ids for rows (given by their rowHash) taken from earlier versions (their rows' hashes and ids) by
 * content and occurrence; null where a row is new. The k-th copy of a content takes the k-th id that
 * content had; sources are tried in order for the rows still without an id, and no id is given twice.
 */
export function inheritRowIds(
  hashes: RowHashes,
  ...sources: { hashes: RowHashes; ids: readonly number[] }[]
): (number | null)[] {
  return runThrough(inheritingRowIds(hashes, ...sources));
}

/**
 * inheritRowIds as a scan, for the RPC loop (runInSlices): a re-import of 200,000 rows matched
 * against its dataset's versions at once held every window for 160 ms (and 0.5-1.3 s on a busy machine).
 */
export function* inheritingRowIds(
  hashes: RowHashes,
  ...sources: { hashes: RowHashes; ids: readonly number[] }[]
): Generator<void, (number | null)[]> {
  const out = new Array<number | null>(hashes.count).fill(null);
  let missing = hashes.count;
  // The ids given so far, a bit each: ids count up in their dataset, so 100M ids ever given are 12 MB.
  let top = 0;
  for (const from of sources) for (const id of from.ids) top = Math.max(top, id);
  const used = new Uint32Array((top >>> 5) + 1);
  for (const from of sources) {
    if (missing === 0) break;
    const rows = yield* RowsByContent.of(from.hashes);
    const unused = (row: number) => ((used[from.ids[row] >>> 5] >>> (from.ids[row] & 31)) & 1) === 0;
    for (let i = 0; i < hashes.count; i++) {
      if (i % ROWS_A_PAUSE === ROWS_A_PAUSE - 1) yield;
      if (out[i] !== null) continue;
      const row = rows.take(hashes.words, i, unused);
      if (row === -1) continue;
      const id = from.ids[row];
      out[i] = id;
      used[id >>> 5] |= 1 << (id & 31);
      missing--;
    }
  }
  return out;
}
