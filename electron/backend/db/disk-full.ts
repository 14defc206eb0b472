// SQLite's words for a full disk: "database or disk is full" (SQLITE_FULL) or, when its WAL or
// shared-memory file cannot grow, a bare "disk I/O error" (SQLITE_IOERR_*). Neither says which disk,
// and the second does not even say full: here both become one line naming the library's database,
// the second only when that disk's free space shows it is full. Likewise a folder that is not
// writable ("attempt to write a readonly database", SQLITE_READONLY_*, or SQLITE_CANTOPEN), a
// write to a library that was opened read-only for either reason (database.ts openDatabase), and a
// damaged file ("database disk image is malformed", SQLITE_CORRUPT, or "file is not a database",
// SQLITE_NOTADB: a page the open's check or a later read cannot make sense of).

import { accessSync, constants, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DbError } from '../../../native-runtime/errors.ts';
import { forgetFileCheck } from './file-check.ts';

/** Below this much free space an SQLite I/O error is taken for a full disk. */
const NEARLY_FULL_BYTES = 4 << 20;

function nearlyFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why a library could not be opened for writing, and what the person can do about it. */
export interface UnwritableReason {
  code: 'disk-full' | 'folder-not-writable';
  why: string;
  fix: string;
}

const FULL: UnwritableReason = { code: 'disk-full', why: 'the disk is full', fix: 'free some space' };
const NOT_WRITABLE: UnwritableReason = {
  code: 'folder-not-writable',
  why: 'its folder is not writable',
  fix: 'make the folder writable',
};

/** Library files (resolved) this process has open read-only, and why (markOpenedReadOnly). */
const openedReadOnly = new Map<string, UnwritableReason>();

/**
 * Records that `file` is open read-only in this process for `reason` (null: open for writing
 * again), so that a write to it says why it cannot be made.
 */
export function markOpenedReadOnly(file: string, reason: UnwritableReason | null): void {
  if (reason) openedReadOnly.set(resolve(file), reason);
  else openedReadOnly.delete(resolve(file));
}

/** Why `file` is open read-only in this process, or null when it is open for writing. */
export function openedReadOnlyReason(file: string): UnwritableReason | null {
  return openedReadOnly.get(resolve(file)) ?? null;
}

/**
 * `err` as a DbError naming `file` (by default `<dataDir>/library.db`) when it is SQLite's full disk
 * ('disk-full'), a folder it may not write in ('folder-not-writable'), a write to a library this
 * process opened read-only ('library-read-only'), or a damaged file ('corrupt-database'); else as it is.
 */
export function databaseDiskError(
  err: unknown,
  dataDir: string,
  file = join(dataDir, 'library.db'),
): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const readOnly = openedReadOnly.get(resolve(file));
  if (readOnly && code.startsWith('SQLITE_READONLY'))
    return new DbError(
      'library-read-only',
      `cannot write ${file}: the library is open read-only, as ${readOnly.why}; ${readOnly.fix} and try again`,
      { cause: err },
    );
  const full = code === 'SQLITE_FULL' || (code.startsWith('SQLITE_IOERR') && nearlyFull(dirname(file)));
  if (full) return new DbError('disk-full', `cannot write ${file}: the disk is full`, { cause: err });
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    // Damage a read found: the next opens check the whole file again and refuse it (file-check.ts).
    if (resolve(file) === resolve(dataDir, 'library.db')) forgetFileCheck(dataDir);
    return damagedLibrary(file, (err as Error).message, err);
  }
  if ((code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN') && !writable(dirname(file)))
    return new DbError(
      'folder-not-writable',
      `cannot write ${file}: ${NOT_WRITABLE.why}; ${NOT_WRITABLE.fix} and try again`,
      { cause: err },
    );
  return err;
}

/** The one line for a damaged library file: what SQLite found (`detail`) and what to do. */
export function damagedLibrary(file: string, detail: string, cause?: unknown): DbError {
  return new DbError(
    'corrupt-database',
    `cannot read ${file}: the file is damaged (${detail}); restore it from a backup, or move it aside to start an empty library`,
    { cause },
  );
}

/** Why `err` (from opening the library) means it cannot be written now, or null. */
export function unwritableReason(err: unknown, dataDir: string): UnwritableReason | null {
  const named = databaseDiskError(err, dataDir);
  if (!(named instanceof DbError)) return null;
  return [FULL, NOT_WRITABLE].find((r) => r.code === named.code) ?? null;
}
