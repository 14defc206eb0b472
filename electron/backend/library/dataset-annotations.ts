// Tags, ratings and notes of dataset rows. They belong to a row, not to its text: each row of a
// version has an id (datasets.ts), two identical rows have two ids, and a row keeps its id into
// the versions made from it (edits, splits, dropped duplicates, a re-import of the same content), so
// its annotations follow it there.
// Versions stored before rows had ids get them the first time their dataset is read here: a split
// part or an edit inherits from its parent, any other version from the dataset's previous full
// version, by content and occurrence (the k-th copy of a row matches the k-th copy). The dataset's
// old content-keyed annotations (dataset_row_meta) then move to every row that had that content
// (which is what they meant before) and the old entries are dropped.

import { ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import {
  allocateRowIds,
  type DatasetVersion,
  getDataset,
  type RowIdSpan,
  storedRowIds,
  storedRowIdsAt,
  versionOf,
} from './datasets.ts';
import type { Library } from './library.ts';
import { frozenRowHashes, inheritRowIds, rowHashAt } from './row-hashes.ts';
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
