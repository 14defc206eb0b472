// 'files/*': uploads from the window (a browser file or folder, sent in chunks) and downloads to it
// (zips the backend made). Works the same over the WebSocket and the Electron MessagePort; bytes
// travel as base64. The rules (paths, order) live in library/transfers.ts, the limits in library/upload-limits.ts.

import { z } from 'zod';
import {
  beginUpload,
  discardUpload,
  finishUpload,
  MAX_CHUNK_BYTES,
  readDownload,
  uploadChunk,
} from '../library/transfers.ts';
import { UPLOAD_LIMITS, type UploadKind } from '../library/upload-limits.ts';
import { type ClientApi, defineHandlers, handler } from '../rpc/define-handlers.ts';

const UploadId = z.string().min(1).max(64);
const Kind = z.enum(Object.keys(UPLOAD_LIMITS) as [UploadKind, ...UploadKind[]]);
const Base64 = z
  .string()
  .max(Math.ceil(MAX_CHUNK_BYTES / 3) * 4 + 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

export const filesHandlers = defineHandlers({
  /** Announces the files (relative paths and sizes); refused when over the kind's limits. */
  'files/upload-begin': handler(
    z
      .object({
        kind: Kind,
        files: z
          .array(z.object({ path: z.string().min(1).max(1000), size: z.number().int().min(0) }).strict())
          .min(1)
          .max(10_000),
      })
      .strict(),
    (p, ctx): { uploadId: string; chunkBytes: number } => ({
      ...beginUpload(ctx.lib, p.kind, p.files),
      chunkBytes: MAX_CHUNK_BYTES,
    }),
  ),
  /** One piece of one file, in order: `offset` is the number of that file's bytes sent before it. */
  'files/upload-chunk': handler(
    z
      .object({
        uploadId: UploadId,
        path: z.string().min(1).max(1000),
        offset: z.number().int().min(0),
        data: Base64,
      })
      .strict(),
    (p, ctx): { received: number } =>
      uploadChunk(ctx.lib, p.uploadId, p.path, p.offset, Buffer.from(p.data, 'base64')),
  ),
  /** Checks every file arrived whole (and unpacks a lone .zip); the upload is then ready to import. */
  'files/upload-finish': handler(
    z.object({ uploadId: UploadId }).strict(),
    async (p, ctx): Promise<{ files: string[] }> => {
      // The zip inflates in the engine's 'files' process, never on this loop.
      const r = await finishUpload(ctx.lib, p.uploadId, (args, signal) =>
        ctx.engine.call('unpackUpload', args, { signal }),
      );
      return { files: r.files };
    },
  ),
  /** Drops an upload that will not be imported. */
  'files/upload-discard': handler(
    z.object({ uploadId: UploadId }).strict(),
    async (p, ctx): Promise<{ discarded: true }> => {
      await discardUpload(ctx.lib, p.uploadId);
      return { discarded: true };
    },
  ),
  /** A piece of a download (at most 4 MB); the download is gone once read to its end. */
  'files/download': handler(
    z
      .object({
        downloadId: z.string().min(1).max(64),
        offset: z.number().int().min(0),
        length: z.number().int().min(1).max(MAX_CHUNK_BYTES).optional(),
      })
      .strict(),
    (p, ctx): { data: string; eof: boolean } => {
      const r = readDownload(ctx.lib, p.downloadId, p.offset, p.length ?? MAX_CHUNK_BYTES);
      return { data: Buffer.from(r.data).toString('base64'), eof: r.eof };
    },
  ),
});

export type FilesHandlers = ClientApi<typeof filesHandlers>;
