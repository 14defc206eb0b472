// Unpacking an uploaded .zip (transfers.ts finishUpload) into a folder. The studio runs it in the
// engine's 'files' process: inflating hundreds of MB takes seconds, which on the RPC loop froze every
// window and its live charts. fflate's async `unzip` does not avoid that: it reads the whole zip into
// memory on the loop and inflates barely-compressible entries (an adapter's weights) there
// (measured: 100 MB of random bytes stalled the loop 70 ms, as unzipSync did).
//
// Streams, so memory stays small whatever the size: only the central directory is read whole (by
// native-runtime/formats/zip-directory.ts, the reader torch.save files use too); each entry is
// inflated from the file into its destination in pieces (node:zlib).
// Before anything is inflated, every entry is checked from the central directory: its path
// (checkUploadPath: on Windows also a name Windows can hold), no symbolic link, encryption or
// unknown compression, no name twice (ignoring case on macOS and Windows) or both a
// file and a folder, the count and the declared total against the kind's limits. While inflating,
// an entry must produce exactly its declared size and CRC-32: one that inflates past its size (a
// bomb lying about its size) is stopped there, and a damaged or truncated zip is refused rather than
// imported with a cut or corrupt file. macOS's `__MACOSX/` resource forks are skipped.

import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { CancelledError, ValidationError } from '../../../native-runtime/errors.ts';
import { makeFolders } from '../../../native-runtime/formats/atomic-write.ts';
import { readFullyAt } from '../../../native-runtime/formats/read-at.ts';
import {
  type CentralEntry,
  centralEntries,
  findZipEnd,
  locateEntryData,
  type ReadAt,
  type ZipEnd,
  ZipStructureError,
  type ZipStructureReason,
} from '../../../native-runtime/formats/zip-directory.ts';
import {
  checkUploadPath,
  folderClash,
  type UnpackZipArgs,
  uploadLimitError,
  uploadPathKey,
} from './transfers.ts';
import { UPLOAD_LIMITS, type UploadKind } from './upload-limits.ts';

/** An entry to unpack: its checked path, and what the central directory says of it. */
interface Entry extends CentralEntry {
  name: string;
}

/** A central directory bigger than this is not an upload the limits allow (2000 files). */
const MAX_DIRECTORY_BYTES = 64 << 20;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function readAt(fd: number, pos: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  return buf.subarray(0, readFullyAt(fd, buf, pos));
}

/** The zip's structural faults found in its directory, in the upload's words. */
const DIRECTORY_FAULTS: Partial<Record<ZipStructureReason, string>> = {
  'no-end-record': 'it is truncated or not a zip',
  'bad-zip64-locator': 'its zip64 record is missing',
  'multi-disk': 'it is split across several files',
  'directory-out-of-bounds': 'it is truncated',
  'entry-malformed': 'its file list is damaged',
  'entry-overruns-directory': 'its file list is damaged',
  'bad-zip64-extra': 'its zip64 sizes are damaged',
};

/** The central directory's entries (files only, `__MACOSX/` left out), checked before any inflating. */
function readDirectory(
  read: ReadAt,
  size: number,
  kind: UploadKind,
  label: string,
  platform: NodeJS.Platform,
): { end: ZipEnd; entries: Entry[] } {
  const bad = (why: string) => new ValidationError('bad-zip', `${label} is not a readable zip file: ${why}`);
  const limits = UPLOAD_LIMITS[kind];
  const entries: Entry[] = [];
  // Keyed as the file system compares names (uploadPathKey): "A.bin" and "a.bin" are one file on
  // macOS and Windows, where the second would overwrite the first.
  const files = new Map<string, string>(); // key → the entry's own path
  const folders = new Set<string>();
  const key = (path: string) => uploadPathKey(path, platform);
  let total = 0;
  try {
    const end = findZipEnd(read, size);
    if (end.size > MAX_DIRECTORY_BYTES) throw uploadLimitError(kind, 'the zip has too many files');
    for (const e of centralEntries(read, end)) {
      const name = decodeName(e.rawName, e.utf8);
      if (name.startsWith('__MACOSX/')) continue;
      if (name.endsWith('/')) {
        if (name.length > 1) noteFolder(name.slice(0, -1), files, folders, label, key);
        continue;
      }
      const path = checkUploadPath(name, platform);
      if (e.madeBy === 3 && (e.mode & S_IFMT) === S_IFLNK)
        throw new ValidationError(
          'bad-zip',
          `${label} holds a symbolic link ("${path}"); zip the files themselves`,
        );
      if (e.flags & 1)
        throw new ValidationError('bad-zip', `${label} is encrypted; upload an unencrypted zip`);
      if (e.method !== 0 && e.method !== 8)
        throw new ValidationError(
          'bad-zip',
          `${label}: "${path}" is compressed with a method the studio cannot read (only stored and deflate)`,
        );
      if (e.method === 0 && e.compressedSize !== e.size) throw bad(`the sizes of "${path}" disagree`);
      const other = files.get(key(path));
      if (other !== undefined && other !== path)
        throw new ValidationError(
          'bad-zip',
          `${label} holds "${other}" and "${path}", one file on the studio's computer (its names ignore case)`,
        );
      if (other !== undefined || folders.has(key(path)))
        throw new ValidationError('bad-zip', `${label} holds "${path}" twice`);
      files.set(key(path), path);
      const slash = path.lastIndexOf('/');
      if (slash > 0) noteFolder(path.slice(0, slash), files, folders, label, key);
      if (entries.length + 1 > limits.maxFiles) throw uploadLimitError(kind, 'the zip has too many files');
      total += e.size;
      if (total > limits.maxBytes) throw uploadLimitError(kind, 'the zip unpacks too large');
      entries.push({ ...e, name: path });
    }
    return { end, entries };
  } catch (err) {
    if (!(err instanceof ZipStructureError)) throw err;
    throw bad(DIRECTORY_FAULTS[err.reason] ?? err.message);
  }
}

/** Records `folder` and its parents; a file of the same name means the zip cannot be unpacked. */
function noteFolder(
  folder: string,
  files: ReadonlyMap<string, string>,
  folders: Set<string>,
  label: string,
  key: (path: string) => string,
): void {
  const clash = folderClash(folder, files, folders, key);
  if (clash !== null)
    throw new ValidationError('bad-zip', `${label} holds "${clash}" as both a file and a folder`);
}

/** Names are UTF-8 when flagged; unflagged ones are UTF-8 too when they decode as such, else Latin-1. */
function decodeName(raw: Uint8Array, utf8: boolean): string {
  if (utf8) return Buffer.from(raw).toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return Buffer.from(raw).toString('latin1');
  }
}

/** Unpacks the zip into `dest`; returns how many files and bytes it wrote. */
export async function unpackZip(
  args: UnpackZipArgs,
  signal?: AbortSignal,
): Promise<{ files: number; bytes: number }> {
  const { zipPath, dest, kind, label } = args;
  const fd = openSync(zipPath, 'r');
  let entries: Entry[];
  const dataStart: number[] = [];
  try {
    const read: ReadAt = (pos, length) => readAt(fd, pos, length);
    const directory = readDirectory(read, fstatSync(fd).size, kind, label, args.platform ?? process.platform);
    entries = directory.entries;
    for (const e of entries) dataStart.push(locateData(read, e, directory.end, label));
  } finally {
    closeSync(fd);
  }
  let bytes = 0;
  for (const [i, e] of entries.entries()) {
    if (signal?.aborted) throw new CancelledError('unpacking the zip was cancelled');
    const out = join(dest, ...e.name.split('/'));
    makeFolders(dirname(out));
    bytes += await inflateEntry(zipPath, dataStart[i], e, out, label, signal);
  }
  return { files: entries.length, bytes };
}

/** Where an entry's data starts; its local header's faults in the upload's words. */
function locateData(read: ReadAt, e: Entry, end: ZipEnd, label: string): number {
  try {
    return locateEntryData(read, e, end);
  } catch (err) {
    if (!(err instanceof ZipStructureError)) throw err;
    if (err.reason === 'data-out-of-bounds')
      throw new ValidationError('bad-zip', `${label} is truncated: "${e.name}" is cut short`);
    if (err.reason === 'local-name-differs')
      throw new ValidationError(
        'bad-zip',
        `${label} is not a readable zip file: the names of "${e.name}" disagree`,
      );
    throw new ValidationError('bad-zip', `${label} is not a readable zip file: "${e.name}" is missing`);
  }
}

/** Writes one entry to `out`, checking its size and CRC-32 as it streams. */
async function inflateEntry(
  zipPath: string,
  start: number,
  e: Entry,
  out: string,
  label: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  const damaged = (why: string) => new ValidationError('bad-zip', `${label} is damaged: "${e.name}" ${why}`);
  let written = 0;
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > e.size) return done(damaged(`unpacks to more than its declared ${e.size} bytes`));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  // An empty range: createReadStream's `end` is inclusive, so none is opened for zero bytes.
  const source =
    e.compressedSize === 0
      ? [Buffer.alloc(0)]
      : createReadStream(zipPath, { start, end: start + e.compressedSize - 1 });
  try {
    if (e.method === 8) await pipeline(source, createInflateRaw(), check, createWriteStream(out), { signal });
    else await pipeline(source, check, createWriteStream(out), { signal });
  } catch (err) {
    if (signal?.aborted) throw new CancelledError('unpacking the zip was cancelled');
    if (err instanceof ValidationError) throw err;
    // zlib's own errors ("invalid stored block lengths", "unexpected end of file") mean bad data.
    if ((err as { code?: string }).code?.startsWith('Z_')) throw damaged('cannot be inflated');
    throw err;
  }
  if (written !== e.size) throw damaged(`holds ${written} of its ${e.size} bytes`);
  if (crc >>> 0 !== e.crc) throw damaged('does not match its checksum');
  return written;
}
