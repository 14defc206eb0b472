// Giving back the disk of frozen dataset files (frozen-files.ts) that nothing needs any more. A file
// is needed while a dataset version records it (versions share a file when their rows are the same)
// or while a run that may still read it names it in its config: queued, running, or resumable
// (paused, interrupted, failed) — a run keeps its history when its dataset is removed, and resuming
// it reads the file by path.
// Deleting is safe against writers in this process and others (the CLI beside `serve`): an unused
// file is renamed aside (`<hash>.jsonl.removing`) INSIDE the write transaction that makes it unused,
// and deleted once that transaction has committed. recordVersion checks, inside its own write
// transaction, that its file is there, so a version whose file was just deleted is never recorded:
// an import or edit that produced the same rows as a dataset being removed is refused in one line.
// A failed commit puts the files back; a crash before the commit leaves `.removing` files that the
// start-up sweep puts back (their version is still recorded) or deletes.
// An evaluation queued or running (in any process) needs the file its job row names
// (evaluation-jobs.ts) until the job has ended; a dataset removed meanwhile loses its file then.
// A deleted file's kept token counts (kept-token-counts.ts) go with it.

import { readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { oldEnough } from '../../../native-runtime/formats/atomic-write.ts';
import { writeTransaction } from '../db/database.ts';
import { evaluationJobFiles } from './evaluation-jobs.ts';
import type { FrozenFile } from './frozen-files.ts';
import { keptTokenCounts } from './kept-token-counts.ts';
import type { Library } from './library-handle.ts';
import { RESUMABLE_STATUSES } from './run-statuses.ts';
import { forgetKeptScans } from './sliced-scans.ts';

/** A frozen file's name: its content hash. */
const FROZEN_NAME_RE = /^([0-9a-f]{64})\.jsonl$/;
const ASIDE_SUFFIX = '.removing';
/**
 * The sweep leaves files younger than this: a writer in another process may have just renamed one
 * into place and not recorded it yet (FrozenFileWriter.finish touches a file it finds already there).
 */
const SWEEP_MIN_AGE_MS = 10 * 60_000;

/** The names (`<hash>.jsonl`) of the frozen files that versions record, runs or evaluations may still read. */
function namesInUse(lib: Library): Set<string> {
  const names = new Set<string>(evaluationJobFiles(lib).map((p) => basename(p)));
  for (const { file_path } of lib.db.prepare('SELECT DISTINCT file_path FROM dataset_versions').all() as {
    file_path: string;
  }[])
    names.add(basename(file_path));
  // Run statuses from which a run may still read its data: waiting, running or resumable.
  const mayRead = ['queued', 'running', ...RESUMABLE_STATUSES];
  const runs = lib.db
    .prepare(
      `SELECT json_extract(config_json, '$.data') AS data, json_extract(config_json, '$.evalData') AS evalData
       FROM runs WHERE status IN (${mayRead.map(() => '?').join(', ')})`,
    )
    .all(...mayRead) as { data: unknown; evalData: unknown }[];
  for (const r of runs)
    for (const p of [r.data, r.evalData]) if (typeof p === 'string') names.add(basename(p));
  return names;
}

/** Frozen files set aside by a write transaction, deleted or put back once it has ended. */
class SetAside {
  readonly moved: string[] = [];

  constructor(readonly dir: string) {}

  /** Renames `name` aside unless it is missing or cannot be moved (held open on Windows): then it stays. */
  move(name: string): void {
    const path = join(this.dir, name);
    try {
      renameSync(path, `${path}${ASIDE_SUFFIX}`);
      this.moved.push(path);
    } catch {}
  }

  /** After a failed commit; one another process's sweep already put back is no error (the first stays). */
  putBack(): void {
    for (const path of this.moved) {
      try {
        renameSync(`${path}${ASIDE_SUFFIX}`, path);
      } catch {}
    }
  }

  /** Deletes the moved files; returns their content hashes. */
  delete(): string[] {
    const hashes: string[] = [];
    for (const path of this.moved) {
      try {
        unlinkSync(`${path}${ASIDE_SUFFIX}`);
      } catch {}
      forgetKeptScans(path);
      const hash = basename(path, '.jsonl');
      keptTokenCounts.forget(hash);
      hashes.push(hash);
    }
    return hashes;
  }
}

/**
 * Runs `change` (which makes frozen files unused: a dataset's versions deleted) in one write
 * transaction that also sets aside those of `candidates` (file names or paths) nothing needs any
 * more; deletes them once it has committed. Returns `change`'s result and the deleted files' hashes.
 */
export function deletingUnusedFrozenFiles<T>(
  lib: Library,
  change: () => { result: T; candidates: readonly string[] },
): { result: T; deleted: string[] } {
  const aside = new SetAside(join(lib.dataDir, 'datasets'));
  let result: T;
  try {
    result = writeTransaction(lib.db, () => {
      const { result, candidates } = change();
      const inUse = namesInUse(lib);
      for (const name of new Set(candidates.map((c) => basename(c))))
        if (FROZEN_NAME_RE.test(name) && !inUse.has(name)) aside.move(name);
      return result;
    });
  } catch (e) {
    aside.putBack();
    throw e;
  }
  return { result, deleted: aside.delete() };
}

/**
 * Runs `record` (sync or async: the record of versions of `files`, just written); when it fails — a
 * full database, a conflict, a dataset removed meanwhile — deletes those files that this writer put
 * in place and nothing records, rather than leave them to the start-up sweep (10 minutes old at
 * least). A file the writer found already there stays: another writer of the same rows may not have
 * recorded it yet. A deletion that fails too (the database busy) leaves the file to that sweep.
 */
export function recordingFrozenFiles<T>(lib: Library, files: readonly FrozenFile[], record: () => T): T {
  const dropUnrecorded = (e: unknown): never => {
    const candidates = files.filter((f) => f.createdHere).map((f) => f.rel);
    if (candidates.length) {
      try {
        deletingUnusedFrozenFiles(lib, () => ({ result: null, candidates }));
      } catch {}
    }
    throw e;
  };
  try {
    const result = record();
    return result instanceof Promise ? (result.catch(dropUnrecorded) as T) : result;
  } catch (e) {
    return dropUnrecorded(e);
  }
}

/**
 * At start-up: deletes the frozen files nothing needs (left by a crash between writing a file and
 * recording its version, or by a removal whose file was held open), older than SWEEP_MIN_AGE_MS,
 * and ends removals a crash interrupted (a `.removing` file is put back when a version still records
 * it, else deleted). One listing of the folder and one query; a transaction only when there is work.
 */
export function sweepUnusedFrozenFiles(lib: Library, minAgeMs = SWEEP_MIN_AGE_MS): number {
  const dir = join(lib.dataDir, 'datasets');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const now = Date.now();
  const old = (name: string) => {
    try {
      return oldEnough(statSync(join(dir, name)).mtimeMs, minAgeMs, now);
    } catch {
      return false;
    }
  };
  const setAsideName = (n: string) => n.slice(0, -ASIDE_SUFFIX.length);
  const interrupted = names.filter((n) => n.endsWith(ASIDE_SUFFIX) && FROZEN_NAME_RE.test(setAsideName(n)));
  const frozen = names.filter((n) => FROZEN_NAME_RE.test(n));
  if (!interrupted.length && !frozen.length) return 0;
  const inUse = namesInUse(lib);
  const unused = frozen.filter((n) => !inUse.has(n) && old(n));
  if (!interrupted.length && !unused.length) return 0;
  // Put back inside a write transaction: a removal in another process that has not committed yet
  // holds the write lock, so what is still recorded is known for sure.
  const deleted = deletingUnusedFrozenFiles(lib, () => {
    const stillUsed = namesInUse(lib);
    for (const n of interrupted) {
      const name = setAsideName(n);
      // A removal in another process may end its own (deleting, or putting back after a failed
      // commit) meanwhile: a file already gone is no error.
      try {
        if (stillUsed.has(name) && !frozen.includes(name)) renameSync(join(dir, n), join(dir, name));
        else unlinkSync(join(dir, n));
      } catch {}
    }
    return { result: null, candidates: unused };
  }).deleted;
  return interrupted.length + deleted.length;
}
