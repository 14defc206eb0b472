// Which process owns a running run (or evaluation), by a lock the live process holds rather than by
// its PID: a PID is reused after a crash (a dead run owned by PID 4711 stayed 'running' while some
// unrelated process 4711 lived), and a lock is released by the operating system the moment its
// holder dies, however it dies.
//
// Each process that opens a library takes one owner lock for that data folder, for as long as it
// lives: a random token, and the file `<data>/owners/<token>.lock` — a tiny SQLite database the
// process holds in EXCLUSIVE locking mode (an OS file lock: fcntl on POSIX, LockFileEx on Windows).
// Runs record the token. Another process asks whether the owner is alive by trying to read that
// file without waiting: SQLITE_BUSY means someone holds it; success means its owner is gone.
// A token is recorded only after its lock is held, so no one can see it unlocked too early.

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { makeFolders, oldEnough } from '../../../native-runtime/formats/atomic-write.ts';
import { databaseDiskError } from './disk-full.ts';

export interface OwnerLock {
  token: string;
  dataDir: string;
}

const TOKEN_RE = /^[0-9a-f]{32}$/;
/** One lock per data folder per process, held until the process exits. */
const held = new Map<string, { lock: OwnerLock; db: Database.Database; file: string }>();

function ownersDir(dataDir: string): string {
  return join(dataDir, 'owners');
}

function lockFile(dataDir: string, token: string): string {
  return join(ownersDir(dataDir), `${token}.lock`);
}

let exitHook = false;

/** This process's owner lock for `dataDir` (taken on first use, kept until exit). */
export function ownerLock(dataDir: string): OwnerLock {
  const key = resolve(dataDir);
  const have = held.get(key);
  if (have) return have.lock;
  makeFolders(ownersDir(key));
  const token = randomBytes(16).toString('hex');
  const file = lockFile(key, token);
  const db = new Database(file);
  try {
    // EXCLUSIVE locking mode keeps the lock taken by the first write until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec(
      `CREATE TABLE owner (pid INTEGER, since INTEGER); INSERT INTO owner VALUES (${process.pid}, ${Date.now()})`,
    );
  } catch (e) {
    // A full disk: no half-made lock file stays behind, and the error names the lock file.
    db.close();
    for (const f of [file, `${file}-journal`]) rmSync(f, { force: true });
    throw databaseDiskError(e, key, file);
  }
  const lock = { token, dataDir: key };
  held.set(key, { lock, db, file });
  if (!exitHook) {
    exitHook = true;
    // A clean exit removes its files; a killed process leaves them unlocked for sweepOwnerLocks.
    process.on('exit', () => {
      for (const h of held.values()) {
        try {
          h.db.close();
          unlinkSync(h.file);
        } catch {}
      }
    });
  }
  return lock;
}

/** Whether the process that holds `token`'s lock in `dataDir` is alive. */
export function ownerAlive(dataDir: string, token: string | null): boolean {
  if (token === null || !TOKEN_RE.test(token)) return false;
  if (held.get(resolve(dataDir))?.lock.token === token) return true;
  const file = lockFile(dataDir, token);
  if (!existsSync(file)) return false;
  let probe: Database.Database | null = null;
  try {
    probe = new Database(file, { fileMustExist: true, timeout: 0 });
    probe.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'SQLITE_BUSY';
  } finally {
    probe?.close();
  }
}

/**
 * Removes the lock files of owners that are gone; returns how many. Only files older than
 * `minAgeMs` (the sweeps' one rule, oldEnough): a process between creating its file and locking it
 * must not lose it.
 */
export function sweepOwnerLocks(dataDir: string, minAgeMs = 10 * 60_000): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(ownersDir(dataDir));
  } catch {
    return 0;
  }
  for (const name of names) {
    const token = name.replace(/\.lock$/, '');
    if (!TOKEN_RE.test(token)) continue;
    try {
      if (!oldEnough(statSync(join(ownersDir(dataDir), name)).mtimeMs, minAgeMs)) continue;
    } catch {
      continue;
    }
    if (ownerAlive(dataDir, token)) continue;
    try {
      for (const f of [name, `${name}-journal`]) rmSync(join(ownersDir(dataDir), f), { force: true });
    } catch {
      continue; // a folder that is not writable: the library is read anyway, swept another time
    }
    removed++;
  }
  return removed;
}
