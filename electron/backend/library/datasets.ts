// Datasets in the library: the dataset and version records, names, and freezing rows as a new version.
// A version's rows live in a content-addressed file (frozen-files.ts) written BEFORE its row is
// inserted, so a crash leaves at worst an unreferenced file, never a version pointing at a partial
// one. A version never changes; importing into an existing dataset adds a version (dataset-import.ts),
// and so do editing rows, splitting and dropping duplicates (dataset-edits.ts). With its record the
// same transaction stores the id of each of its rows (dataset_version_rows: a row keeps its id into
// later versions, so its tags and ratings — dataset-annotations.ts — follow it) and the lines its
// import left out (dataset_rejects, read back by dataset-rows.ts).

import { existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { join, resolve } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import type { BadRow, DatasetFormat } from './dataset-formats.ts';
import { deletingUnusedFrozenFiles } from './frozen-file-reclaim.ts';
import type { FrozenFile } from './frozen-files.ts';
import type { Library } from './library.ts';
import { checkName } from './names.ts';

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
  return withVersions(d, versions);
}

/** A dataset's record from its row and its versions, newest first. */
function withVersions(d: DatasetRow_, versions: DatasetVersion[]): DatasetRecord {
  return {
    id: d.id,
    name: d.name,
    isDemo: d.is_demo === 1,
    createdAt: d.created_at,
    latest: versions.find((v) => v.split === null) ?? versions[0],
    versions,
  };
}

// ---- row ids --------------------------------------------------------------------------------------

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

/** Some rows' ids of a version, and how many rows it has. */
export interface RowIdSpan {
  rows: number;
  /** The id of row `index` (one of those asked for). */
  id(index: number): number;
}

/**
 * The stored ids of `count` rows of a version from row `first` (fewer past its end), or null for a
 * version stored before rows had ids. Only the ids asked for are decoded, when asked: a page of a
 * million-row version decoding every id took 25–67 ms.
 */
export function storedRowIdsAt(
  lib: Library,
  versionId: number,
  first: number,
  count: number,
): RowIdSpan | null {
  const r = lib.db
    .prepare(
      'SELECT length(row_ids) / 4 AS rows, substr(row_ids, ?, ?) AS ids FROM dataset_version_rows WHERE version_id = ?',
    )
    .get(first * 4 + 1, count * 4, versionId) as { rows: number; ids: Buffer | null } | undefined;
  if (!r) return null;
  const bytes = r.ids ?? Buffer.alloc(0);
  return { rows: r.rows, id: (index) => bytes.readUInt32LE((index - first) * 4) };
}

/** Whether this machine's typed arrays hold words little-endian, as row ids are stored. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Gives every null entry a fresh id of the dataset (inside the caller's write transaction); returns
 * the ids as stored, 4 bytes each, little-endian. Written in one pass into a typed array: mapped to
 * an array, then written an id at a time, they took ~30 ms of a 1M-row edit's last, unsliced step.
 */
export function allocateRowIds(lib: Library, datasetId: number, ids: readonly (number | null)[]): Buffer {
  const { next_row_id: start } = lib.db
    .prepare('SELECT next_row_id FROM datasets WHERE id = ?')
    .get(datasetId) as { next_row_id: number };
  let next = start;
  const out = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i] ?? next++;
  // Stored as 32-bit: ids past that would wrap onto old rows' ids (their tags, ratings) silently.
  if (next > 0xffffffff)
    throw new ValidationError(
      'too-many-rows',
      `dataset ${datasetId} has run out of row ids (2^32 given out)`,
    );
  if (next !== start) lib.db.prepare('UPDATE datasets SET next_row_id = ? WHERE id = ?').run(next, datasetId);
  const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  return LITTLE_ENDIAN ? bytes : bytes.swap32();
}

// ---- recording a version ------------------------------------------------------------------------------

/** Characters of a rejected line kept to show it (the import keeps the first BAD_ROWS_KEPT lines). */
export const REJECT_TEXT_CHARS = 500;

/** What a new version records besides its file. */
export interface VersionMeta {
  /** Add to this dataset; otherwise a new dataset named `name` is created. */
  datasetId?: number;
  name?: string;
  isDemo?: boolean;
  format: DatasetFormat;
  /** The id of each row (null: a new row); all new when omitted. */
  rowIds?: readonly (number | null)[];
  /** The lines the import left out, kept to review (rejectedCount counts all of them). */
  rejects?: readonly BadRow[];
  rejectedCount?: number;
  sourcePath?: string | null;
  parentVersionId?: number | null;
  split?: SplitPart | null;
  splitSeed?: number | null;
  note?: string | null;
  /**
   * An edit of "the latest version": recorded only while that version (this id) is still the latest
   * (checkStillLatest), checked inside the record's transaction, where no other process can land one.
   */
  ofLatest?: number;
}

/**
 * Refuses an edit of "the latest version" (`versionId`) once the dataset got a newer one while it
 * ran (another edit, dropped duplicates or an import, recorded while the copy paused, in this process
 * or another): recorded, the edit would become the latest without that version's changes, which would
 * silently vanish from it. Refused, nothing is stored and the edit made again applies to the new
 * latest (whose row numbers may differ, so it is not re-applied here).
 */
export function checkStillLatest(lib: Library, datasetId: number, versionId: number): void {
  const ds = getDataset(lib, datasetId);
  if (ds.latest.id === versionId) return;
  const v = getDatasetVersion(lib, versionId);
  throw new ValidationError(
    'conflict',
    `dataset "${ds.name}" got version ${ds.latest.version} while this edit of version ${v.version} ran: nothing was stored; make the edit again on version ${ds.latest.version}`,
  );
}

function checkDatasetExists(lib: Library, id: number | undefined): void {
  if (id != null && !lib.db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(id))
    throw new ValidationError('not-found', `no dataset with id ${id}`);
}

/**
 * Refuses a frozen file deleted since it was written: another dataset with the same rows was removed
 * meanwhile (frozen-file-reclaim.ts). Checked inside the write transaction, which a removal's waits for.
 */
function checkFileStillThere(lib: Library, file: FrozenFile): void {
  if (!existsSync(join(lib.dataDir, file.rel)))
    throw new FormatError(
      'missing-file',
      'a dataset with the same rows was removed while this version was being written: nothing was stored; try again',
    );
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
  if (m.rowIds && m.rowIds.length !== file.rowCount)
    throw new Error(`recordVersion: ${m.rowIds.length} row ids for ${file.rowCount} rows`);
  const now = Date.now();
  const { datasetId, v } = writeTransaction(lib.db, () => {
    checkDatasetExists(lib, m.datasetId);
    checkFileStillThere(lib, file);
    if (m.datasetId != null && m.ofLatest != null) checkStillLatest(lib, m.datasetId, m.ofLatest);
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
    const ids = allocateRowIds(lib, datasetId, m.rowIds ?? new Array<null>(file.rowCount).fill(null));
    lib.db.prepare('INSERT INTO dataset_version_rows (version_id, row_ids) VALUES (?, ?)').run(v.id, ids);
    const reject = lib.db.prepare(
      'INSERT INTO dataset_rejects (version_id, seq, line, message, text) VALUES (?, ?, ?, ?, ?)',
    );
    for (const [seq, b] of (m.rejects ?? []).entries())
      reject.run(v.id, seq, b.line, b.message, b.text?.slice(0, REJECT_TEXT_CHARS) ?? null);
    return { datasetId, v };
  });
  return { dataset: getDataset(lib, datasetId), version: toVersion(lib, v) };
}

export function listDatasets(lib: Library): DatasetRecord[] {
  const datasets = lib.db
    .prepare('SELECT * FROM datasets ORDER BY is_demo DESC, created_at, id')
    .all() as DatasetRow_[];
  // Every version in one read, not one read per dataset (300 datasets were 301 queries).
  const versions = new Map<number, DatasetVersion[]>();
  const rows = lib.db
    .prepare('SELECT * FROM dataset_versions ORDER BY dataset_id, version DESC')
    .all() as VersionRow[];
  for (const v of rows) {
    const of = versions.get(v.dataset_id) ?? [];
    if (of.push(toVersion(lib, v)) === 1) versions.set(v.dataset_id, of);
  }
  // A dataset has a version from its first commit on: one without was removed between the reads.
  return datasets.flatMap((d) => {
    const of = versions.get(d.id);
    return of ? [withVersions(d, of)] : [];
  });
}

export function getDataset(lib: Library, id: number): DatasetRecord {
  const d = lib.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow_ | undefined;
  if (!d) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return toDataset(lib, d);
}

/** The newest dataset called `name` (names are unique from now on; older libraries may repeat one). */
export function findDatasetByName(lib: Library, name: string): DatasetRecord | null {
  const d = lib.db
    .prepare('SELECT * FROM datasets WHERE name = ? ORDER BY id DESC LIMIT 1')
    .get(name.trim()) as DatasetRow_ | undefined;
  return d ? toDataset(lib, d) : null;
}

export function getDatasetVersion(lib: Library, versionId: number): DatasetVersion {
  const v = lib.db.prepare('SELECT * FROM dataset_versions WHERE id = ?').get(versionId) as
    | VersionRow
    | undefined;
  if (!v) throw new ValidationError('not-found', `no dataset version with id ${versionId}`);
  return toVersion(lib, v);
}

/**
 * A version as the library names it, dataset “name” vN — how people know the data, where its frozen file is
 * named by a hash — or null when the version is gone.
 */
export function versionName(lib: Library, versionId: number): string | null {
  const r = lib.db
    .prepare(
      'SELECT d.name, v.version FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE v.id = ?',
    )
    .get(versionId) as { name: string; version: number } | undefined;
  return r ? `dataset “${r.name}” v${r.version}` : null;
}

/** A version's file (its path) and the version's id, as an engine message may name the file. */
export type VersionFile = readonly [file: string | null | undefined, versionId: number | null | undefined];

/**
 * `text` with each version's file (the library's own copy, which the engine read and names) replaced
 * by the version's name as the user knows it (dataset “big” v2).
 */
export function namingVersions(lib: Library, text: string, files: readonly VersionFile[]): string {
  let out = text;
  for (const [file, versionId] of files) {
    const name = file && versionId != null ? versionName(lib, versionId) : null;
    if (!file || !name) continue;
    for (const p of new Set([file, resolve(file)])) out = out.split(p).join(name);
  }
  return out;
}

/** `e` (an error of the engine's) with its message naming versions as namingVersions does; returned. */
export function namingVersionsIn<E>(lib: Library, e: E, files: readonly VersionFile[]): E {
  if (e instanceof Error) e.message = namingVersions(lib, e.message, files);
  return e;
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

// ---- names and removal -------------------------------------------------------------------------

/** A dataset name: trimmed, 1–200 characters, no control characters (names.ts). */
export function checkDatasetName(name: string): string {
  return checkName(name, 'dataset');
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
 * Removes a dataset and its versions, and deletes their frozen files that nothing else needs: a file
 * another version shares, or a run may still read (resuming it), stays (frozen-file-reclaim.ts).
 * Runs and adapters keep their history (their version reference becomes null). `deletedFiles`: the
 * content hashes of the files deleted (caches keyed by them are dropped by the caller).
 */
export function removeDataset(lib: Library, id: number): { id: number; deletedFiles: string[] } {
  const { deleted } = deletingUnusedFrozenFiles(lib, () => {
    const files = lib.db
      .prepare('SELECT DISTINCT file_path FROM dataset_versions WHERE dataset_id = ?')
      .all(id) as {
      file_path: string;
    }[];
    const res = lib.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
    if (res.changes === 0) throw new ValidationError('not-found', `no dataset with id ${id}`);
    return { result: null, candidates: files.map((f) => f.file_path) };
  });
  return { id, deletedFiles: deleted };
}
