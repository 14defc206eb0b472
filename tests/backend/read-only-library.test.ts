// A library whose data folder cannot be written: SQLite must create and size library.db-shm to open
// a WAL database, even read-only, so `runs list` and `models list` failed with SQLite's bare
// "attempt to write a readonly database" (a full disk fails the same way, with "disk I/O error").
// Now a command that only reads works, from a read-only copy, with one warning line saying why; one
// that writes fails with one line saying why and what to do; nothing is written. The folder is made
// read-only for real: as root (who ignores permissions) the CLI runs as the user nobody.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { onlyEvents } from '../cli/json-stream.ts';
import { cliIn } from '../helpers/cli.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { BIN, type CliResult, ROOT, tempDir } from './helpers.ts';

const asRoot = process.getuid?.() === 0;
const nobody = asRoot ? spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }) : null;
const nobodyIds =
  nobody?.status === 0
    ? {
        uid: Number(nobody.stdout.trim()),
        gid: Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim()),
      }
    : null;
const skip =
  process.platform === 'win32'
    ? 'POSIX permissions'
    : asRoot && !nobodyIds
      ? 'root, and no user nobody to run as'
      : false;

/** The CLI in a child process, as nobody when this test runs as root. */
function cliAs(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, ...(nobodyIds ?? {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function chownAll(dir: string, ids: { uid: number; gid: number }): void {
  chownSync(dir, ids.uid, ids.gid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownAll(p, ids);
    else chownSync(p, ids.uid, ids.gid);
  }
}

test('a data folder that is not writable: reading commands work, writing ones say why', {
  skip,
}, async () => {
  const root = tempDir('reft-read-only-');
  const data = join(root, 'data');
  const added = await cliIn(data, 'models', 'add', modelDir('llama'), '--json');
  assert.equal(added.code, 0, added.err);
  const id = JSON.parse(added.out).id as number;
  if (nobodyIds) {
    chmodSync(root, 0o755);
    chownAll(data, nobodyIds);
  }
  const db = join(data, 'library.db');
  const before = readFileSync(db);
  const files = readdirSync(data).sort();
  chmodSync(data, 0o500);
  try {
    const warning =
      `the library in ${data} is open read-only, as its folder is not writable: ` +
      'make the folder writable to change it';
    const listed = await cliAs(['models', 'list', '--json', '--data-dir', data]);
    assert.equal(listed.code, 0, listed.stderr);
    // --json: the warning as a warn event, the one line on stderr (json-notes.test.ts).
    assert.deepEqual(onlyEvents(listed.stderr), [{ event: 'log', level: 'warn', message: warning }]);
    const models = JSON.parse(listed.stdout).models as { id: number; path: string }[];
    assert.deepEqual(
      models.map((m) => m.id),
      [1, id],
    );
    const runs = await cliAs(['runs', 'list', '--data-dir', data]);
    assert.deepEqual([runs.code, runs.stdout], [0, 'no runs yet\n'], runs.stderr);

    // A command that fails says why in its error line alone: the warning came first, two lines
    // for one cause (and before an import's or export's own error, about a file, not the library).
    const removed = await cliAs(['models', 'rm', String(id), '--data-dir', data]);
    assert.equal(removed.code, 1);
    assert.equal(
      removed.stderr,
      `error: cannot write ${db}: the library is open read-only, as its folder is not writable; ` +
        'make the folder writable and try again\n',
    );
    const imported = await cliAs([
      'import',
      join(REFT, 'llama-loreft-f2l2', 'pyreft_final'),
      '--model',
      String(id),
      '--quiet',
      '--data-dir',
      data,
    ]);
    assert.equal(imported.code, 1);
    assert.equal(imported.stderr, `error: ${join(data, 'adapters')}: permission denied\n`);
    // Nothing written: the database as it was, and no -wal or -shm beside it.
    assert.deepEqual(readFileSync(db), before);
    assert.deepEqual(readdirSync(data).sort(), files);
  } finally {
    chmodSync(data, 0o700);
  }
  // Writable again: the library opens for writing, the removal goes through.
  assert.equal(statSync(db).size, before.length);
  const removed = await cliAs(['models', 'rm', String(id), '--data-dir', data]);
  assert.deepEqual([removed.code, removed.stderr], [0, '']);
});
