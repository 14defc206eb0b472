// Where exports may write. An export replaces its folder whole, so `adapters/export` with force once
// replaced the library's `datasets` folder and every frozen dataset was lost. Over RPC (in-process
// host, real SQLite file) and from the CLI: no destination inside the data folder or containing it
// (symlinks included), no relative path over RPC, and force replaces only a previous export — a
// folder the studio wrote and nobody added to.

import assert from 'node:assert/strict';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { EXPORT_MARKER } from '../../electron/backend/library/export-destination.ts';
import { REFT } from '../helpers/fixtures.ts';
import { LLAMA_FIXTURE, runCli, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('export-dest');
const dataDir = join(root, 'data');
const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
let b: Backend;
let adapterId: number;
let nextId = 1;

async function call(method: string, params: unknown) {
  return b.handle({ type: 'request', id: nextId++, method, params });
}

async function exportError(out: string, force = true): Promise<string> {
  const r = await call('adapters/export', { id: adapterId, out, force });
  assert.equal(r.type, 'error', `export to ${out} should be refused`);
  return r.type === 'error' ? r.error.code : '';
}

/** Every file under the data folder's datasets/, with its bytes, to compare before and after. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  const model = await call('models/add', { path: LLAMA_FIXTURE });
  assert.equal(model.type, 'reply');
  const file = join(root, 'rows.jsonl');
  writeJsonl(file, 6);
  assert.equal((await call('datasets/import', { path: file })).type, 'reply');
  const imp = await call('adapters/import', {
    path: F2L2,
    modelId: (model as { result: { id: number } }).result.id,
    positions: 'f2+l2',
  });
  assert.equal(imp.type, 'reply', JSON.stringify(imp));
  adapterId = (imp as { result: { adapter: { id: number } } }).result.adapter.id;
});
after(() => b.close());

test('adapters/export never writes inside the data folder or around it, even with force', async () => {
  const datasets = join(dataDir, 'datasets');
  const before = snapshot(datasets);
  assert.ok(Object.keys(before).length > 0);
  for (const out of [
    datasets,
    dataDir,
    join(dataDir, 'adapters'),
    join(dataDir, 'exports', 'new-folder'),
    dirname(dataDir),
  ]) {
    assert.equal(await exportError(out), 'inside-data-folder', out);
  }
  // A link from outside into the library is the library.
  const link = join(root, 'innocent-looking');
  symlinkSync(datasets, link);
  assert.equal(await exportError(link), 'inside-data-folder');
  assert.equal(await exportError(join(link, 'sub')), 'inside-data-folder');
  assert.deepEqual(snapshot(datasets), before, 'every frozen dataset is still there');
  const rows = await call('datasets/list', {});
  assert.equal(rows.type, 'reply');
});

test('adapters/export refuses relative paths over RPC', async () => {
  for (const out of ['my-export', './x', '../outside', 'datasets'])
    assert.equal(await exportError(out, false), 'relative-path', out);
});

test('force replaces a previous export, never a folder holding anything else', async () => {
  const mine = join(root, 'my-documents');
  mkdirSync(mine);
  writeFileSync(join(mine, 'thesis.txt'), 'years of work');
  assert.equal(await exportError(mine), 'out-not-export');
  assert.equal(readFileSync(join(mine, 'thesis.txt'), 'utf8'), 'years of work');
  // A file in its place is refused too.
  writeFileSync(join(root, 'a-file'), 'x');
  assert.equal(await exportError(join(root, 'a-file')), 'out-exists');

  const out = join(root, 'export-1');
  const first = await call('adapters/export', { id: adapterId, out });
  assert.equal(first.type, 'reply', JSON.stringify(first));
  assert.ok(readdirSync(out).includes(EXPORT_MARKER), 'an export is marked as one');
  // Without force an existing export is kept; with force it is replaced.
  assert.equal(await exportError(out, false), 'out-not-empty');
  const again = await call('adapters/export', { id: adapterId, out, force: true, format: 'studio' });
  assert.equal(again.type, 'reply', JSON.stringify(again));
  assert.deepEqual(readdirSync(out).sort(), [EXPORT_MARKER, 'adapter.safetensors', 'manifest.json'].sort());
  // Once someone adds a file, it is no longer only an export.
  writeFileSync(join(out, 'notes.md'), 'mine');
  assert.equal(await exportError(out), 'out-not-export');
  assert.equal(readFileSync(join(out, 'notes.md'), 'utf8'), 'mine');
  // An empty folder is fine without force.
  const empty = join(root, 'empty');
  mkdirSync(empty);
  assert.equal((await call('adapters/export', { id: adapterId, out: empty })).type, 'reply');
});

test('an export killed while its marker was written is still a previous export; a half marker is not', async () => {
  // What a SIGKILL inside markExport leaves: the folder complete, the marker only in its temp file
  // (writeFileAtomic's NAME.<hex>.tmp). The next export with force used to be refused as "files the
  // studio did not export".
  const out = join(root, 'export-killed');
  assert.equal((await call('adapters/export', { id: adapterId, out })).type, 'reply');
  const marker = readFileSync(join(out, EXPORT_MARKER), 'utf8');
  renameSync(join(out, EXPORT_MARKER), join(out, `${EXPORT_MARKER}.0123456789ab.tmp`));
  assert.equal(await exportError(out, false), 'out-not-empty');
  const again = await call('adapters/export', { id: adapterId, out, force: true });
  assert.equal(again.type, 'reply', JSON.stringify(again));
  assert.ok(readdirSync(out).includes(EXPORT_MARKER));
  assert.ok(!readdirSync(out).some((f) => f.endsWith('.tmp')), 'the stray temp went with the old folder');
  // Killed mid-write, the temp holds part of the marker: nothing says the folder is the studio's.
  unlinkSync(join(out, EXPORT_MARKER));
  writeFileSync(join(out, `${EXPORT_MARKER}.0123456789ab.tmp`), marker.slice(0, 20));
  assert.equal(await exportError(out), 'out-not-export');
  // A temp listing fewer files than the folder holds does not cover a file added by hand.
  writeFileSync(join(out, `${EXPORT_MARKER}.0123456789ab.tmp`), marker);
  writeFileSync(join(out, 'notes.md'), 'mine');
  assert.equal(await exportError(out), 'out-not-export');
  assert.equal(readFileSync(join(out, 'notes.md'), 'utf8'), 'mine');
});

test('the CLI: export and train --out follow the same rules', { timeout: 120_000 }, async () => {
  const datasets = join(dataDir, 'datasets');
  const before = snapshot(datasets);
  const exp = await runCli([
    'export',
    '--adapter',
    String(adapterId),
    '--out',
    datasets,
    '--force',
    '--data-dir',
    dataDir,
  ]);
  assert.notEqual(exp.code, 0);
  assert.match(exp.stderr, /inside-data-folder|data folder/);
  const mine = join(root, 'cli-mine');
  mkdirSync(mine);
  writeFileSync(join(mine, 'keep.txt'), 'keep');
  const forced = await runCli(['export', '--adapter', F2L2, '--out', mine, '--force', '--data-dir', dataDir]);
  assert.notEqual(forced.code, 0);
  assert.match(forced.stderr, /did not export/);
  // train --out replaces its folder when training ends: refused before it starts.
  const data = join(root, 'train.jsonl');
  writeJsonl(data, 4);
  const train = await runCli([
    'train',
    '--model',
    LLAMA_FIXTURE,
    '--data',
    data,
    '--max-steps',
    '1',
    '--out',
    mine,
    '--data-dir',
    dataDir,
  ]);
  assert.notEqual(train.code, 0);
  assert.match(train.stderr, /did not export/);
  assert.doesNotMatch(train.stderr, /step 1/, 'nothing trained');
  assert.equal(readFileSync(join(mine, 'keep.txt'), 'utf8'), 'keep');
  assert.deepEqual(snapshot(datasets), before);
});
