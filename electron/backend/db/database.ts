// Opens the library database (`library.db` in the data folder) with the settings every host needs:
// WAL so the CLI can read and write while `reft-studio serve` runs, foreign keys on, a busy timeout so
// concurrent writers wait instead of failing, migrations applied, then a consistency check.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { DbError } from '../../../native-runtime/errors.ts';
import { makeFolders } from '../../../native-runtime/formats/atomic-write.ts';
import { processAlive } from '../../../native-runtime/process-alive.ts';
import { appRoot } from '../paths.ts';
import {
  damagedLibrary,
  databaseDiskError,
  markOpenedReadOnly,
  type UnwritableReason,
  unwritableReason,
} from './disk-full.ts';
import { type FileCheckWhen, fileCheckDue, forgetFileCheck, recordFileCheck } from './file-check.ts';
import { migrate } from './migrate.ts';
import { ownerAlive, sweepOwnerLocks } from './owner-lock.ts';

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

/** What rolledBack's transaction throws to undo its writes, carrying fn's answer out. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

/**
 * What `fn` returns from the library as its writes leave it, none of them kept: run in a write
 * transaction that is then rolled back. For what must be asked of a write's result before it is
 * made, where the asking is asynchronous and cannot wait inside a transaction (the CLI's run,
 * planned on the model and data it adds, then checked against the computer's memory).
 */
export function rolledBack<T>(db: Db, fn: () => T): T {
  try {
    return writeTransaction(db, (): T => {
      throw new Rollback(fn());
    });
  } catch (e) {
    if (e instanceof Rollback) return e.value as T;
    throw e;
  }
}

export interface OpenOptions {
  migrationsDir?: string;
  /** Skip PRAGMA quick_check (it reads the whole file; tests of huge files may want this). */
  skipIntegrityCheck?: boolean;
  /**
   * When the open checks the whole file (file-check.ts): 'every-open' (the default: the studio's
   * and serve's start) or 'daily' (a CLI command, which must not read 250 MB to list runs).
   */
  checkFile?: FileCheckWhen;
}

/** Whether this open reads the whole file to check it. */
const checksFile = (dataDir: string, opts: OpenOptions): boolean =>
  !opts.skipIntegrityCheck && fileCheckDue(dataDir, opts.checkFile ?? 'every-open');

export function defaultMigrationsDir(): string {
  return join(appRoot(), 'electron', 'backend', 'db', 'migrations');
}

const isFolder = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export function openDatabase(dataDir: string, opts: OpenOptions = {}): Db {
  makeFolders(dataDir);
  const file = join(dataDir, 'library.db');
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    const reason = unwritableReason(e, dataDir);
    if (reason) return openReadOnlyCopy(file, dataDir, reason, opts);
    // SQLite says only "unable to open database file" of a folder in the file's place.
    const why = isFolder(file)
      ? 'it is a folder, not the library file; rename it or choose another data folder'
      : (e as Error).message;
    throw new DbError('open-failed', `cannot open ${file}: ${why}`, { cause: e });
  }
  try {
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    // NORMAL is safe against process crashes in WAL mode (only a power cut can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.migrationsDir ?? defaultMigrationsDir());
    consistencyCheck(db, { integrity: checksFile(dataDir, opts), dataDir });
  } catch (e) {
    db.close();
    const reason = unwritableReason(e, dataDir);
    if (reason) return openReadOnlyCopy(file, dataDir, reason, opts);
    throw databaseDiskError(e, dataDir);
  }
  markOpenedReadOnly(file, null);
  return db;
}

/** Libraries opened as a read-only copy (openReadOnlyCopy), and why. */
const readOnlyCopies = new WeakMap<Db, UnwritableReason>();

/** Why `db` is a read-only copy of the library (nothing can be written through it), or null. */
export function readOnlyReason(db: Db): UnwritableReason | null {
  return readOnlyCopies.get(db) ?? null;
}

/**
 * The library from a copy of library.db in memory, read-only, when the file cannot be opened for
 * writing (a full disk, a folder that is not writable): listing runs or models must still work.
 * Opening a WAL database, even read-only, makes SQLite create and size library.db-shm, which is
 * what fails there; the `immutable=1` URI that would skip it is not understood by better-sqlite3's
 * build (the name is taken as a path). The copy is exact when library.db-wal holds nothing, as a
 * studio or command that closed cleanly leaves it; otherwise the last changes are in that file and
 * the open is refused, saying why. A write through the copy fails with one line saying why
 * (disk-full.ts, library-read-only).
 * The failed open leaves a 3-byte library.db-shm and an empty library.db-wal on a full disk. They are
 * SQLite's, left alone: the next open with room takes them over and its clean close deletes them,
 * while deleting them from here, outside SQLite's locks, could pull them from under a CLI or a studio
 * opening the library in that instant (its commits would go to a deleted -wal).
 */
function openReadOnlyCopy(file: string, dataDir: string, reason: UnwritableReason, opts: OpenOptions): Db {
  const fail = (what: string) =>
    new DbError(reason.code, `${what}: ${reason.why}; ${reason.fix} and try again`);
  const wal = `${file}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0)
    throw fail(`cannot read ${file}, whose last changes are still in ${basename(wal)}`);
  const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  if (bytes.length < 100) throw fail(`cannot create the library ${file}`);
  // The header's read and write versions say WAL (2); a database in memory has none (1: rollback).
  bytes[18] = 1;
  bytes[19] = 1;
  const db = new Database(bytes, { readonly: true });
  readOnlyCopies.set(db, reason);
  markOpenedReadOnly(file, reason);
  try {
    migrate(db, opts.migrationsDir ?? defaultMigrationsDir());
    consistencyCheck(db, { integrity: checksFile(dataDir, opts), dataDir });
  } catch (e) {
    db.close();
    throw databaseDiskError(e, dataDir);
  }
  return db;
}

/** A run's owner: its lock when it has a token (see owner-lock.ts), else — rows from before — its PID. */
export function ownerLives(
  dataDir: string,
  owner: { owner_pid: number | null; owner_token: string | null },
): boolean {
  if (owner.owner_token !== null) return ownerAlive(dataDir, owner.owner_token);
  return owner.owner_pid !== null && processAlive(owner.owner_pid);
}

/** Rows left 'running' (or queued) by processes that are gone, to be marked 'interrupted'. */
interface DeadRows {
  /** Run id → its owner token as found: a run taken over since (resumed elsewhere) has another. */
  runs: Map<number, string | null>;
  evaluations: number[];
  evaluationJobs: number[];
}

/** Per open database: what the last look for dead owners found but could not mark (a full disk). */
const unmarked = new WeakMap<Db, DeadRows>();

/**
 * Per open database: runs this process stopped because the library could not be written (a full
 * disk), whose stop could not be written either (leaveStoppedRunUnmarked). Their owner is alive, so
 * no look for dead owners would find them: each look adds them to what it marks.
 */
const stoppedUnmarked = new WeakMap<Db, Map<number, string | null>>();

/** Per open database: the runs its start-up check found without a live owner. */
const interruptedAtOpen = new WeakMap<Db, ReadonlySet<number>>();

const plainDbCode = (e: unknown) => (e instanceof DbError ? e.code : undefined);

function markInterrupted(db: Db, rows: DeadRows): void {
  if (!rows.runs.size && !rows.evaluations.length && !rows.evaluationJobs.length) return;
  const mark = db.prepare(
    "UPDATE runs SET status = 'interrupted', error = COALESCE(error, ?), finished_at = ? WHERE id = ? AND status IN ('running', 'queued')",
  );
  const markEval = db.prepare(
    "UPDATE evaluations SET status = 'interrupted' WHERE id = ? AND status = 'running'",
  );
  const markEvalJob = db.prepare(
    "UPDATE evaluation_jobs SET status = 'interrupted' WHERE id = ? AND status IN ('queued', 'running', 'stopping')",
  );
  writeTransaction(db, () => {
    for (const id of rows.runs.keys()) mark.run(INTERRUPTED_ERROR, Date.now(), id);
    for (const id of rows.evaluations) markEval.run(id);
    for (const id of rows.evaluationJobs) markEvalJob.run(id);
  });
}

/** The error an interrupted run shows when it has none of its own. */
export const INTERRUPTED_ERROR = 'the process running it stopped before the run ended; it can be resumed';

/** Whether run `id`, owned by `token`, was found without a live owner and could not be marked yet. */
export function runLeftUnmarked(db: Db, id: number, token: string | null): boolean {
  const runs = unmarked.get(db)?.runs;
  return runs?.has(id) === true && runs.get(id) === token;
}

/**
 * Whether evaluation `id` was found 'running' without a live owner and could not be marked yet (an
 * evaluation is never taken over, so its id is enough).
 */
export function evaluationLeftUnmarked(db: Db, id: number): boolean {
  return unmarked.get(db)?.evaluations.includes(id) === true;
}

/** Whether evaluation job row `id` was found without a live owner and could not be marked yet. */
export function evaluationJobLeftUnmarked(db: Db, id: number): boolean {
  return unmarked.get(db)?.evaluationJobs.includes(id) === true;
}

/**
 * The runs this database's start-up check found 'running' or 'queued' without a live owner (marked,
 * or read, interrupted). A CLI command opens the library for itself, so for it these runs had died
 * before it was asked to act on them (`runs cancel` says so).
 */
export function runsInterruptedAtOpen(db: Db): ReadonlySet<number> {
  return interruptedAtOpen.get(db) ?? new Set();
}

/**
 * Marks now what a look for dead owners could not mark on a full disk; a write that depends on
 * those rows' status (a resume) calls it first. Still full, it throws the disk-full error.
 */
export function retryInterruptedMarks(db: Db): void {
  const rows = unmarked.get(db);
  if (!rows) return;
  markInterrupted(db, rows);
  unmarked.delete(db);
  stoppedUnmarked.delete(db);
}

/**
 * Run `id`, owned by this process's `token`, stopped because the library is full, and saying so
 * failed too: it reads interrupted from now on (runLeftUnmarked), not running with no one training
 * it, and the next look for dead owners (a host looks each second) or a resume marks it.
 */
export function leaveStoppedRunUnmarked(db: Db, id: number, token: string | null): void {
  const stopped = stoppedUnmarked.get(db) ?? new Map<number, string | null>();
  stopped.set(id, token);
  stoppedUnmarked.set(db, stopped);
  const rows = unmarked.get(db) ?? { runs: new Map(), evaluations: [], evaluationJobs: [] };
  rows.runs.set(id, token);
  unmarked.set(db, rows);
}

type Owned = { id: number; owner_pid: number | null; owner_token: string | null };

/** The reads of work that may have an owner; null where the table has no status yet. */
interface OwnedWorkReads {
  runs: Database.Statement<[], Owned>;
  evaluations: Database.Statement<[], Owned> | null;
  evaluationJobs: Database.Statement<[], Owned> | null;
}

/**
 * Per open database: its owned-work reads, prepared once. The schema is a connection's own from its
 * migrations at open on (a host asks each second), so which columns exist is read only once.
 */
const ownedWorkReads = new WeakMap<Db, OwnedWorkReads>();

function ownedWorkReadsOf(db: Db): OwnedWorkReads {
  const cached = ownedWorkReads.get(db);
  if (cached) return cached;
  // A database opened with only some migrations (the upgrade tests) may not have every column yet.
  const col = (table: string, name: string) =>
    (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === name) ? name : 'NULL';
  const reads: OwnedWorkReads = {
    runs: db.prepare(
      `SELECT id, owner_pid, ${col('runs', 'owner_token')} AS owner_token FROM runs WHERE status IN ('running', 'queued')`,
    ),
    evaluations:
      col('evaluations', 'status') === 'NULL'
        ? null
        : db.prepare(
            `SELECT id, NULL AS owner_pid, ${col('evaluations', 'owner_token')} AS owner_token FROM evaluations WHERE status = 'running'`,
          ),
    evaluationJobs:
      col('evaluation_jobs', 'status') === 'NULL'
        ? null
        : db.prepare(
            `SELECT id, NULL AS owner_pid, owner_token FROM evaluation_jobs WHERE status IN ('queued', 'running', 'stopping')`,
          ),
  };
  ownedWorkReads.set(db, reads);
  return reads;
}

/** Runs, evaluations and evaluation jobs left running (or queued) by a process that is gone. */
function findDeadOwners(db: Db, dataDir: string): DeadRows {
  const deadRowsOf = (rows: Owned[]) => rows.filter((r) => !ownerLives(dataDir, r));
  const deadOf = (read: Database.Statement<[], Owned> | null) =>
    read ? deadRowsOf(read.all()).map((r) => r.id) : [];
  const reads = ownedWorkReadsOf(db);
  const deadRuns = deadRowsOf(reads.runs.all());
  return {
    runs: new Map(deadRuns.map((r) => [r.id, r.owner_token])),
    evaluations: deadOf(reads.evaluations),
    evaluationJobs: deadOf(reads.evaluationJobs),
  };
}

/** The runs and evaluations that a look for dead owners found newly interrupted. */
export interface NewlyInterrupted {
  runs: number[];
  evaluations: number[];
}

/**
 * The one rule for work whose process died: every run left 'running' or 'queued', evaluation left
 * 'running' and evaluation job not ended whose owner no longer holds its owner lock (owner-lock.ts)
 * is marked 'interrupted'. The start-up check runs it, and so does a host that stays open, on a
 * timer (library/outside-changes.ts), for what a CLI beside it leaves when it is killed.
 *
 * It never marks live work, however slow: the lock is the operating system's, held for as long as
 * the owning process exists — through an hour-long step, a process stopped with Ctrl-Z, a laptop
 * asleep — and released only when that process ends. No heartbeat or age is read, so no delay can
 * pass for a death; and a token is recorded only once its lock is held.
 *
 * On a full disk (or a read-only copy of the library) the marking waits (retryInterruptedMarks, the
 * next look) and those rows read as interrupted meanwhile (runLeftUnmarked, evaluationLeftUnmarked,
 * evaluationJobLeftUnmarked); any other failure to write (a busy database) is thrown. Returns the
 * runs and evaluations that read interrupted now and did not after the previous look.
 */
export function interruptDeadOwners(db: Db, dataDir: string): NewlyInterrupted {
  const before = unmarked.get(db);
  const dead = findDeadOwners(db, dataDir);
  for (const [id, token] of stoppedUnmarked.get(db) ?? []) dead.runs.set(id, token);
  try {
    markInterrupted(db, dead);
    unmarked.delete(db);
    stoppedUnmarked.delete(db);
  } catch (e) {
    const why = plainDbCode(databaseDiskError(e, dataDir));
    if (why !== 'disk-full' && why !== 'library-read-only') throw e;
    unmarked.set(db, dead);
  }
  const readBefore = (id: number) =>
    before?.runs.has(id) === true && before.runs.get(id) === dead.runs.get(id);
  return {
    runs: [...dead.runs.keys()].filter((id) => !readBefore(id)),
    evaluations: dead.evaluations.filter((id) => !before?.evaluations.includes(id)),
  };
}

export interface ConsistencyReport {
  interruptedRuns: number[];
}

/**
 * Start-up check: the file is sound, and runs, evaluations and evaluation jobs whose process died
 * become 'interrupted' (interruptDeadOwners: by their owner lock, so a CLI opened beside a live
 * `serve` leaves that server's runs alone, whatever became of PIDs; a 'paused' run needs no process
 * and stays paused). On a full disk (or a read-only copy of the library, openReadOnlyCopy) they read
 * as interrupted until a later look, or a write that depends on them, can mark them.
 */
export function consistencyCheck(db: Db, opts: { integrity: boolean; dataDir: string }): ConsistencyReport {
  if (opts.integrity) {
    // quick_check, not integrity_check: it finds the same damaged pages and records but skips
    // checking every index against its table, which made integrity_check 2–3 times slower — every
    // open paid it (each CLI command, each studio start): 3.1 s instead of 1.5 s on a library of
    // 2,000 runs and 3M metric points (a 250 MB file). A CLI command checks once a day (file-check.ts).
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    if (rows.length !== 1 || rows[0].quick_check !== 'ok') {
      const detail = rows
        .map((r) => r.quick_check)
        .slice(0, 3)
        .join('; ');
      forgetFileCheck(opts.dataDir);
      throw damagedLibrary(join(opts.dataDir, 'library.db'), detail);
    }
    recordFileCheck(opts.dataDir);
  }
  const { runs } = interruptDeadOwners(db, opts.dataDir);
  interruptedAtOpen.set(db, new Set(runs));
  sweepOwnerLocks(opts.dataDir);
  return { interruptedRuns: runs };
}
