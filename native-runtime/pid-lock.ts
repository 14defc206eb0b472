// A lock file naming the process that holds it, for work two processes (the CLI beside the studio,
// two CLIs) must not do at once in one data folder: a weight conversion, a runtime pack install.
// The file is created exclusively (link(2), or O_EXCL, fails on an existing name), so exactly one
// process creates it; it holds that process's pid, its start time (Linux: a pid reused by another
// process is not taken for the holder) and what it is doing, so a loser can say who holds it, and
// the lock of a process that died without releasing it is taken over. Within one process a second
// acquire is refused too (the studio's backend may start an install and a removal side by side).

import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFailure } from './formats/atomic-write.ts';
import { processAlive, processStartTime } from './process-alive.ts';

export interface LockHolder {
  pid: number;
  /** processStartTime of the holder when it took the lock; null if unknown (another OS, older lock). */
  started: string | null;
  /** What the holder said it is doing, or '' (an older lock holding only a pid). */
  doing: string;
}

/** Lock files this process holds now. */
const held = new Set<string>();

function readHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const [first, ...rest] = text.split('\n');
  const [pid, started] = first.split(' ');
  return { pid: Number(pid), started: started || null, doing: rest.join('\n').trim() };
}

/**
 * Held by another process that still runs: not this one (its pid in a lock it does not hold was left
 * by an earlier process), nor one that only got the holder's pid after it died.
 */
const heldByOther = (h: LockHolder | null): h is LockHolder =>
  !!h &&
  Number.isInteger(h.pid) &&
  h.pid > 0 &&
  h.pid !== process.pid &&
  processAlive(h.pid) &&
  (h.started === null || (processStartTime(h.pid) ?? h.started) === h.started);

/** Who holds the lock file `path` now (this process or another that runs), or null. */
export function lockHolder(lockFile: string): LockHolder | null {
  const path = resolve(lockFile);
  const holder = readHolder(path);
  return held.has(path) || heldByOther(holder) ? holder : null;
}

const tempName = (path: string) => `${path}.${randomBytes(6).toString('hex')}.tmp`;

/**
 * Takes the lock file `path` for `doing`; returns the function that releases it. When a live
 * process holds it (this one included), throws what `busy` makes of the holder. Errors creating
 * the file (a read-only folder) are thrown as they come. `tookOver` hears of a lock left by a
 * process that stopped holding it, once it is taken over (its work may be half done).
 */
export function acquirePidLock(
  lockFile: string,
  doing: string,
  busy: (holder: LockHolder) => Error,
  tookOver?: (stale: LockHolder) => void,
): () => void {
  const path = resolve(lockFile);
  if (held.has(path)) throw busy({ pid: process.pid, started: null, doing: readHolder(path)?.doing ?? '' });
  const started = processStartTime(process.pid);
  const content = `${process.pid}${started ? ` ${started}` : ''}\n${doing}\n`;
  // A cast: TypeScript does not see the assignment in the loop below and narrows to null.
  let stale = null as LockHolder | null;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!createLock(path, content)) {
      const holder = readHolder(path);
      if (heldByOther(holder)) throw busy(holder);
      takeOverStale(path, holder, busy);
      stale ??= holder;
      continue;
    }
    held.add(path);
    if (stale && stale.pid > 0) tookOver?.(stale);
    return () => {
      held.delete(path);
      rmSync(path, { force: true });
    };
  }
  throw busy(readHolder(path) ?? { pid: 0, started: null, doing: '' });
}

/** Creates the lock file with `content`; false when it exists already. */
function createLock(path: string, content: string): boolean {
  // Written in full under a temp name, then linked into place: the lock never exists without its
  // pid, which another process would take for a dead holder's. Where the file system has no hard
  // links (FAT), created with O_EXCL and then written.
  const mine = tempName(path);
  try {
    writeFileSync(mine, content, { flag: 'wx' });
    linkSync(mine, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A full disk names the lock's path (Node's write error has none).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw writeFailure(e, path);
  } finally {
    rmSync(mine, { force: true });
  }
  try {
    writeFileSync(path, content, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw writeFailure(e, path);
  }
}

/**
 * Removes a dead process's lock. It is first renamed to a name of this process's own, so of two
 * processes taking over the same stale lock only one removes it (the other's rename fails and it
 * tries to create the lock again); if what was renamed turns out to be a live lock taken meanwhile,
 * it is put back. The `.tmp` name lets a start-up sweep delete it if this process dies here.
 */
export function takeOverStale(
  path: string,
  seen: LockHolder | null,
  busy: (holder: LockHolder) => Error,
): void {
  const aside = tempName(path);
  try {
    renameSync(path, aside);
  } catch {
    return; // gone already (released, or taken over by another process): try to create it again
  }
  const moved = readHolder(aside);
  if (moved && moved.pid !== seen?.pid && heldByOther(moved)) {
    try {
      linkSync(aside, path);
    } catch {}
    rmSync(aside, { force: true });
    throw busy(moved);
  }
  rmSync(aside, { force: true });
}
