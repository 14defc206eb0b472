// Where datasets live: the `datasets` / `dataset_versions` records and the frozen files they point at.
// A version's rows are written as JSONL to `<data>/datasets/<sha256>.jsonl` (content-addressed,
// atomically) BEFORE its record is inserted, so a crash leaves at worst an unreferenced file, never
// a version pointing at a partial one. A version never changes once stored. With its record the same
// transaction stores the id of each of its rows (dataset_version_rows: a row keeps its id into later
// versions, so its annotations follow it) and the lines its import left out (dataset_rejects).
// Leaves out: parsing files (dataset-formats.ts), annotations (dataset-annotations.ts), edits and
// splits (dataset-edits.ts), the import policy (datasets.ts).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeFileAtomic } from '../../../native-runtime/formats/atomic-write.ts';
import { writeTransaction } from '../db/database.ts';
import type { BadRow, DatasetFormat, DatasetRow } from './dataset-formats.ts';
import type { Library } from './library.ts';

export type SplitPart = 'train' | 'validation' | 'test';
export const SPLIT_PARTS = ['train', 'validation', 'test'] as const satisfies readonly SplitPart[];

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
  /** The file it was imported from (a path, or the name of an uploaded file). */
  sourcePath: string | null;
  /** Split children: the version they were cut from, which part, and the seed. */
  parentVersionId: number | null;
  split: SplitPart | null;
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
  split: SplitPart | null;
  split_seed: number | null;
  note: string | null;
  created_at: number;
}

interface DatasetDbRow {
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

function toDataset(lib: Library, d: DatasetDbRow): DatasetRecord {
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

export function listDatasets(lib: Library): DatasetRecord[] {
  return (
    lib.db.prepare('SELECT * FROM datasets ORDER BY is_demo DESC, created_at, id').all() as DatasetDbRow[]
  ).map((d) => toDataset(lib, d));
}

export function getDataset(lib: Library, id: number): DatasetRecord {
  const d = lib.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetDbRow | undefined;
  if (!d) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return toDataset(lib, d);
}

/** The newest dataset called `name` (names are unique from now on; older libraries may repeat one). */
export function findDatasetByName(lib: Library, name: string): DatasetRecord | null {
  const d = lib.db
    .prepare('SELECT * FROM datasets WHERE name = ? ORDER BY id DESC LIMIT 1')
    .get(name.trim()) as DatasetDbRow | undefined;
  return d ? toDataset(lib, d) : null;
}

export function getDatasetVersion(lib: Library, versionId: number): DatasetVersion {
  const v = lib.db.prepare('SELECT * FROM dataset_versions WHERE id = ?').get(versionId) as
    | VersionRow
    | undefined;
  if (!v) throw new ValidationError('not-found', `no dataset version with id ${versionId}`);
  return toVersion(lib, v);
}

/** A version of a dataset (its latest full version when `versionId` is not given). */
export function versionOf(
  lib: Library,
  datasetId: number,
  versionId?: number,
): { ds: DatasetRecord; v: DatasetVersion } {
  const ds = getDataset(lib, datasetId);
  const v = versionId != null ? ds.versions.find((x) => x.id === versionId) : ds.latest;
  if (!v) throw new ValidationError('not-found', `dataset ${ds.id} has no version with id ${versionId}`);
  return { ds, v };
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

/** The JSONL body of rows as frozen (one canonical JSON object per line). */
export function jsonlBody(rows: readonly DatasetRow[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

// ---- row ids --------------------------------------------------------------------------------------

export function encodeRowIds(ids: readonly number[]): Buffer {
  const b = Buffer.alloc(ids.length * 4);
  ids.forEach((id, i) => {
    b.writeUInt32LE(id, i * 4);
  });
  return b;
}

export function decodeRowIds(b: Buffer): number[] {
  const out = new Array<number>(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}

/** The stored row ids of a version, or null for a version stored before rows had ids. */
export function storedRowIds(lib: Library, versionId: number): number[] | null {
  const r = lib.db.prepare('SELECT row_ids FROM dataset_version_rows WHERE version_id = ?').get(versionId) as
    | { row_ids: Buffer }
    | undefined;
  return r ? decodeRowIds(r.row_ids) : null;
}

/** Gives every null entry a fresh id of the dataset (inside the caller's write transaction). */
export function allocateRowIds(lib: Library, datasetId: number, ids: readonly (number | null)[]): number[] {
  const { next_row_id: start } = lib.db
    .prepare('SELECT next_row_id FROM datasets WHERE id = ?')
    .get(datasetId) as { next_row_id: number };
  let next = start;
  const out = ids.map((id) => id ?? next++);
  if (next !== start) lib.db.prepare('UPDATE datasets SET next_row_id = ? WHERE id = ?').run(next, datasetId);
  return out;
}

// ---- storing a version ------------------------------------------------------------------------------

/** At most this many rejected lines are kept with a version (the count is always exact). */
export const REJECTS_KEPT = 1000;
/** Characters of a rejected line kept to show it. */
export const REJECT_TEXT_CHARS = 500;

export interface FreezeInput {
  /** Add to this dataset; otherwise a new dataset named `name` is created. */
  datasetId?: number;
  name?: string;
  isDemo?: boolean;
  format: DatasetFormat;
  rows: DatasetRow[];
  /** The id of each row (null: a new row); all new when omitted. */
  rowIds?: readonly (number | null)[];
  /** The lines the import left out (kept to review); rejectedCount defaults to their number. */
  rejects?: readonly BadRow[];
  rejectedCount?: number;
  sourcePath?: string | null;
  parentVersionId?: number | null;
  split?: SplitPart | null;
  splitSeed?: number | null;
  note?: string | null;
}

/**
 * Stores rows as a new frozen version: the content-addressed file first (atomically), then the
 * records, so a crash never leaves a version pointing at a partial file.
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
  if (f.rowIds && f.rowIds.length !== f.rows.length)
    throw new Error(`freezeVersion: ${f.rowIds.length} row ids for ${f.rows.length} rows`);
  const body = jsonlBody(f.rows);
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
        f.rejectedCount ?? f.rejects?.length ?? 0,
        rel,
        Buffer.byteLength(body),
        f.sourcePath ?? null,
        now,
        f.parentVersionId ?? null,
        f.split ?? null,
        f.splitSeed ?? null,
        f.note ?? null,
      ) as VersionRow;
    const ids = allocateRowIds(lib, datasetId, f.rowIds ?? f.rows.map(() => null));
    lib.db
      .prepare('INSERT INTO dataset_version_rows (version_id, row_ids) VALUES (?, ?)')
      .run(v.id, encodeRowIds(ids));
    const reject = lib.db.prepare(
      'INSERT OR IGNORE INTO dataset_rejects (version_id, line, message, text) VALUES (?, ?, ?, ?)',
    );
    for (const b of (f.rejects ?? []).slice(0, REJECTS_KEPT))
      reject.run(v.id, b.line, b.message, b.text?.slice(0, REJECT_TEXT_CHARS) ?? null);
    return { datasetId, v };
  });
  return { dataset: getDataset(lib, datasetId), version: toVersion(lib, v) };
}

// ---- names ------------------------------------------------------------------------------------------

const MAX_NAME = 200;

/** A dataset name: trimmed, 1–200 characters, no control characters. */
export function checkDatasetName(name: string): string {
  const n = name.trim();
  if (!n) throw new ValidationError('bad-name', 'a dataset needs a name');
  if (n.length > MAX_NAME)
    throw new ValidationError('bad-name', `a dataset name is at most ${MAX_NAME} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(n))
    throw new ValidationError('bad-name', 'a dataset name cannot hold control characters');
  return n;
}

/** Renames a dataset; the name must not belong to another one. */
export function renameDataset(lib: Library, id: number, name: string): DatasetRecord {
  const n = checkDatasetName(name);
  writeTransaction(lib.db, () => {
    getDataset(lib, id);
    const other = lib.db.prepare('SELECT id FROM datasets WHERE name = ? AND id != ?').get(n, id) as
      | { id: number }
      | undefined;
    if (other)
      throw new ValidationError('name-taken', `another dataset (id ${other.id}) is already called "${n}"`);
    lib.db.prepare('UPDATE datasets SET name = ? WHERE id = ?').run(n, id);
  });
  return getDataset(lib, id);
}

/**
 * Removes a dataset and its versions from the index. Frozen files stay (another version may share
 * one); runs and adapters keep their history (their version reference becomes null).
 */
export function removeDataset(lib: Library, id: number): { id: number } {
  const res = writeTransaction(lib.db, () => lib.db.prepare('DELETE FROM datasets WHERE id = ?').run(id));
  if (res.changes === 0) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return { id };
}
