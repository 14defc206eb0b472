// The library: the database plus the data folder it indexes. Every host (the Electron utility
// process, `reft-studio serve`, each CLI command and the tests) opens it through openLibrary, so the
// start-up work (owner lock, migrations, consistency check, temp-file sweep) happens in one place.
// Hosts that show the demo seed it afterwards (demo.ts seedDemo): the library itself knows nothing
// of models, datasets or settings, which all build on it.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { sweepTempFiles } from '../../../native-runtime/formats/atomic-write.ts';
import { type Db, type OpenOptions, openDatabase } from '../db/database.ts';
import { type OwnerLock, ownerLock } from '../db/owner-lock.ts';

export interface Library {
  db: Db;
  dataDir: string;
  /** This process's owner lock: the runs and evaluations it starts record its token. */
  owner: OwnerLock;
}

/**
 * Creates a missing data folder readable by its owner only: the library holds the Hugging Face token
 * (settings), every imported dataset and serve's access token, and the usual umask would let every
 * local user read them. A folder that exists keeps the permissions its owner gave it.
 */
function createDataDir(dataDir: string): void {
  const dir = resolve(dataDir);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

export function openLibrary(dataDir: string, opts: OpenOptions = {}): Library {
  createDataDir(dataDir);
  // Taken before the start-up check, which then knows this process's own runs.
  const owner = ownerLock(dataDir);
  const db = openDatabase(dataDir, opts);
  const lib: Library = { db, dataDir, owner };
  try {
    // Temp files and folders of writers killed mid-write: datasets, adapters, run checkpoints.
    for (const sub of ['datasets', 'adapters', 'runs']) sweepTempFiles(join(dataDir, sub));
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
