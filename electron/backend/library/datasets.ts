// Datasets in the library. Importing reads a JSONL/JSON/CSV file, normalises its rows (see
// dataset-formats.ts) and freezes them as a dataset version: the rows are written as JSONL to
// `<data>/datasets/<sha256>.jsonl` (content-addressed, atomically) BEFORE the version row is inserted,
// so a crash leaves at worst an unreferenced file, never a version pointing at a partial one.
// A version never changes after import; importing into an existing dataset adds a version, and so do
// editing rows (editDataset) and splitting (splitDataset: train/validation/test children of a version,
// seeded). Per-row tags, ratings and notes are metadata beside the frozen rows, keyed by the row's
// content hash, so they follow a row into later versions; datasets/rows filters on them.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeFileAtomic } from '../../../native-runtime/formats/atomic-write.ts';
import { mulberry32 } from '../../../native-runtime/generation/sampling.ts';
import { writeTransaction } from '../db/database.ts';
import {
  type BadRow,
  type ColumnMapping,
  type DatasetFormat,
  type DatasetRow,
  normalizeRow,
  normalizeRows,
  type ParsedDataset,
  parseDataset,
  type RowProgress,
  readParquetRows,
} from './dataset-formats.ts';
import type { Library } from './library.ts';

export interface DatasetVersion {
  id: number;
  datasetId: number;
  version: number;
  frozen: boolean;
  format: DatasetFormat;
  contentHash: string;
  rowCount: number;
  rejectedCount: number;
  /** Absolute path of the normalised JSONL rows. */
  filePath: string;
  sizeBytes: number;
  sourcePath: string | null;
  /** Split children: the version they were cut from, which part, and the seed. */
  parentVersionId: number | null;
  split: 'train' | 'validation' | 'test' | null;
  splitSeed: number | null;
  note: string | null;
  createdAt: number;
}

export interface DatasetRecord {
  id: number;
  name: string;
  isDemo: boolean;
  createdAt: number;
  /** The newest full version (not a split part); every dataset has at least one. */
  latest: DatasetVersion;
  versions: DatasetVersion[];
}

export interface ImportInput {
  path: string;
  name?: string;
  format?: DatasetFormat | 'auto';
  /** Add a version to this dataset instead of creating a new one. */
  datasetId?: number;
  /** 'skip' (default): keep good rows, report the bad ones. 'refuse': any bad row fails the import. */
  onBadRows?: 'skip' | 'refuse';
  isDemo?: boolean;
  /** Source columns for the target fields when the file uses other names. */
  mapping?: ColumnMapping;
  /** Rows checked out of all rows, every few thousand (the CLI shows it for big files). */
  onProgress?: RowProgress;
}

export interface ImportResult {
  dataset: DatasetRecord;
  version: DatasetVersion;
  /** Every row left out, with the line it starts on. */
  rejected: BadRow[];
}

interface VersionRow {
  id: number;
  dataset_id: number;
  version: number;
  frozen: number;
  format: DatasetFormat;
  content_hash: string;
  row_count: number;
  rejected_count: number;
  file_path: string;
  size_bytes: number;
  source_path: string | null;
  parent_version_id: number | null;
  split: 'train' | 'validation' | 'test' | null;
  split_seed: number | null;
  note: string | null;
  created_at: number;
}

interface DatasetRow_ {
  id: number;
  name: string;
  is_demo: number;
  created_at: number;
}

function toVersion(lib: Library, r: VersionRow): DatasetVersion {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    version: r.version,
    frozen: r.frozen === 1,
    format: r.format,
    contentHash: r.content_hash,
    rowCount: r.row_count,
    rejectedCount: r.rejected_count,
    filePath: join(lib.dataDir, r.file_path),
    sizeBytes: r.size_bytes,
    sourcePath: r.source_path,
    parentVersionId: r.parent_version_id ?? null,
    split: r.split ?? null,
    splitSeed: r.split_seed ?? null,
    note: r.note ?? null,
    createdAt: r.created_at,
  };
}

function toDataset(lib: Library, d: DatasetRow_): DatasetRecord {
  const versions = (
    lib.db
      .prepare('SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY version DESC')
      .all(d.id) as VersionRow[]
  ).map((v) => toVersion(lib, v));
  return {
    id: d.id,
    name: d.name,
    isDemo: d.is_demo === 1,
    createdAt: d.created_at,
    latest: versions.find((v) => v.split === null) ?? versions[0],
    versions,
  };
}

/** Refuses a source path that is relative or climbs with '..' (an RPC client names files exactly). */
export function checkSourcePath(path: string): string {
  if (path.includes('\0')) throw new ValidationError('bad-path', 'the path contains a NUL character');
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  if (path.split(/[\\/]+/).includes('..')) {
    throw new ValidationError(
      'bad-path',
      `${shown}: paths with ".." are not accepted; give the absolute path`,
    );
  }
  if (!isAbsolute(path)) throw new ValidationError('bad-path', `${shown}: not an absolute path`);
  return resolve(path);
}

function sourceFile(path: string): string {
  const src = resolve(path);
  if (!existsSync(src) || !statSync(src).isFile())
    throw new FormatError('missing-file', `${src}: no such file`);
  return src;
}

function finishImport(lib: Library, src: string, parsed: ParsedDataset, input: ImportInput): ImportResult {
  const name = basename(src);
  const where = (b: BadRow) => `${name}:${b.line}: ${b.message}`;
  if (parsed.bad.length && input.onBadRows === 'refuse') {
    const more = parsed.bad.length > 1 ? ` (and ${parsed.bad.length - 1} more bad rows)` : '';
    throw new FormatError('bad-rows', `${where(parsed.bad[0])}${more}`);
  }
  if (!parsed.rows.length) {
    const first = parsed.bad[0] ? `; first problem: ${where(parsed.bad[0])}` : '';
    throw new FormatError('empty-dataset', `${name}: no usable ${parsed.format} rows${first}`);
  }
  const { dataset, version } = freezeVersion(lib, {
    datasetId: input.datasetId,
    name: input.name?.trim() || basename(src, extname(src)),
    isDemo: input.isDemo,
    format: parsed.format,
    rows: parsed.rows,
    rejectedCount: parsed.bad.length,
    sourcePath: src,
  });
  return { dataset, version, rejected: parsed.bad };
}

/** Imports a JSONL/JSON/CSV file as a new frozen dataset version. Refuses a file with no usable row. */
export function importDataset(lib: Library, input: ImportInput): ImportResult {
  const src = sourceFile(input.path);
  if (extname(src).toLowerCase() === '.parquet') {
    throw new FormatError('async-only', `${src}: Parquet files are imported with importDatasetFile`);
  }
  const parsed = parseDataset(
    basename(src),
    readFileSync(src, 'utf8'),
    input.format,
    input.mapping,
    input.onProgress,
  );
  return finishImport(lib, src, parsed, input);
}

/** importDataset for every supported file, Parquet included (read asynchronously). */
export async function importDatasetFile(lib: Library, input: ImportInput): Promise<ImportResult> {
  const src = sourceFile(input.path);
  if (extname(src).toLowerCase() !== '.parquet') return importDataset(lib, input);
  const raw = await readParquetRows(await readFile(src));
  return finishImport(
    lib,
    src,
    normalizeRows(basename(src), 'parquet', raw, input.format, input.mapping, input.onProgress),
    input,
  );
}

export interface FreezeInput {
  /** Add to this dataset; otherwise a new dataset named `name` is created. */
  datasetId?: number;
  name?: string;
  isDemo?: boolean;
  format: DatasetFormat;
  rows: DatasetRow[];
  rejectedCount?: number;
  sourcePath?: string | null;
  parentVersionId?: number | null;
  split?: 'train' | 'validation' | 'test' | null;
  splitSeed?: number | null;
  note?: string | null;
}

/**
 * Stores rows as a new frozen version: the content-addressed file first (atomically), then the row,
 * so a crash never leaves a version pointing at a partial file.
 */
export function freezeVersion(
  lib: Library,
  f: FreezeInput,
): { dataset: DatasetRecord; version: DatasetVersion } {
  const checkDataset = () => {
    if (f.datasetId != null && !lib.db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(f.datasetId))
      throw new ValidationError('not-found', `no dataset with id ${f.datasetId}`);
  };
  checkDataset();
  const body = `${f.rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
  const contentHash = createHash('sha256').update(body).digest('hex');
  const rel = join('datasets', `${contentHash}.jsonl`);
  const abs = join(lib.dataDir, rel);
  // Content-addressed: an identical file already there is complete (it was renamed into place).
  if (!existsSync(abs)) writeFileAtomic(abs, body, { createDir: true });
  const now = Date.now();
  const { datasetId, v } = writeTransaction(lib.db, () => {
    checkDataset(); // again under the write lock: another process may have removed it
    const datasetId =
      f.datasetId ??
      (
        lib.db
          .prepare('INSERT INTO datasets (name, is_demo, created_at) VALUES (?, ?, ?) RETURNING id')
          .get(f.name || 'dataset', f.isDemo ? 1 : 0, now) as { id: number }
      ).id;
    const { next } = lib.db
      .prepare('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM dataset_versions WHERE dataset_id = ?')
      .get(datasetId) as { next: number };
    const v = lib.db
      .prepare(
        `INSERT INTO dataset_versions (dataset_id, version, frozen, format, content_hash, row_count, rejected_count,
           file_path, size_bytes, source_path, created_at, parent_version_id, split, split_seed, note)
         VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        datasetId,
        next,
        f.format,
        contentHash,
        f.rows.length,
        f.rejectedCount ?? 0,
        rel,
        Buffer.byteLength(body),
        f.sourcePath ?? null,
        now,
        f.parentVersionId ?? null,
        f.split ?? null,
        f.splitSeed ?? null,
        f.note ?? null,
      ) as VersionRow;
    return { datasetId, v };
  });
  return { dataset: getDataset(lib, datasetId), version: toVersion(lib, v) };
}

/**
 * A dataset given as a library id ("4": its latest full version) or a file, imported strictly (the
 * first malformed row fails naming file:line) as a new dataset.
 */
export function datasetVersionFromRef(
  lib: Library,
  ref: string,
  format?: DatasetFormat | 'auto',
): DatasetVersion {
  if (/^\d+$/.test(ref) && !existsSync(ref)) return getDataset(lib, Number(ref)).latest;
  return importDataset(lib, { path: ref, format, onBadRows: 'refuse' }).version;
}

export function listDatasets(lib: Library): DatasetRecord[] {
  return (
    lib.db.prepare('SELECT * FROM datasets ORDER BY is_demo DESC, created_at, id').all() as DatasetRow_[]
  ).map((d) => toDataset(lib, d));
}

export function getDataset(lib: Library, id: number): DatasetRecord {
  const d = lib.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow_ | undefined;
  if (!d) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return toDataset(lib, d);
}

export function getDatasetVersion(lib: Library, versionId: number): DatasetVersion {
  const v = lib.db.prepare('SELECT * FROM dataset_versions WHERE id = ?').get(versionId) as
    | VersionRow
    | undefined;
  if (!v) throw new ValidationError('not-found', `no dataset version with id ${versionId}`);
  return toVersion(lib, v);
}

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

function versionOf(
  lib: Library,
  datasetId: number,
  versionId?: number,
): { ds: DatasetRecord; v: DatasetVersion } {
  const ds = getDataset(lib, datasetId);
  const v = versionId != null ? ds.versions.find((x) => x.id === versionId) : ds.latest;
  if (!v) throw new ValidationError('not-found', `dataset ${ds.id} has no version with id ${versionId}`);
  return { ds, v };
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

export interface EditInput {
  datasetId: number;
  /** The version edited (default: the latest). */
  versionId?: number;
  /** Replace rows by index (the new row is validated in the version's format). */
  set?: { index: number; row: unknown }[];
  /** Remove rows by index. */
  remove?: number[];
  /** Append rows. */
  append?: unknown[];
  note?: string;
}

/** Edits rows by freezing a NEW version (runs keep referring to the exact version they used). */
export function editDataset(lib: Library, e: EditInput): { dataset: DatasetRecord; version: DatasetVersion } {
  const { ds, v } = versionOf(lib, e.datasetId, e.versionId);
  const rows: (DatasetRow | null)[] = [...readVersionRows(lib, v.id)];
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= rows.length) {
      throw new ValidationError(
        'bad-row',
        `row ${i} is out of range: version ${v.id} has rows 0..${rows.length - 1}`,
      );
    }
  };
  const valid = (x: unknown, where: string): DatasetRow => {
    const n = normalizeRow(v.format, x);
    if (typeof n === 'string')
      throw new ValidationError('bad-row', `${where} ${n} (the dataset is ${v.format})`);
    return n;
  };
  for (const s of e.set ?? []) {
    check(s.index);
    rows[s.index] = valid(s.row, `row ${s.index}:`);
  }
  for (const i of e.remove ?? []) {
    check(i);
    rows[i] = null;
  }
  const appended = (e.append ?? []).map((x, k) => valid(x, `appended row ${k}:`));
  const next = [...rows.filter((r): r is DatasetRow => r !== null), ...appended];
  if (!next.length)
    throw new ValidationError('empty-dataset', 'the edit would leave the dataset without rows');
  return freezeVersion(lib, {
    datasetId: ds.id,
    format: v.format,
    rows: next,
    sourcePath: v.sourcePath,
    parentVersionId: v.id,
    note: e.note ?? `edited from version ${v.version}`,
  });
}

export interface SplitInput {
  datasetId: number;
  versionId?: number;
  seed?: number;
  /** Fractions, normalised to sum 1 (default 0.8 / 0.1 / 0.1). A zero part is not created. */
  ratios?: { train: number; validation: number; test: number };
}

export interface SplitResult {
  source: DatasetVersion;
  train: DatasetVersion;
  validation: DatasetVersion | null;
  test: DatasetVersion | null;
}

/**
 * Splits a version into train/validation/test child versions: a seeded shuffle (mulberry32 + Fisher–
 * Yates), so the same seed gives the same parts. Each part keeps the original row order.
 */
export function splitDataset(lib: Library, s: SplitInput): SplitResult {
  const { ds, v } = versionOf(lib, s.datasetId, s.versionId);
  if (v.split !== null)
    throw new ValidationError(
      'bad-split',
      `version ${v.id} is already a ${v.split} split; split the full version`,
    );
  const r = s.ratios ?? { train: 0.8, validation: 0.1, test: 0.1 };
  const sum = r.train + r.validation + r.test;
  if (
    ![r.train, r.validation, r.test].every((x) => Number.isFinite(x) && x >= 0) ||
    !(sum > 0) ||
    !(r.train > 0)
  ) {
    throw new ValidationError(
      'bad-split',
      'split ratios must be non-negative numbers with a positive train part',
    );
  }
  const rows = readVersionRows(lib, v.id);
  const n = rows.length;
  const nVal = Math.round((n * r.validation) / sum);
  const nTest = Math.round((n * r.test) / sum);
  const nTrain = n - nVal - nTest;
  if (nTrain < 1)
    throw new ValidationError('bad-split', `${n} rows leave nothing to train on with these ratios`);
  const seed = s.seed ?? 42;
  const rng = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const part = (from: number, to: number) =>
    order
      .slice(from, to)
      .sort((a, b) => a - b)
      .map((i) => rows[i]);
  const freeze = (split: 'train' | 'validation' | 'test', list: DatasetRow[]) =>
    list.length
      ? freezeVersion(lib, {
          datasetId: ds.id,
          format: v.format,
          rows: list,
          sourcePath: v.sourcePath,
          parentVersionId: v.id,
          split,
          splitSeed: seed,
          note: `${split} split of version ${v.version} (seed ${seed})`,
        }).version
      : null;
  const train = freeze('train', part(0, nTrain)) as DatasetVersion;
  const validation = freeze('validation', part(nTrain, nTrain + nVal));
  const test = freeze('test', part(nTrain + nVal, n));
  return { source: v, train, validation, test };
}

/** Removes a dataset and its versions from the index. Frozen files stay (another version may share one). */
export function removeDataset(lib: Library, id: number): { id: number } {
  const res = lib.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  if (res.changes === 0) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return { id };
}
