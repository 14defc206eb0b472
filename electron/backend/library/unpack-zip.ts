// Unpacking an uploaded .zip (transfers.ts finishUpload) into a folder. The studio runs it in the
// engine's 'files' process: inflating hundreds of MB takes seconds, which on the RPC loop froze every
// window and its live charts. fflate's async `unzip` does not avoid that: it reads the whole zip into
// memory on the loop and inflates barely-compressible entries (an adapter's weights) there
// (measured: 100 MB of random bytes stalled the loop 70 ms, as unzipSync did).
//
// Streams, so memory stays small whatever the size: only the central directory is read whole; each
// entry is inflated from the file into its destination in pieces (node:zlib).
// Before anything is inflated, every entry is checked from the central directory: its path
// (checkUploadPath), no symbolic link, encryption or unknown compression, no name twice or both a
// file and a folder, the count and the declared total against the kind's limits. While inflating,
// an entry must produce exactly its declared size and CRC-32: one that inflates past its size (a
// bomb lying about its size) is stopped there, and a damaged or truncated zip is refused rather than
// imported with a cut or corrupt file. macOS's `__MACOSX/` resource forks are skipped.

import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { CancelledError, ValidationError } from '../../../native-runtime/errors.ts';
import { checkUploadPath, type UnpackZipArgs, uploadLimitError } from './transfers.ts';
import { UPLOAD_LIMITS, type UploadKind } from './upload-limits.ts';

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;
/** A central directory bigger than this is not an upload the limits allow (2000 files). */
const MAX_DIRECTORY_BYTES = 64 << 20;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function readAt(fd: number, pos: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The central directory's entries (files only, `__MACOSX/` left out), checked before any inflating. */
function readDirectory(fd: number, size: number, kind: UploadKind, label: string): Entry[] {
  const bad = (why: string) => new ValidationError('bad-zip', `${label} is not a readable zip file: ${why}`);
  const tailStart = Math.max(0, size - 22 - MAX_COMMENT);
  const tail = readAt(fd, tailStart, size - tailStart);
  let end = -1;
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tail.readUInt32LE(p) === SIG_END && p + 22 + tail.readUInt16LE(p + 20) <= tail.length) {
      end = p;
      break;
    }
  }
  if (end < 0) throw bad('it is truncated or not a zip');
  let count = tail.readUInt16LE(end + 10);
  let dirSize = tail.readUInt32LE(end + 12);
  let dirOffset = tail.readUInt32LE(end + 16);
  let dirLimit = tailStart + end;
  // Zip64: the real numbers are in the zip64 end record, found through the locator just before.
  if (end >= 20 && tail.readUInt32LE(end - 20) === SIG_LOCATOR64) {
    const at = Number(tail.readBigUInt64LE(end - 20 + 8));
    const rec = at >= 0 && at + 56 <= size ? readAt(fd, at, 56) : Buffer.alloc(0);
    if (rec.length < 56 || rec.readUInt32LE(0) !== SIG_END64) throw bad('its zip64 record is missing');
    count = Number(rec.readBigUInt64LE(32));
    dirSize = Number(rec.readBigUInt64LE(40));
    dirOffset = Number(rec.readBigUInt64LE(48));
    dirLimit = at;
  }
  if (dirSize > MAX_DIRECTORY_BYTES) throw uploadLimitError(kind, 'the zip has too many files');
  if (dirOffset + dirSize > dirLimit) throw bad('it is truncated');
  const dir = readAt(fd, dirOffset, dirSize);
  const limits = UPLOAD_LIMITS[kind];
  const entries: Entry[] = [];
  const files = new Set<string>();
  const folders = new Set<string>();
  let total = 0;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== SIG_CENTRAL) throw bad('its file list is damaged');
    const madeBy = dir.readUInt16LE(p + 4) >> 8;
    const flags = dir.readUInt16LE(p + 8);
    const method = dir.readUInt16LE(p + 10);
    const crc = dir.readUInt32LE(p + 16);
    let compressedSize = dir.readUInt32LE(p + 20);
    let size = dir.readUInt32LE(p + 24);
    const nameLen = dir.readUInt16LE(p + 28);
    const extraLen = dir.readUInt16LE(p + 30);
    const commentLen = dir.readUInt16LE(p + 32);
    const mode = dir.readUInt32LE(p + 38) >>> 16;
    let localOffset = dir.readUInt32LE(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > dir.length) throw bad('its file list is damaged');
    const rawName = dir.subarray(p + 46, p + 46 + nameLen);
    // Zip64 extra field: the 64-bit values of the fields saturated above, in this order.
    const extra = dir.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    for (let e = 0; e + 4 <= extra.length; e += 4 + extra.readUInt16LE(e + 2)) {
      if (extra.readUInt16LE(e) !== 0x0001) continue;
      let q = e + 4;
      const big = () => {
        if (q + 8 > extra.length) throw bad('its zip64 sizes are damaged');
        const v = Number(extra.readBigUInt64LE(q));
        q += 8;
        return v;
      };
      if (size === 0xffffffff) size = big();
      if (compressedSize === 0xffffffff) compressedSize = big();
      if (localOffset === 0xffffffff) localOffset = big();
    }
    p = next;
    const name = decodeName(rawName, (flags & 0x800) !== 0);
    if (name.startsWith('__MACOSX/')) continue;
    if (name.endsWith('/')) {
      if (name.length > 1) noteFolder(name.slice(0, -1), files, folders, label);
      continue;
    }
    const path = checkUploadPath(name);
    if (madeBy === 3 && (mode & S_IFMT) === S_IFLNK)
      throw new ValidationError(
        'bad-zip',
        `${label} holds a symbolic link ("${path}"); zip the files themselves`,
      );
    if (flags & 1) throw new ValidationError('bad-zip', `${label} is encrypted; upload an unencrypted zip`);
    if (method !== 0 && method !== 8)
      throw new ValidationError(
        'bad-zip',
        `${label}: "${path}" is compressed with a method the studio cannot read (only stored and deflate)`,
      );
    if (method === 0 && compressedSize !== size) throw bad(`the sizes of "${path}" disagree`);
    if (files.has(path) || folders.has(path))
      throw new ValidationError('bad-zip', `${label} holds "${path}" twice`);
    files.add(path);
    const slash = path.lastIndexOf('/');
    if (slash > 0) noteFolder(path.slice(0, slash), files, folders, label);
    if (entries.length + 1 > limits.maxFiles) throw uploadLimitError(kind, 'the zip has too many files');
    total += size;
    if (total > limits.maxBytes) throw uploadLimitError(kind, 'the zip unpacks too large');
    entries.push({ name: path, method, crc, compressedSize, size, localOffset });
  }
  return entries;
}

/** Records `folder` and its parents; a file of the same name means the zip cannot be unpacked. */
function noteFolder(folder: string, files: Set<string>, folders: Set<string>, label: string): void {
  const parts = folder.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const f = parts.slice(0, i).join('/');
    if (files.has(f))
      throw new ValidationError('bad-zip', `${label} holds "${f}" as both a file and a folder`);
    folders.add(f);
  }
}

/** Names are UTF-8 when flagged; unflagged ones are UTF-8 too when they decode as such, else Latin-1. */
function decodeName(raw: Buffer, utf8: boolean): string {
  if (utf8) return raw.toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return raw.toString('latin1');
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
    const size = fstatSync(fd).size;
    entries = readDirectory(fd, size, kind, label);
    for (const e of entries) {
      const h = readAt(fd, e.localOffset, 30);
      if (h.length < 30 || h.readUInt32LE(0) !== SIG_LOCAL)
        throw new ValidationError('bad-zip', `${label} is not a readable zip file: "${e.name}" is missing`);
      const start = e.localOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (start + e.compressedSize > size)
        throw new ValidationError('bad-zip', `${label} is truncated: "${e.name}" is cut short`);
      dataStart.push(start);
    }
  } finally {
    closeSync(fd);
  }
  let bytes = 0;
  for (const [i, e] of entries.entries()) {
    if (signal?.aborted) throw new CancelledError('unpacking the zip was cancelled');
    const out = join(dest, ...e.name.split('/'));
    mkdirSync(dirname(out), { recursive: true });
    bytes += await inflateEntry(zipPath, dataStart[i], e, out, label, signal);
  }
  return { files: entries.length, bytes };
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
