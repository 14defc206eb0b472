// 'adapters/*': trained adapters in the library (logic in library/adapters.ts).

import { z } from 'zod';
import {
  type AdapterRecord,
  getAdapter,
  listAdapters,
  removeAdapter,
  renameAdapter,
  tagAdapter,
} from '../library/adapters.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();
const Tag = z.string().min(1).max(64);

export const adaptersHandlers = defineHandlers({
  'adapters/list': handler(
    z.object({ tag: z.string().optional(), baseModelFingerprint: z.string().optional() }).strict(),
    (p, ctx): AdapterRecord[] => listAdapters(ctx.lib, p),
  ),
  'adapters/get': handler(Id, (p, ctx): AdapterRecord => getAdapter(ctx.lib, p.id)),
  'adapters/remove': handler(Id, (p, ctx): { id: number; deletedFiles: boolean } => {
    const r = removeAdapter(ctx.lib, p.id);
    ctx.events.emit('library/changed', { kind: 'adapters', id: p.id, action: 'removed' });
    return r;
  }),
  'adapters/tag': handler(
    z
      .object({
        id: z.number().int().positive(),
        add: z.array(Tag).optional(),
        remove: z.array(Tag).optional(),
      })
      .strict(),
    (p, ctx): AdapterRecord => {
      const a = tagAdapter(ctx.lib, p.id, p);
      ctx.events.emit('library/changed', { kind: 'adapters', id: p.id, action: 'updated' });
      return a;
    },
  ),
  'adapters/rename': handler(
    z.object({ id: z.number().int().positive(), name: z.string().min(1).max(200) }).strict(),
    (p, ctx): AdapterRecord => {
      const a = renameAdapter(ctx.lib, p.id, p.name);
      ctx.events.emit('library/changed', { kind: 'adapters', id: p.id, action: 'updated' });
      return a;
    },
  ),
});

export type AdaptersHandlers = ClientApi<typeof adaptersHandlers>;
