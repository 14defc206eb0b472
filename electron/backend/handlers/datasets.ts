// 'datasets/*': import (JSONL, JSON, CSV, TSV, Parquet; column mapping) from a path or an upload, list,
// rename and remove datasets, page through frozen versions with filters, tag/rate rows, review the
// lines an import left out, edit rows into a new version, find or drop duplicates, make seeded
// train/validation/test splits, count tokens per example for a model, and export a version as a
// JSONL download (logic in library/datasets*.ts, library/dedupe.ts and the engine's 'files' process).

import { z } from 'zod';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { TRAIN_DEFAULTS } from '../../../native-runtime/training/options.ts';
import type { BackendContext } from '../context.ts';
import { annotateRows, type RowMeta } from '../library/dataset-annotations.ts';
import {
  createDataset,
  type DropDuplicatesResult,
  dropDuplicates,
  editDatasetInSlices,
  type SplitResult,
  splitDatasetInSlices,
} from '../library/dataset-edits.ts';
import { DATASET_FORMATS } from '../library/dataset-formats.ts';
import { type ImportResult, importDatasetFile } from '../library/dataset-import.ts';
import {
  datasetRejects,
  datasetRowsInSlices,
  type RejectsPage,
  type RowsPage,
} from '../library/dataset-rows.ts';
import { type TokenLengthReport, tokenLengthReport } from '../library/dataset-token-stats.ts';
import {
  type DatasetRecord,
  type DatasetVersion,
  getDataset,
  listDatasets,
  removeDataset,
  renameDataset,
  versionOf,
} from '../library/datasets.ts';
import type { DuplicateReport } from '../library/dedupe.ts';
import { checkFrozenFile } from '../library/frozen-files.ts';
import { getModel } from '../library/models.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { countTokens } from '../library/token-counts.ts';
import { type DownloadInfo, discardUpload, makeDownloadCopy, uploadedFile } from '../library/transfers.ts';
import { CancellableRequests } from '../rpc/cancellable-requests.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

/** A window's id for a duplicate search, so that it can stop it (datasets/duplicates-cancel). */
const RequestId = z.string().min(1).max(100);

// Duplicate searches in flight, by the id their window gave: seconds to minutes on a big version,
// in the 'files' engine process, where everything else in that lane waits behind them.
const duplicateSearches = new CancellableRequests('searching');
// Token counts in flight, by the id their window gave: minutes for a big version (100,000 rows: 135 s
// on 2 cores, 200,000: 225 s), in the engine's 'counts' process; each pushes how far it is
// ('datasets/token-progress').
const tokenCounts = new CancellableRequests('counting');

/** Rejected rows sent with an import's reply (all of them are kept with the version to review). */
const REJECTS_IN_REPLY = 200;

/** A file name for a download: the dataset's name without characters file systems refuse. */
function downloadName(ds: DatasetRecord, v: DatasetVersion): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const base = ds.name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').slice(0, 120) || 'dataset';
  return `${base}-v${v.version}${v.split ? `-${v.split}` : ''}.jsonl`;
}

/** datasets/token-lengths: the version's token counts for the model, as a histogram report. */
async function tokenLengthsOf(
  ctx: BackendContext,
  p: {
    datasetId: number;
    versionId?: number;
    modelId: number;
    maxLength?: number;
    chatTemplate?: 'auto' | 'none';
    sample?: number;
    requestId?: string;
  },
  signal: AbortSignal,
): Promise<TokenLengthReport> {
  const ds = getDataset(ctx.lib, p.datasetId);
  const v = p.versionId !== undefined ? ds.versions.find((x) => x.id === p.versionId) : ds.latest;
  if (!v) throw new ValidationError('not-found', `dataset ${ds.id} has no version with id ${p.versionId}`);
  const model = getModel(ctx.lib, p.modelId);
  const started = performance.now();
  const sample = p.sample !== undefined && p.sample < v.rowCount ? p.sample : undefined;
  const { requestId } = p;
  const { counts, cached } = countTokens(ctx.engine, v, model, p.chatTemplate ?? 'auto', {
    sample,
    signal,
    // Only a request its window can tell apart from others is followed.
    onProgress:
      requestId === undefined
        ? undefined
        : (done, total) => ctx.events.emit('datasets/token-progress', { requestId, done, total }),
  });
  const c = await counts;
  const maxLength = p.maxLength ?? Math.min(TRAIN_DEFAULTS.maxLength, c.maxPositions);
  return tokenLengthReport(
    c.lengths,
    maxLength,
    {
      versionId: v.id,
      modelId: model.id,
      chatTemplate: c.chatTemplate,
      countMs: cached ? 0 : Math.round(performance.now() - started),
    },
    c.indices ? { indices: c.indices, total: c.total } : null,
  );
}

const Id = z.object({ id: z.number().int().positive() }).strict();
const PosInt = z.number().int().positive();
const Col = z.string().min(1).max(200);
const Tag = z.string().min(1).max(64);
const RowIndex = z.number().int().min(0);

export const datasetsHandlers = defineHandlers({
  'datasets/list': handler(z.object({}).strict(), (_p, ctx): DatasetRecord[] => listDatasets(ctx.lib)),
  'datasets/get': handler(Id, (p, ctx): DatasetRecord => getDataset(ctx.lib, p.id)),
  /** From a file on the backend's machine (`path`) or a finished upload of one file (`uploadId`). */
  'datasets/import': handler(
    z
      .object({
        path: z.string().min(1).max(4096).optional(),
        uploadId: z.string().min(1).max(64).optional(),
        name: z.string().max(200).optional(),
        format: z.enum([...DATASET_FORMATS, 'auto']).optional(),
        datasetId: PosInt.optional(),
        mapping: z
          .object({
            prompt: Col.optional(),
            completion: Col.optional(),
            instruction: Col.optional(),
            input: Col.optional(),
            output: Col.optional(),
            messages: Col.optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
    async (p, ctx): Promise<ImportResult> => {
      const { uploadId, path: given, ...rest } = p;
      if ((uploadId === undefined) === (given === undefined))
        throw new ValidationError('invalid-params', 'give either path or uploadId');
      // An upload's file name is the window's; only its extension and stem are used (never a path).
      const up = uploadId !== undefined ? uploadedFile(ctx.lib, uploadId, 'dataset') : null;
      const path = up ? up.path : checkSourcePath(given as string);
      // The UI shows the rejected rows, so bad rows are skipped rather than failing the import. The
      // file work (reading, freezing, hashing rows) runs in the engine's 'files' worker; only the
      // library is read and written here.
      const r = await importDatasetFile(
        ctx.lib,
        { ...rest, path, sourceName: up?.name, onBadRows: 'skip' },
        {
          prepare: (dataDir, input) => ctx.engine.call('prepareDatasetImport', { dataDir, input }),
          rowHashes: (files) => ctx.engine.call('frozenRowHashes', { files }),
        },
      );
      if (uploadId !== undefined) await discardUpload(ctx.lib, uploadId);
      if (r.action !== 'unchanged') {
        ctx.events.emit('library/changed', {
          kind: 'datasets',
          id: r.dataset.id,
          action: r.action === 'created' ? 'added' : 'updated',
        });
      }
      return { ...r, rejected: r.rejected.slice(0, REJECTS_IN_REPLY) };
    },
  ),
  'datasets/rename': handler(
    z.object({ id: PosInt, name: z.string().min(1).max(200) }).strict(),
    (p, ctx): DatasetRecord => {
      const r = renameDataset(ctx.lib, p.id, p.name);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.id, action: 'updated' });
      return r;
    },
  ),
  /** The lines the import of a version left out (line, why, the start of the line). */
  'datasets/rejects': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        offset: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      })
      .strict(),
    (p, ctx): RejectsPage => datasetRejects(ctx.lib, p),
  ),
  /** A page of rows with their metadata; filters: tag, minRating, maxRating, unrated, search. */
  'datasets/rows': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        offset: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
        tag: Tag.optional(),
        minRating: z.number().int().min(1).max(5).optional(),
        maxRating: z.number().int().min(1).max(5).optional(),
        unrated: z.boolean().optional(),
        search: z.string().min(1).max(1000).optional(),
      })
      .strict(),
    (p, ctx): Promise<RowsPage> => datasetRowsInSlices(ctx.lib, p),
  ),
  /** Rates, tags or annotates rows (by index in a version); the metadata follows the row's content. */
  'datasets/annotate': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        indices: z.array(RowIndex).min(1).max(10_000),
        rating: z.number().int().min(1).max(5).nullable().optional(),
        addTags: z.array(Tag).max(50).optional(),
        removeTags: z.array(Tag).max(50).optional(),
        note: z.string().max(10_000).nullable().optional(),
      })
      .strict(),
    (p, ctx): RowMeta[] => {
      const r = annotateRows(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  /**
   * Replaces, removes or appends rows, frozen as a new version. Without versionId (the latest), or
   * with ofLatest (versionId was the latest when the edit began), an edit once the dataset got a newer
   * version is refused ('conflict'): nothing is stored.
   */
  'datasets/edit': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        ofLatest: z.boolean().optional(),
        set: z
          .array(z.object({ index: RowIndex, row: z.record(z.string(), z.unknown()) }).strict())
          .max(10_000)
          .optional(),
        remove: z.array(RowIndex).max(100_000).optional(),
        append: z.array(z.record(z.string(), z.unknown())).max(100_000).optional(),
        note: z.string().max(1000).optional(),
      })
      .strict(),
    async (p, ctx): Promise<{ dataset: DatasetRecord; version: DatasetVersion }> => {
      const r = await editDatasetInSlices(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  /**
   * A new dataset holding `rows` (all of one format) as its version 1; a name the library has is
   * refused ('name-taken'): rows are added to a dataset with datasets/edit's append.
   */
  'datasets/create': handler(
    z
      .object({
        name: z.string().min(1).max(200),
        rows: z.array(z.record(z.string(), z.unknown())).min(1).max(10_000),
        note: z.string().max(1000).optional(),
      })
      .strict(),
    (p, ctx): { dataset: DatasetRecord; version: DatasetVersion } => {
      const r = createDataset(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: r.dataset.id, action: 'added' });
      return r;
    },
  ),
  /**
   * Exact duplicate row pairs of a version, and near-duplicate ones (character 5-gram Jaccard ≥
   * threshold) unless `mode` is 'exact' (default 'near', as before the mode existed).
   */
  'datasets/duplicates': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        mode: z.enum(['exact', 'near']).optional(),
        threshold: z.number().gt(0).max(1).optional(),
        maxPairs: z.number().int().min(1).max(100_000).optional(),
        requestId: RequestId.optional(),
      })
      .strict(),
    async (p, ctx): Promise<DuplicateReport & { versionId: number }> => {
      const { v } = versionOf(ctx.lib, p.datasetId, p.versionId);
      checkFrozenFile(v.filePath);
      const { datasetId: _d, versionId: _v, requestId, mode, ...rest } = p;
      const opts = { ...rest, near: mode !== 'exact' };
      const report = await duplicateSearches.run(requestId, ctx.client, (signal) =>
        ctx.engine.call('findDuplicates', { filePath: v.filePath, opts }, { signal }),
      );
      return { versionId: v.id, ...report };
    },
  ),
  /**
   * Stops the duplicate search (datasets/duplicates or drop-duplicates) started with that
   * requestId: it answers with a 'cancelled' error, and no version is made.
   */
  'datasets/duplicates-cancel': handler(
    z.object({ requestId: RequestId }).strict(),
    (p): { cancelled: boolean } => ({ cancelled: duplicateSearches.cancel(p.requestId) }),
  ),
  /** Seeded train/validation/test child versions of a version. */
  'datasets/split': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        seed: z.number().int().min(0).max(0xffffffff).optional(),
        ratios: z
          .object({
            train: z.number().min(0).max(1),
            validation: z.number().min(0).max(1),
            test: z.number().min(0).max(1),
          })
          .strict()
          .optional(),
      })
      .strict(),
    async (p, ctx): Promise<SplitResult> => {
      const r = await splitDatasetInSlices(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  /** A new version without the duplicates ('exact', or 'near' ones too); null when there were none. */
  'datasets/drop-duplicates': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        mode: z.enum(['exact', 'near']).optional(),
        threshold: z.number().gt(0).max(1).optional(),
        requestId: RequestId.optional(),
      })
      .strict(),
    async (p, ctx): Promise<DropDuplicatesResult> => {
      const r = await duplicateSearches.run(p.requestId, ctx.client, (signal) =>
        dropDuplicates(
          ctx.lib,
          p,
          (filePath, opts) => ctx.engine.call('findDuplicates', { filePath, opts }, { signal }),
          signal,
        ),
      );
      if (r.version)
        ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  /** A version's rows as a JSONL download (files/download), one canonical JSON object per line. */
  'datasets/export': handler(
    z.object({ datasetId: PosInt, versionId: PosInt.optional() }).strict(),
    (p, ctx): DownloadInfo => {
      const ds = getDataset(ctx.lib, p.datasetId);
      const v = p.versionId !== undefined ? ds.versions.find((x) => x.id === p.versionId) : ds.latest;
      if (!v)
        throw new ValidationError('not-found', `dataset ${ds.id} has no version with id ${p.versionId}`);
      // The frozen file holds exactly that (FrozenFileWriter), so it is copied, not rebuilt in
      // memory: a version over 512 MB is longer than one string can be.
      checkFrozenFile(v.filePath);
      return makeDownloadCopy(ctx.lib, downloadName(ds, v), v.filePath);
    },
  ),
  /**
   * Tokens per example for a model, counted as training tokenizes them (after the chat template),
   * binned, with the rows over maxLength (default: training's) flagged. Counted in an engine process.
   */
  'datasets/token-lengths': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        modelId: PosInt,
        maxLength: z
          .number()
          .int()
          .min(2)
          .max(1 << 20)
          .optional(),
        chatTemplate: z.enum(['auto', 'none']).optional(),
        /** Count only this many rows, picked at random (a quick first picture of a big version). */
        sample: z.number().int().min(10).max(100_000).optional(),
        requestId: RequestId.optional(),
      })
      .strict(),
    (p, ctx): Promise<TokenLengthReport> =>
      tokenCounts.run(p.requestId, ctx.client, (signal) => tokenLengthsOf(ctx, p, signal)),
  ),
  /** Stops the datasets/token-lengths started with that requestId: it answers with a 'cancelled' error. */
  'datasets/token-lengths-cancel': handler(
    z.object({ requestId: RequestId }).strict(),
    (p): { cancelled: boolean } => ({ cancelled: tokenCounts.cancel(p.requestId) }),
  ),
  'datasets/remove': handler(Id, (p, ctx): { id: number } => {
    // Its deleted files' kept token counts go with them (frozen-file-reclaim.ts).
    const r = removeDataset(ctx.lib, p.id);
    ctx.events.emit('library/changed', { kind: 'datasets', id: p.id, action: 'removed' });
    return { id: r.id };
  }),
});

export type DatasetsHandlers = ClientApi<typeof datasetsHandlers>;
