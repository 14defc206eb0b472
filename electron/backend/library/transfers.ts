// Files moving between a window and the backend without typed server paths: uploads (a browser
// file or folder picked in the window, sent in base64 chunks over the same RPC link in Electron and
// in a browser) and downloads (a zip the backend made, read back in chunks and saved by the window).
//
// Uploads are staged in <data>/uploads/<id>/files/ and validated as they arrive: the declared total
// size and file count against the kind's limits, every path (relative, no '..', no drive letters or
// backslashes, a bounded depth, no name both a file and a folder), every chunk in order and never
// past its file's declared size. A single .zip is unpacked at the end under the same limits, by
// unpack-zip.ts in the engine's 'files' process (never on the RPC loop), into a folder beside the
// upload that takes its place only once whole. Nothing uploaded is ever executed: the importers
// read data only.
// Staging folders are removed when their import succeeds, and swept after a day.
//
// Downloads (a zip the backend made, or one file such as a dataset's JSONL) are kept as
// <data>/downloads/<id>.download, removed once read to the end and swept after an hour (a window
// that went away mid-download).

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Zip, ZipDeflate } from 'fflate';
import { byteSize } from '../../../native-runtime/byte-size.ts';
import { ValidationError } from '../../../native-runtime/errors.ts';
import {
  copyFileAtomic,
  makeFolders,
  oldEnough,
  writeFileAtomic,
  writeFully,
} from '../../../native-runtime/formats/atomic-write.ts';
import type { Library } from './library.ts';
import { UPLOAD_LIMITS, type UploadKind, uploadLimitText } from './upload-limits.ts';

/** Largest chunk accepted (raw bytes; base64 on the wire is 4/3 of it, under the socket's limit). */
export const MAX_CHUNK_BYTES = 4 << 20;
const MAX_DEPTH = 12;
const STAGING_MAX_AGE_MS = 24 * 3600_000;
const DOWNLOAD_MAX_AGE_MS = 3600_000;

export interface UploadFile {
  /** Relative path with '/' separators, as the window saw it (a folder upload keeps the folder name). */
  path: string;
  size: number;
}

interface UploadState {
  kind: UploadKind;
  files: Array<UploadFile & { received: number }>;
  createdAt: number;
  finished: boolean;
}

const ID_RE = /^[0-9a-f]{24}$/;

function uploadRoot(lib: Library): string {
  return join(lib.dataDir, 'uploads');
}

function uploadDir(lib: Library, id: string): string {
  if (!ID_RE.test(id)) throw new ValidationError('not-found', `no upload ${JSON.stringify(id)}`);
  return join(uploadRoot(lib), id);
}

// Names Windows cannot hold: a ':' writes an NTFS alternate stream of another file ("a:b.jsonl" is
// stream b of "a"), CON/NUL/COM1… (with any extension) are devices, and a trailing dot or space is
// dropped, so "data." and "data" are one file.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not allowed in Windows names
const WINDOWS_BAD_CHARS = /[<>:"|?*\u0001-\u001f]/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

/** Why `name` (one path segment) cannot be a file name on `platform`, or null. */
function nameProblem(name: string, platform: NodeJS.Platform): string | null {
  if (platform !== 'win32') return null;
  if (WINDOWS_BAD_CHARS.test(name))
    return `"${name}" holds a character Windows does not allow (< > : " | ? *)`;
  if (WINDOWS_DEVICE.test(name)) return `"${name}" is a device name on Windows`;
  if (/[. ]$/.test(name)) return `"${name}" ends with a dot or space, which Windows drops`;
  return null;
}

/**
 * A relative path as the file system compares names: macOS and Windows fold case (and macOS
 * Unicode forms), so "Config.json" and "config.json" are one file there and the second upload of
 * it overwrote the first.
 */
export function uploadPathKey(path: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' || platform === 'win32' ? path.normalize('NFC').toLowerCase() : path;
}

/**
 * Refuses paths that could leave the staging folder or mean something else on another OS, and
 * names the file system of `platform` (the backend's) cannot hold.
 */
export function checkUploadPath(path: string, platform: NodeJS.Platform = process.platform): string {
  const bad = (why: string) => new ValidationError('bad-path', `cannot accept the file "${path}": ${why}`);
  if (path.length === 0 || path.length > 1000) throw bad('the name is empty or too long');
  if (path.includes('\\') || path.includes('\0') || /^[a-zA-Z]:/.test(path) || path.startsWith('/'))
    throw bad('only relative paths with / are accepted');
  const parts = path.split('/');
  if (parts.length > MAX_DEPTH) throw bad(`folders nested deeper than ${MAX_DEPTH}`);
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..') throw bad('empty, "." or ".." path segments');
    if (p.length > 255) throw bad('a name longer than 255 characters');
    const problem = nameProblem(p, platform);
    if (problem) throw bad(`${problem}; rename it and upload it again`);
  }
  return parts.join('/');
}

/**
 * Records `folder` and its parents in `folders`; returns the first of them that is already a file in
 * `files` (such a set of paths cannot be laid out on disk), else null. Uploads and zips share it.
 */
export function folderClash(
  folder: string,
  files: { has(key: string): boolean },
  folders: Set<string>,
  key: (path: string) => string = (path) => path,
): string | null {
  const parts = folder.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const f = parts.slice(0, i).join('/');
    if (files.has(key(f))) return f;
    folders.add(key(f));
  }
  return null;
}

function readState(lib: Library, id: string): UploadState {
  const file = join(uploadDir(lib, id), 'upload.json');
  if (!existsSync(file)) throw new ValidationError('not-found', `no upload ${id} (it expired or was used)`);
  return JSON.parse(readFileSync(file, 'utf8')) as UploadState;
}

function writeState(lib: Library, id: string, st: UploadState): void {
  writeFileAtomic(join(uploadDir(lib, id), 'upload.json'), JSON.stringify(st));
}

function sweep(root: string, maxAgeMs: number): void {
  if (!existsSync(root)) return;
  const now = Date.now();
  for (const f of readdirSync(root)) {
    const p = join(root, f);
    try {
      if (oldEnough(statSync(p).mtimeMs, maxAgeMs, now)) rmSync(p, { recursive: true, force: true });
    } catch {
      // raced with another sweep
    }
  }
}

/** The refusal of an upload (or a zip's contents) over its kind's limits. */
export function uploadLimitError(kind: UploadKind, what: string): ValidationError {
  return new ValidationError('too-large', `${what}: ${uploadLimitText(kind)}`);
}

/** Starts an upload of `files` (paths and sizes as declared); returns its id. */
export function beginUpload(
  lib: Library,
  kind: UploadKind,
  files: UploadFile[],
  platform: NodeJS.Platform = process.platform,
): { uploadId: string } {
  const limits = UPLOAD_LIMITS[kind];
  if (files.length === 0) throw new ValidationError('empty-upload', 'choose at least one file');
  if (files.length > limits.maxFiles) throw uploadLimitError(kind, `${files.length} files`);
  const seen = new Map<string, string>();
  const folders = new Set<string>();
  const keyOf = (path: string) => uploadPathKey(path, platform);
  let total = 0;
  const clean = files.map((f) => {
    const path = checkUploadPath(f.path, platform);
    const same = seen.get(keyOf(path));
    if (same === path) throw new ValidationError('bad-path', `the file "${path}" is listed twice`);
    if (same !== undefined)
      throw new ValidationError(
        'bad-path',
        `"${same}" and "${path}" are one file on the studio's computer (its names ignore case); rename one`,
      );
    // Refused here, before anything is staged: the chunk that met it failed naming the staging folder.
    const slash = path.lastIndexOf('/');
    const clash = folders.has(keyOf(path))
      ? path
      : slash > 0
        ? folderClash(path.slice(0, slash), seen, folders, keyOf)
        : null;
    if (clash !== null)
      throw new ValidationError('bad-path', `"${clash}" is both a file and a folder in this upload`);
    seen.set(keyOf(path), path);
    if (!Number.isSafeInteger(f.size) || f.size < 0)
      throw new ValidationError('bad-size', `"${path}": the size must be a whole number of bytes`);
    total += f.size;
    return { path, size: f.size, received: 0 };
  });
  if (total > limits.maxBytes) throw uploadLimitError(kind, byteSize(total));
  sweep(uploadRoot(lib), STAGING_MAX_AGE_MS);
  const id = randomBytes(12).toString('hex');
  makeFolders(join(uploadDir(lib, id), 'files'));
  writeState(lib, id, { kind, files: clean, createdAt: Date.now(), finished: false });
  return { uploadId: id };
}

/** Appends one chunk of one file; chunks of a file arrive in order (offset = bytes received so far). */
export function uploadChunk(
  lib: Library,
  id: string,
  path: string,
  offset: number,
  data: Uint8Array,
): { received: number } {
  const st = readState(lib, id);
  if (st.finished || finishing.has(uploadDir(lib, id)))
    throw new ValidationError('upload-finished', `upload ${id} is already complete`);
  const f = st.files.find((x) => x.path === path);
  if (!f) throw new ValidationError('bad-path', `"${path}" is not part of upload ${id}`);
  if (offset !== f.received)
    throw new ValidationError('bad-offset', `"${path}": expected bytes from ${f.received}, got ${offset}`);
  if (data.length > MAX_CHUNK_BYTES) throw new ValidationError('too-large', 'a chunk is at most 4 MB');
  if (f.received + data.length > f.size)
    throw new ValidationError('bad-size', `"${path}" is longer than the ${f.size} bytes announced`);
  const dest = join(uploadDir(lib, id), 'files', ...path.split('/'));
  makeFolders(dirname(dest));
  const fd = openSync(dest, offset === 0 ? 'w' : 'r+');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, offset + off);
  } finally {
    closeSync(fd);
  }
  f.received += data.length;
  writeState(lib, id, st);
  return { received: f.received };
}

export interface UnpackZipArgs {
  /** The uploaded zip. */
  zipPath: string;
  /** An empty folder to unpack into (the caller moves it into place once everything arrived). */
  dest: string;
  kind: UploadKind;
  /** The zip's name as the window gave it, for messages. */
  label: string;
  /** Whose file names the entries must suit (tests); the backend's own by default. */
  platform?: NodeJS.Platform;
}

/**
 * Unpacks a zip into a folder (unpack-zip.ts). The studio passes the engine's 'files' process, so
 * the RPC loop stays free while a big zip inflates.
 */
export type UnpackZipFn = (args: UnpackZipArgs, signal: AbortSignal) => Promise<unknown>;

/** Uploads whose finish is running (keyed by staging folder): their unpacking, and how to stop it. */
const finishing = new Map<string, { done: Promise<unknown>; stop: AbortController }>();

/**
 * Checks every file arrived whole; a lone .zip is unpacked in its place. Returns the staged folder.
 * A second finish of the same upload while one runs gets that one's answer.
 */
export function finishUpload(
  lib: Library,
  id: string,
  unpack: UnpackZipFn,
): Promise<{ dir: string; files: string[] }> {
  const dir = uploadDir(lib, id);
  const running = finishing.get(dir);
  if (running) return running.done as Promise<{ dir: string; files: string[] }>;
  const stop = new AbortController();
  const done = finish(lib, id, unpack, stop.signal).finally(() => finishing.delete(dir));
  finishing.set(dir, { done, stop });
  return done;
}

async function finish(
  lib: Library,
  id: string,
  unpack: UnpackZipFn,
  signal: AbortSignal,
): Promise<{ dir: string; files: string[] }> {
  const st = readState(lib, id);
  const root = join(uploadDir(lib, id), 'files');
  if (!st.finished) {
    for (const f of st.files) {
      if (f.received !== f.size)
        throw new ValidationError(
          'incomplete-upload',
          `"${f.path}": ${f.received} of ${f.size} bytes arrived`,
        );
      // Empty files get no chunk; create them now.
      const dest = join(root, ...f.path.split('/'));
      if (f.size === 0) {
        makeFolders(dirname(dest));
        writeFileSync(dest, '');
      }
    }
    const only = st.files.length === 1 ? st.files[0] : null;
    if (only && /\.zip$/i.test(only.path)) {
      // Unpacked beside the upload, then put in its place: a zip refused halfway leaves nothing.
      const unpacked = join(uploadDir(lib, id), 'unpacked');
      rmSync(unpacked, { recursive: true, force: true });
      mkdirSync(unpacked);
      try {
        const label = only.path.split('/').at(-1) as string;
        await unpack(
          { zipPath: join(root, ...only.path.split('/')), dest: unpacked, kind: st.kind, label },
          signal,
        );
      } catch (e) {
        rmSync(unpacked, { recursive: true, force: true });
        throw e;
      }
      rmSync(root, { recursive: true, force: true });
      renameSync(unpacked, root);
    }
    st.finished = true;
    writeState(lib, id, st);
  }
  return { dir: root, files: listFiles(root) };
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

/**
 * The folder an importer should read from a finished upload: the staged root, or the single folder
 * inside it (a folder upload keeps its folder's name), with that name for the import.
 */
export function uploadedFolder(
  lib: Library,
  id: string,
  kind: UploadKind,
): { dir: string; name: string | null } {
  const st = readState(lib, id);
  if (st.kind !== kind)
    throw new ValidationError('wrong-upload', `upload ${id} holds a ${st.kind}, not a ${kind}`);
  if (!st.finished) throw new ValidationError('incomplete-upload', `upload ${id} is not finished`);
  const root = join(uploadDir(lib, id), 'files');
  const entries = readdirSync(root, { withFileTypes: true });
  const only = entries.length === 1 ? entries[0] : null;
  if (only?.isDirectory()) return { dir: join(root, only.name), name: only.name };
  return { dir: root, name: null };
}

/**
 * The one file of a finished upload (a dataset file; a lone .zip was unpacked and must have held one
 * file), with the name the window gave it. Anything else is refused naming what was found.
 */
export function uploadedFile(lib: Library, id: string, kind: UploadKind): { path: string; name: string } {
  const { dir } = uploadedFolder(lib, id, kind);
  const files = listFiles(dir);
  if (files.length !== 1)
    throw new ValidationError(
      'bad-upload',
      `upload ${id} holds ${files.length} files; upload one ${kind} file at a time`,
    );
  return { path: join(dir, ...files[0].split('/')), name: files[0].split('/').at(-1) as string };
}

/**
 * Removes an upload's staging folder (after a successful import, or when the window gives up); a
 * zip still unpacking is stopped first, so nothing writes into the folder after it is gone.
 */
export async function discardUpload(lib: Library, id: string): Promise<void> {
  const dir = uploadDir(lib, id);
  const running = finishing.get(dir);
  if (running) {
    running.stop.abort();
    await running.done.catch(() => {});
  }
  rmSync(dir, { recursive: true, force: true });
}

// ---- downloads -------------------------------------------------------------------------------------

export interface DownloadInfo {
  downloadId: string;
  fileName: string;
  sizeBytes: number;
}

function downloadPath(lib: Library, id: string): string {
  return join(lib.dataDir, 'downloads', `${id}.download`);
}

/**
 * A new download's id and the file to write it to (atomically; `readDownload` serves it once it
 * exists). Old downloads a window never fetched are swept here.
 */
export function reserveDownload(lib: Library): { downloadId: string; file: string } {
  const root = join(lib.dataDir, 'downloads');
  makeFolders(root);
  sweep(root, DOWNLOAD_MAX_AGE_MS);
  const downloadId = randomBytes(12).toString('hex');
  return { downloadId, file: downloadPath(lib, downloadId) };
}

/** Offers a copy of the file `src` as a download named `fileName` (copied a piece at a time). */
export function makeDownloadCopy(lib: Library, fileName: string, src: string): DownloadInfo {
  const { downloadId, file } = reserveDownload(lib);
  copyFileAtomic(src, file);
  return { downloadId, fileName, sizeBytes: statSync(file).size };
}

/** fflate writes no Zip64, so a zip's sizes and offsets must stay under 4 GiB: this leaves room for headers. */
export const ZIP_MAX_BYTES = 4e9;

/**
 * Zips every file under `dir` as entries under `prefix/` into `file` (atomically); returns its size.
 * Streamed: each file is read and deflated 1 MB at a time straight into the temp file, so memory
 * stays bounded whatever the folder holds (a bundle carries a run's whole dataset; zipping it in
 * memory held the files and the zip at once). More than ZIP_MAX_BYTES is refused before anything
 * is written: the zip would come out corrupt.
 */
export function zipFolderTo(dir: string, prefix: string, file: string): number {
  const files = listFiles(dir).map((rel) => ({ rel, path: join(dir, ...rel.split('/')) }));
  const total = files.reduce((sum, f) => sum + statSync(f.path).size, 0);
  if (total > ZIP_MAX_BYTES)
    throw new ValidationError(
      'too-large',
      `the export holds ${byteSize(total)}, more than a zip download can (${byteSize(ZIP_MAX_BYTES)}); export it to a folder instead`,
    );
  const mtime = new Date();
  let size = 0;
  writeFileAtomic(file, (fd) => {
    // fflate calls back synchronously (ZipDeflate, not the async kind); a failed write reaches it
    // as `err` and is thrown on from here, out of the push that caused it.
    const zip = new Zip((err, chunk) => {
      if (err) throw err;
      writeFully(fd, chunk);
      size += chunk.length;
    });
    const buf = Buffer.allocUnsafe(1 << 20);
    for (const f of files) {
      const entry = new ZipDeflate(`${prefix}/${f.rel}`, { level: 6 });
      entry.mtime = mtime;
      zip.add(entry);
      const src = openSync(f.path, 'r');
      try {
        for (let got = readSync(src, buf); got > 0; got = readSync(src, buf))
          entry.push(buf.subarray(0, got));
      } finally {
        closeSync(src);
      }
      entry.push(new Uint8Array(0), true);
    }
    zip.end();
  });
  return size;
}

/** Reads up to `length` bytes of a download from `offset`; the file is removed once read to its end. */
export function readDownload(
  lib: Library,
  id: string,
  offset: number,
  length: number,
): { data: Uint8Array; eof: boolean } {
  if (!ID_RE.test(id)) throw new ValidationError('not-found', `no download ${JSON.stringify(id)}`);
  const file = downloadPath(lib, id);
  if (!existsSync(file)) throw new ValidationError('not-found', `no download ${id} (it expired or was read)`);
  const fd = openSync(file, 'r');
  let size: number;
  const buf = Buffer.alloc(Math.min(length, MAX_CHUNK_BYTES));
  let n: number;
  try {
    size = fstatSync(fd).size;
    n = readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  const eof = offset + n >= size;
  if (eof) rmSync(file, { force: true });
  return { data: buf.subarray(0, n), eof };
}
