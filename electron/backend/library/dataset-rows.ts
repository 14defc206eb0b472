// Reading a dataset version: all its rows, and for people pages of rows with their annotations,
// filtered by tag, rating or text (datasets/rows), and the lines its import left out
// (datasets/rejects). A page reads only the rows it shows (frozen-files.ts's row index) and, unless
// it filters by tag or rating, only their ids; a text search streams the rows once and keeps which
// matched (textMatches, for its next pages), never the rows themselves; on the studio's RPC loop
// that scan runs in slices, so that other requests are answered meanwhile.

import { grown } from '../../../native-runtime/typed-arrays.ts';
import {
  type Annotation,
  datasetAnnotationsScan,
  type RowMeta,
  rowAnnotations,
  versionRowIdsAt,
} from './dataset-annotations.ts';
import { type DatasetFormat, type DatasetRow, rowText } from './dataset-formats.ts';
import { getDatasetVersion, versionOf } from './datasets.ts';
import {
  frozenLines,
  frozenRowIndexInSlices,
  parseFrozenLine,
  readFrozenRows,
  readFrozenRowsAt,
} from './frozen-files.ts';
import type { Library } from './library.ts';
import { KeptScans, runInSlices, runThrough } from './sliced-scans.ts';
import { tagFilter } from './tags.ts';

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

// The rows of the last few text searches: the window asks for a search's pages one after another,
// and each page used to read and parse the whole version again. 4 bytes a matching row; tags and
// ratings are applied per page, since they change.
const searches = new KeptScans<Uint32Array>(4);

/** Rows between the points where a search's scan may pause. */
const ROWS_A_PAUSE = 512;

/** Every row streamed and parsed once; yields every ROWS_A_PAUSE rows, where its runner may pause. */
function* scanMatches(path: string, needle: string): Generator<void, Uint32Array> {
  let found = new Uint32Array(1024);
  let n = 0;
  for (const line of frozenLines(path)) {
    if (line.index % ROWS_A_PAUSE === ROWS_A_PAUSE - 1) yield;
    if (!rowText(parseFrozenLine(path, line)).toLowerCase().includes(needle)) continue;
    if (n === found.length) found = grown(found, new Uint32Array(n * 2));
    found[n++] = line.index;
  }
  return found.slice(0, n);
}

/**
 * The indices of a frozen file's rows whose text holds `needle` (lower case), in order: read once
 * (every row streamed and parsed), then kept for the next pages. Blocks until done: for the CLI;
 * the studio's RPC loop uses textMatchesInSlices.
 */
export function textMatches(path: string, needle: string): Uint32Array {
  return searches.get(`${path}\0${needle}`, () => scanMatches(path, needle));
}

/** textMatches in time slices (sliced-scans.ts): on the RPC loop a first search of 1M rows held it ~2 s. */
export function textMatchesInSlices(path: string, needle: string): Promise<Uint32Array> {
  return searches.getInSlices(`${path}\0${needle}`, () => scanMatches(path, needle));
}

/** Whether a filter picks rows by their annotations (then every row's id is needed to apply it). */
function byAnnotation(f: RowFilter): boolean {
  return f.tag !== undefined || !!f.unrated || f.minRating !== undefined || f.maxRating !== undefined;
}

type RowsInput = { datasetId: number; versionId?: number; offset?: number; limit?: number } & RowFilter;

/** A page of rows of a version (the dataset's latest unless versionId is given), optionally filtered. */
export function datasetRows(lib: Library, input: RowsInput): RowsPage {
  const { v } = versionOf(lib, input.datasetId, input.versionId);
  const matches = input.search ? textMatches(v.filePath, input.search.toLowerCase()) : null;
  return runThrough(rowsPage(lib, input, matches));
}

/**
 * datasetRows for the RPC loop: the scans of a version's first page (its row index), of a text
 * search and of a filter by tag or rating run in time slices (frozenRowIndexInSlices,
 * textMatchesInSlices, runInSlices).
 */
export async function datasetRowsInSlices(lib: Library, input: RowsInput): Promise<RowsPage> {
  const { v } = versionOf(lib, input.datasetId, input.versionId);
  await frozenRowIndexInSlices(v.filePath);
  const matches = input.search ? await textMatchesInSlices(v.filePath, input.search.toLowerCase()) : null;
  // The page is of the version scanned: an edit recorded during the scans makes a new latest version,
  // whose rows the matches do not index.
  return runInSlices(rowsPage(lib, { ...input, versionId: v.id }, matches));
}

/** Rows a filter by annotation tries between two pauses of its scan. */
const ROWS_PER_STEP = 4096;

/** The page `input` asks for, a scan (sliced-scans.ts); `matches`: the rows holding its search text. */
function* rowsPage(lib: Library, input: RowsInput, matches: Uint32Array | null): Generator<void, RowsPage> {
  const { ds, v } = versionOf(lib, input.datasetId, input.versionId);
  const offset = input.offset ?? 0;
  const limit = input.limit ?? 50;
  let total = 0;
  /** The page's rows: index in the version and row id. */
  const page: { index: number; rowId: number }[] = [];
  // Read once the ids are: reading a version's ids the first time can move old annotations to them.
  let notes: Map<number, Annotation> | null = null;
  if (byAnnotation(input)) {
    // Every id and annotation is looked at: ids are decoded as tried, annotations read in pages.
    const ids = versionRowIdsAt(lib, v, 0, 0x7fff_ffff);
    const noted = yield* datasetAnnotationsScan(lib, ds.id);
    notes = noted;
    const tagged = input.tag !== undefined ? tagFilter(input.tag) : null;
    // A row without annotations matches only "unrated": skipped at once by the other filters.
    const needsNote = tagged !== null || input.minRating !== undefined || input.maxRating !== undefined;
    const consider = (i: number): void => {
      const rowId = ids.id(i);
      const m = noted.get(rowId);
      if (!m && needsNote) return;
      if (m) {
        if (tagged && !tagged(m.tags)) return;
        if (input.unrated && m.rating !== null) return;
        if (input.minRating !== undefined && (m.rating === null || m.rating < input.minRating)) return;
        if (input.maxRating !== undefined && (m.rating === null || m.rating > input.maxRating)) return;
      }
      if (total >= offset && page.length < limit) page.push({ index: i, rowId });
      total++;
    };
    const count = matches ? matches.length : ids.rows;
    for (let k = 0; k < count; k++) {
      consider(matches ? matches[k] : k);
      if (k % ROWS_PER_STEP === ROWS_PER_STEP - 1) yield;
    }
  } else if (matches) {
    // The page's rows are known from the matches alone: only their ids are decoded.
    total = matches.length;
    const at = matches.subarray(offset, offset + limit);
    if (at.length) {
      const span = versionRowIdsAt(lib, v, at[0], at[at.length - 1] - at[0] + 1);
      for (const i of at) page.push({ index: i, rowId: span.id(i) });
    }
  } else {
    const span = versionRowIdsAt(lib, v, offset, limit);
    total = span.rows;
    for (let i = offset; i < Math.min(span.rows, offset + limit); i++)
      page.push({ index: i, rowId: span.id(i) });
  }
  // Only the page's own annotations, unless a filter read them all.
  notes ??= rowAnnotations(
    lib,
    ds.id,
    page.map((p) => p.rowId),
  );
  const seen = notes;
  const picked: RowMeta[] = page.map((p) => ({ ...p, ...(seen.get(p.rowId) ?? NONE) }));
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
