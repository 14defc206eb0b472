// Datasets in the library: importing a file (a path, or an upload from the window) as a frozen
// version, and the names other modules import from here. Rows are normalised by dataset-formats.ts
// and stored by dataset-store.ts; edits, splits and dropped duplicates are dataset-edits.ts;
// annotations dataset-annotations.ts; pages of rows and the rejected lines dataset-rows.ts.
// Importing again under a name the library already has (by default the file's name) adds a VERSION
// to that dataset rather than a second dataset of the same name: one name is one dataset, its
// versions say what changed, runs keep pointing at the exact version they used, and the rows that
// did not change keep their ids, so their tags and ratings carry over. A file whose rows are exactly
// the latest version's adds nothing ('unchanged'). To keep both apart, import under another name.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { inheritRowIds, versionRowIds } from './dataset-annotations.ts';
import {
  type BadRow,
  type ColumnMapping,
  type DatasetFormat,
  normalizeRows,
  type ParsedDataset,
  parseDataset,
  type RowProgress,
  readParquetRows,
} from './dataset-formats.ts';
import {
  checkDatasetName,
  type DatasetRecord,
  type DatasetVersion,
  findDatasetByName,
  freezeVersion,
  getDataset,
  jsonlBody,
  readVersionRows,
} from './dataset-store.ts';
import type { Library } from './library.ts';

export {
  type AnnotateInput,
  type Annotation,
  annotateRows,
  type RowMeta,
  rowHash,
  versionRowIds,
} from './dataset-annotations.ts';
export {
  type DropDuplicatesInput,
  type DropDuplicatesResult,
  dropDuplicates,
  type EditInput,
  editDataset,
  resolveDatasetVersion,
  type SplitInput,
  type SplitResult,
  splitDataset,
  type VersionSelector,
} from './dataset-edits.ts';
export {
  datasetRejects,
  datasetRows,
  type RejectedLine,
  type RejectsPage,
  type RowFilter,
  type RowsPage,
  rowText,
} from './dataset-rows.ts';
export {
  type DatasetRecord,
  type DatasetVersion,
  type FreezeInput,
  freezeVersion,
  getDataset,
  getDatasetVersion,
  listDatasets,
  readVersionRows,
  removeDataset,
  renameDataset,
  SPLIT_PARTS,
  type SplitPart,
} from './dataset-store.ts';

/** Older full versions a re-import looks in for rows the latest version had dropped. */
const INHERIT_FROM_OLDER = 4;

export interface ImportInput {
  path: string;
  /** The name the file had for the user (an upload's file name); default: the path's. */
  sourceName?: string;
  name?: string;
  format?: DatasetFormat | 'auto';
  /** Add a version to this dataset instead of the one named `name` (or a new one). */
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
  /**
   * 'created': a new dataset; 'new-version': a version added to the dataset of that name (or
   * datasetId); 'unchanged': the rows are exactly its latest version's, so nothing was added.
   */
  action: 'created' | 'new-version' | 'unchanged';
  /** Every row left out, with the line it starts on. */
  rejected: BadRow[];
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
  const name = input.sourceName ?? basename(src);
  const where = (b: BadRow) => `${name}:${b.line}: ${b.message}`;
  if (parsed.bad.length && input.onBadRows === 'refuse') {
    const more = parsed.bad.length > 1 ? ` (and ${parsed.bad.length - 1} more bad rows)` : '';
    throw new FormatError('bad-rows', `${where(parsed.bad[0])}${more}`);
  }
  if (!parsed.rows.length) {
    const first = parsed.bad[0] ? `; first problem: ${where(parsed.bad[0])}` : '';
    throw new FormatError('empty-dataset', `${name}: no usable ${parsed.format} rows${first}`);
  }
  let target: DatasetRecord | null = input.datasetId != null ? getDataset(lib, input.datasetId) : null;
  const dsName = target?.name ?? checkDatasetName(input.name?.trim() || basename(name, extname(name)));
  if (!target) {
    target = findDatasetByName(lib, dsName);
    if (target?.isDemo && !input.isDemo)
      throw new ValidationError(
        'name-taken',
        `"${dsName}" is the demo dataset's name; import under another name`,
      );
  }
  if (target) {
    const latest = target.latest;
    const hash = createHash('sha256').update(jsonlBody(parsed.rows)).digest('hex');
    if (hash === latest.contentHash)
      return { dataset: target, version: latest, action: 'unchanged', rejected: parsed.bad };
    // Rows the dataset already had keep their ids (and so their annotations): the latest version's
    // first, then a few older full versions' for rows it had dropped (not all: a dataset may have
    // thousands of versions, each a file to read).
    const older = target.versions.filter((v) => v.split === null && v.id !== latest.id);
    const rowIds = inheritRowIds(
      parsed.rows,
      ...[latest, ...older.slice(0, INHERIT_FROM_OLDER)].map((v) => ({
        rows: readVersionRows(lib, v.id),
        ids: versionRowIds(lib, v),
      })),
    );
    const r = freezeVersion(lib, {
      datasetId: target.id,
      format: parsed.format,
      rows: parsed.rows,
      rowIds,
      rejects: parsed.bad,
      sourcePath: input.sourceName ?? src,
    });
    return { ...r, action: 'new-version', rejected: parsed.bad };
  }
  const r = freezeVersion(lib, {
    name: dsName,
    isDemo: input.isDemo,
    format: parsed.format,
    rows: parsed.rows,
    rejects: parsed.bad,
    sourcePath: input.sourceName ?? src,
  });
  return { ...r, action: 'created', rejected: parsed.bad };
}

/** Imports a JSONL/JSON/CSV file as a new frozen dataset version. Refuses a file with no usable row. */
export function importDataset(lib: Library, input: ImportInput): ImportResult {
  const src = sourceFile(input.path);
  if (extname(src).toLowerCase() === '.parquet') {
    throw new FormatError('async-only', `${src}: Parquet files are imported with importDatasetFile`);
  }
  const parsed = parseDataset(
    input.sourceName ?? basename(src),
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
    normalizeRows(
      input.sourceName ?? basename(src),
      'parquet',
      raw,
      input.format,
      input.mapping,
      input.onProgress,
    ),
    input,
  );
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
