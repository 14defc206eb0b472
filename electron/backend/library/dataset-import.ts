// Importing a JSONL/JSON/CSV/TSV/Parquet file as a frozen dataset version, in two steps:
//   prepare  read the file, normalise its rows (dataset-formats.ts) and write them to a frozen file
//            (frozen-files.ts) — the slow part, outside any transaction;
//   record   insert the version row (datasets.ts recordVersion) — one short write transaction.
// JSONL is streamed: rows are read, checked and written a chunk at a time, so memory stays bounded
// and the event loop (serve's, with every window on it) is free between chunks. Parquet is read a
// row group at a time (memory and the loop's pauses bounded by a group). JSON documents, CSV and TSV
// are read whole and then checked in chunks that yield to the loop; CSV and TSV are parsed in time
// slices too (data-files.ts rawRowsScan), so that the process answers a cancel meanwhile. The studio
// runs the prepare step in the engine's 'files' process (importDatasetFile's `work`): parsing a JSON
// document whole, or decoding a Parquet row group, cannot yield (the CLI runs it in-process).
// Bad rows are reported with their line (the first BAD_ROWS_KEPT of them, kept with the version to
// review later; all are counted); with onBadRows 'refuse' any bad row fails the import and nothing
// is stored.
// Importing under a name the library already has (by default the file's name) adds a VERSION to
// that dataset rather than a second dataset of the same name: one name is one dataset, its versions
// say what changed, runs keep pointing at the exact version they used, and rows the dataset already
// had keep their ids, so their tags and ratings carry over. A file whose rows are exactly the latest
// version's adds nothing ('unchanged'). To keep both apart, import under another name.

import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { versionRowIds } from './dataset-annotations.ts';
import { type BadRow, type ColumnMapping, type DatasetFormat, readRawRows } from './dataset-formats.ts';
import {
  fileText,
  type ImportInput,
  Preparation,
  type PreparedImport,
  prepareImport,
  sourceFile,
} from './dataset-prepare.ts';
import {
  checkDatasetName,
  type DatasetRecord,
  type DatasetVersion,
  findDatasetByName,
  getDataset,
  recordVersion,
  type VersionMeta,
} from './datasets.ts';
import { recordingFrozenFiles } from './frozen-file-reclaim.ts';
import type { FrozenFile } from './frozen-files.ts';
import type { Library } from './library.ts';
import { frozenRowHashes, inheritingRowIds, type RowHashes } from './row-hashes.ts';
import { runInSlices, runThrough } from './sliced-scans.ts';

export interface ImportResult {
  dataset: DatasetRecord;
  version: DatasetVersion;
  /**
   * 'created': a new dataset; 'new-version': a version added to the dataset of that name (or
   * datasetId); 'unchanged': the rows are exactly its latest version's, so nothing was added.
   */
  action: 'created' | 'new-version' | 'unchanged';
  /** Rows left out, with the line each starts on (the first BAD_ROWS_KEPT of them). */
  rejected: BadRow[];
  /** Every row this import left out (`rejected` lists only the first BAD_ROWS_KEPT). */
  rejectedCount: number;
  /** Rows the same as an earlier row of the file (same prompt and completion): kept. */
  duplicateCount: number;
  /** The file's columns that its format does not keep, so not stored (the first 20). */
  unkeptColumns: string[];
  /** Keys of chat messages other than "role" and "content", so not stored (the first 20). */
  unkeptMessageKeys: string[];
}

/** Older full versions a re-import looks in for rows the latest version had dropped. */
const INHERIT_FROM_OLDER = 4;

/** Where a prepared file goes and with which row ids: decided before the write transaction. */
interface ImportPlan {
  prepared: PreparedImport;
  /** The dataset it becomes a version of (null: a new dataset named `meta.name`). */
  target: DatasetRecord | null;
  meta: VersionMeta;
}

/**
 * Decides where a prepared file goes (see the header): the dataset `datasetId`, else the dataset of
 * its name, else a new one. Reads the library only.
 */
function planTarget(lib: Library, prepared: PreparedImport, input: ImportInput): ImportPlan {
  let target = input.datasetId != null ? getDataset(lib, input.datasetId) : null;
  const shown = prepared.shownName;
  const name = target?.name ?? checkDatasetName(input.name?.trim() || basename(shown, extname(shown)));
  if (!target) {
    target = findDatasetByName(lib, name);
    if (target?.isDemo && !input.isDemo)
      throw new ValidationError(
        'name-taken',
        `"${name}" is the demo dataset's name; import under another name`,
      );
  }
  const meta: VersionMeta = {
    name,
    isDemo: input.isDemo,
    format: prepared.format,
    rejects: prepared.bad,
    rejectedCount: prepared.badCount,
    sourcePath: input.sourceName ?? prepared.src,
  };
  return { prepared, target, meta };
}

/**
 * The versions whose rows keep their ids in a planned new version (none when it adds nothing), and
 * the frozen files to hash for it: the new file's, then theirs. The latest version's rows first, then
 * a few older full versions' for rows it had dropped (not all: a dataset may have thousands of
 * versions, each a file to read).
 */
function inheritance(lib: Library, plan: ImportPlan): { from: DatasetVersion[]; files: string[] } | null {
  const { target, prepared } = plan;
  if (!target || prepared.file.contentHash === target.latest.contentHash) return null;
  const older = target.versions.filter((v) => v.split === null && v.id !== target.latest.id);
  const from = [target.latest, ...older.slice(0, INHERIT_FROM_OLDER)];
  return { from, files: [join(lib.dataDir, prepared.file.rel), ...from.map((v) => v.filePath)] };
}

/** The plan with the row ids its rows inherit, from the hashes of `inheritance`'s files; a scan. */
function* withRowIds(
  lib: Library,
  plan: ImportPlan,
  from: DatasetVersion[],
  hashes: RowHashes[],
): Generator<void, ImportPlan> {
  const [mine, ...theirs] = hashes;
  const rowIds = yield* inheritingRowIds(
    mine,
    ...from.map((v, i) => ({ hashes: theirs[i], ids: versionRowIds(lib, v) })),
  );
  return { ...plan, meta: { ...plan.meta, datasetId: plan.target?.id, rowIds } };
}

/** planTarget, and rows the dataset already had keep their ids (and so their annotations). */
function planRecord(lib: Library, prepared: PreparedImport, input: ImportInput): ImportPlan {
  const plan = planTarget(lib, prepared, input);
  const inherit = inheritance(lib, plan);
  return inherit ? runThrough(withRowIds(lib, plan, inherit.from, inherit.files.map(frozenRowHashes))) : plan;
}

/** Records a planned import (one short write transaction), or nothing when it is unchanged. */
function commitRecord(lib: Library, plan: ImportPlan): ImportResult {
  const { prepared, target } = plan;
  const rejected = {
    rejected: prepared.bad,
    rejectedCount: prepared.badCount,
    duplicateCount: prepared.duplicateCount,
    unkeptColumns: prepared.unkeptColumns,
    unkeptMessageKeys: prepared.unkeptMessageKeys,
  };
  if (target && prepared.file.contentHash === target.latest.contentHash)
    return { dataset: target, version: target.latest, action: 'unchanged', ...rejected };
  const r = recordVersion(lib, prepared.file, plan.meta);
  return { ...r, action: target ? 'new-version' : 'created', ...rejected };
}

/** Records a prepared file: a version of `input.datasetId`, of the dataset of its name, or a new one. */
export function recordImport(lib: Library, prepared: PreparedImport, input: ImportInput): ImportResult {
  return recordingFrozenFiles(lib, [prepared.file], () =>
    commitRecord(lib, planRecord(lib, prepared, input)),
  );
}

/**
 * Where an import's file work runs: reading, checking and freezing the file (prepareImport) and
 * hashing frozen files' rows for a new version's row ids (frozenRowHashes). The studio passes the
 * engine's 'files' process, so that parsing a CSV or JSON document whole, a Parquet row group, or
 * hashing a dataset's versions never holds its RPC loop; only the library is read and written here.
 */
export interface ImportWork {
  prepare(dataDir: string, input: ImportInput): Promise<PreparedImport>;
  rowHashes(files: string[]): Promise<RowHashes[]>;
}

const HERE: ImportWork = { prepare: prepareImport, rowHashes: async (files) => files.map(frozenRowHashes) };

/** Imports any supported file (streamed where it can be; see the header). */
export async function importDatasetFile(
  lib: Library,
  input: ImportInput,
  work: ImportWork = HERE,
): Promise<ImportResult> {
  if (input.datasetId !== undefined) getDataset(lib, input.datasetId); // refuse before reading
  const prepared = await work.prepare(lib.dataDir, input);
  return recordingFrozenFiles(lib, [prepared.file], async () => {
    const plan = planTarget(lib, prepared, input);
    const inherit = inheritance(lib, plan);
    if (!inherit) return commitRecord(lib, plan);
    const hashes = await work.rowHashes(inherit.files);
    // Matched in slices: at once, 200,000 rows held the RPC loop 160 ms (more on a busy machine).
    return commitRecord(lib, await runInSlices(withRowIds(lib, plan, inherit.from, hashes)));
  });
}

/**
 * importDatasetFile for a small JSONL/JSON/CSV file, synchronously (the demo is seeded inside a
 * transaction). Parquet is read asynchronously only.
 */
export function importDataset(lib: Library, input: ImportInput): ImportResult {
  const src = sourceFile(input.path);
  if (extname(src).toLowerCase() === '.parquet')
    throw new FormatError('async-only', `${src}: Parquet files are imported with importDatasetFile`);
  if (input.datasetId !== undefined) getDataset(lib, input.datasetId);
  const p = new Preparation(lib.dataDir, src, input);
  const { raw } = readRawRows(p.shownName, fileText(p.shownName, readFileSync(src)), input.mapping);
  let prepared: PreparedImport;
  try {
    for (const r of raw) p.push(r, raw.length);
    prepared = p.finish();
  } catch (e) {
    p.writer.abort();
    throw e;
  }
  return recordImport(lib, prepared, input);
}

/** Whether a dataset reference is a library id ("4") rather than a file (a file "4" wins). */
export function isDatasetId(ref: string): boolean {
  return /^\d+$/.test(ref) && !existsSync(ref);
}

/**
 * A dataset given as a library id ("4": its latest full version) or a file. A file is read and
 * frozen now, strictly (the first bad row fails naming file:line), and recorded (as recordImport
 * does: a version of the dataset of its name, or a new dataset) when `version` is called — inside
 * the caller's write transaction, which then stays short however big the file is. `files` is what
 * was frozen for it, for the caller to give back should it record nothing (recordingFrozenFiles).
 */
export async function datasetRef(
  lib: Library,
  ref: string,
  format?: DatasetFormat | 'auto',
  mapping?: ColumnMapping,
): Promise<{ version: () => DatasetVersion; files: FrozenFile[] }> {
  if (isDatasetId(ref)) {
    const id = Number(ref);
    getDataset(lib, id);
    // Its columns were mapped when it was imported; a mapping now would silently do nothing.
    if (mapping)
      throw new ValidationError(
        'invalid-params',
        `dataset ${id} is already imported: a column mapping is for a file`,
      );
    return { version: () => getDataset(lib, id).latest, files: [] };
  }
  const input: ImportInput = { path: ref, format, onBadRows: 'refuse', mapping };
  const prepared = await prepareImport(lib.dataDir, input);
  const plan = planRecord(lib, prepared, input);
  return { version: () => commitRecord(lib, plan).version, files: [prepared.file] };
}

/** datasetRef, recorded at once: the version of a library id, or of a file imported strictly. */
export async function datasetVersionFromRef(
  lib: Library,
  ref: string,
  format?: DatasetFormat | 'auto',
  mapping?: ColumnMapping,
): Promise<DatasetVersion> {
  const { version, files } = await datasetRef(lib, ref, format, mapping);
  return recordingFrozenFiles(lib, files, version);
}
