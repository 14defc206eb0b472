// Changing a dataset's rows: every change freezes a NEW version (runs keep the exact version they
// used). editDataset sets, removes and appends rows; splitDataset cuts seeded train/validation/test
// children of a version.

import { ValidationError } from '../../../native-runtime/errors.ts';
import { mulberry32 } from '../../../native-runtime/generation/sampling.ts';
import { type DatasetRow, normalizeRow } from './dataset-formats.ts';
import { readVersionRows } from './dataset-rows.ts';
import { type DatasetRecord, type DatasetVersion, freezeVersion, versionOf } from './datasets.ts';
import type { Library } from './library.ts';

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
