// The library: the database plus the data folder it indexes. Every host (the Electron utility
// process, `reft-studio serve`, each CLI command and the tests) opens it through openLibrary, so the
// start-up work (owner lock, migrations, consistency check, temp-file sweep) happens in one place.
// Hosts that show the demo seed it afterwards (demo.ts seedDemo): the library itself knows nothing
// of models, datasets or settings, which all build on it.

import { join } from 'node:path';
import { sweepTempFiles } from '../../../native-runtime/formats/atomic-write.ts';
import { type Db, type OpenOptions, openDatabase } from '../db/database.ts';
import { type OwnerLock, ownerLock } from '../db/owner-lock.ts';

export interface Library {
  db: Db;
  dataDir: string;
  /** This process's owner lock: the runs and evaluations it starts record its token. */
  owner: OwnerLock;
}

export function openLibrary(dataDir: string, opts: OpenOptions = {}): Library {
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
