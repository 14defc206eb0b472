// sweepOwnerLocks keeps to the sweeps' one age rule (atomic-write.ts oldEnough): a bound of 0 takes
// every dead owner's file, even one whose mtime reads a little past Date.now() (written this
// millisecond, or the clock stepped back since). It used to compare the age itself and skip such a
// file, so a sweep asked to take everything left it behind.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { ownerLock, sweepOwnerLocks } from './owner-lock.ts';

/** The lock file of an owner that is gone: made the way ownerLock makes one, and let go. */
function deadOwnerFile(dataDir: string, token: string, mtime: Date): string {
  mkdirSync(join(dataDir, 'owners'), { recursive: true });
  const file = join(dataDir, 'owners', `${token}.lock`);
  const db = new Database(file);
  db.exec('CREATE TABLE owner (pid INTEGER, since INTEGER)');
  db.close();
  utimesSync(file, mtime, mtime);
  return file;
}

test('sweepOwnerLocks: a bound of 0 takes a dead owner whose mtime is a second ahead', () => {
  const dataDir = tempDir('reft-owner-lock-');
  const live = ownerLock(dataDir);
  const ahead = new Date(Date.now() + 1000);
  const dead = deadOwnerFile(dataDir, 'a'.repeat(32), ahead);
  assert.equal(sweepOwnerLocks(dataDir), 0, 'the default bound keeps it: it may be a process starting');
  assert.equal(sweepOwnerLocks(dataDir, 0), 1);
  assert.equal(existsSync(dead), false);
  // The live owner's lock is never swept, whatever the bound.
  assert.deepEqual(
    readdirSync(join(dataDir, 'owners')).filter((f) => f.endsWith('.lock')),
    [`${live.token}.lock`],
  );
});
