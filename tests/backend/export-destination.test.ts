// Where exports may write. An export replaces its folder whole, so `adapters/export` with force once
// replaced the library's `datasets` folder and every frozen dataset was lost. Over RPC (in-process
// host, real SQLite file) and from the CLI: no destination inside the data folder or containing it
// (symlinks included), no relative path over RPC, and force replaces only a previous export — a
// folder the studio wrote and nobody added to.

import assert from 'node:assert/strict';
import fs, {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { writeOutFolders } from '../../cli/run-training.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { EXPORT_MARKER } from '../../electron/backend/library/export-destination.ts';
import { writeExport, writeExportZip } from '../../electron/backend/library/export-writer.ts';
import { readAnyAdapter } from '../../native-runtime/adapters/folders.ts';
import { writeStudioAdapter } from '../../native-runtime/formats/studio-adapter.ts';
import { REFT } from '../helpers/fixtures.ts';
import { cliKilledAtRename, LLAMA_FIXTURE, runCli, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('export-dest');
const dataDir = join(root, 'data');
const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
let b: Backend;
let adapterId: number;
/** The imported adapter's studio folder in the library. */
let adapterDir: string;
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
  ({ id: adapterId, path: adapterDir } = (
    imp as { result: { adapter: { id: number; path: string } } }
  ).result.adapter);
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
  // What a SIGKILL inside the marking left, when versions before the marker's move into the folder's
  // own write wrote it afterwards: the folder complete, the marker only in its temp file
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

test('an export killed the moment its folder is in place is marked, and --force replaces it', {
  timeout: 120_000,
}, async () => {
  // The marker used to be written after the folder's rename: a kill between the two left an export
  // without it, and every later export to it, --force included, was refused as "holds files the
  // studio did not export".
  const rows = join(root, 'bundle-rows.jsonl');
  writeJsonl(rows, 4);
  const config = join(root, 'bundle-config.json');
  writeFileSync(config, JSON.stringify({ model: LLAMA_FIXTURE }));
  for (const [format, args] of [
    ['pyreft', ['--adapter', F2L2]],
    ['bundle', ['--format', 'bundle', '--config', config, '--data', rows]],
  ] as const) {
    const out = join(root, `killed-${format}`);
    const cli = ['export', ...args, '--out', out, '--data-dir', dataDir];
    const killed = await cliKilledAtRename('after', out, cli);
    assert.equal(killed.code, null, `${format}: killed (${killed.stderr})`);
    assert.ok(readdirSync(out).includes(EXPORT_MARKER), `${format}: the folder arrived with its marker`);
    const again = await runCli([...cli, '--force']);
    assert.equal(again.code, 0, `${format}: ${again.stderr}`);
  }
});

/** The entries of each folder renamed onto `dest` while `fn` runs (writeFolderAtomic's last step). */
async function entriesRenamedOnto(dest: string, fn: () => unknown): Promise<string[][]> {
  const seen: string[][] = [];
  const renameSync = fs.renameSync;
  fs.renameSync = (from, to) => {
    if (resolve(String(to)) === resolve(dest)) seen.push(readdirSync(from).sort());
    renameSync(from, to);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fs.renameSync = renameSync;
    syncBuiltinESMExports();
  }
  return seen;
}

test('every export writer renames its folder into place with the marker already inside', async () => {
  const rows = join(root, 'writer-rows.jsonl');
  writeJsonl(rows, 4);
  // A run's adapter as the trainer writes it into the library (no pyreft/ originals inside).
  const trained = join(root, 'trained-adapter');
  writeStudioAdapter(trained, readAnyAdapter(adapterDir));
  const writers: Array<[string, (out: string) => unknown]> = [
    ['pyreft', (out) => writeExport({ format: 'pyreft', adapterPath: F2L2, out })],
    ['studio', (out) => writeExport({ format: 'studio', adapterPath: adapterDir, out })],
    [
      'bundle',
      (out) => writeExport({ format: 'bundle', runId: 1, config: { model: LLAMA_FIXTURE }, data: rows, out }),
    ],
    ['train --out', (out) => writeOutFolders(trained, { out })],
  ];
  for (const [name, write] of writers) {
    const out = join(root, `writer-${name.replace(/\W+/g, '-')}`);
    const renamed = await entriesRenamedOnto(out, () => write(out));
    assert.equal(renamed.length, 1, `${name}: one folder renamed into place`);
    assert.ok(renamed[0].includes(EXPORT_MARKER), `${name}: the marker is in it (${renamed[0]})`);
    const marker = JSON.parse(readFileSync(join(out, EXPORT_MARKER), 'utf8'));
    assert.deepEqual(
      marker.files,
      renamed[0].filter((f) => f !== EXPORT_MARKER),
      `${name}: it lists the rest`,
    );
  }
  // The library's own adapter folder and a zip download's folder are no exports.
  assert.ok(!readdirSync(trained).includes(EXPORT_MARKER));
  const zip = writeExportZip(
    { format: 'pyreft', adapterPath: F2L2, out: '' },
    { workDir: join(root, 'zip-work'), stem: 'a-pyreft', file: join(root, 'a.zip') },
  );
  assert.ok(!zip.files.includes(EXPORT_MARKER));
  assert.ok(!readFileSync(join(root, 'a.zip')).includes(EXPORT_MARKER), 'the zip holds no marker');
});

test('what an export killed mid-replace left beside its folder is cleared by the next export', {
  timeout: 120_000,
}, async () => {
  // Killed between moving the previous export aside and renaming the new one in: the folder is
  // missing, `.NAME.TAG.old` holds the previous export and `.NAME.TAG.tmp` the new one, outside the
  // data folder where no start-up sweep looks. The next export used to write the folder afresh,
  // without --force, and leave both copies there for good.
  const parent = join(root, 'killed-replace');
  const out = join(parent, 'mine');
  const cli = ['export', '--adapter', F2L2, '--out', out, '--data-dir', dataDir];
  assert.equal((await runCli(cli)).code, 0);
  const killed = await cliKilledAtRename('before', out, [...cli, '--force']);
  assert.equal(killed.code, null, `killed (${killed.stderr})`);
  const left = readdirSync(parent);
  assert.deepEqual(left.map((n) => n.replace(/[0-9a-f]{12}/, 'TAG')).sort(), [
    '.mine.TAG.old',
    '.mine.TAG.tmp',
  ]);
  // Old enough not to be another process's write in progress.
  const t = (Date.now() - 3_600_000) / 1000;
  for (const name of left) utimesSync(join(parent, name), t, t);
  const plain = await runCli(cli);
  assert.notEqual(plain.code, 0);
  assert.match(plain.stderr, /holds a previous export; pass --force/, 'the previous export is back');
  assert.deepEqual(readdirSync(parent), ['mine']);
  assert.ok(readdirSync(out).includes(EXPORT_MARKER));
  assert.equal((await runCli([...cli, '--force'])).code, 0);
  assert.deepEqual(readdirSync(parent), ['mine']);
});
