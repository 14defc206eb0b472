// Where SQL may be written. The library (electron/backend/library/) and the database layer
// (electron/backend/db/) are the only code that touches the database: handlers, jobs, the CLI and the
// engine call library functions. And every multi-statement write starts IMMEDIATE through
// writeTransaction (db/database.ts): a deferred `db.transaction(...)` that reads before it writes
// fails with "database is locked" beside another process, whatever busy_timeout says.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { appRoot } from '../../electron/backend/paths.ts';

const ROOT = appRoot();

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'fixtures') continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const r of ['electron', 'cli', 'native-runtime']) walk(join(ROOT, r));
  return out;
}

/** Lines of `file` matching `re`, as "path:line: text". */
function hits(file: string, re: RegExp): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (re.test(line) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : []));
}

test('SQL only in the library and the database layer', () => {
  const inLibrary = (f: string) => /electron\/backend\/(library|db)\//.test(relative(ROOT, f));
  const found = sources()
    .filter((f) => !inLibrary(f))
    .flatMap((f) => hits(f, /\bdb\.(prepare|exec|pragma|transaction)\(|\bnew Database\(/));
  assert.deepEqual(found, []);
});

test('every write transaction goes through writeTransaction (IMMEDIATE)', () => {
  const allowed = new Set(['electron/backend/db/database.ts', 'electron/backend/db/migrate.ts']);
  const found = sources()
    .filter((f) => !allowed.has(relative(ROOT, f)))
    .flatMap((f) => hits(f, /\.transaction\(/));
  assert.deepEqual(found, []);
});
