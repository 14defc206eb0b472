// The check every open of the library runs (each CLI command, each studio start): PRAGMA
// quick_check. It used to be integrity_check, which also checks every index against its table and
// took 2–3 times longer — 3.1 s per open on a library of 2,000 runs and 3M metric points.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { openDatabase } from './database.ts';

test('opening the library runs quick_check, not the slower integrity_check', () => {
  const dataDir = tempDir('reft-open-check-');
  openDatabase(dataDir).close(); // creates and migrates it
  const asked: string[] = [];
  const pragma = Database.prototype.pragma;
  Database.prototype.pragma = function (
    this: Database.Database,
    source: string,
    options?: Database.PragmaOptions,
  ) {
    asked.push(source);
    return pragma.call(this, source, options);
  };
  try {
    openDatabase(dataDir).close();
  } finally {
    Database.prototype.pragma = pragma;
  }
  assert.ok(asked.includes('quick_check'), `pragmas run: ${asked.join(', ')}`);
  assert.ok(!asked.some((p) => p.startsWith('integrity_check')), `pragmas run: ${asked.join(', ')}`);
});
