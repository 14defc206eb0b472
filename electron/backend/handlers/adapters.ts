// 'adapters/*': trained adapters in the library (logic in library/adapters.ts).

import { z } from 'zod';
import { ValidationError } from '../../../native-runtime/errors.ts';
import {
  type AdapterExport,
  EXPORT_FORMATS,
  exportLibraryAdapter,
  exportLibraryAdapterZip,
} from '../library/adapter-export.ts';
import {
  type AdapterLineage,
  type AdapterRecord,
  adapterLineage,
  checkAdapterApplies,
  getAdapter,
  type ImportAdapterResult,
  importAdapterWith,
  listAdapters,
  removeAdapter,
  renameAdapter,
  tagAdapter,
} from '../library/adapters.ts';
import { checkSourcePath } from '../library/source-path.ts';
import { type DownloadInfo, discardUpload, uploadedFolder } from '../library/transfers.ts';
import { CancellableRequests } from '../rpc/cancellable-requests.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';
import { windowWords } from '../rpc/user-errors.ts';

const Id = z.object({ id: z.number().int().positive() }).strict();
const Tag = z.string().min(1).max(64);

/** A window's id for an export, so that it can stop it (adapters/export-cancel). */
const RequestId = z.string().min(1).max(100);

// Exports in flight: a bundle copies (and a zip compresses) the run's whole dataset, seconds for a big one.
const exports = new CancellableRequests('exporting');

export const adaptersHandlers = defineHandlers({
  'adapters/list': handler(
    z
      .object({
        tag: z.string().optional(),
        baseModelFingerprint: z.string().optional(),
        type: z.string().optional(),
        query: z.string().max(200).optional(),
      })
      .strict(),
    (p, ctx): AdapterRecord[] => listAdapters(ctx.lib, p),
  ),
  'adapters/lineage': handler(Id, (p, ctx): AdapterLineage => adapterLineage(ctx.lib, p.id)),
  /** From a folder on the backend's machine (`path`) or a finished upload (`uploadId`, files/*). */
  'adapters/import': handler(
    z
      .object({
        path: z.string().min(1).max(4096).optional(),
        uploadId: z.string().min(1).max(64).optional(),
        name: z.string().min(1).max(200).optional(),
        modelId: z.number().int().positive().optional(),
        modelPath: z.string().min(1).max(4096).optional(),
        positions: z.string().optional(),
        forceBase: z.boolean().optional(),
        tags: z.array(Tag).optional(),
      })
      .strict(),
    async (p, ctx): Promise<ImportAdapterResult> => {
      const { uploadId, path, ...rest } = p;
      if ((uploadId === undefined) === (path === undefined))
        throw new ValidationError('invalid-params', 'give either path or uploadId');
      const up = uploadId !== undefined ? uploadedFolder(ctx.lib, uploadId, 'adapter') : null;
      // An upload is named as the person chose it, not by its staging folder in the data folder.
      const named = (text: string) =>
        windowWords(up ? text.split(up.dir).join(`“${up.name ?? 'the upload'}”`) : text);
      // The folder is read and checked in the engine's 'files' worker, off the RPC loop.
      const r = await importAdapterWith(
        ctx.lib,
        {
          ...rest,
          // Paths on the backend's machine are exact, as for every other handler (source-path.ts): a
          // relative one would be read from wherever the server was started.
          path: up ? up.dir : checkSourcePath(path as string),
          defaultName: up?.name ?? undefined,
          model: p.modelId ?? (p.modelPath === undefined ? undefined : checkSourcePath(p.modelPath)),
        },
        (src, opts) => ctx.engine.call('prepareImport', { src, opts }),
      ).catch((err: unknown) => {
        if (err instanceof Error) err.message = named(err.message);
        throw err;
      });
      if (uploadId !== undefined) await discardUpload(ctx.lib, uploadId);
      // A folder imported before comes back as the adapter already there (created: false).
      if (r.created)
        ctx.events.emit('library/changed', { kind: 'adapters', id: r.adapter.id, action: 'added' });
      return { ...r, notes: r.notes.map(named) };
    },
  ),
  /**
   * Writes the adapter to a folder on the backend's machine: an absolute path outside the data
   * folder, new, empty, or a previous export (replaced with `force`).
   */
  'adapters/export': handler(
    z
      .object({
        id: z.number().int().positive(),
        out: z.string().min(1).max(4096),
        format: z.enum(EXPORT_FORMATS).optional(),
        force: z.boolean().optional(),
        requestId: RequestId.optional(),
      })
      .strict(),
    (p, ctx): Promise<AdapterExport> => {
      const { requestId, ...input } = p;
      return exports.run(requestId, ctx.client, (signal) =>
        exportLibraryAdapter(ctx.lib, ctx.engine, input, { absoluteOnly: true, signal }),
      );
    },
  ),
  /** The same export as a zip to download with files/download. */
  'adapters/export-zip': handler(
    z
      .object({
        id: z.number().int().positive(),
        format: z.enum(EXPORT_FORMATS).optional(),
        requestId: RequestId.optional(),
      })
      .strict(),
    (p, ctx): Promise<DownloadInfo & Omit<AdapterExport, 'out'>> => {
      const { requestId, ...input } = p;
      return exports.run(requestId, ctx.client, (signal) =>
        exportLibraryAdapterZip(ctx.lib, ctx.engine, input, signal),
      );
    },
  ),
  /**
   * Stops the adapters/export or adapters/export-zip started with that requestId (a bundle of a big
   * dataset takes seconds): it answers with a 'cancelled' error and leaves nothing of its own behind,
   * a previous export in the folder as it was.
   */
  'adapters/export-cancel': handler(
    z.object({ requestId: RequestId }).strict(),
    (p): { cancelled: boolean } => ({ cancelled: exports.cancel(p.requestId) }),
  ),
  'adapters/check': handler(
    z
      .object({
        id: z.number().int().positive(),
        modelId: z.number().int().positive(),
        forceBase: z.boolean().optional(),
      })
      .strict(),
    (p, ctx): { adapter: string; model: string; forced: boolean } =>
      checkAdapterApplies(ctx.lib, { adapter: p.id, model: p.modelId, forceBase: p.forceBase }),
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
