// A full disk is said in one line naming where the write went, and nothing stored is lost. Node's
// error for a write on an open descriptor carries no path ("ENOSPC: no space left on device,
// write"), so a dataset import, a checkpoint or an export on a full disk said only "the disk is
// full" (or the errno text itself, in a run's error); SQLite says "database or disk is full".
// The full disk is real: writes go to /dev/full, whose every write fails with ENOSPC.

import assert from 'node:assert/strict';
import fs, { existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { consistencyCheck } from '../../electron/backend/db/database.ts';
import { databaseDiskError } from '../../electron/backend/db/disk-full.ts';
import { ownerLock } from '../../electron/backend/db/owner-lock.ts';
import { importAdapter, listAdapters, removeAdapter } from '../../electron/backend/library/adapters.ts';
import { createDataset, editDataset, splitDataset } from '../../electron/backend/library/dataset-edits.ts';
import { importDataset, importDatasetFile } from '../../electron/backend/library/dataset-import.ts';
import { getEvaluation, listEvaluations } from '../../electron/backend/library/evaluations.ts';
import { writeFrozenFile } from '../../electron/backend/library/frozen-files.ts';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { addModel, listModels, removeModel } from '../../electron/backend/library/models.ts';
import { getRunRecord, listRuns, requeueRun } from '../../electron/backend/library/runs.ts';
import { toUserError } from '../../electron/backend/rpc/user-errors.ts';
import { writeFileAtomic, writeFolderAtomic, writeFully } from '../../native-runtime/formats/atomic-write.ts';
import { planSafetensors, writeSafetensorsStream } from '../../native-runtime/formats/safetensors-stream.ts';
import { plainError } from '../../native-runtime/fs-errors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { parseQuantize } from '../../native-runtime/quantize/scheme.ts';
import { ensureStore, STORE_FILE, storeDir } from '../../native-runtime/quantize/store.ts';
import { modelDir, REFT } from '../helpers/fixtures.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('disk-full');
const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
const noDevFull = !existsSync('/dev/full') && 'needs /dev/full (Linux)';

/**
 * Runs fn with fs.writeSync sent to /dev/full, as on a disk with no space left: every write, or only
 * those to a file whose path `only` matches.
 */
function onFullDisk<T>(fn: () => T, only?: RegExp): T {
  const writeSync = fs.writeSync;
  const full = openSync('/dev/full', 'w');
  const fails = (fd: number) => !only || only.test(readlinkSync(`/proc/self/fd/${fd}`));
  // biome-ignore lint/suspicious/noExplicitAny: the same call, on another descriptor
  (fs as any).writeSync = (fd: number, ...rest: any[]) => (writeSync as any)(fails(fd) ? full : fd, ...rest);
  syncBuiltinESMExports();
  const restore = () => {
    fs.writeSync = writeSync;
    syncBuiltinESMExports();
    fs.closeSync(full);
  };
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(restore) as T;
    restore();
    return r;
  } catch (e) {
    restore();
    throw e;
  }
}

test('a checkpoint or export folder on a full disk: the error names the folder; the old one stays', {
  skip: noDevFull,
}, () => {
  const dir = join(root, 'step-000004');
  writeFolderAtomic(dir, [['trainer-state.json', '{"step":4}']]);
  const err = onFullDisk(() => {
    try {
      writeFolderAtomic(dir, [['trainer-state.json', '{"step":8}']]);
    } catch (e) {
      return e;
    }
  });
  assert.equal(plainError(err).code, 'disk-full');
  assert.equal(plainError(err).message, `cannot write ${dir}: the disk is full`);
  assert.equal(readFileSync(join(dir, 'trainer-state.json'), 'utf8'), '{"step":4}');
  assert.deepEqual(readdirSync(root), ['step-000004']);
});

test('a dataset import on a full disk: the error names the datasets folder, no temp file is left', {
  skip: noDevFull,
}, () => {
  const dataDir = join(root, 'data');
  const err = onFullDisk(() => {
    try {
      writeFrozenFile(dataDir, (w) => {
        for (let i = 0; i < 30_000; i++) w.write({ prompt: `row ${i} ${'x'.repeat(40)}`, completion: 'y' });
      });
    } catch (e) {
      return e;
    }
  });
  const w = toUserError(err, dataDir);
  assert.equal(w.code, 'disk-full');
  assert.equal(w.message, 'cannot write datasets in the data folder: the disk is full');
  assert.equal(plainError(err).message, `cannot write ${join(dataDir, 'datasets')}: the disk is full`);
  assert.deepEqual(readdirSync(join(dataDir, 'datasets')), []);
});

test('a file write on a disk with no room even for its temp file: the disk is full, naming the file', () => {
  // Bug: creating the temp sibling itself failing with ENOSPC read "cannot write PATH (ENOSPC)".
  const file = join(root, 'settings.json');
  writeFileAtomic(file, '{"a":1}');
  const openSync = fs.openSync;
  const full = Object.assign(new Error("ENOSPC: no space left on device, open 'x.tmp'"), {
    code: 'ENOSPC',
    syscall: 'open',
  });
  // The same call, failing for temp files.
  fs.openSync = (p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode | null) => {
    if (String(p).endsWith('.tmp')) throw full;
    return openSync(p, flags, mode);
  };
  syncBuiltinESMExports();
  let err: unknown;
  try {
    writeFileAtomic(file, '{"a":2}');
  } catch (e) {
    err = e;
  } finally {
    fs.openSync = openSync;
    syncBuiltinESMExports();
  }
  assert.equal(plainError(err).code, 'disk-full');
  assert.equal(plainError(err).message, `cannot write ${file}: the disk is full`);
  assert.equal(
    toUserError(err, root).message,
    'cannot write settings.json in the data folder: the disk is full',
  );
  assert.equal(readFileSync(file, 'utf8'), '{"a":1}');
});

test('a write that fails on its own descriptor keeps other errors as they are', { skip: noDevFull }, () => {
  // A FileData function whose own write fails: the error is still the target's.
  const dir = join(root, 'export');
  const err = (() => {
    try {
      writeFolderAtomic(dir, [['a.bin', (_fd) => writeFully(openSync('/dev/full', 'w'), Buffer.alloc(10))]]);
    } catch (e) {
      return e;
    }
  })();
  assert.equal(plainError(err).message, `cannot write ${dir}: the disk is full`);
  // A source file that is missing names itself, not the target.
  const missing = (() => {
    try {
      writeFolderAtomic(dir, [['a.bin', (fd) => writeFully(fd, readFileSync(join(root, 'nope')))]]);
    } catch (e) {
      return e;
    }
  })();
  assert.equal(plainError(missing).code, 'file-missing');
  assert.match(plainError(missing).message, /nope: no such file or folder$/);
});

test('a base conversion on a full disk names the weights file; freed, it resumes to the end', {
  skip: noDevFull,
}, async () => {
  const spec = loadModelSpec(modelDir('llama'));
  const int8 = parseQuantize('int8');
  const storeRoot = join(root, 'bases');
  const file = join(storeDir(storeRoot, spec.fingerprint, int8), STORE_FILE);
  // The lock is the first file written: on a full disk it fails first, by its name.
  await assert.rejects(
    onFullDisk(() => ensureStore(spec, int8, { root: storeRoot, reserveBytes: 0 })),
    (e: unknown) =>
      plainError(e).message === `cannot write ${join(dirname(file), 'convert.lock')}: the disk is full`,
  );
  // The disk fills while the weights are written: their file is named.
  await assert.rejects(
    onFullDisk(
      () => ensureStore(spec, int8, { root: storeRoot, reserveBytes: 0 }),
      /weights\.safetensors\.partial$/,
    ),
    (e: unknown) => plainError(e).message === `cannot write ${file}: the disk is full`,
  );
  assert.ok(!existsSync(file), 'no weights file stands complete');
  await ensureStore(spec, int8, { root: storeRoot, reserveBytes: 0 });
  assert.ok(existsSync(file));
});

test('a weights file whose disk fills half-way: named, its partial file kept, the resume writes the rest', {
  skip: noDevFull,
}, async () => {
  // The up-front ftruncate reserves nothing (a sparse file), so a disk that fills after the space
  // check fails at a tensor's write: that must be said and resumable, not only a full disk at start.
  const path = join(root, 'half', 'w.safetensors');
  const plan = planSafetensors(
    Array.from({ length: 6 }, (_, i) => ({ name: `t${i}`, dtype: 'F32' as const, shape: [64, 64] })),
  );
  const bytes = (n: number) => new Uint8Array(n).fill(7);
  await assert.rejects(
    writeSafetensorsStream(path, plan, {
      reserveBytes: 0,
      syncEveryBytes: 1,
      produce: async (slot, sink) => {
        if (slot.name === 't3') onFullDisk(() => sink(bytes(slot.byteLength), 0));
        else sink(bytes(slot.byteLength), 0);
      },
    }),
    (e: unknown) =>
      plainError(e).code === 'disk-full' &&
      plainError(e).message === `cannot write ${path}: the disk is full`,
  );
  assert.equal(existsSync(path), false);
  assert.equal(JSON.parse(readFileSync(`${path}.partial.json`, 'utf8')).done, 3);
  const written: string[] = [];
  await writeSafetensorsStream(path, plan, {
    reserveBytes: 0,
    produce: async (slot, sink) => {
      written.push(slot.name);
      sink(bytes(slot.byteLength), 0);
    },
  });
  assert.deepEqual(written, ['t3', 't4', 't5']);
  assert.equal(readFileSync(path).length, plan.totalBytes);
});

test('an adapter import on a full disk names the adapter folder, not its temp; nothing is recorded', {
  skip: noDevFull,
}, () => {
  const lib = openLibrary(join(root, 'adapters-lib'));
  try {
    const model = addModel(lib, { path: modelDir('llama') });
    const err = onFullDisk(() => {
      try {
        importAdapter(lib, { path: F2L2, model: model.id, positions: 'f2+l2' });
      } catch (e) {
        return e;
      }
    });
    const adapters = join(lib.dataDir, 'adapters');
    assert.match(
      plainError(err).message,
      new RegExp(
        `^cannot write ${adapters}/pyreft-final-[0-9a-f]{8}: the disk is full$`.replace(/\//g, '\\/'),
      ),
    );
    assert.ok(!existsSync(adapters) || readdirSync(adapters).length === 0, 'no folder is left');
    assert.equal(listAdapters(lib).length, 0);
  } finally {
    closeLibrary(lib);
  }
});

test('SQLite out of space: one line naming the library database', () => {
  const dataDir = join(root, 'lib');
  fs.mkdirSync(dataDir);
  const db = new Database(join(dataDir, 'library.db'));
  db.exec('CREATE TABLE t (x TEXT)');
  // A page limit is SQLite's own "database or disk is full" (SQLITE_FULL), as on a full disk.
  db.pragma('max_page_count = 3');
  const err = (() => {
    try {
      db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(20_000));
    } catch (e) {
      return e;
    }
  })();
  db.close();
  assert.equal((err as { code?: string }).code, 'SQLITE_FULL');
  const named = databaseDiskError(err, dataDir);
  assert.equal(plainError(named).code, 'disk-full');
  assert.equal(plainError(named).message, `cannot write ${join(dataDir, 'library.db')}: the disk is full`);
  const w = toUserError(err, dataDir);
  assert.equal(w.message, 'cannot write library.db in the data folder: the disk is full');
  // Any other SQLite error is left alone.
  const other = Object.assign(new Error('no such table: x'), { code: 'SQLITE_ERROR' });
  assert.equal(databaseDiskError(other, dataDir), other);
});

test('a run left running by a killed process: listed as interrupted on a full disk, marked once there is room', () => {
  const dataDir = join(root, 'dead-run');
  closeLibrary(openLibrary(dataDir));
  // What a killed process leaves: its run 'running', owned by a lock nobody holds. A long config
  // spills the row onto overflow pages, which a rewrite of the row allocates anew before freeing.
  const db = new Database(join(dataDir, 'library.db'));
  db.pragma('journal_mode = WAL');
  const id = Number(
    db
      .prepare(
        "INSERT INTO runs (name, config_json, status, owner_pid, owner_token, created_at) VALUES ('held', ?, 'running', 1, ?, 0)",
      )
      .run(JSON.stringify({ note: 'x'.repeat(20_000) }), 'ab'.repeat(16)).lastInsertRowid,
  );
  // The disk is full: the database cannot grow by a page (SQLite's own SQLITE_FULL).
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
  consistencyCheck(db, { integrity: false, dataDir });
  const lib = { db, dataDir, owner: ownerLock(dataDir) };
  try {
    assert.equal(db.prepare('SELECT status FROM runs WHERE id = ?').pluck().get(id), 'running');
    assert.equal(getRunRecord(lib, id).status, 'interrupted');
    assert.match(getRunRecord(lib, id).error ?? '', /stopped before the run ended/);
    assert.deepEqual(
      listRuns(lib, { status: 'interrupted' }).map((r) => r.id),
      [id],
    );
    assert.deepEqual(listRuns(lib, { status: 'running' }), []);
    // A resume writes: on the full disk it fails with the one line, and changes nothing.
    assert.throws(
      () => requeueRun(lib, id),
      (e: unknown) => plainError(databaseDiskError(e, dataDir)).code === 'disk-full',
    );
    // With room again the run is marked, then resumed.
    db.pragma('max_page_count = 1000000');
    assert.equal(requeueRun(lib, id), true);
    assert.equal(getRunRecord(lib, id).status, 'queued');
  } finally {
    db.close();
  }
});

test('an evaluation left running by a killed process: listed as interrupted on a full disk, as its run is', () => {
  // The start-up check found it dead but could not mark it; it used to read 'running' (the CLI's
  // `adapters show`, the Adapters page) until a start with room marked it.
  const dataDir = join(root, 'dead-evaluation');
  closeLibrary(openLibrary(dataDir));
  const db = new Database(join(dataDir, 'library.db'));
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(
    `INSERT INTO evaluations (adapter_id, kind, status, metrics_json, owner_token, created_at)
     VALUES (NULL, 'loss', ?, ?, ?, 0)`,
  );
  // A long metrics column spills onto overflow pages, which a rewrite allocates anew (see above).
  const big = JSON.stringify({ note: 'x'.repeat(20_000) });
  const dead = Number(insert.run('running', big, 'ab'.repeat(16)).lastInsertRowid);
  const done = Number(insert.run('completed', '{}', null).lastInsertRowid);
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
  consistencyCheck(db, { integrity: false, dataDir });
  const lib = { db, dataDir, owner: ownerLock(dataDir) };
  try {
    assert.equal(db.prepare('SELECT status FROM evaluations WHERE id = ?').pluck().get(dead), 'running');
    assert.equal(getEvaluation(lib, dead).status, 'interrupted');
    assert.deepEqual(
      listEvaluations(lib).map((e) => [e.id, e.status]),
      [
        [done, 'completed'],
        [dead, 'interrupted'],
      ],
    );
  } finally {
    db.close();
  }
});

test('an adapter and a model used only by work left dead on a full disk can be removed', () => {
  // The lists read that work interrupted, but the removals' in-use check read its stored 'running'
  // and refused: "model 1 (llama) is used by run 1, which is running".
  const dataDir = join(root, 'dead-users');
  const opened = openLibrary(dataDir);
  const model = addModel(opened, { path: modelDir('llama') });
  const { adapter } = importAdapter(opened, { path: F2L2, model: model.id, positions: 'f2+l2' });
  closeLibrary(opened);
  // What a killed CLI `evaluate` and `train` leave: rows 'running', owned by a lock nobody holds.
  const db = new Database(join(dataDir, 'library.db'));
  db.pragma('journal_mode = WAL');
  const dead = 'ab'.repeat(16);
  const run = Number(
    db
      .prepare(
        "INSERT INTO runs (name, model_id, config_json, status, owner_token, created_at) VALUES ('held', ?, '{}', 'running', ?, 0)",
      )
      .run(model.id, dead).lastInsertRowid,
  );
  // A long metrics column spills onto overflow pages, which the marking would allocate anew.
  const evaluation = Number(
    db
      .prepare(
        `INSERT INTO evaluations (adapter_id, model_id, kind, status, metrics_json, owner_token, created_at)
         VALUES (?, ?, 'loss', 'running', ?, ?, 0)`,
      )
      .run(adapter.id, model.id, JSON.stringify({ note: 'x'.repeat(20_000) }), dead).lastInsertRowid,
  );
  db.prepare(
    `INSERT INTO evaluation_jobs (job_id, adapter_id, model_id, model_fingerprint, data_path, status, owner_token, created_at)
     VALUES (NULL, ?, ?, 'f', '/d.jsonl', 'running', ?, 0)`,
  ).run(adapter.id, model.id, dead);
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
  consistencyCheck(db, { integrity: false, dataDir });
  const lib = { db, dataDir, owner: ownerLock(dataDir) };
  try {
    const stored = (table: string, id: number) =>
      db.prepare(`SELECT status FROM ${table} WHERE id = ?`).pluck().get(id);
    assert.equal(stored('runs', run), 'running');
    assert.equal(stored('evaluations', evaluation), 'running');
    assert.equal(getRunRecord(lib, run).status, 'interrupted');
    assert.equal(getEvaluation(lib, evaluation).status, 'interrupted');
    // Removed as the lists read them: nothing uses them.
    removeAdapter(lib, adapter.id);
    removeModel(lib, model.id);
    assert.deepEqual(listAdapters(lib), []);
    assert.deepEqual(
      listModels(lib).map((m) => m.id),
      [],
    );
  } finally {
    db.close();
  }
});

test('opening the library writes no owner lock: only a run or an evaluation takes one', () => {
  const dataDir = join(root, 'reader');
  const lib = openLibrary(dataDir);
  try {
    const owners = () => (existsSync(join(dataDir, 'owners')) ? readdirSync(join(dataDir, 'owners')) : []);
    assert.deepEqual(owners(), []);
    assert.match(lib.owner.token, /^[0-9a-f]{32}$/);
    assert.ok(owners().includes(`${lib.owner.token}.lock`));
  } finally {
    closeLibrary(lib);
  }
});

test('a dataset edit, split or new dataset refused by a full SQLite leaves no new frozen file behind', () => {
  // Bug: the version's file, written before its record, stayed in datasets/ until a start-up sweep
  // at least 10 minutes later (a 1M-row version: 80 MB per attempt).
  const dataDir = join(root, 'full-edit');
  const lib = openLibrary(dataDir);
  try {
    const rows = Array.from({ length: 5000 }, (_, k) => ({ prompt: `p${k}`, completion: `c${k}` }));
    const { dataset } = createDataset(lib, { name: 'kept', rows });
    const files = () => readdirSync(join(dataDir, 'datasets')).sort();
    const before = files();
    assert.equal(before.length, 1);
    // No free page left, and none to add: each new version's row ids (20 KB) need new pages.
    lib.db.exec('VACUUM');
    lib.db.pragma(`max_page_count = ${lib.db.pragma('page_count', { simple: true })}`);
    const big = { prompt: 'x'.repeat(20_000), completion: 'y' };
    const attempts: [string, () => unknown][] = [
      ['edit', () => editDataset(lib, { datasetId: dataset.id, append: [big] })],
      ['split', () => splitDataset(lib, { datasetId: dataset.id })],
      ['create', () => createDataset(lib, { name: 'new', rows })],
    ];
    for (const [what, attempt] of attempts) {
      assert.throws(
        attempt,
        (e: unknown) => plainError(databaseDiskError(e, dataDir)).code === 'disk-full',
        what,
      );
      assert.deepEqual(files(), before, what);
    }
    // A file an existing version records is kept when a second version of the same rows fails.
    assert.throws(() => editDataset(lib, { datasetId: dataset.id, set: [{ index: 0, row: rows[0] }] }));
    assert.deepEqual(files(), before);
    lib.db.pragma('max_page_count = 1000000');
    assert.equal(editDataset(lib, { datasetId: dataset.id, append: [big] }).version.rowCount, 5001);
  } finally {
    closeLibrary(lib);
  }
});

test('a dataset import refused by a full SQLite leaves no new frozen file behind', async () => {
  const dataDir = join(root, 'full-import');
  const lib = openLibrary(dataDir);
  try {
    const src = join(root, 'full-import.jsonl');
    const rows = Array.from({ length: 5000 }, (_, k) =>
      JSON.stringify({ prompt: `p${k}`, completion: `c${k}` }),
    );
    fs.writeFileSync(src, rows.join('\n'));
    const files = () => (existsSync(join(dataDir, 'datasets')) ? readdirSync(join(dataDir, 'datasets')) : []);
    lib.db.exec('VACUUM');
    lib.db.pragma(`max_page_count = ${lib.db.pragma('page_count', { simple: true })}`);
    const full = (e: unknown) => plainError(databaseDiskError(e, dataDir)).code === 'disk-full';
    assert.throws(() => importDataset(lib, { path: src, name: 'sync' }), full);
    assert.deepEqual(files(), []);
    await assert.rejects(importDatasetFile(lib, { path: src, name: 'async' }), full);
    assert.deepEqual(files(), []);
  } finally {
    closeLibrary(lib);
  }
});
