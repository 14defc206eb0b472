// SQLite's words for a full disk: "database or disk is full" (SQLITE_FULL) or, when its WAL or
// shared-memory file cannot grow, a bare "disk I/O error" (SQLITE_IOERR_*). Neither says which disk,
// and the second does not even say full: here both become one line naming the library's database,
// the second only when that disk's free space shows it is full.

import { statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DbError } from '../../../native-runtime/errors.ts';

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

/**
 * `err` as a DbError 'disk-full' naming `file` (by default `<dataDir>/library.db`) when it is
 * SQLite's full disk; else as it is.
 */
export function databaseDiskError(
  err: unknown,
  dataDir: string,
  file = join(dataDir, 'library.db'),
): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const full = code === 'SQLITE_FULL' || (code.startsWith('SQLITE_IOERR') && nearlyFull(dirname(file)));
  return full ? new DbError('disk-full', `cannot write ${file}: the disk is full`, { cause: err }) : err;
}
