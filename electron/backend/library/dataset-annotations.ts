// Tags, ratings and notes of dataset rows. They belong to a row, not to its text: each row of a
// version has an id (datasets.ts), two identical rows have two ids, and a row keeps its id into
// the versions made from it (edits, splits, dropped duplicates, a re-import of the same content), so
// its annotations follow it there.
// Versions stored before rows had ids get them the first time their dataset is read here: a split
// part or an edit inherits from its parent, any other version from the dataset's previous full
// version, by content and occurrence (the k-th copy of a row matches the k-th copy). The dataset's
// old content-keyed annotations (dataset_row_meta) then move to every row that had that content
// (which is what they meant before) and the old entries are dropped.

import { hash } from 'node:crypto';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { grown } from '../../../native-runtime/typed-arrays.ts';
import { writeTransaction } from '../db/database.ts';
import type { DatasetRow } from './dataset-formats.ts';
import {
  allocateRowIds,
  type DatasetVersion,
  getDataset,
  type RowIdSpan,
  storedRowIds,
  storedRowIdsAt,
  versionOf,
} from './datasets.ts';
import { frozenRows } from './frozen-files.ts';
import type { Library } from './library.ts';
import { runThrough } from './sliced-scans.ts';
import { tagsToAdd, tagsToRemove } from './tags.ts';

export interface Annotation {
  rating: number | null;
  tags: string[];
  note: string | null;
}

export interface RowMeta extends Annotation {
  /** Index of the row in its version. */
  index: number;
  /** The row's id in its dataset (what tags and ratings are kept by). */
  rowId: number;
}

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

/** Gives the versions of a dataset stored before rows had ids their ids; moves old annotations. */
function upgradeLegacy(lib: Library, datasetId: number): void {
  writeTransaction(lib.db, () => {
    const ds = getDataset(lib, datasetId);
    const oldest = [...ds.versions].sort((a, b) => a.id - b.id);
    if (oldest.every((v) => storedRowIds(lib, v.id) !== null)) return; // another caller did it
    const put = lib.db.prepare('INSERT INTO dataset_version_rows (version_id, row_ids) VALUES (?, ?)');
    let previousFull: DatasetVersion | null = null;
    for (const v of oldest) {
      if (storedRowIds(lib, v.id) === null) {
        const hashes = frozenRowHashes(v.filePath);
        const parent =
          (v.parentVersionId !== null ? oldest.find((p) => p.id === v.parentVersionId) : null) ??
          previousFull;
        const fromIds = parent ? storedRowIds(lib, parent.id) : null;
        const inherited =
          parent && fromIds
            ? inheritRowIds(hashes, { hashes: frozenRowHashes(parent.filePath), ids: fromIds })
            : new Array<null>(hashes.count).fill(null);
        put.run(v.id, allocateRowIds(lib, datasetId, inherited));
      }
      if (v.split === null) previousFull = v;
    }
    const legacy = lib.db
      .prepare(
        'SELECT row_hash, rating, tags_json, note, updated_at FROM dataset_row_meta WHERE dataset_id = ?',
      )
      .all(datasetId) as {
      row_hash: string;
      rating: number | null;
      tags_json: string;
      note: string | null;
      updated_at: number;
    }[];
    if (!legacy.length) return;
    const byHash = new Map(legacy.map((m) => [m.row_hash, m]));
    const move = lib.db.prepare(
      `INSERT OR IGNORE INTO dataset_row_annotations (dataset_id, row_id, rating, tags_json, note, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const v of oldest) {
      const ids = storedRowIds(lib, v.id) as number[];
      const hashes = frozenRowHashes(v.filePath);
      for (let i = 0; i < hashes.count; i++) {
        const m = byHash.get(rowHashAt(hashes, i));
        if (m) move.run(datasetId, ids[i], m.rating, m.tags_json, m.note, m.updated_at);
      }
    }
    lib.db.prepare('DELETE FROM dataset_row_meta WHERE dataset_id = ?').run(datasetId);
  });
}

/** The id of every row of a version, in order. */
export function versionRowIds(lib: Library, v: DatasetVersion): number[] {
  const ids = storedRowIds(lib, v.id);
  if (ids) return ids;
  upgradeLegacy(lib, v.datasetId);
  return storedRowIds(lib, v.id) as number[];
}

/** The ids of `count` rows of a version from row `first` (fewer past its end), and its row count. */
export function versionRowIdsAt(lib: Library, v: DatasetVersion, first: number, count: number): RowIdSpan {
  const got = storedRowIdsAt(lib, v.id, first, count);
  if (got) return got;
  upgradeLegacy(lib, v.datasetId);
  return storedRowIdsAt(lib, v.id, first, count) as RowIdSpan;
}

function parseTags(json: string): string[] {
  try {
    const t = JSON.parse(json);
    return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

type AnnotationRow = { row_id: number; rating: number | null; tags_json: string; note: string | null };

const toAnnotation = (r: AnnotationRow): Annotation => ({
  rating: r.rating,
  tags: parseTags(r.tags_json),
  note: r.note,
});

/** Annotations a scan reads between two pauses. */
const ANNOTATIONS_PER_STEP = 4096;

/**
 * Every annotated row of a dataset, by row id, read in pages by row id with a pause between them (a
 * scan, sliced-scans.ts): a million annotated rows read and parsed at once held the RPC loop ~200 ms.
 */
export function* datasetAnnotationsScan(
  lib: Library,
  datasetId: number,
): Generator<void, Map<number, Annotation>> {
  const page = lib.db.prepare(
    'SELECT row_id, rating, tags_json, note FROM dataset_row_annotations WHERE dataset_id = ? AND row_id > ? ORDER BY row_id LIMIT ?',
  );
  const out = new Map<number, Annotation>();
  let after = -1;
  for (;;) {
    const rows = page.all(datasetId, after, ANNOTATIONS_PER_STEP) as AnnotationRow[];
    for (const r of rows) out.set(r.row_id, toAnnotation(r));
    if (rows.length < ANNOTATIONS_PER_STEP) return out;
    after = (rows.at(-1) as AnnotationRow).row_id;
    yield;
  }
}

/** The annotations of some rows of a dataset (a page's), by row id. */
export function rowAnnotations(lib: Library, datasetId: number, rowIds: number[]): Map<number, Annotation> {
  const rows = lib.db
    .prepare(
      'SELECT row_id, rating, tags_json, note FROM dataset_row_annotations WHERE dataset_id = ? AND row_id IN (SELECT value FROM json_each(?))',
    )
    .all(datasetId, JSON.stringify(rowIds)) as AnnotationRow[];
  return new Map(rows.map((r) => [r.row_id, toAnnotation(r)]));
}

export interface AnnotateInput {
  datasetId: number;
  versionId?: number;
  /** Row indices in that version. */
  indices: number[];
  /** 1..5, or null to clear. */
  rating?: number | null;
  addTags?: string[];
  removeTags?: string[];
  /** A note, or null to clear. */
  note?: string | null;
}

/** Sets ratings, tags or notes of rows (each row's own; they follow the row into later versions). */
export function annotateRows(lib: Library, a: AnnotateInput): RowMeta[] {
  const { ds, v } = versionOf(lib, a.datasetId, a.versionId);
  // Only the ids of the rows annotated are decoded (as an edit reads them): decoding every id of a
  // million-row version held the loop tens of ms to tag one row.
  const ids = versionRowIdsAt(lib, v, 0, v.rowCount);
  for (const i of a.indices) {
    if (!Number.isInteger(i) || i < 0 || i >= ids.rows) {
      throw new ValidationError(
        'bad-row',
        `row ${i} is out of range: version ${v.id} has rows 0..${ids.rows - 1}`,
      );
    }
  }
  if (a.rating != null && (!Number.isInteger(a.rating) || a.rating < 1 || a.rating > 5)) {
    throw new ValidationError('bad-rating', 'a rating is an integer from 1 to 5 (or null to clear it)');
  }
  const added = tagsToAdd(a.addTags ?? []);
  const get = lib.db.prepare(
    'SELECT rating, tags_json, note FROM dataset_row_annotations WHERE dataset_id = ? AND row_id = ?',
  );
  const put = lib.db.prepare(
    `INSERT INTO dataset_row_annotations (dataset_id, row_id, rating, tags_json, note, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(dataset_id, row_id) DO UPDATE SET rating = excluded.rating, tags_json = excluded.tags_json,
       note = excluded.note, updated_at = excluded.updated_at`,
  );
  const out: RowMeta[] = [];
  writeTransaction(lib.db, () => {
    for (const i of a.indices) {
      const rowId = ids.id(i);
      const cur = get.get(ds.id, rowId) as
        | { rating: number | null; tags_json: string; note: string | null }
        | undefined;
      const tags = new Set(cur ? parseTags(cur.tags_json) : []);
      for (const t of added) tags.add(t);
      for (const t of tagsToRemove(a.removeTags ?? [], [...tags])) tags.delete(t);
      const rating = a.rating !== undefined ? a.rating : (cur?.rating ?? null);
      const note = a.note !== undefined ? a.note : (cur?.note ?? null);
      const sorted = [...tags].sort();
      put.run(ds.id, rowId, rating, JSON.stringify(sorted), note, Date.now());
      out.push({ index: i, rowId, rating, tags: sorted, note });
    }
  });
  return out;
}
