// Opens the library database (`library.db` in the data folder) with the settings every host needs:
// WAL so the CLI can read and write while `reft-studio serve` runs, foreign keys on, a busy timeout so
// concurrent writers wait instead of failing, migrations applied, then a consistency check.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DbError } from '../../../native-runtime/errors.ts';
import { appRoot } from '../paths.ts';
import { migrate } from './migrate.ts';

export type Db = Database.Database;

/**
 * Runs fn in one write transaction started IMMEDIATE (or a savepoint inside an outer one). A
 * deferred transaction that reads before it writes fails at once with SQLITE_BUSY_SNAPSHOT when
 * another process committed in between — busy_timeout never applies to it — while BEGIN IMMEDIATE
 * takes the write lock first and waits for it. Every multi-statement write in the library goes
 * through here (tests/backend/sql-boundary.test.ts checks that nothing calls db.transaction directly).
 */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

export interface OpenOptions {
  migrationsDir?: string;
  /** Skip PRAGMA integrity_check (it reads the whole file; tests of huge files may want this). */
  skipIntegrityCheck?: boolean;
}

export function defaultMigrationsDir(): string {
  return join(appRoot(), 'electron', 'backend', 'db', 'migrations');
}

export function openDatabase(dataDir: string, opts: OpenOptions = {}): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'library.db');
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new DbError('open-failed', `cannot open ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    // NORMAL is safe against process crashes in WAL mode (only a power cut can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.migrationsDir ?? defaultMigrationsDir());
    consistencyCheck(db, { integrity: !opts.skipIntegrityCheck });
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ConsistencyReport {
  interruptedRuns: number[];
}

/**
 * Start-up check: the file is sound, and runs left 'running'/'queued' by a process that no longer
 * exists become 'interrupted'. owner_pid is checked, so a CLI opened beside a live `serve` leaves that
 * server's runs alone; a 'paused' run needs no process and stays paused.
 */
export function consistencyCheck(db: Db, opts: { integrity: boolean }): ConsistencyReport {
  if (opts.integrity) {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0].integrity_check !== 'ok') {
      const detail = rows
        .map((r) => r.integrity_check)
        .slice(0, 3)
        .join('; ');
      throw new DbError('corrupt-database', `library database failed its integrity check: ${detail}`);
    }
  }
  const live = db.prepare("SELECT id, owner_pid FROM runs WHERE status IN ('running', 'queued')").all() as {
    id: number;
    owner_pid: number | null;
  }[];
  const dead = live.filter((r) => r.owner_pid == null || !pidAlive(r.owner_pid)).map((r) => r.id);
  if (dead.length) {
    const mark = db.prepare(
      "UPDATE runs SET status = 'interrupted', error = COALESCE(error, 'the process running it stopped'), finished_at = ? WHERE id = ? AND status IN ('running', 'queued')",
    );
    writeTransaction(db, () => {
      for (const id of dead) mark.run(Date.now(), id);
    });
  }
  return { interruptedRuns: dead };
}
