// Reading a dataset version: all its rows, and for people pages of rows with their annotations,
// filtered by tag, rating or text (datasets/rows), and the lines its import left out
// (datasets/rejects). A page reads only the rows it shows (frozen-files.ts's row index) and, unless
// it filters by tag or rating, only their ids; a text search streams the rows once and keeps which
// matched (textMatches, for its next pages), never the rows themselves.

import { grown } from '../../../native-runtime/typed-arrays.ts';
import {
  type Annotation,
  datasetAnnotations,
  type RowMeta,
  versionRowIds,
  versionRowIdsAt,
} from './dataset-annotations.ts';
import { type DatasetFormat, type DatasetRow, rowText } from './dataset-formats.ts';
import { getDatasetVersion, versionOf } from './datasets.ts';
import { frozenLines, parseFrozenLine, readFrozenRows, readFrozenRowsAt } from './frozen-files.ts';
import type { Library } from './library.ts';
import { matchesTag } from './tags.ts';

/** All normalised rows of a version, read back from its frozen file: for small versions only. */
export function readVersionRows(lib: Library, versionId: number): DatasetRow[] {
  return readFrozenRows(getDatasetVersion(lib, versionId).filePath);
}

export interface RowsPage {
  datasetId: number;
  versionId: number;
  format: DatasetFormat;
  /** Rows matching the filter (all rows without one). */
  total: number;
  offset: number;
  rows: DatasetRow[];
  /** Per returned row: its index, id, rating, tags and note. */
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

const NONE: Annotation = { rating: null, tags: [], note: null };

// The rows of the last few text searches (a frozen file never changes, so its matches for a text
// do not either): the window asks for a search's pages one after another, and each page used to
// read and parse the whole version again. 4 bytes a matching row; tags and ratings are applied per
// page, since they change.
const searches = new Map<string, Uint32Array>();
const SEARCHES_KEPT = 4;

/**
 * The indices of a frozen file's rows whose text holds `needle` (lower case), in order: read once
 * (every row streamed and parsed), then kept for the next pages.
 */
export function textMatches(path: string, needle: string): Uint32Array {
  const key = `${path}\0${needle}`;
  let hit = searches.get(key);
  if (hit) {
    searches.delete(key); // re-inserted below: the most recently used is kept longest
  } else {
    let found = new Uint32Array(1024);
    let n = 0;
    for (const line of frozenLines(path)) {
      if (!rowText(parseFrozenLine(path, line)).toLowerCase().includes(needle)) continue;
      if (n === found.length) found = grown(found, new Uint32Array(n * 2));
      found[n++] = line.index;
    }
    hit = found.slice(0, n);
  }
  searches.set(key, hit);
  while (searches.size > SEARCHES_KEPT) searches.delete(searches.keys().next().value as string);
  return hit;
}

/** Whether a filter picks rows by their annotations (then every row's id is needed to apply it). */
function byAnnotation(f: RowFilter): boolean {
  return f.tag !== undefined || !!f.unrated || f.minRating !== undefined || f.maxRating !== undefined;
}

/** A page of rows of a version (the dataset's latest unless versionId is given), optionally filtered. */
export function datasetRows(
  lib: Library,
  input: { datasetId: number; versionId?: number; offset?: number; limit?: number } & RowFilter,
): RowsPage {
  const { ds, v } = versionOf(lib, input.datasetId, input.versionId);
  // Read once the ids are: reading a version's ids the first time can move old annotations to them.
  let notes: Map<number, Annotation> | undefined;
  const noteOf = (rowId: number): Annotation => (notes ??= datasetAnnotations(lib, ds.id)).get(rowId) ?? NONE;
  const matches = input.search ? textMatches(v.filePath, input.search.toLowerCase()) : null;
  const offset = input.offset ?? 0;
  const limit = input.limit ?? 50;
  const meta = (index: number, rowId: number): RowMeta => ({ index, rowId, ...noteOf(rowId) });
  let total = 0;
  const picked: RowMeta[] = [];
  if (byAnnotation(input)) {
    const ids = versionRowIds(lib, v);
    const consider = (i: number): void => {
      const m = noteOf(ids[i]);
      if (input.tag !== undefined && !matchesTag(m.tags, input.tag)) return;
      if (input.unrated && m.rating !== null) return;
      if (input.minRating !== undefined && (m.rating === null || m.rating < input.minRating)) return;
      if (input.maxRating !== undefined && (m.rating === null || m.rating > input.maxRating)) return;
      if (total >= offset && picked.length < limit) picked.push(meta(i, ids[i]));
      total++;
    };
    if (matches) for (const i of matches) consider(i);
    else for (let i = 0; i < ids.length; i++) consider(i);
  } else if (matches) {
    // The page's rows are known from the matches alone: only their ids are decoded.
    total = matches.length;
    const page = matches.subarray(offset, offset + limit);
    if (page.length) {
      const span = versionRowIdsAt(lib, v, page[0], page[page.length - 1] - page[0] + 1);
      for (const i of page) picked.push(meta(i, span.id(i)));
    }
  } else {
    const span = versionRowIdsAt(lib, v, offset, limit);
    total = span.rows;
    for (let i = offset; i < Math.min(span.rows, offset + limit); i++) picked.push(meta(i, span.id(i)));
  }
  const rows = readFrozenRowsAt(
    v.filePath,
    picked.map((p) => p.index),
  );
  return { datasetId: ds.id, versionId: v.id, format: v.format, total, offset, rows, meta: picked };
}

export interface RejectedLine {
  /** 1-based line of the source file (Parquet: the row number). */
  line: number;
  message: string;
  /** The start of the line as it was in the file (null where it was not kept). */
  text: string | null;
}

export interface RejectsPage {
  versionId: number;
  /** Every line left out by the import (the first BAD_ROWS_KEPT are kept to show). */
  total: number;
  kept: number;
  lines: RejectedLine[];
}

/** The lines the import of a version left out, in file order. */
export function datasetRejects(
  lib: Library,
  input: { datasetId: number; versionId?: number; offset?: number; limit?: number },
): RejectsPage {
  const { v } = versionOf(lib, input.datasetId, input.versionId);
  const { n } = lib.db
    .prepare('SELECT COUNT(*) AS n FROM dataset_rejects WHERE version_id = ?')
    .get(v.id) as {
    n: number;
  };
  const lines = lib.db
    .prepare(
      'SELECT line, message, text FROM dataset_rejects WHERE version_id = ? ORDER BY seq LIMIT ? OFFSET ?',
    )
    .all(v.id, input.limit ?? 200, input.offset ?? 0) as RejectedLine[];
  return { versionId: v.id, total: v.rejectedCount, kept: n, lines };
}
