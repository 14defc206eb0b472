// Versioned schema migrations. Files are `migrations/<epoch-ms>_<name>.sql`, applied in id order, each
// in its own IMMEDIATE transaction together with its row in `__migrations__`, so a crash leaves a
// migration either fully applied and recorded or not at all. The applied ids must be exactly the
// first N files: anything else (a file removed, renamed, or a database from a newer app) is refused
// with DbError 'out-of-sync-migrations' rather than guessed at.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { DbError } from '../../../native-runtime/errors.ts';

export interface Migration {
  id: number;
  name: string;
  file: string;
}

const FILE_RE = /^(\d+)_([a-z0-9][a-z0-9_-]*)\.sql$/;

/** Migration files in `dir`, sorted by id. Files not matching the naming pattern are an error. */
export function listMigrations(dir: string): Migration[] {
  const out: Migration[] = [];
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    // Only a broken install lacks them (a package built without electron/backend/db/migrations):
    // say what is missing and what to do, not a raw `scandir` line.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new DbError(
      'migrations-missing',
      `the database migrations are missing (expected in ${dir}): this installation is incomplete; reinstall ReFT Studio`,
    );
  }
  for (const file of files) {
    if (!file.endsWith('.sql')) continue;
    const m = FILE_RE.exec(file);
    if (!m)
      throw new DbError('bad-migration-name', `migration file ${file} is not named <epoch-ms>_<name>.sql`);
    out.push({ id: Number(m[1]), name: m[2], file: join(dir, file) });
  }
  out.sort((a, b) => a.id - b.id);
  for (let i = 1; i < out.length; i++) {
    if (out[i].id === out[i - 1].id)
      throw new DbError('bad-migration-name', `two migrations share id ${out[i].id}`);
  }
  return out;
}

function appliedIds(db: Database.Database): number[] {
  return (db.prepare('SELECT id FROM __migrations__ ORDER BY id').all() as { id: number }[]).map((r) => r.id);
}

function checkInSync(applied: number[], available: Migration[]): void {
  const ok = applied.length <= available.length && applied.every((id, i) => available[i].id === id);
  if (!ok) {
    const files = new Set(available.map((m) => m.id));
    const unknown = applied.filter((id) => !files.has(id));
    const detail = unknown.length
      ? `applied migration(s) ${unknown.join(', ')} have no file (database from a newer version?)`
      : 'a migration file is older than the last applied one';
    throw new DbError('out-of-sync-migrations', `database migrations are out of sync: ${detail}`);
  }
}

/** Applies pending migrations; returns the ids applied now. */
export function migrate(db: Database.Database, dir: string): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS __migrations__ (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const available = listMigrations(dir);
  const appliedBefore = appliedIds(db);
  checkInSync(appliedBefore, available);
  const done: number[] = [];
  for (const m of available) {
    // Applied already: no write transaction, so that a library open read-only gets this far.
    if (appliedBefore.includes(m.id)) continue;
    const sql = readFileSync(m.file, 'utf8');
    // Re-check inside the write lock: another process may have applied it since we looked.
    const apply = db.transaction(() => {
      const applied = appliedIds(db);
      checkInSync(applied, available);
      if (applied.includes(m.id)) return false;
      db.exec(sql);
      db.prepare('INSERT INTO __migrations__ (id, name, applied_at) VALUES (?, ?, ?)').run(
        m.id,
        m.name,
        Date.now(),
      );
      return true;
    });
    try {
      if (apply.immediate()) done.push(m.id);
    } catch (e) {
      if (e instanceof DbError) throw e;
      throw new DbError('migration-failed', `migration ${m.id}_${m.name} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  return done;
}
