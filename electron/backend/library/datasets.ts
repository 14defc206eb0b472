// Datasets in the library. Importing reads a JSONL/JSON/CSV file, normalises its rows (see
// dataset-formats.ts) and freezes them as a dataset version: the rows are written as JSONL to
// `<data>/datasets/<sha256>.jsonl` (content-addressed, atomically) BEFORE the version row is inserted,
// so a crash leaves at worst an unreferenced file, never a version pointing at a partial one.
// A version never changes after import; importing into an existing dataset adds a version.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeFileAtomic } from '../fs-atomic.ts';
import { type BadRow, type DatasetFormat, type DatasetRow, parseDataset } from './dataset-formats.ts';
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
  createdAt: number;
}

export interface DatasetRecord {
  id: number;
  name: string;
  isDemo: boolean;
  createdAt: number;
  /** The newest version (every dataset has at least one). */
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
    latest: versions[0],
    versions,
  };
}

/** Imports a file as a new frozen dataset version. Refuses a file with no usable row. */
export function importDataset(lib: Library, input: ImportInput): ImportResult {
  const src = resolve(input.path);
  if (!existsSync(src) || !statSync(src).isFile())
    throw new FormatError('missing-file', `${src}: no such file`);
  const name = basename(src);
  const parsed = parseDataset(name, readFileSync(src, 'utf8'), input.format);
  const where = (b: BadRow) => `${name}:${b.line}: ${b.message}`;
  if (parsed.bad.length && input.onBadRows === 'refuse') {
    const more = parsed.bad.length > 1 ? ` (and ${parsed.bad.length - 1} more bad rows)` : '';
    throw new FormatError('bad-rows', `${where(parsed.bad[0])}${more}`);
  }
  if (!parsed.rows.length) {
    const first = parsed.bad[0] ? `; first problem: ${where(parsed.bad[0])}` : '';
    throw new FormatError('empty-dataset', `${name}: no usable ${parsed.format} rows${first}`);
  }
  if (
    input.datasetId != null &&
    !lib.db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(input.datasetId)
  ) {
    throw new ValidationError('not-found', `no dataset with id ${input.datasetId}`);
  }

  const body = `${parsed.rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
  const contentHash = createHash('sha256').update(body).digest('hex');
  const rel = join('datasets', `${contentHash}.jsonl`);
  const abs = join(lib.dataDir, rel);
  // Content-addressed: an identical file already there is complete (it was renamed into place).
  if (!existsSync(abs)) writeFileAtomic(abs, body);

  const now = Date.now();
  const datasetName = input.name?.trim() || basename(src, extname(src));
  const insert = lib.db.transaction(() => {
    const datasetId =
      input.datasetId ??
      (
        lib.db
          .prepare('INSERT INTO datasets (name, is_demo, created_at) VALUES (?, ?, ?) RETURNING id')
          .get(datasetName, input.isDemo ? 1 : 0, now) as { id: number }
      ).id;
    const { next } = lib.db
      .prepare('SELECT COALESCE(MAX(version), 0) + 1 AS next FROM dataset_versions WHERE dataset_id = ?')
      .get(datasetId) as { next: number };
    const v = lib.db
      .prepare(
        `INSERT INTO dataset_versions (dataset_id, version, frozen, format, content_hash, row_count, rejected_count,
           file_path, size_bytes, source_path, created_at)
         VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        datasetId,
        next,
        parsed.format,
        contentHash,
        parsed.rows.length,
        parsed.bad.length,
        rel,
        Buffer.byteLength(body),
        src,
        now,
      ) as VersionRow;
    return { datasetId, v };
  });
  const { datasetId, v } = insert.immediate();
  return { dataset: getDataset(lib, datasetId), version: toVersion(lib, v), rejected: parsed.bad };
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

/** All normalised rows of a version, read back from its frozen file. */
export function readVersionRows(lib: Library, versionId: number): DatasetRow[] {
  const v = getDatasetVersion(lib, versionId);
  if (!existsSync(v.filePath))
    throw new FormatError('missing-file', `dataset file ${v.filePath} is missing from the data folder`);
  const text = readFileSync(v.filePath, 'utf8');
  return text
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as DatasetRow);
}

export interface RowsPage {
  datasetId: number;
  versionId: number;
  format: DatasetFormat;
  total: number;
  offset: number;
  rows: DatasetRow[];
}

/** A page of rows of a version (the dataset's latest unless versionId is given). */
export function datasetRows(
  lib: Library,
  input: { datasetId: number; versionId?: number; offset?: number; limit?: number },
): RowsPage {
  const ds = getDataset(lib, input.datasetId);
  const v = input.versionId != null ? ds.versions.find((x) => x.id === input.versionId) : ds.latest;
  if (!v)
    throw new ValidationError('not-found', `dataset ${ds.id} has no version with id ${input.versionId}`);
  const all = readVersionRows(lib, v.id);
  const offset = input.offset ?? 0;
  const limit = input.limit ?? 50;
  return {
    datasetId: ds.id,
    versionId: v.id,
    format: v.format,
    total: all.length,
    offset,
    rows: all.slice(offset, offset + limit),
  };
}

/** Removes a dataset and its versions from the index. Frozen files stay (another version may share one). */
export function removeDataset(lib: Library, id: number): { id: number } {
  const res = lib.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  if (res.changes === 0) throw new ValidationError('not-found', `no dataset with id ${id}`);
  return { id };
}
