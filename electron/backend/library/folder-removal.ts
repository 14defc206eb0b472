// Deleting the library's folders (an adapter's, a run's with its checkpoints and log, a model's
// converted weights) so that neither a crash nor a failed delete leaves a half-deleted folder under
// its name, nor a row pointing at one. The pattern of frozen-file-reclaim.ts, for folders: each one
// is renamed aside (`.NAME.TAG.removing`, beside it) INSIDE the write transaction that deletes its
// row, and deleted once that transaction has committed; a failed commit puts them back. A crash
// leaves `.removing` folders, which the start-up sweep puts back when their folder is still recorded
// (the transaction never committed) or deletes (it did, or the delete failed: a file held open).
// A folder some remaining row still records (another model with the same converted weights, an
// adapter registered inside a run's folder) is left where it is, and so are the converted weights a
// queued or running run or evaluation (any process) reads: a model whose files changed meanwhile
// (models.ts refreshModel) keeps its old ones until nothing reads them (removeOutdatedBaseStores).

import { randomBytes } from 'node:crypto';
import { type Dirent, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fsyncDir } from '../../../native-runtime/formats/atomic-write.ts';
import { basesRoot } from '../../../native-runtime/quantize/base.ts';
import { baseStoresFolder } from '../../../native-runtime/quantize/store.ts';
import { writeTransaction } from '../db/database.ts';
import { ACTIVE_EVALUATION_JOB } from './evaluation-jobs.ts';
import type { Library } from './library-handle.ts';

/** `.NAME.TAG.removing`: a folder set aside by a removal, NAME its name before. */
const ASIDE_RE = /^\.(.+)\.([0-9a-f]{12})\.removing$/;
/** Sub-folders of the data folder the start-up sweep does not walk: they hold no removed folders. */
const NOT_SWEPT = new Set(['datasets', 'owners']);
/**
 * How deep below the data folder the sweep lists folders. The deepest folder a removal sets aside is
 * a checkpoint, `runs/<id>/checkpoints/<step>`, whose parent is 3 deep; not listing the checkpoints'
 * own contents keeps the walk to a few hundred listings for a library of thousands of checkpoints
 * (it runs each time the library opens, every CLI command included).
 */
export const SWEEP_DEPTH = 3;

/** For tests: called after the commit, before the deletes, to stand in for a crash there. */
export const removalSeams: { afterCommit?: () => void } = {};

/** Whether `path` lies inside the data folder (only such folders are the library's to delete). */
export function insideDataDir(lib: Library, path: string): boolean {
  const rel = relative(resolve(lib.dataDir), resolve(path));
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The folders the library's rows name: adapters', checkpoints', runs' own (`runs/<id>`), models' and
 * the converted weights of each model's fingerprint (`bases/<fingerprint>`) and of the fingerprint
 * each queued or running run or evaluation job read its model with. Resolved paths.
 */
function recordedFolders(lib: Library): string[] {
  const all = (sql: string) => lib.db.prepare(sql).pluck().all() as (string | number)[];
  return [
    ...all('SELECT path FROM adapters').map((p) => resolve(String(p))),
    ...all('SELECT path FROM checkpoints').map((p) => resolve(String(p))),
    ...all('SELECT id FROM runs').map((id) => resolve(lib.dataDir, 'runs', String(id))),
    ...all('SELECT path FROM models').map((p) => resolve(String(p))),
    ...all(
      `SELECT fingerprint FROM models
       UNION SELECT model_fingerprint FROM runs WHERE status IN ('queued', 'running') AND model_fingerprint IS NOT NULL
       UNION SELECT model_fingerprint FROM evaluation_jobs WHERE ${ACTIVE_EVALUATION_JOB} AND model_fingerprint IS NOT NULL`,
    ).map((f) => resolve(basesRoot(lib.dataDir), String(f))),
  ];
}

/** Whether `folder` is, or holds, a folder in `recorded`. */
function stillNeeded(folder: string, recorded: readonly string[]): boolean {
  const f = resolve(folder);
  return recorded.some((r) => r === f || r.startsWith(f + sep));
}

/** Folders renamed aside inside a write transaction, deleted or put back once it has ended. */
class FoldersAside {
  /** [original, aside] pairs, in the order they were moved. */
  private readonly moved: Array<[string, string]> = [];

  /**
   * Call INSIDE the write transaction that deletes the folders' rows (after the deletes): renames
   * aside each of `folders` that exists, lies inside the data folder and no remaining row needs.
   */
  constructor(lib: Library, folders: readonly string[]) {
    const recorded = recordedFolders(lib);
    const parents = new Set<string>();
    try {
      for (const folder of new Set(folders.map((f) => resolve(f)))) {
        if (!insideDataDir(lib, folder) || !existsSync(folder) || stillNeeded(folder, recorded)) continue;
        const aside = join(
          dirname(folder),
          `.${basename(folder)}.${randomBytes(6).toString('hex')}.removing`,
        );
        renameSync(folder, aside);
        this.moved.push([folder, aside]);
        parents.add(dirname(folder));
      }
    } catch (e) {
      // One that cannot move (a file in it held open on Windows) fails the removal, whose caller
      // never gets this object: the ones moved before it go back now, not at the next start-up.
      this.putBack();
      throw e;
    }
    // Durable before the commit: a power cut must not bring a folder back under its name mid-delete.
    for (const p of parents) fsyncDir(p);
  }

  get count(): number {
    return this.moved.length;
  }

  /** After a failed commit. One that cannot move back stays aside; the start-up sweep puts it back. */
  putBack(): void {
    for (const [folder, aside] of [...this.moved].reverse()) {
      try {
        renameSync(aside, folder);
      } catch {}
    }
  }

  /** After the commit. One that cannot be deleted (a file held open) is left to the start-up sweep. */
  delete(): void {
    removalSeams.afterCommit?.();
    for (const [, aside] of this.moved) {
      try {
        rmSync(aside, { recursive: true, force: true });
      } catch {}
    }
  }
}

/**
 * Runs `change` (which deletes rows) in one write transaction that also sets aside `folders` it
 * returns; deletes them once it has committed, or puts them back if it fails. Returns `change`'s
 * result and how many folders were deleted. `transaction`: a caller's own write transaction
 * (frozen-file-reclaim's, for a run) runs `change` instead of a plain one.
 */
export function removingFolders<T>(
  lib: Library,
  change: () => { result: T; folders: readonly string[] },
  transaction: (fn: () => T) => T = (fn) => writeTransaction(lib.db, fn),
): { result: T; removed: number } {
  const held: { aside?: FoldersAside } = {};
  let result: T;
  try {
    result = transaction(() => {
      const out = change();
      held.aside = new FoldersAside(lib, out.folders);
      return out.result;
    });
  } catch (e) {
    held.aside?.putBack();
    throw e;
  }
  held.aside?.delete();
  return { result, removed: held.aside?.count ?? 0 };
}

/**
 * Deletes the converted weights a library model had before its files changed, now that no queued or
 * running run or evaluation reads them (refreshModel leaves them to those): the fingerprints runs
 * and evaluation jobs read a model with that is no longer that model's, nor any other's. Called at
 * start-up and when a run or an evaluation ends. Returns how many folders it deleted.
 */
export function removeOutdatedBaseStores(lib: Library): number {
  const fingerprints = lib.db
    .prepare(
      `SELECT r.model_fingerprint FROM runs r JOIN models m ON m.id = r.model_id WHERE r.model_fingerprint <> m.fingerprint
       UNION SELECT j.model_fingerprint FROM evaluation_jobs j JOIN models m ON m.id = j.model_id WHERE j.model_fingerprint <> m.fingerprint`,
    )
    .pluck()
    .all() as string[];
  // Most were deleted long ago: only a folder still there costs a write transaction.
  const folders = fingerprints
    .map((f) => baseStoresFolder(basesRoot(lib.dataDir), f))
    .filter((d): d is string => d !== null && existsSync(d));
  if (!folders.length) return 0;
  return removingFolders(lib, () => ({ result: null, folders })).removed;
}

/**
 * At start-up: ends the removals a crash interrupted. A `.removing` folder is put back when its
 * folder is still recorded and not there (the transaction never committed), else deleted. The
 * decision is taken inside a write transaction, so a removal in another process has either
 * committed or rolled back. Returns how many were put back or deleted.
 */
export function sweepRemovedFolders(lib: Library): number {
  const found: Array<{ aside: string; folder: string }> = [];
  const walk = (dir: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || (depth === 0 && NOT_SWEPT.has(e.name))) continue;
      const m = ASIDE_RE.exec(e.name);
      if (m) found.push({ aside: join(dir, e.name), folder: join(dir, m[1]) });
      else if (depth < SWEEP_DEPTH) walk(join(dir, e.name), depth + 1);
    }
  };
  walk(resolve(lib.dataDir), 0);
  if (!found.length) return 0;
  // Put back under the write lock; deleted after it, not to hold the lock for a long delete.
  const unneeded = writeTransaction(lib.db, () => {
    const recorded = recordedFolders(lib);
    return found.filter(({ aside, folder }) => {
      if (!stillNeeded(folder, recorded) || existsSync(folder)) return true;
      // A removal in another process may have put its own back meanwhile: a folder gone is no error.
      try {
        renameSync(aside, folder);
      } catch {}
      return false;
    });
  });
  for (const { aside } of unneeded) {
    try {
      rmSync(aside, { recursive: true, force: true });
    } catch {}
  }
  return found.length;
}
