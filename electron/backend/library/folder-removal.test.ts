// Removing an adapter, a run (checkpoints and log included) or a model's converted weights never
// leaves a half-deleted folder under its name, nor a row pointing at a folder set aside
// (folder-removal.ts). Before, the row was deleted and then a plain recursive delete ran: a crash or a
// failed delete partway left a half folder that nothing recorded and no sweep collected.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterEach, test } from 'node:test';
import { basesRoot } from '../../../native-runtime/quantize/base.ts';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { appRoot } from '../paths.ts';
import { getAdapter, registerAdapter, removeAdapter } from './adapters.ts';
import { endEvaluationJob } from './evaluation-job-end.ts';
import { recordEvaluationJob } from './evaluation-jobs.ts';
import { removalSeams } from './folder-removal.ts';
import { closeLibrary, type Library } from './library.ts';
import { addModel, getModel, removeModel } from './models.ts';
import { createRun, deleteRun, getRunRecord, recordCheckpoint, setRunStatus } from './runs.ts';

const { root, open } = testLibraries('reft-folder-removal-');
const LLAMA = join(appRoot(), 'tests', 'fixtures', 'golden', 'models', 'llama');
afterEach(() => {
  removalSeams.afterCommit = undefined;
});
/** Closes and opens the library again: its start-up sweep runs. */
function reopen(lib: Library): Library {
  closeLibrary(lib);
  return open(lib.dataDir);
}
function folderWithFiles(dir: string, count = 3): string {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `f${i}.bin`), 'x'.repeat(100));
  return dir;
}
/** The `.NAME.TAG.removing` folders beside `dir`. */
const asideOf = (dir: string) =>
  readdirSync(dirname(dir)).filter((f) => f.startsWith(`.${basename(dir)}.`) && f.endsWith('.removing'));
const crashAfterCommit = () => {
  removalSeams.afterCommit = () => {
    throw new Error('crash');
  };
};
/** Makes the next commit that deleted a row of `table` fail (a deferred foreign key checked at commit). */
function failCommitOnDelete(lib: Library, table: string): void {
  lib.db.exec(`CREATE TABLE fail_${table} (ref INTEGER REFERENCES ${table}(id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER fail_${table} AFTER DELETE ON ${table} BEGIN INSERT INTO fail_${table} VALUES (OLD.id); END;`);
}

function adapterIn(lib: Library) {
  const dir = folderWithFiles(join(lib.dataDir, 'adapters', 'pirate'));
  return registerAdapter(lib, { name: 'pirate', path: dir, type: 'loreft', baseModelFingerprint: 'f' });
}
function stoppedRunIn(lib: Library) {
  const run = createRun(lib, { config: {} });
  const folder = join(lib.dataDir, 'runs', String(run.id));
  writeFileSync(join(folderWithFiles(folder), 'log.jsonl'), '{}\n');
  const ckpt = folderWithFiles(join(folder, 'checkpoints', 'step-10'));
  recordCheckpoint(lib, run.id, 10, ckpt, null);
  setRunStatus(lib, run.id, 'interrupted');
  return { run, folder };
}
function modelWithStore(lib: Library) {
  const m = addModel(lib, { path: LLAMA });
  const store = folderWithFiles(join(basesRoot(lib.dataDir), m.fingerprint, 'int8'));
  return { m, store: dirname(store) };
}

test('removing an adapter, a run or a model: the folder and its row go together', () => {
  const lib = open();
  const a = adapterIn(lib);
  assert.deepEqual(removeAdapter(lib, a.id), { id: a.id, deletedFiles: true });
  assert.ok(!existsSync(a.path));
  const { run, folder } = stoppedRunIn(lib);
  assert.deepEqual(deleteRun(lib, run.id), { id: run.id, deletedFolders: 1 });
  assert.ok(!existsSync(folder));
  const { m, store } = modelWithStore(lib);
  removeModel(lib, m.id);
  assert.ok(!existsSync(store));
  assert.deepEqual(asideOf(a.path), [], 'nothing is left set aside');
  assert.deepEqual(asideOf(folder), []);
  assert.deepEqual(asideOf(store), []);
});

test('a crash between the commit and the delete: no half folder under its name; the sweep deletes it', () => {
  let lib = open();
  const a = adapterIn(lib);
  const { run, folder } = stoppedRunIn(lib);
  const { m, store } = modelWithStore(lib);
  crashAfterCommit();
  assert.throws(() => removeAdapter(lib, a.id), /crash/);
  assert.throws(() => deleteRun(lib, run.id), /crash/);
  assert.throws(() => removeModel(lib, m.id), /crash/);
  for (const dir of [a.path, folder, store]) {
    assert.ok(!existsSync(dir), `${dir} is not left under its name`);
    assert.equal(asideOf(dir).length, 1, `${dir} is set aside`);
  }
  assert.throws(() => getAdapter(lib, a.id), { code: 'not-found' });
  assert.throws(() => getRunRecord(lib, run.id), { code: 'not-found' });
  assert.throws(() => getModel(lib, m.id), { code: 'not-found' });
  removalSeams.afterCommit = undefined;
  lib = reopen(lib);
  for (const dir of [a.path, folder, store]) {
    assert.deepEqual(asideOf(dir), [], `the start-up sweep deleted ${dir}'s leftover`);
    assert.ok(!existsSync(dir));
  }
});

test('a crash before the commit: the start-up sweep puts the folder back under its recorded name', () => {
  let lib = open();
  const a = adapterIn(lib);
  const { run, folder } = stoppedRunIn(lib);
  // What a crash inside the transaction leaves: the folders renamed aside, the rows still there.
  for (const dir of [a.path, folder])
    renameSync(dir, join(dirname(dir), `.${basename(dir)}.0123456789ab.removing`));
  lib = reopen(lib);
  assert.ok(existsSync(join(a.path, 'f0.bin')), 'the adapter is whole again');
  assert.ok(existsSync(join(folder, 'checkpoints', 'step-10', 'f2.bin')), 'the run, its checkpoint');
  assert.ok(existsSync(join(folder, 'log.jsonl')), 'and its log');
  assert.equal(getAdapter(lib, a.id).path, a.path);
  assert.equal(getRunRecord(lib, run.id).status, 'interrupted');
  assert.deepEqual([...asideOf(a.path), ...asideOf(folder)], []);
});

test('a failed commit puts the folders back, and the rows stay', () => {
  const lib = open();
  const a = adapterIn(lib);
  const { run, folder } = stoppedRunIn(lib);
  const { m, store } = modelWithStore(lib);
  failCommitOnDelete(lib, 'adapters');
  failCommitOnDelete(lib, 'runs');
  failCommitOnDelete(lib, 'models');
  assert.throws(() => removeAdapter(lib, a.id), /FOREIGN KEY/);
  assert.throws(() => deleteRun(lib, run.id), /FOREIGN KEY/);
  assert.throws(() => removeModel(lib, m.id), /FOREIGN KEY/);
  assert.ok(existsSync(join(a.path, 'f2.bin')));
  assert.ok(existsSync(join(folder, 'checkpoints', 'step-10', 'f0.bin')));
  assert.ok(existsSync(join(store, 'int8', 'f1.bin')));
  assert.deepEqual([...asideOf(a.path), ...asideOf(folder), ...asideOf(store)], []);
  assert.equal(getAdapter(lib, a.id).id, a.id);
  assert.equal(getRunRecord(lib, run.id).id, run.id);
  assert.equal(getModel(lib, m.id).id, m.id);
});

test('a folder another row still records stays: a twin model keeps the converted weights', () => {
  const lib = open();
  const { m, store } = modelWithStore(lib);
  const twin = join(root, `llama-twin-${basename(lib.dataDir)}`);
  cpSync(LLAMA, twin, { recursive: true });
  addModel(lib, { path: twin });
  removeModel(lib, m.id);
  assert.ok(existsSync(join(store, 'int8', 'f0.bin')), 'the twin still uses them');
});

test('a folder that cannot be set aside fails the removal and puts back those set aside before it', () => {
  const lib = open();
  const { run, folder } = stoppedRunIn(lib);
  // A checkpoint outside the run's folder (as `adapters/run-N-step-S` is) that cannot be renamed: its
  // aside name would be past the 255-byte limit, standing in for a file held open on Windows.
  const stuck = folderWithFiles(join(lib.dataDir, 'adapters', 'c'.repeat(240)));
  recordCheckpoint(lib, run.id, 20, stuck, null);
  assert.throws(() => deleteRun(lib, run.id), { code: 'ENAMETOOLONG' });
  assert.equal(getRunRecord(lib, run.id).id, run.id, 'the run is kept');
  assert.ok(existsSync(join(folder, 'log.jsonl')), 'with its folder under its name, not left aside');
  assert.deepEqual(asideOf(folder), []);
  assert.ok(existsSync(join(stuck, 'f0.bin')));
});

test("a model's files change while a run and an evaluation read its converted weights: kept until both end", () => {
  let lib = open();
  // A copy of the fixture, whose config is then edited: adding it again reads the new files.
  const dir = join(lib.dataDir, '..', `model-${basename(lib.dataDir)}`);
  cpSync(LLAMA, dir, { recursive: true });
  const m = addModel(lib, { path: dir });
  const old = dirname(folderWithFiles(join(basesRoot(lib.dataDir), m.fingerprint, 'int8')));
  const run = createRun(lib, { modelId: m.id, modelFingerprint: m.fingerprint, config: {} });
  setRunStatus(lib, run.id, 'running');
  const data = join(folderWithFiles(join(lib.dataDir, 'evaluated')), 'f0.bin');
  const job = recordEvaluationJob(lib, {
    jobId: 1,
    adapterId: null,
    modelId: m.id,
    modelFingerprint: m.fingerprint,
    dataPath: data,
  });
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), note: 'edited' }));
  const refreshed = addModel(lib, { path: dir });
  assert.ok(refreshed.updated && refreshed.fingerprint !== m.fingerprint);
  assert.ok(existsSync(old), 'the running run and evaluation still read the old converted weights');

  endEvaluationJob(lib, job, data);
  assert.ok(existsSync(old), 'the run still reads them');
  // The run's process dies: the next start-up interrupts it, and nothing reads them any more.
  lib.db.prepare('UPDATE runs SET owner_token = ? WHERE id = ?').run('f'.repeat(32), run.id);
  lib = reopen(lib);
  assert.equal(getRunRecord(lib, run.id).status, 'interrupted');
  assert.ok(!existsSync(old), 'once nothing reads them, they go');
  assert.deepEqual(asideOf(old), []);
});
