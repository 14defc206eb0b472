import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { DbError } from '../../../native-runtime/errors.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { defaultMigrationsDir, openDatabase } from './database.ts';
import { migrate } from './migrate.ts';
import { ownerLock } from './owner-lock.ts';

const root = tempDir('reft-migrate-');
let n = 0;
const fresh = () => {
  const d = join(root, `case-${n++}`);
  mkdirSync(d);
  return d;
};

function copyMigrations(): string {
  const dir = fresh();
  for (const f of readdirSync(defaultMigrationsDir()))
    copyFileSync(join(defaultMigrationsDir(), f), join(dir, f));
  return dir;
}

test('applies every migration once, records it, and sets WAL + foreign keys', () => {
  const dataDir = fresh();
  const db = openDatabase(dataDir);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  const applied = db.prepare('SELECT id, name FROM __migrations__').all() as { id: number; name: string }[];
  assert.equal(applied.length, readdirSync(defaultMigrationsDir()).length);
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  ).map((t) => t.name);
  for (const t of [
    'models',
    'datasets',
    'dataset_versions',
    'runs',
    'run_metrics',
    'checkpoints',
    'adapters',
    'adapter_tags',
    'evaluations',
    'generations',
    'settings',
    'sweeps',
  ]) {
    assert.ok(tables.includes(t), `table ${t}`);
  }
  assert.deepEqual(migrate(db, defaultMigrationsDir()), [], 'nothing left to apply');
  db.close();
  openDatabase(dataDir).close(); // re-opening is fine
});

test('a new migration file is applied on the next start, in its own transaction', () => {
  const dir = copyMigrations();
  const dataDir = fresh();
  openDatabase(dataDir, { migrationsDir: dir }).close();
  writeFileSync(join(dir, '9999999999999_add_notes.sql'), 'ALTER TABLE models ADD COLUMN notes TEXT;');
  const db = openDatabase(dataDir, { migrationsDir: dir });
  const cols = (db.prepare('PRAGMA table_info(models)').all() as { name: string }[]).map((c) => c.name);
  assert.ok(cols.includes('notes'));
  db.close();
});

test('a failing migration leaves no trace (rolled back, not recorded)', () => {
  const dir = copyMigrations();
  const dataDir = fresh();
  openDatabase(dataDir, { migrationsDir: dir }).close();
  writeFileSync(
    join(dir, '9999999999999_broken.sql'),
    'CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;',
  );
  assert.throws(
    () => openDatabase(dataDir, { migrationsDir: dir }),
    (e: unknown) => e instanceof DbError && e.code === 'migration-failed',
  );
  const raw = new Database(join(dataDir, 'library.db'));
  assert.equal(
    (raw.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'half'").get() as { n: number }).n,
    0,
  );
  assert.equal(
    (raw.prepare('SELECT COUNT(*) AS n FROM __migrations__ WHERE id = 9999999999999').get() as { n: number })
      .n,
    0,
  );
  raw.close();
});

test("refuses to start with 'out-of-sync-migrations' when applied ids and files disagree", () => {
  const dir = copyMigrations();
  const dataDir = fresh();
  openDatabase(dataDir, { migrationsDir: dir }).close();
  const isOutOfSync = (e: unknown) => e instanceof DbError && e.code === 'out-of-sync-migrations';

  // 1. The database knows a migration that has no file (opened by a newer version).
  const raw = new Database(join(dataDir, 'library.db'));
  raw
    .prepare('INSERT INTO __migrations__ (id, name, applied_at) VALUES (?, ?, ?)')
    .run(9999999999999, 'future', Date.now());
  raw.close();
  assert.throws(() => openDatabase(dataDir, { migrationsDir: dir }), isOutOfSync);

  // 2. A file older than the last applied migration appears (a branch merged out of order).
  const dataDir2 = fresh();
  writeFileSync(join(dir, '9999999999999_later.sql'), 'CREATE TABLE later (x INTEGER);');
  openDatabase(dataDir2, { migrationsDir: dir }).close();
  writeFileSync(join(dir, '1000000000000_older.sql'), 'CREATE TABLE older (x INTEGER);');
  assert.throws(() => openDatabase(dataDir2, { migrationsDir: dir }), isOutOfSync);
});

test('a badly named migration file is refused', () => {
  const dir = copyMigrations();
  writeFileSync(join(dir, 'add_things.sql'), 'SELECT 1;');
  assert.throws(
    () => openDatabase(fresh(), { migrationsDir: dir }),
    (e: unknown) => e instanceof DbError && e.code === 'bad-migration-name',
  );
});

test("start-up check: runs left 'running' by a dead process become 'interrupted'", () => {
  const dataDir = fresh();
  const db = openDatabase(dataDir);
  const ins = db.prepare('INSERT INTO runs (status, owner_pid, created_at) VALUES (?, ?, 0)');
  const dead = ins.run('running', 2 ** 22 + 12345).lastInsertRowid; // above Linux's pid_max default
  const mine = ins.run('running', process.pid).lastInsertRowid;
  const paused = ins.run('paused', 2 ** 22 + 12345).lastInsertRowid;
  db.close();
  const db2 = openDatabase(dataDir);
  const status = (id: number | bigint) =>
    (db2.prepare('SELECT status FROM runs WHERE id = ?').get(id) as { status: string }).status;
  assert.equal(status(dead), 'interrupted');
  assert.equal(status(mine), 'running', 'a live owner keeps its run');
  assert.equal(status(paused), 'paused');
  db2.close();
});

test("start-up check: evaluation jobs left by a dead process become 'interrupted'", () => {
  const dataDir = fresh();
  const db = openDatabase(dataDir);
  const ins = db.prepare(
    "INSERT INTO evaluation_jobs (job_id, data_path, status, owner_token, created_at) VALUES (?, '/d.jsonl', ?, ?, 0)",
  );
  const deadToken = 'f'.repeat(32); // no process holds its lock
  const live = ownerLock(dataDir).token;
  const ids = {
    queued: ins.run(1, 'queued', deadToken).lastInsertRowid,
    running: ins.run(2, 'running', deadToken).lastInsertRowid,
    stopping: ins.run(3, 'stopping', deadToken).lastInsertRowid,
    ended: ins.run(4, 'ended', deadToken).lastInsertRowid,
    mine: ins.run(5, 'queued', live).lastInsertRowid,
  };
  db.close();
  const db2 = openDatabase(dataDir);
  const status = (id: number | bigint) =>
    db2.prepare('SELECT status FROM evaluation_jobs WHERE id = ?').pluck().get(id) as string;
  assert.deepEqual(
    Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, status(id)])),
    {
      queued: 'interrupted',
      running: 'interrupted',
      stopping: 'interrupted',
      ended: 'ended',
      mine: 'queued',
    },
    'a live owner keeps its jobs; an ended one stays ended',
  );
  db2.close();
});

test('a missing migrations folder is one clear line, not a raw scandir error', () => {
  const missing = join(fresh(), 'no-migrations-here');
  assert.throws(
    () => openDatabase(fresh(), { migrationsDir: missing }),
    (e: unknown) =>
      e instanceof DbError &&
      e.code === 'migrations-missing' &&
      e.message.includes(missing) &&
      e.message.includes('reinstall') &&
      !e.message.includes('scandir'),
  );
});
