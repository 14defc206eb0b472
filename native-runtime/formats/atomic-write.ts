// Atomic writes for the engine and the library, of one file or of a whole folder.
//   writeFileAtomic    temp file in the target's folder, fsync, rename over the target, fsync the
//                      folder so the rename itself survives a power cut.
//   writeFolderAtomic  every file written and fsynced into a temp sibling folder `.NAME.TAG.tmp`;
//                      an existing folder is moved aside to `.NAME.TAG.old`, the temp folder renamed
//                      into place, the parent fsynced, then the old one removed.
// A crash at any point leaves the old content or the complete new one, never a mix. What a killed
// process leaves behind (`*.tmp` files, `.NAME.TAG.tmp` / `.old` folders) is cleaned up at start-up
// by sweepTempFiles; an `.old` folder whose target is missing (a crash between the two renames) is
// put back rather than deleted.

import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { FormatError, ReftError, ValidationError } from '../errors.ts';
import { errnoError, fileError } from '../fs-errors.ts';

const TMP_SUFFIX = '.tmp';
/** writeFileAtomic's temp file: `NAME.<12 hex>.tmp`. */
const FILE_TEMP_RE = /\.[0-9a-f]{12}\.tmp$/;

/** Whether `name` is the temp file of a writeFileAtomic (in flight, or left by a killed writer). */
export function isFileTemp(name: string): boolean {
  return FILE_TEMP_RE.test(name);
}

/**
 * What a file written here holds: text, bytes, or a function that writes it to the open descriptor
 * itself, a piece at a time (a copy, a zip, a dataset: memory stays bounded whatever its size).
 */
export type FileData = string | Uint8Array | ((fd: number) => void);

/** Writes all of `buf` at the descriptor's position (writeSync may write less than asked). */
export function writeFully(fd: number, buf: Uint8Array): void {
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * A write or fsync that failed on an open descriptor, named by what was being written: Node's error
 * carries no path there, so a full disk read "the disk is full" without saying which. Other errors
 * (a source file that cannot be opened, say, which names its own path) are returned as they are.
 */
export function writeFailure(err: unknown, target: string): unknown {
  const e = err as NodeJS.ErrnoException;
  const onDescriptor = e?.path === undefined && (e?.syscall === 'write' || e?.syscall === 'fsync');
  return onDescriptor ? fileError(err, `cannot write ${target}`) : err;
}

function writeData(fd: number, data: FileData): void {
  if (typeof data === 'function') data(fd);
  else writeFully(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}

/** FileData that copies the file `src`, 1 MB at a time. */
export function copyOf(src: string): (fd: number) => void {
  return (fd) => {
    const from = openSync(src, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let got = readSync(from, buf); got > 0; got = readSync(from, buf))
        writeFully(fd, buf.subarray(0, got));
    } finally {
      closeSync(from);
    }
  };
}

/** fsyncs a folder, so renames and creations inside it are durable. */
export function fsyncDir(dir: string): void {
  // Windows cannot open a directory for fsync; NTFS renames are journaled anyway.
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Windows' answers while another process (a virus scanner, the search indexer) holds the file. */
const WINDOWS_BUSY = new Set(['EPERM', 'EACCES', 'EBUSY']);

/**
 * renameSync, retried on Windows while the file is briefly held: a scanner opening a file just
 * written makes a rename over it fail for a moment, which would otherwise fail the save. Waits
 * 10, 20 … 640 ms (about 1.3 s in all); elsewhere, and for any other error, the first answer stands.
 */
export function renameRetrying(
  from: string,
  to: string,
  platform: NodeJS.Platform = process.platform,
  rename: (from: string, to: string) => void = renameSync,
): void {
  for (let waitMs = 10; ; waitMs *= 2) {
    try {
      rename(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (platform !== 'win32' || !WINDOWS_BUSY.has(code) || waitMs > 640) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs);
    }
  }
}

/**
 * Writes `data` to `path` atomically (a function writes it to the temp file's descriptor itself, a
 * piece at a time); `createDir` also creates the parent folder when missing. `mode`
 * is the file's permissions from its creation on (a secret must never sit readable in the temp file,
 * where another user watching the folder could open it before a later chmod).
 */
export function writeFileAtomic(
  path: string,
  data: FileData,
  opts: { createDir?: boolean; mode?: number } = {},
): void {
  const dir = dirname(path);
  if (opts.createDir) makeFolders(dir);
  const tmp = `${path}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w', opts.mode ?? 0o666);
  } catch (e) {
    // Name the file asked for: the temp sibling's name means nothing to the person.
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !existsSync(dir))
      throw new ValidationError('missing-folder', `cannot write ${path}: the folder ${dir} does not exist`);
    // A full disk (no room even for the temp file's entry) in the words every other write uses.
    throw (
      errnoError(e, `cannot write ${path}`) ??
      new ReftError('cannot-write', `cannot write ${path} (${code ?? (e as Error).message})`, { cause: e })
    );
  }
  try {
    writeData(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw writeFailure(e, path);
  }
  closeSync(fd);
  try {
    renameRetrying(tmp, path);
  } catch (e) {
    // The temp file may sit outside any data folder (`debug --out`), where no sweep would find it.
    try {
      unlinkSync(tmp);
    } catch {}
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR')
      throw new ValidationError('not-a-file', `cannot write ${path}: it is a folder; give a file name`);
    throw (
      errnoError(e, `cannot write ${path}`) ??
      new ReftError('cannot-write', `cannot write ${path} (${code ?? (e as Error).message})`, { cause: e })
    );
  }
  fsyncDir(dir);
}

/** Copies `src` to `path` atomically, a piece at a time (memory stays bounded whatever its size). */
export function copyFileAtomic(src: string, path: string): void {
  writeFileAtomic(path, copyOf(src));
}

/** `.NAME.TAG.tmp` / `.NAME.TAG.old`: the temp and moved-aside folders of writeFolderAtomic. */
const FOLDER_TEMP_RE = /^\.(.+)\.([0-9a-f]{12})\.(tmp|old)$/;

function writeAll(path: string, data: FileData): void {
  const fd = openSync(path, 'w');
  try {
    writeData(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates or replaces folder `dir` with exactly `files` (plain file names, no sub-folders): all of
 * them are written and fsynced into a temp sibling first, which is renamed into place; on failure
 * the old folder (if any) is kept, and the missing parent folders made for it are removed. The
 * parent is fsynced after the renames.
 */
export function writeFolderAtomic(dir: string, files: Array<[string, FileData]>): void {
  const target = resolve(dir);
  const parent = dirname(target);
  const tag = randomBytes(6).toString('hex');
  const tmp = join(parent, `.${basename(target)}.${tag}${TMP_SUFFIX}`);
  // The first folder made for it, if any: a write that fails leaves none of them behind. The temp
  // folder is made with its parents again: a failed write in another process (the CLI beside
  // `serve`) may have removed the empty parent it made between these two calls.
  const madeParent = makeFolders(parent);
  let madeWithTmp: string | undefined;
  try {
    madeWithTmp = makeFolders(tmp);
  } catch (e) {
    // Name the folder asked for: the temp sibling's name means nothing to the person.
    removeMadeFolders(parent, madeParent);
    throw errnoError(e, target) ?? e;
  }
  const remade = madeWithTmp === tmp ? undefined : madeWithTmp;
  // Of the two, the one nearer the root: everything below it is this write's.
  const made = remade && (!madeParent || remade.length < madeParent.length) ? remade : madeParent;
  try {
    for (const [name, data] of files) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === '.' || name === '')
        throw new FormatError('bad-file-name', `invalid file name ${JSON.stringify(name)}`);
      writeAll(join(tmp, name), data);
    }
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    removeMadeFolders(parent, made);
    throw writeFailure(e, target);
  }
  if (!existsSync(target)) {
    renameRetrying(tmp, target);
    fsyncDir(parent);
    return;
  }
  const old = join(parent, `.${basename(target)}.${tag}.old`);
  renameRetrying(target, old);
  try {
    renameRetrying(tmp, target);
  } catch (e) {
    renameRetrying(old, target);
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Removes the folders mkdirSync made for a failed write, from `deepest` up to `first` (the first
 * one it made), each only while it is empty: one something else wrote into meanwhile stays.
 */
export function removeMadeFolders(deepest: string, first: string | undefined): void {
  if (first === undefined) return;
  const top = resolve(first);
  if (deepest !== top && !deepest.startsWith(top + sep)) return;
  for (let d = deepest; ; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (or already gone): it and those above stay
    }
    if (d === top) return;
  }
}

/**
 * `mkdir -p` that always ends, returning the first folder it made (undefined when `dir` exists), as
 * mkdirSync({ recursive: true }) does. Node's recursive mkdir loops for ever, at full CPU, where
 * mkdir answers ENOENT under a parent that exists (/proc, /sys, some FUSE mounts): an export to
 * `/proc/x` froze the command, or the whole studio backend. And where the path runs through a file
 * it says "FILE: already exists"; here the error is ENOTDIR on that file ("FILE: not a folder").
 */
export function makeFolders(dir: string, attempts = 5): string | undefined {
  const first = firstMissingFolder(dir);
  const top = first === undefined ? resolve(dir) : dirname(first);
  if (!statSync(top).isDirectory())
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${top}'`), {
      code: 'ENOTDIR',
      syscall: 'mkdir',
      path: top,
    });
  if (first === undefined) return undefined;
  const chain: string[] = [];
  for (let d = resolve(dir); d !== dirname(first); d = dirname(d)) chain.unshift(d);
  for (const d of chain) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Made meanwhile by another process (the CLI beside `serve`): as mkdir -p, that is fine.
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      // Its parent removed meanwhile (another writer's failed write takes away the empty folders it
      // made): start over, a few times. An ENOENT under a parent that is there (/proc) is final.
      if (code === 'ENOENT' && attempts > 1 && !existsSync(dirname(d))) {
        const again = makeFolders(dir, attempts - 1);
        return again !== undefined && again.length < first.length ? again : first;
      }
      throw e;
    }
  }
  return first;
}

/**
 * Refuses, before a long job records or writes anything, a folder it will make and write into later
 * (a run's --checkpoint-dir): `what` (the folder as the person named it) is said with why — "it is a
 * file", "a folder on its path, FILE, is a file", or the errno's phrase on the folder that refused
 * (permission denied, read-only disk, /proc's ENOENT). The check makes the folder as the job would
 * (`mkdir -p`, which alone answers for /proc and FUSE mounts) and takes back what it made.
 */
export function checkFolderToWrite(dir: string, what: string): void {
  const target = resolve(dir);
  let made: string | undefined;
  try {
    made = makeFolders(target);
    accessSync(target, constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTDIR' && typeof err.path === 'string')
      throw new ReftError(
        'not-a-folder',
        `${what}: ${resolve(err.path) === target ? 'it is a file' : `a folder on its path, ${err.path}, is a file`}`,
        { cause: e },
      );
    throw errnoError(e, `${what}: ${err.path ?? target}`) ?? e;
  } finally {
    removeMadeFolders(target, made);
  }
}

/** The folder a `mkdir -p` of `dir` would make first (the topmost missing one), or undefined when `dir` exists. */
export function firstMissingFolder(dir: string): string | undefined {
  let missing: string | undefined;
  for (let d = resolve(dir); !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing = d;
  return missing;
}

/**
 * Removes folder `dir` so that no half-deleted copy of it is ever seen under its name: it is renamed
 * to a temp sibling first (`.NAME.TAG.tmp`, which sweepTempFiles clears if we are killed mid-way).
 */
export function removeFolderAtomic(dir: string): void {
  const target = resolve(dir);
  if (!existsSync(target)) return;
  const parent = dirname(target);
  const tmp = join(parent, `.${basename(target)}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
  renameRetrying(target, tmp);
  fsyncDir(parent);
  rmSync(tmp, { recursive: true, force: true });
}

/** How old a leftover must be before a sweep touches it: younger, it may be a write in progress. */
const SWEEP_MIN_AGE_MS = 10 * 60_000;

/**
 * Whether an entry last written at `mtimeMs` is old enough for a sweep bounded by `minAgeMs`. A bound
 * of 0 takes every entry: one written this millisecond can read an mtime a fraction past Date.now(),
 * which counts whole milliseconds.
 */
export function oldEnough(mtimeMs: number, minAgeMs: number, now = Date.now()): boolean {
  return minAgeMs <= 0 || now - mtimeMs >= minAgeMs;
}

/**
 * Clears one writeFolderAtomic leftover `name` in `dir` (matched by FOLDER_TEMP_RE): an `.old`
 * folder whose target is missing is put back, anything else removed. Returns whether it did.
 */
function clearFolderLeftover(dir: string, name: string, m: RegExpExecArray): boolean {
  try {
    const target = join(dir, m[1]);
    if (m[3] === 'old' && !existsSync(target)) renameRetrying(join(dir, name), target);
    else rmSync(join(dir, name), { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/** The names of writeFolderAtomic's temp and moved-aside folders for folder `dir` now beside it. */
export function folderLeftoverNames(dir: string): Set<string> {
  const target = resolve(dir);
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return new Set();
  }
  return new Set(names.filter((name) => FOLDER_TEMP_RE.exec(name)?.[1] === basename(target)));
}

/**
 * Clears what killed writeFolderAtomic calls on folder `dir` left beside it, as sweepTempFiles does
 * (older than `minAgeMs`), touching nothing else in its parent: for a folder outside the data folder
 * (an export's), where no start-up sweep looks. Names in `spare` stay (a stopped export clears only
 * its own: those that were there before it began may be another process's write in progress).
 * Returns how many entries were removed or restored.
 */
export function sweepFolderLeftovers(
  dir: string,
  minAgeMs = SWEEP_MIN_AGE_MS,
  spare: ReadonlySet<string> = new Set(),
): number {
  const parent = dirname(resolve(dir));
  let cleared = 0;
  for (const name of folderLeftoverNames(dir)) {
    if (spare.has(name)) continue;
    try {
      // lstat: in a person's folder, a link of that name is theirs, never followed.
      const st = lstatSync(join(parent, name));
      if (!st.isDirectory() || !oldEnough(st.mtimeMs, minAgeMs)) continue;
    } catch {
      continue;
    }
    if (clearFolderLeftover(parent, name, FOLDER_TEMP_RE.exec(name) as RegExpExecArray)) cleared++;
  }
  return cleared;
}

/**
 * Cleans up after killed writers under `root` (recursively): `*.tmp` files, writeFolderAtomic's
 * `.NAME.TAG.tmp` folders, and its `.NAME.TAG.old` folders — put back as NAME when NAME is missing
 * (the crash fell between the two renames), removed otherwise. Only entries older than `minAgeMs`
 * are touched, so a write in progress in another process (the CLI next to `serve`) is left alone.
 * `foldersOnly` leaves `*.tmp` files alone (a caller that knows no folder write is running, but
 * not about files); `exactNames` removes only files named as writeFileAtomic names its temps, where
 * another file may end in `.tmp` (a branch name in a Hugging Face cache's refs/). Returns how many
 * entries were removed or restored.
 */
export function sweepTempFiles(
  root: string,
  minAgeMs = SWEEP_MIN_AGE_MS,
  o: { foldersOnly?: boolean; exactNames?: boolean } = {},
): number {
  let removed = 0;
  const now = Date.now();
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      const old = oldEnough(st.mtimeMs, minAgeMs, now);
      const folderTemp = st.isDirectory() ? FOLDER_TEMP_RE.exec(name) : null;
      if (folderTemp) {
        if (old && clearFolderLeftover(dir, name, folderTemp)) removed++;
      } else if (st.isDirectory()) walk(p);
      else if ((o.exactNames ? isFileTemp(name) : name.endsWith(TMP_SUFFIX)) && old && !o.foldersOnly) {
        try {
          unlinkSync(p);
          removed++;
        } catch {}
      }
    }
  };
  walk(root);
  return removed;
}
