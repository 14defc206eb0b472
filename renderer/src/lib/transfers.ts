// Moving files between the window and the backend over the RPC link (the backend's files/* methods):
// uploads of browser File objects in chunks, and downloads saved through the browser's own download
// (a Blob link). Bytes travel as base64; the backend checks every limit again.

import type { RpcClient } from './rpc/client.ts';
import type { DownloadInfo, UploadKind } from './rpc/handlers.ts';

export interface PickedFile {
  /** Relative path with '/', e.g. "my-adapter/config.json" for a folder pick. */
  path: string;
  file: File;
}

/** The files of an <input type=file> (a folder pick keeps each file's path inside the folder). */
export function pickedFiles(list: FileList | null): PickedFile[] {
  return Array.from(list ?? []).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** Base64 of a Blob without building a huge string of char codes (FileReader does it natively). */
function blobToBase64(b: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => {
      const url = String(r.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    r.onerror = () => reject(r.error ?? new Error('could not read the file'));
    r.readAsDataURL(b);
  });
}

function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** What uploadFiles throws when its signal aborts; the backend has been told to drop the upload. */
export class UploadCancelled extends Error {
  constructor() {
    super('Upload cancelled; nothing was imported.');
    this.name = 'UploadCancelled';
  }
}

/** `p`, or UploadCancelled as soon as `signal` aborts (the call itself goes on in the backend). */
function unlessCancelled<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new UploadCancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new UploadCancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Uploads `files` as one upload of `kind`; returns its id for the importer (adapters/import
 * {uploadId}). `onProgress` gets the fraction of bytes sent. Aborting `signal` stops sending (or
 * waiting for the backend to unpack a zip), discards the upload and throws UploadCancelled.
 */
export async function uploadFiles(
  rpc: RpcClient,
  kind: UploadKind,
  files: PickedFile[],
  onProgress?: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<string> {
  const { uploadId, chunkBytes } = await rpc.call('files/upload-begin', {
    kind,
    files: files.map((f) => ({ path: f.path, size: f.file.size })),
  });
  const total = files.reduce((s, f) => s + f.file.size, 0) || 1;
  let sent = 0;
  // Smaller pieces than the backend allows keep progress smooth and each message small.
  const step = Math.min(chunkBytes, 1 << 20);
  try {
    for (const f of files) {
      for (let off = 0; off < f.file.size; off += step) {
        const data = await unlessCancelled(blobToBase64(f.file.slice(off, off + step)), signal);
        await unlessCancelled(
          rpc.callWith(
            'files/upload-chunk',
            { uploadId, path: f.path, offset: off, data },
            { timeoutMs: 120_000 },
          ),
          signal,
        );
        sent += Math.min(step, f.file.size - off);
        onProgress?.(sent / total);
      }
    }
    await unlessCancelled(rpc.callWith('files/upload-finish', { uploadId }, { timeoutMs: 300_000 }), signal);
  } catch (err) {
    void rpc.call('files/upload-discard', { uploadId }).catch(() => {});
    throw err;
  }
  onProgress?.(1);
  return uploadId;
}

/** Reads a download from the backend and hands it to the browser as a file download. */
export async function saveDownload(
  rpc: RpcClient,
  info: DownloadInfo,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (;;) {
    const r = await rpc.callWith(
      'files/download',
      { downloadId: info.downloadId, offset },
      { timeoutMs: 120_000 },
    );
    const bytes = base64ToBytes(r.data);
    parts.push(bytes);
    offset += bytes.length;
    onProgress?.(info.sizeBytes ? offset / info.sizeBytes : 1);
    if (r.eof) break;
  }
  const type = /\.zip$/i.test(info.fileName)
    ? 'application/zip'
    : /\.jsonl$/i.test(info.fileName)
      ? 'application/jsonl'
      : 'application/octet-stream';
  const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = info.fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
