// A named pipe where a scan reads a file: opening one waits for a writer that never comes, and in the
// studio that held the engine's 'files' lane (every import, export and scan behind it) for good.
// Each file a scan reads is refused when it is not a regular file: a model folder's config.json,
// tokenizer.json or weights give the row its reason, and a cache's refs/<branch> is not read (the
// snapshot is listed by its commit). Run through the CLI in a child with a time limit, so that a
// hang fails the test instead of stalling the runner.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';
import { BIN, fixtureRepoFiles, writeCacheSnapshot } from './helpers.ts';

interface Row {
  name: string;
  supported: boolean;
  reason: { code: string; message: string } | null;
}

function cli(
  dataDir: string,
  ...args: string[]
): { signal: NodeJS.Signals | null; status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, '--data-dir', dataDir, ...args, '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

test('models scan refuses a FIFO in a model folder, on its row, without waiting on it', () => {
  const root = tempDir('reft-scan-fifo-');
  for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) {
    const dir = join(root, 'models', file.replace('.', '-'));
    cpSync(modelDir('llama'), dir, { recursive: true });
    rmSync(join(dir, file));
    execFileSync('mkfifo', [join(dir, file)]);
  }
  const r = cli(join(root, 'data'), 'models', 'scan', join(root, 'models'));
  assert.equal(r.signal, null, 'models scan hung on a FIFO');
  assert.equal(r.status, 0, r.stderr);
  const rows: Row[] = JSON.parse(r.stdout).models;
  assert.deepEqual(rows.map((m) => [m.name, m.supported, m.reason?.code]).sort(), [
    ['config-json', false, 'not-a-file'],
    ['model-safetensors', false, 'not-a-file'],
    ['tokenizer-json', false, 'not-a-file'],
  ]);
  for (const m of rows) assert.match(m.reason?.message ?? '', /: not a regular file$/);
});

test("a FIFO for a cache's refs/main is not read: models scan lists the snapshot, models add says so", () => {
  const root = tempDir('reft-scan-fifo-ref-');
  const cache = join(root, 'cache');
  const snapshot = writeCacheSnapshot(cache, 'org/tiny', fixtureRepoFiles('llama'), {
    ref: null,
    commit: `${'c0ffee'.repeat(6)}c0ff`,
  });
  const refs = join(cache, 'models--org--tiny', 'refs');
  mkdirSync(refs);
  execFileSync('mkfifo', [join(refs, 'main')]);
  const scan = cli(join(root, 'data'), 'models', 'scan', cache);
  assert.equal(scan.signal, null, 'models scan hung on a FIFO for refs/main');
  assert.equal(scan.status, 0, scan.stderr);
  const rows: Row[] = JSON.parse(scan.stdout).models;
  assert.deepEqual(
    rows.map((m) => [m.name, m.supported]),
    [['org/tiny@c0ffeec0ff', true]],
  );
  // The snapshot added by its folder: named by its commit, as the scan names it.
  const added = cli(join(root, 'data'), 'models', 'add', snapshot);
  assert.equal(added.signal, null, 'models add hung on a FIFO for refs/main');
  assert.equal(added.status, 0, added.stderr);
  assert.equal(JSON.parse(added.stdout).name, 'org/tiny@c0ffeec0ff', added.stdout);
  // The repository folder stands for the snapshot refs/main names: that ref cannot be read, so its
  // only snapshot stands for it, said in a warning.
  const add = cli(join(root, 'data'), 'models', 'add', join(cache, 'models--org--tiny'));
  assert.equal(add.signal, null, 'models add hung on a FIFO for refs/main');
  assert.equal(add.status, 0, add.stdout);
  assert.equal(JSON.parse(add.stdout).id, JSON.parse(added.stdout).id, add.stdout);
  assert.match(add.stderr, /refs\/main: not a regular file; using its only snapshot/);
});
