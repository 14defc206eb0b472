// 'datasets/*': import (JSONL, JSON, CSV, Parquet; column mapping), list and page through frozen
// dataset versions with filters, tag/rate rows, edit rows into a new version, find duplicates and
// make seeded train/validation/test splits (logic in library/datasets.ts and library/dedupe.ts).

import { z } from 'zod';
import { editDataset, type SplitResult, splitDataset } from '../library/dataset-edits.ts';
import { DATASET_FORMATS } from '../library/dataset-formats.ts';
import { type ImportResult, importDatasetFile } from '../library/dataset-import.ts';
import {
  annotateRows,
  datasetRows,
  type RowMeta,
  type RowsPage,
  readVersionRows,
  rowText,
} from '../library/dataset-rows.ts';
import {
  type DatasetRecord,
  type DatasetVersion,
  getDataset,
  listDatasets,
  removeDataset,
} from '../library/datasets.ts';
import { type DuplicateReport, findDuplicates } from '../library/dedupe.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();
const PosInt = z.number().int().positive();
const Col = z.string().min(1).max(200);
const Tag = z.string().min(1).max(64);
const RowIndex = z.number().int().min(0);

export const datasetsHandlers = defineHandlers({
  'datasets/list': handler(z.object({}).strict(), (_p, ctx): DatasetRecord[] => listDatasets(ctx.lib)),
  'datasets/get': handler(Id, (p, ctx): DatasetRecord => getDataset(ctx.lib, p.id)),
  'datasets/import': handler(
    z
      .object({
        path: z.string().min(1).max(4096),
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
      const path = checkSourcePath(p.path);
      // The UI shows the rejected rows, so bad rows are skipped rather than failing the import.
      const r = await importDatasetFile(ctx.lib, { ...p, path, onBadRows: 'skip' });
      ctx.events.emit('library/changed', {
        kind: 'datasets',
        id: r.dataset.id,
        action: p.datasetId ? 'updated' : 'added',
      });
      return r;
    },
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
    (p, ctx): RowsPage => datasetRows(ctx.lib, p),
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
  /** Replaces, removes or appends rows, frozen as a new version. */
  'datasets/edit': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        set: z
          .array(z.object({ index: RowIndex, row: z.record(z.string(), z.unknown()) }).strict())
          .max(10_000)
          .optional(),
        remove: z.array(RowIndex).max(100_000).optional(),
        append: z.array(z.record(z.string(), z.unknown())).max(100_000).optional(),
        note: z.string().max(1000).optional(),
      })
      .strict(),
    (p, ctx): { dataset: DatasetRecord; version: DatasetVersion } => {
      const r = editDataset(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  /** Exact and near-duplicate row pairs of a version (near: character 5-gram Jaccard ≥ threshold). */
  'datasets/duplicates': handler(
    z
      .object({
        datasetId: PosInt,
        versionId: PosInt.optional(),
        threshold: z.number().gt(0).max(1).optional(),
        maxPairs: z.number().int().min(1).max(100_000).optional(),
      })
      .strict(),
    (p, ctx): DuplicateReport & { versionId: number } => {
      const ds = getDataset(ctx.lib, p.datasetId);
      const versionId = p.versionId ?? ds.latest.id;
      const rows = datasetRows(ctx.lib, { datasetId: ds.id, versionId, limit: 1 }); // checks the version
      const texts = readVersionRows(ctx.lib, rows.versionId).map(rowText);
      return { versionId, ...findDuplicates(texts, p) };
    },
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
    (p, ctx): SplitResult => {
      const r = splitDataset(ctx.lib, p);
      ctx.events.emit('library/changed', { kind: 'datasets', id: p.datasetId, action: 'updated' });
      return r;
    },
  ),
  'datasets/remove': handler(Id, (p, ctx): { id: number } => {
    const r = removeDataset(ctx.lib, p.id);
    ctx.events.emit('library/changed', { kind: 'datasets', id: p.id, action: 'removed' });
    return r;
  }),
});

export type DatasetsHandlers = ClientApi<typeof datasetsHandlers>;
