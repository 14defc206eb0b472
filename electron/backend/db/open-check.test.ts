// The check every open of the library runs (each CLI command, each studio start): PRAGMA
// quick_check. It used to be integrity_check, which also checks every index against its table and
// took 2–3 times longer — 3.1 s per open on a library of 2,000 runs and 3M metric points. A damaged
// file is refused with one line naming it.

import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
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

test('a library whose pages are damaged is refused with one line naming the file', () => {
  const dataDir = tempDir('reft-open-check-');
  const db = openDatabase(dataDir);
  const put = db.prepare('INSERT INTO settings (key, value_json, updated_at) VALUES (?, ?, 0)');
  for (let i = 0; i < 2000; i++) put.run(`key ${i}`, JSON.stringify('x'.repeat(100)));
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = db.pragma('page_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  db.close();
  // Garbage over a page of the settings table: SQLite's check itself throws SQLITE_CORRUPT, which
  // reached the CLI as a bare "database disk image is malformed".
  const fd = openSync(join(dataDir, 'library.db'), 'r+');
  writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, Math.floor(pages * 0.6) * size);
  closeSync(fd);
  assert.throws(
    () => openDatabase(dataDir),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'corrupt-database', e.message);
      assert.ok(
        e.message.startsWith(`cannot read ${join(dataDir, 'library.db')}: the file is damaged`),
        e.message,
      );
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
});
