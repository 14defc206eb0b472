// What an open library is, apart from library.ts (which opens one): the start-up sweeps that
// openLibrary runs (frozen-file-reclaim.ts, folder-removal.ts) take one, and importing library.ts
// for it would make an import cycle.

import type { Db } from '../db/database.ts';
import type { OwnerLock } from '../db/owner-lock.ts';

export interface Library {
  db: Db;
  dataDir: string;
  /** This process's owner lock, taken on first use: the runs and evaluations it starts record its token. */
  owner: OwnerLock;
}
