// The check of the whole file when the library opens: PRAGMA quick_check. It used to be
// integrity_check, which also checks every index against its table and took 2–3 times longer — 3.1 s
// per open on a library of 2,000 runs and 3M metric points. The studio's and serve's start check
// every time; a CLI command once a day (file-check.ts): each one read the whole 250 MB file first.
// A damaged file is refused with one line naming it, at every open once damage was found.

import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { type OpenOptions, openDatabase } from './database.ts';
import { databaseDiskError } from './disk-full.ts';

/** The pragmas run while opening (and closing) the library with `opts`. */
function pragmasOfOpen(dataDir: string, opts: OpenOptions = {}): string[] {
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
    openDatabase(dataDir, opts).close();
  } finally {
    Database.prototype.pragma = pragma;
  }
  return asked;
}

const checked = (dataDir: string, opts: OpenOptions = {}) =>
  pragmasOfOpen(dataDir, opts).includes('quick_check');

test('opening the library runs quick_check, not the slower integrity_check', () => {
  const dataDir = tempDir('reft-open-check-');
  openDatabase(dataDir).close(); // creates and migrates it
  const asked = pragmasOfOpen(dataDir);
  assert.ok(asked.includes('quick_check'), `pragmas run: ${asked.join(', ')}`);
  assert.ok(!asked.some((p) => p.startsWith('integrity_check')), `pragmas run: ${asked.join(', ')}`);
});

test("a CLI command's open checks the whole file once a day, a studio's start every time", () => {
  const dataDir = tempDir('reft-open-check-');
  const daily: OpenOptions = { checkFile: 'daily' };
  assert.ok(checked(dataDir, daily), 'never checked: checked');
  assert.ok(!checked(dataDir, daily), 'checked a moment ago: not again');
  assert.ok(!checked(dataDir, daily));
  assert.ok(checked(dataDir), 'a studio or serve start checks');
  // A day later, or a clock set back: checked again.
  const record = join(dataDir, 'library-check.json');
  const kept = JSON.parse(readFileSync(record, 'utf8'));
  writeFileSync(record, JSON.stringify({ ...kept, checkedAt: Date.now() - 25 * 3600 * 1000 }));
  assert.ok(checked(dataDir, daily), 'a day old');
  writeFileSync(record, JSON.stringify({ ...kept, checkedAt: Date.now() + 3600 * 1000 }));
  assert.ok(checked(dataDir, daily), 'from the future');
  assert.ok(!checked(dataDir, daily));
  // Another file put in its place (a backup restored): checked at its first open.
  const db = join(dataDir, 'library.db');
  copyFileSync(db, `${db}.restored`);
  renameSync(`${db}.restored`, db);
  assert.ok(checked(dataDir, daily), 'a file put in its place');
  // One deleted and copied in again gets the inode just freed on ext4 (`rm library.db; cp backup
  // library.db`): stood in for by giving the record the new file's inode. Still checked.
  assert.ok(!checked(dataDir, daily));
  const before = JSON.parse(readFileSync(record, 'utf8'));
  copyFileSync(db, `${db}.backup`);
  unlinkSync(db);
  copyFileSync(`${db}.backup`, db);
  writeFileSync(record, JSON.stringify({ ...before, ino: statSync(db).ino }));
  assert.ok(checked(dataDir, daily), 'a file deleted and copied in again');
});

/** Fills the settings table over many pages, then writes garbage over one of them. */
function damageLibrary(dataDir: string): void {
  const db = openDatabase(dataDir);
  const put = db.prepare('INSERT INTO settings (key, value_json, updated_at) VALUES (?, ?, 0)');
  for (let i = 0; i < 2000; i++) put.run(`key ${i}`, JSON.stringify('x'.repeat(100)));
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = db.pragma('page_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const fd = openSync(join(dataDir, 'library.db'), 'r+');
  writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, Math.floor(pages * 0.6) * size);
  closeSync(fd);
}

test('damage a command reads makes every later open check the file again, and refuse it', () => {
  const dataDir = tempDir('reft-open-check-');
  openDatabase(dataDir, { checkFile: 'daily' }).close();
  damageLibrary(dataDir);
  // Checked less than a day ago: this open does not read the damaged page…
  const db = openDatabase(dataDir, { checkFile: 'daily' });
  let found: unknown;
  try {
    db.prepare('SELECT count(*), max(length(value_json)) FROM settings').get();
  } catch (e) {
    found = databaseDiskError(e, dataDir); // as the CLI's error line and the window word it
  } finally {
    db.close();
  }
  assert.equal((found as { code?: string } | undefined)?.code, 'corrupt-database', String(found));
  // …but the read that met it was the last: the next open checks the whole file and refuses it.
  assert.throws(
    () => openDatabase(dataDir, { checkFile: 'daily' }),
    (e: Error & { code?: string }) => e.code === 'corrupt-database',
  );
  assert.throws(
    () => openDatabase(dataDir, { checkFile: 'daily' }),
    (e: Error & { code?: string }) => e.code === 'corrupt-database',
    'every time, until it is restored or moved aside',
  );
});

test('a library whose pages are damaged is refused with one line naming the file', () => {
  const dataDir = tempDir('reft-open-check-');
  // Garbage over a page of the settings table: SQLite's check itself throws SQLITE_CORRUPT, which
  // reached the CLI as a bare "database disk image is malformed".
  damageLibrary(dataDir);
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
