// Downloads a model from the Hub into the Hugging Face cache layout (see cache.ts), the way
// huggingface_hub does, so either tool reuses what the other fetched:
// - only the files a model needs (files.ts); a blob already in the cache is linked, not fetched again
//   (unless its size is not the Hub's: a damaged blob is fetched again and replaced);
// - each file goes to blobs/<etag>.incomplete and is resumed with a Range request after a dropped
//   connection (retried here) or a killed process (the next run picks the partial file up);
// - the contents are checked against the Hub's hash (sha256 of LFS files, the git blob sha1 of the
//   others) before the blob is renamed into place; a mismatch deletes the partial file and fails;
// - free disk space is checked before the first byte;
// - one writer per blob: huggingface_hub's lock file in <cache>/.locks (blob-lock.ts), so a second
//   download of the same file (another process, or huggingface_hub) waits and then reuses it;
// - progress (bytes, speed, ETA) goes to a callback; an AbortSignal cancels, keeping partial files.
// @huggingface/hub has no resumable, verified download into this layout, so this is the thin layer
// on top of plain fetch.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { byteSize } from '../../../native-runtime/byte-size.ts';
import { CancelledError, FormatError, ReftError, ValidationError } from '../../../native-runtime/errors.ts';
import { makeFolders } from '../../../native-runtime/formats/atomic-write.ts';
import { freeBytes } from '../../../native-runtime/formats/safetensors-stream.ts';
import { ERRNO } from '../../../native-runtime/fs-errors.ts';
import { networkCause } from '../../../native-runtime/network-errors.ts';
import { appVersion } from '../paths.ts';
import { blobLockPath, withBlobLock } from './blob-lock.ts';
import { blobPath, linkSnapshotFile, repoDir, snapshotFile, writeRef } from './cache.ts';
import {
  explainHubFailure,
  type HubAccess,
  HubError,
  type HubFile,
  type HubRepoInfo,
  hubAccess,
} from './client.ts';

export interface DownloadProgress {
  repo: string;
  commit: string;
  /** The file being transferred now, or null between files. */
  file: string | null;
  filesDone: number;
  filesTotal: number;
  /** Bytes present in the cache (finished blobs, and partial ones) of the needed files. */
  bytesDone: number;
  bytesTotal: number;
  /** Transfer speed over the last seconds (0 before the first measurement). */
  bytesPerS: number;
  /** Seconds left at the current speed, null when unknown. */
  etaS: number | null;
}

export interface DownloadOptions {
  cacheDir: string;
  access?: HubAccess;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Retries of one file after a dropped connection (each resumes where the last stopped). */
  retries?: number;
  /** Free bytes at a path (tests stand in a small disk). */
  freeBytes?: (path: string) => number;
  /** Called when another process is downloading `file` and this download waits for it. */
  onWait?: (file: string) => void;
}

export interface DownloadResult {
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder: the model folder to register. */
  path: string;
  files: string[];
  bytesTotal: number;
  /** Bytes actually transferred by this call (resumed files count only their missing part). */
  bytesFetched: number;
  /** Files whose blob was already complete in the cache. */
  reused: string[];
}

/**
 * Whether the cache holds the file's blob. A blob of another size than the Hub lists is damaged (a
 * truncated copy, a disk error): it is fetched again and replaced, never reused.
 */
export function blobComplete(blob: string, f: HubFile): boolean {
  try {
    return statSync(blob).size === f.size;
  } catch {
    return false;
  }
}

/** Bytes that must still be written for one file (a finished blob 0, a partial one its rest). */
export function remainingBytes(cacheDir: string, repo: string, f: HubFile): number {
  const blob = blobPath(cacheDir, repo, f.etag);
  if (blobComplete(blob, f)) return 0;
  return f.size - Math.min(partialBytes(`${blob}.incomplete`), f.size);
}

/**
 * The bytes a partial file holds, 0 when there is none: a download finishing meanwhile renames it
 * (models/hub-info reads this while one runs), which is no error.
 */
function partialBytes(part: string): number {
  try {
    return statSync(part).size;
  } catch {
    return 0;
  }
}

/** The hash that names a blob: sha256 for LFS files, git's blob sha1 ("blob <size>\0" + bytes) else. */
function newHasher(f: HubFile): Hash {
  if (f.lfs) return createHash('sha256');
  const h = createHash('sha1');
  h.update(`blob ${f.size}\0`);
  return h;
}

async function hashExisting(h: Hash, path: string, bytes: number): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) h.update(chunk as Buffer);
}

function resolveUrl(access: HubAccess, repo: string, commit: string, path: string): string {
  const p = path.split('/').map(encodeURIComponent).join('/');
  return `${access.endpoint}/${repo}/resolve/${commit}/${p}`;
}

/** The headers of every file request: who asks, and the token when there is one. */
function requestHeaders(access: HubAccess): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': `reft-studio/${appVersion()}` };
  if (access.token) headers.authorization = `Bearer ${access.token}`;
  return headers;
}

/** Throws the one-line explanation of a refused file request. */
async function refuse(access: HubAccess, repo: string, path: string, res: Response): Promise<never> {
  let message = res.statusText;
  try {
    const text = await res.text();
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {}
  const err = explainHubFailure(access, repo, res.status, res.headers.get('x-error-code'), message);
  if (err.code === 'hub-error')
    throw new HubError(
      'hub-error',
      `${access.endpoint} answered ${res.status} for ${repo}/${path}: ${message}`,
    );
  throw err;
}

/**
 * A HEAD of one file, as huggingface_hub does before downloading: a gated repository answers 401/403
 * here, before anything is written or reported. Redirects are not followed (the CDN is not asked).
 */
export async function probeAccess(
  access: HubAccess,
  repo: string,
  commit: string,
  path: string,
): Promise<void> {
  const headers = requestHeaders(access);
  let res: Response;
  try {
    res = await fetch(resolveUrl(access, repo, commit, path), {
      method: 'HEAD',
      headers,
      redirect: 'manual',
      signal: access.signal,
    });
  } catch (e) {
    throw new HubError('unreachable', `cannot reach ${access.endpoint}: ${networkCause(e)}`);
  }
  if (res.ok || (res.status >= 300 && res.status < 400)) return;
  // HEAD answers carry no body: the status and X-Error-Code decide.
  throw explainHubFailure(access, repo, res.status, res.headers.get('x-error-code'), res.statusText);
}

/**
 * A small file of the repository at a commit, read whole (the shard index, to know which shards to
 * fetch); refused in one line like any file request, and past `maxBytes`.
 */
export async function fetchRepoFile(
  access: HubAccess,
  repo: string,
  commit: string,
  path: string,
  maxBytes: number,
): Promise<string> {
  const headers = requestHeaders(access);
  let res: Response;
  let bytes: Buffer;
  try {
    res = await fetch(resolveUrl(access, repo, commit, path), { headers, signal: access.signal });
    if (!res.ok) await refuse(access, repo, path, res);
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    if (e instanceof ReftError) throw e;
    throw new HubError('unreachable', `cannot reach ${access.endpoint}: ${networkCause(e)}`);
  }
  if (bytes.length > maxBytes)
    throw new FormatError('too-large', `${repo}/${path}: larger than ${byteSize(maxBytes)}`);
  return bytes.toString('utf8');
}

class Meter {
  #samples: { t: number; bytes: number }[] = [];
  #fetched = 0;
  add(n: number): void {
    this.#fetched += n;
    const t = Date.now();
    this.#samples.push({ t, bytes: this.#fetched });
    while (this.#samples.length > 2 && t - this.#samples[0].t > 5000) this.#samples.shift();
  }
  get fetched(): number {
    return this.#fetched;
  }
  /** Bytes per second over the last ~5 s, up to now (so a stalled transfer's speed falls). */
  rate(): number {
    const s = this.#samples;
    if (s.length < 2) return 0;
    const dt = (Math.max(Date.now(), s[s.length - 1].t) - s[0].t) / 1000;
    return dt > 0 ? (s[s.length - 1].bytes - s[0].bytes) / dt : 0;
  }
}

interface FileTransfer {
  access: HubAccess;
  repo: string;
  commit: string;
  file: HubFile;
  blob: string;
  signal?: AbortSignal;
  retries: number;
  onBytes: (n: number) => void;
}

/** One attempt: GET (with Range from the partial file), appending and hashing. Returns when complete. */
async function fetchOnce(t: FileTransfer, hasher: { h: Hash }): Promise<void> {
  const part = `${t.blob}.incomplete`;
  const have = existsSync(part) ? statSync(part).size : 0;
  if (have > t.file.size) rmSync(part, { force: true });
  const start = have > t.file.size ? 0 : have;
  if (start === 0) hasher.h = newHasher(t.file);
  if (start === t.file.size) return;
  const headers = requestHeaders(t.access);
  if (start > 0) headers.range = `bytes=${start}-`;
  // Redirects (the Hub sends LFS files to a CDN) are followed; fetch drops the token across origins.
  const res = await fetch(resolveUrl(t.access, t.repo, t.commit, t.file.path), { headers, signal: t.signal });
  if (res.status === 416 && start > 0) {
    // The server has nothing past what we hold: the partial file is whole (or wrong; the hash decides).
    await res.body?.cancel();
    return;
  }
  if (!res.ok) await refuse(t.access, t.repo, t.file.path, res);
  let offset = start;
  if (start > 0 && res.status !== 206) {
    // The server ignored Range and sends the whole file: start over.
    offset = 0;
    hasher.h = newHasher(t.file);
  }
  const fh = await open(part, offset === 0 ? 'w' : 'a');
  try {
    if (!res.body) throw new HubError('hub-error', `${t.repo}/${t.file.path}: empty response`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (offset + chunk.length > t.file.size)
        throw new FormatError(
          'checksum-mismatch',
          `${t.repo}/${t.file.path}: the server sent more than the ${t.file.size} bytes the Hub lists`,
        );
      // A write may store part of the chunk (a disk filling up): the rest is written, or it throws.
      for (let w = 0; w < chunk.length; ) w += (await fh.write(chunk, w)).bytesWritten;
      hasher.h.update(chunk);
      offset += chunk.length;
      t.onBytes(chunk.length);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (offset < t.file.size) throw new TypeError(`connection closed at byte ${offset} of ${t.file.size}`);
}

/** Downloads one file into its blob, resuming and retrying; verifies it; renames it into place. */
async function transferFile(t: FileTransfer): Promise<void> {
  const part = `${t.blob}.incomplete`;
  makeFolders(dirname(t.blob));
  // Hash what a previous run left, so the bytes after it continue the same hash.
  const hasher = { h: newHasher(t.file) };
  if (existsSync(part)) {
    const have = statSync(part).size;
    if (have <= t.file.size) await hashExisting(hasher.h, part, have);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchOnce(t, hasher);
      break;
    } catch (e) {
      if (t.signal?.aborted)
        throw new CancelledError('download cancelled (partial files kept; run it again to resume)');
      if (e instanceof ReftError) {
        if (e.code === 'checksum-mismatch') rmSync(part, { force: true });
        throw e;
      }
      // Writing the partial file failed (a full disk, a read-only cache): no retry can help, and it
      // is not the connection.
      const io = e as NodeJS.ErrnoException;
      if (io.syscall && io.code) {
        const full = io.code === 'ENOSPC' || io.code === 'EDQUOT';
        throw new HubError(
          full ? 'no-disk-space' : 'write-failed',
          `${t.repo}/${t.file.path}: cannot write ${part} (${full ? 'the disk is full' : (ERRNO[io.code]?.phrase ?? io.code)}); the partial file is kept: ${full ? 'free some space, then run' : 'run'} the download again to resume`,
        );
      }
      if (attempt >= t.retries) {
        const cause = networkCause(e);
        throw new HubError(
          'connection-lost',
          `${t.repo}/${t.file.path}: connection to ${t.access.endpoint} lost (${cause}); run the download again to resume`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(4000, 250 * 2 ** attempt)));
    }
  }
  const digest = hasher.h.digest('hex');
  if (digest !== t.file.etag) {
    rmSync(part, { force: true });
    throw new FormatError(
      'checksum-mismatch',
      `${t.repo}/${t.file.path}: checksum mismatch (expected ${t.file.lfs ? 'sha256' : 'git sha1'} ${t.file.etag}, got ${digest}); the partial file was deleted`,
    );
  }
  renameSync(part, t.blob);
}

/**
 * Fetches `files` of a resolved repository into the cache and returns the snapshot folder. Files
 * whose blob exists are linked without a request.
 */
export async function downloadFiles(
  info: Pick<HubRepoInfo, 'repo' | 'revision' | 'commit'>,
  files: HubFile[],
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const { repo, commit } = info;
  const access = opts.access ?? hubAccess();
  const cacheDir = opts.cacheDir;
  const bytesTotal = files.reduce((s, f) => s + f.size, 0);
  // Validate every name before touching the disk.
  for (const f of files) {
    snapshotFile(cacheDir, repo, commit, f.path);
    blobPath(cacheDir, repo, f.etag);
  }
  const left = new Map(files.map((f) => [f.path, remainingBytes(cacheDir, repo, f)]));
  const need = [...left.values()].reduce((a, b) => a + b, 0);
  const free = (opts.freeBytes ?? freeBytes)(cacheDir);
  // Keep a margin: a full disk breaks more than this download.
  const margin = Math.min(1e9, Math.max(need * 0.02, 50e6));
  if (need > 0 && need + margin > free)
    throw new ValidationError(
      'no-disk-space',
      `${repo} needs ${byteSize(need)} more in ${cacheDir} but only ${byteSize(free)} is free`,
    );
  makeFolders(repoDir(cacheDir, repo));

  const meter = new Meter();
  let bytesDone = bytesTotal - need;
  let filesDone = 0;
  let current: string | null = null;
  let lastEmit = 0;
  // Reports at most every 200 ms; a throttled one is sent later, so a stalled transfer still shows
  // the bytes it got.
  let pending: NodeJS.Timeout | null = null;
  const emit = (force = false) => {
    const now = Date.now();
    if (!force && now - lastEmit < 200) {
      pending ??= setTimeout(
        () => {
          pending = null;
          emit(true);
        },
        200 - (now - lastEmit),
      );
      return;
    }
    if (pending) clearTimeout(pending);
    pending = null;
    lastEmit = now;
    const rate = meter.rate();
    opts.onProgress?.({
      repo,
      commit,
      file: current,
      filesDone,
      filesTotal: files.length,
      bytesDone,
      bytesTotal,
      bytesPerS: rate,
      etaS: rate > 0 ? (bytesTotal - bytesDone) / rate : null,
    });
  };
  emit(true);
  const reused: string[] = [];
  // A report every second even without bytes, so a stalled transfer shows its speed falling.
  const heartbeat = setInterval(() => {
    if (current) emit(true);
  }, 1000);
  try {
    await fetchAll();
  } finally {
    clearInterval(heartbeat);
    if (pending) clearTimeout(pending);
  }
  async function fetchAll(): Promise<void> {
    // Small files first: config and tokenizer land before the weights, so a failure shows early.
    const order = [...files].sort((a, b) => a.size - b.size);
    for (const f of order) {
      if (opts.signal?.aborted)
        throw new CancelledError('download cancelled (partial files kept; run it again to resume)');
      const blob = blobPath(cacheDir, repo, f.etag);
      if (blobComplete(blob, f)) reused.push(f.path);
      else {
        current = f.path;
        emit(true);
        const lock = blobLockPath(cacheDir, repo, f.etag);
        await withBlobLock(lock, { signal: opts.signal, onWait: () => opts.onWait?.(f.path) }, async () => {
          if (blobComplete(blob, f)) {
            // Another process finished it while this one waited.
            reused.push(f.path);
            bytesDone += left.get(f.path) ?? 0;
            return;
          }
          // What the other process left (a partial file it was cancelled on) is resumed, not counted twice.
          bytesDone += (left.get(f.path) ?? 0) - remainingBytes(cacheDir, repo, f);
          await transferFile({
            access,
            repo,
            commit,
            file: f,
            blob,
            signal: opts.signal,
            retries: opts.retries ?? 5,
            onBytes: (n) => {
              meter.add(n);
              bytesDone += n;
              emit();
            },
          });
        });
      }
      filesDone++;
      current = null;
      emit(true);
    }
  }
  // The snapshot appears whole, once every blob is in place: a tool watching the cache never sees
  // a config.json whose weights are still on the way.
  for (const f of files)
    linkSnapshotFile(snapshotFile(cacheDir, repo, commit, f.path), blobPath(cacheDir, repo, f.etag));
  writeRef(cacheDir, repo, info.revision, commit);
  return {
    repo,
    revision: info.revision,
    commit,
    path: snapshotFile(cacheDir, repo, commit, 'config.json').replace(/[/\\]config\.json$/, ''),
    files: files.map((f) => f.path).sort(),
    bytesTotal,
    bytesFetched: meter.fetched,
    reused: reused.sort(),
  };
}
