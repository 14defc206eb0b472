// 'models/*': base models registered in the library (see library/models.ts for the logic).

import { z } from 'zod';
import { QUANTIZE_OPTION_CHOICES } from '../../../native-runtime/training/options.ts';
import {
  addModel,
  getModel,
  listModels,
  type ModelRecord,
  removeModel,
  setModelQuantize,
} from '../library/models.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();

export const modelsHandlers = defineHandlers({
  'models/list': handler(z.object({}).strict(), (_p, ctx): ModelRecord[] => listModels(ctx.lib)),
  'models/get': handler(Id, (p, ctx): ModelRecord => getModel(ctx.lib, p.id)),
  'models/add': handler(
    z.object({ path: z.string().min(1).max(4096), name: z.string().max(200).optional() }).strict(),
    (p, ctx): ModelRecord & { created: boolean; updated?: boolean; note?: string } => {
      const m = addModel(ctx.lib, { ...p, path: checkSourcePath(p.path) });
      if (m.created || m.updated)
        ctx.events.emit('library/changed', {
          kind: 'models',
          id: m.id,
          action: m.created ? 'added' : 'updated',
        });
      return m;
    },
  ),
  /** Forgets a model; deleteFiles also deletes the files of a model the studio downloaded. */
  'models/remove': handler(
    z.object({ id: z.number().int().positive(), deleteFiles: z.boolean().optional() }).strict(),
    (p, ctx): { id: number; deletedBytes: number } => {
      const r = removeModel(ctx.lib, p.id, { deleteFiles: p.deleteFiles });
      ctx.events.emit('library/changed', { kind: 'models', id: p.id, action: 'removed' });
      return r;
    },
  ),
  /** The form the model's weights are used in by default: auto, none, int8 or int4 (runtime/precision.ts). */
  'models/setQuantize': handler(
    z
      .object({
        id: z.number().int().positive(),
        quantize: z.enum(QUANTIZE_OPTION_CHOICES.map((c) => c.value) as ['auto', 'none', 'int8', 'int4']),
      })
      .strict(),
    (p, ctx): ModelRecord => {
      const m = setModelQuantize(ctx.lib, p.id, p.quantize);
      ctx.events.emit('library/changed', { kind: 'models', id: p.id, action: 'updated' });
      return m;
    },
  ),
});

export type ModelsHandlers = ClientApi<typeof modelsHandlers>;
