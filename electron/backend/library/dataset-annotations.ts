// Tags, ratings and notes of dataset rows. They belong to a row, not to its text: each row of a
// version has an id (datasets.ts), two identical rows have two ids, and a row keeps its id into
// the versions made from it (edits, splits, dropped duplicates, a re-import of the same content), so
// its annotations follow it there.
// Versions stored before rows had ids get them the first time their dataset is read here: a split
// part or an edit inherits from its parent, any other version from the dataset's previous full
// version, by content and occurrence (the k-th copy of a row matches the k-th copy). The dataset's
// old content-keyed annotations (dataset_row_meta) then move to every row that had that content
// (which is what they meant before) and the old entries are dropped.

import { createHash } from 'node:crypto';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import type { DatasetRow } from './dataset-formats.ts';
import {
  allocateRowIds,
  type DatasetVersion,
  encodeRowIds,
  getDataset,
  storedRowIds,
  versionOf,
} from './datasets.ts';
import { frozenRows } from './frozen-files.ts';
import type { Library } from './library.ts';
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
  return createHash('sha256').update(JSON.stringify(row)).digest('hex').slice(0, 32);
}

/** The rowHash of every row of a frozen file, streamed (a version is never held whole). */
export function frozenRowHashes(path: string): string[] {
  const out: string[] = [];
  for (const row of frozenRows(path)) out.push(rowHash(row));
  return out;
}

/**
 * Ids for rows (given by their rowHash) taken from earlier versions (their rows' hashes and ids) by
 * content and occurrence; null where a row is new. The k-th copy of a content takes the k-th id that
 * content had; sources are tried in order for the rows still without an id, and no id is given twice.
 */
export function inheritRowIds(
  hashes: readonly string[],
  ...sources: { hashes: readonly string[]; ids: readonly number[] }[]
): (number | null)[] {
  const out: (number | null)[] = hashes.map(() => null);
  const used = new Set<number>();
  for (const from of sources) {
    const pool = new Map<string, number[]>();
    from.hashes.forEach((h, i) => {
      if (used.has(from.ids[i])) return;
      const list = pool.get(h);
      if (list) list.push(from.ids[i]);
      else pool.set(h, [from.ids[i]]);
    });
    hashes.forEach((h, i) => {
      if (out[i] !== null) return;
      let id = pool.get(h)?.shift();
      while (id !== undefined && used.has(id)) id = pool.get(h)?.shift();
      if (id === undefined) return;
      out[i] = id;
      used.add(id);
    });
    if (!out.includes(null)) break;
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
            : hashes.map(() => null);
        put.run(v.id, encodeRowIds(allocateRowIds(lib, datasetId, inherited)));
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
      frozenRowHashes(v.filePath).forEach((h, i) => {
        const m = byHash.get(h);
        if (m) move.run(datasetId, ids[i], m.rating, m.tags_json, m.note, m.updated_at);
      });
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

function parseTags(json: string): string[] {
  try {
    const t = JSON.parse(json);
    return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Every annotated row of a dataset, by row id. */
export function datasetAnnotations(lib: Library, datasetId: number): Map<number, Annotation> {
  const rows = lib.db
    .prepare('SELECT row_id, rating, tags_json, note FROM dataset_row_annotations WHERE dataset_id = ?')
    .all(datasetId) as { row_id: number; rating: number | null; tags_json: string; note: string | null }[];
  return new Map(
    rows.map((r) => [r.row_id, { rating: r.rating, tags: parseTags(r.tags_json), note: r.note }]),
  );
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
  const ids = versionRowIds(lib, v);
  for (const i of a.indices) {
    if (!Number.isInteger(i) || i < 0 || i >= ids.length) {
      throw new ValidationError(
        'bad-row',
        `row ${i} is out of range: version ${v.id} has rows 0..${ids.length - 1}`,
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
      const rowId = ids[i];
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
