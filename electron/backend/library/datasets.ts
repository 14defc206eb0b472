// Datasets in the library: the dataset and version records, and freezing rows as a new version.
// A version's rows live in a content-addressed file (frozen-files.ts) written BEFORE its row is
// inserted, so a crash leaves at worst an unreferenced file, never a version pointing at a partial
// one. A version never changes; importing into an existing dataset adds a version (dataset-import.ts),
// and so do editing rows and splitting (dataset-edits.ts). Per-row tags, ratings and notes sit beside
// the frozen rows (dataset-rows.ts).

import { join } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import type { DatasetFormat, DatasetRow } from './dataset-formats.ts';
import { type FrozenFile, writeFrozenRows } from './frozen-files.ts';
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

/** What a new version records besides its file. */
export interface VersionMeta {
  /** Add to this dataset; otherwise a new dataset named `name` is created. */
  datasetId?: number;
  name?: string;
  isDemo?: boolean;
  format: DatasetFormat;
  rejectedCount?: number;
  sourcePath?: string | null;
  parentVersionId?: number | null;
  split?: 'train' | 'validation' | 'test' | null;
  splitSeed?: number | null;
  note?: string | null;
}

export interface FreezeInput extends VersionMeta {
  rows: DatasetRow[];
}

function checkDatasetExists(lib: Library, id: number | undefined): void {
  if (id != null && !lib.db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(id))
    throw new ValidationError('not-found', `no dataset with id ${id}`);
}

/**
 * Records a frozen file as the next version of a dataset (a new dataset without `datasetId`), in one
 * short write transaction: the slow part, writing the file, is already done.
 */
export function recordVersion(
  lib: Library,
  file: FrozenFile,
  m: VersionMeta,
): { dataset: DatasetRecord; version: DatasetVersion } {
  const now = Date.now();
  const { datasetId, v } = writeTransaction(lib.db, () => {
    checkDatasetExists(lib, m.datasetId);
    const datasetId =
      m.datasetId ??
      (
        lib.db
          .prepare('INSERT INTO datasets (name, is_demo, created_at) VALUES (?, ?, ?) RETURNING id')
          .get(m.name || 'dataset', m.isDemo ? 1 : 0, now) as { id: number }
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
        m.format,
        file.contentHash,
        file.rowCount,
        m.rejectedCount ?? 0,
        file.rel,
        file.sizeBytes,
        m.sourcePath ?? null,
        now,
        m.parentVersionId ?? null,
        m.split ?? null,
        m.splitSeed ?? null,
        m.note ?? null,
      ) as VersionRow;
    return { datasetId, v };
  });
  return { dataset: getDataset(lib, datasetId), version: toVersion(lib, v) };
}

/** Stores rows already in memory as a new frozen version (an edit, a split): file first, then the row. */
export function freezeVersion(
  lib: Library,
  f: FreezeInput,
): { dataset: DatasetRecord; version: DatasetVersion } {
  checkDatasetExists(lib, f.datasetId);
  const { rows, ...meta } = f;
  return recordVersion(lib, writeFrozenRows(lib.dataDir, rows), meta);
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

/** A dataset and one of its versions (its latest full version without `versionId`). */
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

export function removeDataset(lib: Library, id: number): { id: number } {
  const res = lib.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  if (res.changes === 0) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return { id };
}
