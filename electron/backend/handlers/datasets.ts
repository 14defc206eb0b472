// 'datasets/*': import, list and page through frozen dataset versions (logic in library/datasets.ts).

import { z } from 'zod';
import { DATASET_FORMATS } from '../library/dataset-formats.ts';
import {
  type DatasetRecord,
  datasetRows,
  getDataset,
  type ImportResult,
  importDataset,
  listDatasets,
  type RowsPage,
  removeDataset,
} from '../library/datasets.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();

export const datasetsHandlers = defineHandlers({
  'datasets/list': handler(z.object({}).strict(), (_p, ctx): DatasetRecord[] => listDatasets(ctx.lib)),
  'datasets/get': handler(Id, (p, ctx): DatasetRecord => getDataset(ctx.lib, p.id)),
  'datasets/import': handler(
    z
      .object({
        path: z.string().min(1),
        name: z.string().max(200).optional(),
        format: z.enum([...DATASET_FORMATS, 'auto']).optional(),
        datasetId: z.number().int().positive().optional(),
      })
      .strict(),
    (p, ctx): ImportResult => {
      // The UI shows the rejected rows, so bad rows are skipped rather than failing the import.
      const r = importDataset(ctx.lib, { ...p, onBadRows: 'skip' });
      ctx.events.emit('library/changed', {
        kind: 'datasets',
        id: r.dataset.id,
        action: p.datasetId ? 'updated' : 'added',
      });
      return r;
    },
  ),
  'datasets/rows': handler(
    z
      .object({
        datasetId: z.number().int().positive(),
        versionId: z.number().int().positive().optional(),
        offset: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      })
      .strict(),
    (p, ctx): RowsPage => datasetRows(ctx.lib, p),
  ),
  'datasets/remove': handler(Id, (p, ctx): { id: number } => {
    const r = removeDataset(ctx.lib, p.id);
    ctx.events.emit('library/changed', { kind: 'datasets', id: p.id, action: 'removed' });
    return r;
  }),
});

export type DatasetsHandlers = ClientApi<typeof datasetsHandlers>;
