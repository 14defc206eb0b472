// New versions made from a version: edited rows (editDataset), seeded train/validation/test splits
// (splitDataset), duplicates dropped (dropDuplicates). Each is frozen as a new version whose rows
// keep their ids (annotations follow them); the version it came from is never changed, so runs keep
// referring to exactly the data they used. resolveDatasetVersion picks a version by split part, the
// way runs/start and evaluations/run name "the validation part of the split I trained on".
// Rows are streamed from the version's file into the new ones' as the bytes they are stored as
// (only replaced rows are serialised): memory grows with the edit, not with the version. The copy
// is a scan (sliced-scans.ts): the studio runs it in time slices (…InSlices), since copied at once a
// 1M-row version's edit or split held every window for 1.2–1.5 s.

import { CancelledError, ValidationError } from '../../../native-runtime/errors.ts';
import { mulberry32 } from '../../../native-runtime/generation/sampling.ts';
import { plural } from '../../../native-runtime/plural.ts';
import { isKeptKey, isObj } from '../../../native-runtime/training/data-formats.ts';
import { ROW_KEYS } from '../../../native-runtime/training/row-keys.ts';
import { writeTransaction } from '../db/database.ts';
import { versionRowIdsAt } from './dataset-annotations.ts';
import { type DatasetFormat, type DatasetRow, detectRowFormat, normalizeRow } from './dataset-formats.ts';
import {
  checkDatasetName,
  checkStillLatest,
  type DatasetRecord,
  type DatasetVersion,
  findDatasetByName,
  recordVersion,
  type SplitPart,
  type VersionMeta,
  versionOf,
} from './datasets.ts';
import {
  type DuplicateReport,
  type FindDuplicatesOptions,
  findVersionDuplicates,
  type NearSearchPartial,
} from './dedupe.ts';
import { recordingFrozenFiles } from './frozen-file-reclaim.ts';
import { type FrozenLine, frozenFilesWritten, frozenLines, writeFrozenFile } from './frozen-files.ts';
import type { Library } from './library.ts';
import { runInSlices, runThrough } from './sliced-scans.ts';

/** Rows copied between the points where a copy may pause. */
const ROWS_A_PAUSE = 1024;

export interface EditInput {
  datasetId: number;
  /** The version edited (default: the latest). */
  versionId?: number;
  /**
   * `versionId` was the latest when the edit began (a window's row editor): refused ('conflict') as an
   * edit of the latest is, once another version has become the latest — another window's edit, saved
   * first, would otherwise vanish from the latest. Without it an older version's edit branches from it.
   */
  ofLatest?: boolean;
  /** Replace rows by index (the new row is validated in the version's format; it keeps its id). */
  set?: { index: number; row: unknown }[];
  /** Remove rows by index. */
  remove?: number[];
  /** Append rows. */
  append?: unknown[];
  note?: string;
}

type EditResult = { dataset: DatasetRecord; version: DatasetVersion };

/**
 * Refuses, before the copy's files are finished, a dataset removed while its rows were copied (the
 * copy pauses on the RPC loop): its writers are then dropped, rather than frozen files left that no
 * version records. Nothing runs between this check and the version's record.
 */
function checkNotRemoved(lib: Library, ds: DatasetRecord, what: 'edit' | 'split'): void {
  if (!lib.db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(ds.id))
    throw new ValidationError(
      'not-found',
      `dataset "${ds.name}" was removed while its ${what} ran: nothing was stored`,
    );
}

/**
 * A version's rows streamed for a copy. Its file goes with its dataset (frozen-file-reclaim.ts): a
 * removal before the copy opened it is told as checkNotRemoved tells it, not as a missing file.
 */
function* sourceLines(
  lib: Library,
  ds: DatasetRecord,
  v: DatasetVersion,
  what: 'edit' | 'split',
): Generator<FrozenLine> {
  try {
    yield* frozenLines(v.filePath);
  } catch (e) {
    checkNotRemoved(lib, ds, what);
    throw e;
  }
}

/**
 * Why `x` holds a key its stored row would not keep (isKeptKey), or null: it would vanish on save
 * without a word, so a row typed in the editor is refused instead.
 */
function unkeptKey(format: DatasetFormat, x: unknown): string | null {
  if (!isObj(x)) return null;
  const extra = Object.keys(x).find((k) => !isKeptKey(format, x, k));
  if (extra !== undefined)
    return `"${extra}" is not kept: a ${format} row has only ${ROW_KEYS[format]}; remove it`;
  if (format === 'chat' && Array.isArray(x.messages))
    for (const [i, m] of x.messages.entries()) {
      const other = isObj(m) ? Object.keys(m).find((k) => k !== 'role' && k !== 'content') : undefined;
      if (other !== undefined)
        return `messages[${i}] "${other}" is not kept: a message has only "role" and "content"; remove it`;
    }
  return null;
}

/** Row `x` in the canonical shape of `format`, or a 'bad-row' error naming `where` it is. */
function validRow(format: DatasetFormat, x: unknown, where: string): DatasetRow {
  // A row of another format would be read as this one's, losing fields (an alpaca row's
  // instruction in a prompt-completion dataset), as an import refuses it too.
  const own = detectRowFormat(x);
  if (own && own !== format)
    throw new ValidationError('bad-row', `${where} is ${own} (the dataset is ${format})`);
  const n = normalizeRow(format, x);
  if (typeof n === 'string') throw new ValidationError('bad-row', `${where} ${n} (the dataset is ${format})`);
  const unkept = unkeptKey(format, x);
  if (unkept) throw new ValidationError('bad-row', `${where} ${unkept}`);
  return n;
}

export interface CreateInput {
  name: string;
  /** The rows, all of the format the first one has (detectRowFormat). */
  rows: unknown[];
  note?: string;
}

/**
 * A new dataset named `name` holding `rows` as its version 1 (the Playground's "save as training
 * example" into a new dataset). A name another dataset has is refused ('name-taken'), as a rename
 * refuses it: adding to that dataset is an edit of it.
 */
export function createDataset(lib: Library, c: CreateInput): EditResult {
  const name = checkDatasetName(c.name);
  const format = detectRowFormat(c.rows[0]);
  if (!format)
    throw new ValidationError(
      'bad-row',
      'row 0: not a prompt-completion, alpaca or chat row (expected "prompt" and "completion", "instruction" and "output", or "messages")',
    );
  const rows = c.rows.map((x, k) => validRow(format, x, `row ${k}:`));
  const nameFree = () => {
    const other = findDatasetByName(lib, name);
    if (other)
      throw new ValidationError(
        'name-taken',
        `a dataset called "${name}" already exists (id ${other.id}): choose it to add the example to it`,
      );
  };
  nameFree(); // before writing a file that would then go unused
  const file = writeFrozenFile(lib.dataDir, (w) => {
    for (const row of rows) w.write(row);
  });
  // Again with the record, in one transaction: another window's dataset of that name cannot land between.
  return recordingFrozenFiles(lib, [file], () =>
    writeTransaction(lib.db, () => {
      nameFree();
      return recordVersion(lib, file, { name, format, note: c.note ?? 'created with its first rows' });
    }),
  );
}

/** Edits rows by freezing a NEW version (runs keep referring to the exact version they used). */
export function editDataset(lib: Library, e: EditInput): EditResult {
  return runThrough(editing(lib, e));
}

/**
 * editDataset for the RPC loop: the rows are copied in time slices; `signal` (drop duplicates'
 * Cancel) stops the copy, dropping what it wrote.
 */
export function editDatasetInSlices(lib: Library, e: EditInput, signal?: AbortSignal): Promise<EditResult> {
  return editInSlices(editing(lib, e), signal);
}

function editInSlices(edit: Generator<void, EditResult>, signal?: AbortSignal): Promise<EditResult> {
  return runInSlices(edit, undefined, () => {
    if (signal?.aborted) throw new CancelledError('the edit was cancelled: nothing was stored');
  });
}

/** The edit `e`, a scan; `ofLatest`: it was asked of the latest version (checkStillLatest). */
function* editing(
  lib: Library,
  e: EditInput,
  ofLatest = e.versionId == null || e.ofLatest === true,
): Generator<void, EditResult> {
  const { ds, v } = versionOf(lib, e.datasetId, e.versionId);
  // The ids read lazily from their stored bytes, as the rows are copied: decoding a million into an
  // array up front held the loop before the copy's first pause.
  const ids = versionRowIdsAt(lib, v, 0, v.rowCount);
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= ids.rows) {
      throw new ValidationError(
        'bad-row',
        `row ${i} is out of range: version ${v.id} has rows 0..${ids.rows - 1}`,
      );
    }
  };
  const valid = (x: unknown, where: string): DatasetRow => validRow(v.format, x, where);
  const replaced = new Map<number, DatasetRow>();
  for (const s of e.set ?? []) {
    check(s.index);
    replaced.set(s.index, valid(s.row, `row ${s.index}:`));
  }
  const removed = new Set<number>();
  for (const i of e.remove ?? []) {
    check(i);
    removed.add(i);
  }
  const appended = (e.append ?? []).map((x, k) => valid(x, `appended row ${k}:`));
  if (ids.rows - removed.size + appended.length === 0)
    throw new ValidationError('empty-dataset', 'the edit would leave the dataset without rows');
  const rowIds: (number | null)[] = [];
  const [file] = yield* frozenFilesWritten(lib.dataDir, 1, function* ([w]) {
    for (const line of sourceLines(lib, ds, v, 'edit')) {
      if (line.index % ROWS_A_PAUSE === ROWS_A_PAUSE - 1) yield;
      if (removed.has(line.index)) continue;
      const row = replaced.get(line.index);
      if (row) w.write(row);
      else w.writeLine(line.bytes);
      rowIds.push(ids.id(line.index));
    }
    for (const row of appended) {
      w.write(row);
      rowIds.push(null);
    }
    checkNotRemoved(lib, ds, 'edit');
    // Early, not to finish and sync the files of an edit refused anyway; recordVersion checks again.
    if (ofLatest) checkStillLatest(lib, ds.id, v.id);
  });
  return recordingFrozenFiles(lib, [file], () =>
    recordVersion(lib, file, {
      datasetId: ds.id,
      format: v.format,
      rowIds,
      sourcePath: v.sourcePath,
      parentVersionId: v.id,
      note: e.note ?? `edited from version ${v.version}`,
      ...(ofLatest ? { ofLatest: v.id } : {}),
    }),
  );
}

export interface SplitInput {
  datasetId: number;
  versionId?: number;
  seed?: number;
  /** Fractions that add up to 1 (default 0.8 / 0.1 / 0.1). A zero part is not created. */
  ratios?: { train: number; validation: number; test: number };
}

export interface SplitResult {
  source: DatasetVersion;
  train: DatasetVersion;
  validation: DatasetVersion | null;
  test: DatasetVersion | null;
}

/** Ratios may be off by float rounding (0.7 + 0.2 + 0.1), not by more. */
const RATIO_SUM_TOLERANCE = 1e-6;

/**
 * Splits a version into train/validation/test child versions: a seeded shuffle (mulberry32 + Fisher–
 * Yates), so the same seed gives the same parts. Each part keeps the original row order. Ratios
 * that do not add up to 1 are refused (scaling them silently would split other than asked).
 */
export function splitDataset(lib: Library, s: SplitInput): SplitResult {
  return runThrough(splitting(lib, s));
}

/** splitDataset for the RPC loop: the parts are written in time slices. */
export function splitDatasetInSlices(lib: Library, s: SplitInput): Promise<SplitResult> {
  return runInSlices(splitting(lib, s));
}

function* splitting(lib: Library, s: SplitInput): Generator<void, SplitResult> {
  const { ds, v } = versionOf(lib, s.datasetId, s.versionId);
  if (v.split !== null)
    throw new ValidationError(
      'bad-split',
      `version ${v.id} is already a ${v.split} split; split the full version`,
    );
  const r = s.ratios ?? { train: 0.8, validation: 0.1, test: 0.1 };
  if (![r.train, r.validation, r.test].every((x) => Number.isFinite(x) && x >= 0) || !(r.train > 0)) {
    throw new ValidationError(
      'bad-split',
      'split ratios must be non-negative numbers with a positive train part',
    );
  }
  const sum = r.train + r.validation + r.test;
  if (Math.abs(sum - 1) > RATIO_SUM_TOLERANCE) {
    const show = (x: number) => String(Math.round(x * 1e6) / 1e6);
    throw new ValidationError(
      'bad-split-ratios',
      `split ratios must add up to 1; train ${show(r.train)} + validation ${show(r.validation)} + test ${show(r.test)} = ${show(sum)}`,
    );
  }
  // The ids read lazily from their stored bytes: decoding a million into an array held the loop.
  const ids = versionRowIdsAt(lib, v, 0, v.rowCount);
  const n = ids.rows;
  const nVal = Math.round(n * r.validation);
  const nTest = Math.round(n * r.test);
  const nTrain = n - nVal - nTest;
  if (nTrain < 1)
    throw new ValidationError(
      'bad-split',
      `${plural(n, 'row')} leave${n === 1 ? 's' : ''} nothing to train on with these ratios`,
    );
  const seed = s.seed ?? 42;
  // The first nTrain of the shuffled order are the train part, then validation, then test.
  const names = (['train', 'validation', 'test'] as const).filter((_, k) => [nTrain, nVal, nTest][k] > 0);
  const [trainPart, valPart, testPart] = (['train', 'validation', 'test'] as const).map((p) =>
    names.indexOf(p),
  );
  const partAt = (k: number) => (k < nTrain ? trainPart : k < nTrain + nVal ? valPart : testPart);
  const partOf = yield* seededParts(n, seed, partAt);
  // Every part's file is written first (one pass over the version, rows in their order), then all
  // parts are recorded in ONE transaction: a failure or a kill leaves no partial split, at worst
  // unreferenced frozen files (or `*.tmp` files, swept at start-up).
  const partIds: number[][] = names.map(() => []);
  const files = yield* frozenFilesWritten(lib.dataDir, names.length, function* (writers) {
    for (const line of sourceLines(lib, ds, v, 'split')) {
      if (line.index % ROWS_A_PAUSE === ROWS_A_PAUSE - 1) yield;
      writers[partOf[line.index]].writeLine(line.bytes);
      partIds[partOf[line.index]].push(ids.id(line.index));
    }
    checkNotRemoved(lib, ds, 'split');
  });
  const recorded = recordingFrozenFiles(lib, files, () =>
    writeTransaction(lib.db, () =>
      names.map((split, k) => {
        const meta: VersionMeta = {
          datasetId: ds.id,
          format: v.format,
          rowIds: partIds[k],
          sourcePath: v.sourcePath,
          parentVersionId: v.id,
          split,
          splitSeed: seed,
          note: `${split} split of version ${v.version} (seed ${seed})`,
        };
        return recordVersion(lib, files[k], meta).version;
      }),
    ),
  );
  const part = (name: SplitPart) => recorded[names.indexOf(name)] ?? null;
  return {
    source: v,
    train: part('train') as DatasetVersion,
    validation: part('validation'),
    test: part('test'),
  };
}

/** Shuffle steps between the points where a split may pause. */
const SHUFFLE_STEPS_A_PAUSE = 4096;

/**
 * The part (`partAt` of its place in a seeded Fisher–Yates shuffle, mulberry32) of each of `n` rows,
 * a scan: a million rows shuffled at once held the RPC loop. A place is final once the shuffle has
 * passed it (it runs from the end), so each row's part is known as the shuffle goes.
 */
function* seededParts(
  n: number,
  seed: number,
  partAt: (place: number) => number,
): Generator<void, Uint8Array> {
  const rng = mulberry32(seed);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const partOf = new Uint8Array(n);
  for (let i = n - 1; i > 0; i--) {
    if (i % SHUFFLE_STEPS_A_PAUSE === 0) yield;
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
    partOf[order[i]] = partAt(i);
  }
  if (n > 0) partOf[order[0]] = partAt(0);
  return partOf;
}

export interface DropDuplicatesInput {
  datasetId: number;
  versionId?: number;
  /** 'exact' (default): the same text after normalisation; 'near': also Jaccard ≥ threshold. */
  mode?: 'exact' | 'near';
  threshold?: number;
}

export interface DropDuplicatesResult {
  source: DatasetVersion;
  /** The new version, or null when the version had no duplicates (nothing was stored). */
  version: DatasetVersion | null;
  /** Indices (in the source version) of the rows left out. */
  removed: number[];
  /** Set when the near search was cut short (DuplicateReport.nearPartial): some may remain. */
  nearPartial: NearSearchPartial | null;
}

/**
 * Finds duplicates among the rows of a frozen file (absolute path): dedupe.ts's findDuplicates over
 * its texts, in the studio run by the 'files' worker (which reads the file itself).
 */
export type DuplicateFinder = (
  filePath: string,
  opts: FindDuplicatesOptions,
) => DuplicateReport | Promise<DuplicateReport>;

/**
 * A new version without the duplicates of a version: the first row of each group is kept. `signal`
 * stops it, its copy too (a Cancel once the search is done): then nothing is stored.
 */
export async function dropDuplicates(
  lib: Library,
  d: DropDuplicatesInput,
  find: DuplicateFinder = findVersionDuplicates,
  signal?: AbortSignal,
): Promise<DropDuplicatesResult> {
  const { v } = versionOf(lib, d.datasetId, d.versionId);
  const report = await find(v.filePath, {
    threshold: d.threshold,
    maxPairs: Number.MAX_SAFE_INTEGER,
    near: d.mode === 'near',
  });
  const pairs = d.mode === 'near' ? [...report.exact, ...report.near] : report.exact;
  pairs.sort((p, q) => p.a - q.a || p.b - q.b);
  const removed = new Set<number>();
  for (const p of pairs) if (!removed.has(p.a)) removed.add(p.b);
  const { nearPartial } = report;
  if (!removed.size) return { source: v, version: null, removed: [], nearPartial };
  const list = [...removed].sort((a, b) => a - b);
  const how = d.mode === 'near' ? `near-duplicates (similarity ≥ ${d.threshold ?? 0.9})` : 'exact duplicates';
  // The version searched is the one edited; asked of the latest, it must still be the latest.
  const edit = editing(
    lib,
    {
      datasetId: v.datasetId,
      versionId: v.id,
      remove: list,
      note: `${list.length} ${how} dropped from version ${v.version}${nearPartial ? ` (${nearPartial.note})` : ''}`,
    },
    d.versionId == null,
  );
  const { version } = await editInSlices(edit, signal);
  return { source: v, version, removed: list, nearPartial };
}

export interface VersionSelector {
  datasetId: number;
  /** A version of the dataset (default: its latest full version). */
  versionId?: number;
  /** A part of a split: of that version's newest split, or the sibling of a part given as versionId. */
  split?: SplitPart;
}

/**
 * The version a selector names. With `split`: a full version's newest split's part, or, for a
 * version that is itself a part, the part cut with it (same parent and seed). Refused with
 * 'no-split' naming what to do when there is none.
 */
export function resolveDatasetVersion(lib: Library, sel: VersionSelector): DatasetVersion {
  const { ds, v } = versionOf(lib, sel.datasetId, sel.versionId);
  if (!sel.split || v.split === sel.split) return v;
  const parentId = v.split === null ? v.id : v.parentVersionId;
  const parts = ds.versions.filter(
    (x) =>
      x.parentVersionId === parentId &&
      x.split === sel.split &&
      (v.split === null || x.splitSeed === v.splitSeed),
  );
  // Parts cut together are consecutive versions: the nearest to a given part is its sibling.
  const best =
    v.split === null
      ? parts.sort((a, b) => b.version - a.version)[0]
      : parts.sort((a, b) => Math.abs(a.version - v.version) - Math.abs(b.version - v.version))[0];
  if (!best) {
    const parent = ds.versions.find((x) => x.id === parentId);
    throw new ValidationError(
      'no-split',
      `version ${parent?.version ?? '?'} of "${ds.name}" has no ${sel.split} part; split it on the Datasets page first`,
    );
  }
  return best;
}
