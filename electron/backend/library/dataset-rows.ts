// Reading a version's rows and the metadata beside them: pages of rows with filters (tag, rating,
// free text), and per-row tags, ratings and notes. Metadata is keyed by the row's content hash, so it
// follows a row into later versions of the dataset.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import type { DatasetFormat, DatasetRow } from './dataset-formats.ts';
import { getDatasetVersion, versionOf } from './datasets.ts';
import type { Library } from './library.ts';

// Frozen files are content-addressed and never change, so parsed rows can be kept (a few files).
const rowsCache = new Map<string, DatasetRow[]>();
const ROWS_CACHED = 4;

/** All normalised rows of a version, read back from its frozen file. Do not modify the array. */
export function readVersionRows(lib: Library, versionId: number): readonly DatasetRow[] {
  const v = getDatasetVersion(lib, versionId);
  const hit = rowsCache.get(v.filePath);
  if (hit) return hit;
  if (!existsSync(v.filePath))
    throw new FormatError('missing-file', `dataset file ${v.filePath} is missing from the data folder`);
  const text = readFileSync(v.filePath, 'utf8');
  const rows = text
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as DatasetRow);
  rowsCache.set(v.filePath, rows);
  while (rowsCache.size > ROWS_CACHED) rowsCache.delete(rowsCache.keys().next().value as string);
  return rows;
}

export interface RowMeta {
  /** Index of the row in its version. */
  index: number;
  /** Content hash of the row (what tags and ratings are keyed by). */
  hash: string;
  rating: number | null;
  tags: string[];
  note: string | null;
}

export interface RowsPage {
  datasetId: number;
  versionId: number;
  format: DatasetFormat;
  /** Rows matching the filter (all rows without one). */
  total: number;
  offset: number;
  rows: DatasetRow[];
  /** Per returned row: its index, hash, rating, tags and note. */
  meta: RowMeta[];
}

export interface RowFilter {
  tag?: string;
  minRating?: number;
  maxRating?: number;
  /** Only rows without a rating. */
  unrated?: boolean;
  /** Case-insensitive substring of any text in the row. */
  search?: string;
}

export function rowHash(row: DatasetRow): string {
  return createHash('sha256').update(JSON.stringify(row)).digest('hex').slice(0, 32);
}

function metaMap(
  lib: Library,
  datasetId: number,
): Map<string, { rating: number | null; tags: string[]; note: string | null }> {
  const rows = lib.db
    .prepare('SELECT row_hash, rating, tags_json, note FROM dataset_row_meta WHERE dataset_id = ?')
    .all(datasetId) as { row_hash: string; rating: number | null; tags_json: string; note: string | null }[];
  return new Map(
    rows.map((r) => [r.row_hash, { rating: r.rating, tags: parseTags(r.tags_json), note: r.note }]),
  );
}

function parseTags(json: string): string[] {
  try {
    const t = JSON.parse(json);
    return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The text of a row, for search and duplicate detection. */
export function rowText(row: DatasetRow): string {
  if ('messages' in row) return row.messages.map((m) => m.content).join('\n');
  if ('instruction' in row) return `${row.instruction}\n${row.input}\n${row.output}`;
  return `${row.prompt}\n${row.completion}`;
}

/** A page of rows of a version (the dataset's latest unless versionId is given), optionally filtered. */
export function datasetRows(
  lib: Library,
  input: { datasetId: number; versionId?: number; offset?: number; limit?: number } & RowFilter,
): RowsPage {
  const { ds, v } = versionOf(lib, input.datasetId, input.versionId);
  const all = readVersionRows(lib, v.id);
  const meta = metaMap(lib, ds.id);
  const filtering =
    input.tag !== undefined ||
    input.minRating !== undefined ||
    input.maxRating !== undefined ||
    input.unrated ||
    input.search;
  const needle = input.search?.toLowerCase();
  const picked: RowMeta[] = [];
  const offset = input.offset ?? 0;
  const limit = input.limit ?? 50;
  let total = 0;
  for (let i = 0; i < all.length; i++) {
    // Hashing every row is only needed to filter on metadata, or for the rows returned.
    const inPage = () => total >= offset && picked.length < limit;
    if (!filtering) {
      if (inPage()) {
        const hash = rowHash(all[i]);
        const m = meta.get(hash);
        picked.push({
          index: i,
          hash,
          rating: m?.rating ?? null,
          tags: m?.tags ?? [],
          note: m?.note ?? null,
        });
      }
      total++;
      continue;
    }
    if (needle && !rowText(all[i]).toLowerCase().includes(needle)) continue;
    const hash = rowHash(all[i]);
    const m = meta.get(hash);
    const rating = m?.rating ?? null;
    if (input.tag !== undefined && !(m?.tags ?? []).includes(input.tag)) continue;
    if (input.unrated && rating !== null) continue;
    if (input.minRating !== undefined && (rating === null || rating < input.minRating)) continue;
    if (input.maxRating !== undefined && (rating === null || rating > input.maxRating)) continue;
    if (inPage()) picked.push({ index: i, hash, rating, tags: m?.tags ?? [], note: m?.note ?? null });
    total++;
  }
  return {
    datasetId: ds.id,
    versionId: v.id,
    format: v.format,
    total,
    offset,
    rows: picked.map((p) => all[p.index]),
    meta: picked,
  };
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

/** Sets ratings, tags or notes of rows (they follow the rows' content into later versions). */
export function annotateRows(lib: Library, a: AnnotateInput): RowMeta[] {
  const { ds, v } = versionOf(lib, a.datasetId, a.versionId);
  const all = readVersionRows(lib, v.id);
  for (const i of a.indices) {
    if (!Number.isInteger(i) || i < 0 || i >= all.length) {
      throw new ValidationError(
        'bad-row',
        `row ${i} is out of range: version ${v.id} has rows 0..${all.length - 1}`,
      );
    }
  }
  if (a.rating != null && (!Number.isInteger(a.rating) || a.rating < 1 || a.rating > 5)) {
    throw new ValidationError('bad-rating', 'a rating is an integer from 1 to 5 (or null to clear it)');
  }
  for (const t of [...(a.addTags ?? []), ...(a.removeTags ?? [])]) {
    if (!t.trim() || t.length > 64) throw new ValidationError('bad-tag', 'a tag must be 1 to 64 characters');
  }
  const get = lib.db.prepare(
    'SELECT rating, tags_json, note FROM dataset_row_meta WHERE dataset_id = ? AND row_hash = ?',
  );
  const put = lib.db.prepare(
    `INSERT INTO dataset_row_meta (dataset_id, row_hash, rating, tags_json, note, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(dataset_id, row_hash) DO UPDATE SET rating = excluded.rating, tags_json = excluded.tags_json,
       note = excluded.note, updated_at = excluded.updated_at`,
  );
  const out: RowMeta[] = [];
  writeTransaction(lib.db, () => {
    for (const i of a.indices) {
      const hash = rowHash(all[i]);
      const cur = get.get(ds.id, hash) as
        | { rating: number | null; tags_json: string; note: string | null }
        | undefined;
      const tags = new Set(cur ? parseTags(cur.tags_json) : []);
      for (const t of a.addTags ?? []) tags.add(t.trim());
      for (const t of a.removeTags ?? []) tags.delete(t.trim());
      const rating = a.rating !== undefined ? a.rating : (cur?.rating ?? null);
      const note = a.note !== undefined ? a.note : (cur?.note ?? null);
      const sorted = [...tags].sort();
      put.run(ds.id, hash, rating, JSON.stringify(sorted), note, Date.now());
      out.push({ index: i, hash, rating, tags: sorted, note });
    }
  });
  return out;
}
