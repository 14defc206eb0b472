// The library: the database plus the data folder it indexes. Every host (the Electron utility
// process, `reft-studio serve`, each CLI command and the tests) opens it through openLibrary, so the
// start-up work (migrations, consistency check, temp-file sweep) happens in one place.
// Hosts that show the demo seed it afterwards (demo.ts seedDemo): the library itself knows nothing
// of models, datasets or settings, which all build on it.

import { type Dirent, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { sweepImportTemps } from '../../../native-runtime/adapters/folders.ts';
import { FormatError } from '../../../native-runtime/errors.ts';
import { makeFolders, sweepTempFiles } from '../../../native-runtime/formats/atomic-write.ts';
import { sweepScratchFolders } from '../../../native-runtime/scratch-folders.ts';
import { type OpenOptions, openDatabase, readOnlyReason } from '../db/database.ts';
import { type OwnerLock, ownerLock } from '../db/owner-lock.ts';
import { pruneEndedEvaluationJobs } from './evaluation-jobs.ts';
import { removeOutdatedBaseStores, SWEEP_DEPTH, sweepRemovedFolders } from './folder-removal.ts';
import { sweepUnusedFrozenFiles } from './frozen-file-reclaim.ts';
import type { Library } from './library-handle.ts';

export type { Library };

/**
 * Creates a missing data folder readable by its owner only: the library holds the Hugging Face token
 * (settings), every imported dataset and serve's access token, and the usual umask would let every
 * local user read them. A folder that exists keeps the permissions its owner gave it.
 */
function createDataDir(dataDir: string): void {
  const dir = resolve(dataDir);
  // A file on the way ("--data-dir notes.txt" or "notes.txt/lib") is named as such, not as
  // "…/owners: not a folder" from deeper down or a bare "already exists".
  const notFolder = () =>
    new FormatError(
      'not-a-folder',
      `${dataDir} cannot be the data folder: ${existsSync(dir) ? 'it is a file' : 'a folder on its path is a file'}`,
    );
  try {
    makeFolders(dirname(dir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw notFolder();
    throw e;
  }
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw notFolder();
    if (code !== 'EEXIST') throw e;
  }
  if (!statSync(dir).isDirectory()) throw notFolder();
}

/** Whether `dir` holds a studio library: a library.db that reads as one (its migrations table). */
function holdsLibrary(dir: string): boolean {
  const file = join(dir, 'library.db');
  try {
    if (!statSync(file).isFile()) return false;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (
        db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__migrations__'").get() !==
        undefined
      );
    } finally {
      db.close();
    }
  } catch {
    return false; // not there, or not a database this process can read: another program's file
  }
}

/**
 * The data folder of the studio library `dataDir` would lie inside, if any. Such a folder is that
 * library's files: its removals delete whole folders (an adapter's, a run's), and its start-up
 * sweeps walk into them, so the inner library could be deleted with an adapter of the outer one.
 */
export function enclosingLibrary(dataDir: string): string | null {
  // Links resolved on the part of the path that exists: a link into a library leads inside it.
  let existing = resolve(dataDir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {}
  const inside = existing !== resolve(dataDir);
  for (let dir = inside ? real : dirname(real); ; dir = dirname(dir)) {
    if (holdsLibrary(dir)) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The data folder's sub-folders whose whole trees its housekeeping walks or empties: the start-up
 * sweep of temp files walks datasets/, adapters/ and runs/ to the bottom, and downloads/, uploads/
 * and tmp/ lose whole entries once old (transfers.ts sweep, sweepScratchFolders).
 */
const SWEPT_TREES = new Set(['datasets', 'adapters', 'runs', 'downloads', 'uploads', 'tmp']);

/**
 * The data folder of a studio library that a new library at `dataDir` would hold where its own
 * housekeeping reaches, if any: the trees of SWEPT_TREES, and every folder the start-up sweep of
 * set-aside folders lists (SWEEP_DEPTH deep), which would delete that library's interrupted removals
 * instead of its own sweep putting them back. The folders a library's opening walks anyway, so the
 * check costs no more than one opening; links are not followed.
 */
export function heldLibrary(dataDir: string): string | null {
  const walk = (dir: string, depth: number, swept: boolean): string | null => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return null; // no such folder yet, or not one this process can read
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const sub = join(dir, e.name);
      const inTree = swept || (depth === 0 && SWEPT_TREES.has(e.name));
      if (holdsLibrary(sub)) return sub;
      if (inTree || depth + 1 < SWEEP_DEPTH) {
        const found = walk(sub, depth + 1, inTree);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(resolve(dataDir), 0, false);
}

export function openLibrary(dataDir: string, opts: OpenOptions = {}): Library {
  const outer = enclosingLibrary(dataDir);
  if (outer)
    throw new FormatError(
      'data-folder-in-library',
      `${dataDir} cannot be the data folder: it is inside the data folder of another studio library, ${outer}, whose removals would delete its files; choose a folder outside it`,
    );
  // Asked only of a new library: one that exists keeps opening (its files are its own already).
  const inner = existsSync(join(dataDir, 'library.db')) ? null : heldLibrary(dataDir);
  if (inner)
    throw new FormatError(
      'library-in-data-folder',
      `${dataDir} cannot be the data folder: it holds the data folder of another studio library, ${inner}, whose files its clean-ups could delete; choose a folder that does not hold it`,
    );
  createDataDir(dataDir);
  const db = openDatabase(dataDir, opts);
  // The owner lock is a file written on first use (a run or an evaluation started), not here: a
  // command that only reads must work on a full disk. The start-up check needs none: a lock this
  // process already holds (the library opened again) is known to ownerAlive.
  const lib: Library = {
    db,
    dataDir,
    get owner(): OwnerLock {
      return ownerLock(dataDir);
    },
  };
  // A library open read-only (a full disk, a folder that is not writable): no housekeeping writes.
  if (readOnlyReason(db)) return lib;
  try {
    // Temp files and folders of writers killed mid-write: datasets, adapters, run checkpoints.
    for (const sub of ['datasets', 'adapters', 'runs']) sweepTempFiles(join(dataDir, sub));
    sweepImportTemps(join(dataDir, 'adapters'));
    // Scratch folders of killed processes: a bench's synthetic model (gigabytes), a calibration.
    sweepScratchFolders(dataDir);
    // Folders a crash left set aside mid-removal (folder-removal.ts): put back or deleted.
    sweepRemovedFolders(lib);
    // Frozen dataset files nothing needs (a crash between writing and recording one). Housekeeping:
    // one that fails (a file held open) is tried again at the next start, never stops this one.
    try {
      sweepUnusedFrozenFiles(lib);
    } catch {}
    // A model's old converted weights, kept while a run or evaluation that died read them.
    try {
      removeOutdatedBaseStores(lib);
    } catch {}
    // Evaluation jobs long ended (after the sweeps above, which read the jobs' rows).
    try {
      pruneEndedEvaluationJobs(lib);
    } catch {}
  } catch (e) {
    db.close();
    throw e;
  }
  return lib;
}

export function closeLibrary(lib: Library): void {
  if (lib.db.open) lib.db.close();
}

/** JSON column helper: a corrupt value reads as {} rather than breaking a whole listing. */
export function parseJsonColumn<T = Record<string, unknown>>(
  text: string | null | undefined,
  fallback: T,
): T {
  if (text == null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
