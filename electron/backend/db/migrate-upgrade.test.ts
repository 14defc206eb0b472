// Upgrades from every earlier schema: apply the first k migrations, fill the database with data of
// every kind (as the first schema allows; later migrations are additive), apply the rest, and check
// that every row survived, the library reads it back, and the file passes its integrity check.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { listAdapters } from '../library/adapters.ts';
import { datasetRejects } from '../library/dataset-rows.ts';
import { listDatasets } from '../library/datasets.ts';
import { listEvaluations } from '../library/evaluations.ts';
import { closeLibrary, openLibrary } from '../library/library.ts';
import { listRunEntries } from '../library/run-list.ts';
import { getRun, listRuns, setRunDevice } from '../library/runs.ts';
import { createSweep } from '../library/sweeps.ts';
import { defaultMigrationsDir, openDatabase } from './database.ts';
import { listMigrations } from './migrate.ts';

const root = tempDir('reft-upgrade-');

const V1_DATA = `
INSERT INTO models (id, name, path, arch, fingerprint, config_json, params, dtype, size_bytes, created_at)
  VALUES (1, 'm', '/models/m', 'llama', 'fp1', '{"hidden_size": 64}', 1000, 'float32', 4000, 1);
INSERT INTO datasets (id, name, created_at) VALUES (1, 'd', 1);
INSERT INTO dataset_versions (id, dataset_id, version, format, content_hash, row_count, rejected_count, file_path, size_bytes, created_at)
  VALUES (1, 1, 1, 'prompt-completion', 'abc', 3, 1, 'datasets/abc.jsonl', 100, 1);
INSERT INTO runs (id, name, model_id, dataset_version_id, config_json, status, owner_pid, created_at, started_at, finished_at)
  VALUES (1, 'r', 1, 1, '{"rank": 4}', 'completed', NULL, 1, 2, 3),
         (2, 'p', 1, 1, '{}', 'paused', NULL, 4, 5, NULL);
INSERT INTO run_metrics (run_id, step, epoch, loss, lr, grad_norm, tokens_per_s, eval_loss, created_at)
  VALUES (1, 1, 0.5, 2.0, 0.001, 1.0, 100, NULL, 1), (1, 2, 1.0, 1.5, 0.001, 0.9, 110, 1.7, 2);
INSERT INTO checkpoints (run_id, step, path, size_bytes, created_at) VALUES (1, 2, '/nowhere/step-000002', 10, 2);
INSERT INTO adapters (id, name, path, type, base_model_fingerprint, manifest_json, run_id, dataset_version_id, size_bytes, created_at)
  VALUES (1, 'a', '/adapters/a', 'loreft', 'fp1', '{}', 1, 1, 50, 3);
INSERT INTO adapter_tags (adapter_id, tag) VALUES (1, 'best');
INSERT INTO evaluations (adapter_id, model_id, dataset_version_id, metrics_json, created_at)
  VALUES (1, 1, 1, '{"metrics": {"loss": 1.25}}', 4);
INSERT INTO generations (model_id, adapter_id, prompt, output, params_json, created_at) VALUES (1, 1, 'hi', 'yo', '{}', 5);
INSERT INTO settings (key, value_json, updated_at) VALUES ('theme', '"dark"', 6);
`;

const TABLES = [
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
];

const all = listMigrations(defaultMigrationsDir());

for (let k = 1; k < all.length; k++) {
  test(`upgrade from schema ${k} of ${all.length} (${all[k - 1].id}_${all[k - 1].name}) keeps every row`, () => {
    const partial = join(root, `m${k}`);
    mkdirSync(partial);
    for (const m of all.slice(0, k)) copyFileSync(m.file, join(partial, `${m.id}_${m.name}.sql`));
    const dataDir = join(root, `d${k}`);
    const db = openDatabase(dataDir, { migrationsDir: partial });
    db.exec(V1_DATA);
    const counts = Object.fromEntries(
      TABLES.map((t) => [t, (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]),
    );
    db.close();

    const lib = openLibrary(dataDir);
    try {
      const applied = lib.db.prepare('SELECT COUNT(*) AS n FROM __migrations__').get() as { n: number };
      assert.equal(applied.n, all.length);
      for (const t of TABLES) {
        const n = (lib.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
        assert.equal(n, counts[t], `table ${t}`);
      }
      assert.equal(lib.db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(lib.db.pragma('foreign_key_check'), []);
      // The library reads the old rows with the new columns' defaults.
      const run = getRun(lib, 1);
      assert.deepEqual(
        run.metrics.map((m) => m.loss),
        [2.0, 1.5],
      );
      assert.equal(run.modelFingerprint, null);
      assert.equal(run.errorCode, null, 'a run failed before codes were stored keeps its resume');
      assert.equal(run.sweepId, null, 'a run recorded before sweeps is in none');
      assert.equal(run.sweep, null);
      assert.equal(run.precision, null, 'what a run recorded before runs kept it computed in is unknown');
      assert.deepEqual(
        listRunEntries(lib).map((r) => r.sweep),
        [null, null],
      );
      assert.equal(run.adapterId, 1);
      assert.deepEqual(run.samples, []);
      assert.equal(listRuns(lib).length, 2);
      assert.equal(listRuns(lib, { status: 'paused' })[0].id, 2, 'a paused run stays paused');
      const [ds] = listDatasets(lib);
      assert.equal(ds.latest.id, 1);
      assert.equal(ds.latest.split, null);
      assert.deepEqual(listAdapters(lib)[0].tags, ['best']);
      const [ev] = listEvaluations(lib);
      assert.equal(ev.kind, 'loss');
      assert.equal(ev.status, 'completed');
      assert.equal(ev.metrics.loss, 1.25);
    } finally {
      closeLibrary(lib);
    }
  });
}

test('rejected lines kept before they were keyed by their place keep their order', () => {
  const k = all.findIndex((m) => m.name === 'dataset_rejects_seq');
  const partial = join(root, 'before-seq');
  mkdirSync(partial);
  for (const m of all.slice(0, k)) copyFileSync(m.file, join(partial, `${m.id}_${m.name}.sql`));
  const dataDir = join(root, 'd-before-seq');
  const db = openDatabase(dataDir, { migrationsDir: partial });
  db.exec(V1_DATA);
  db.exec(`INSERT INTO dataset_rejects (version_id, line, message, text)
    VALUES (1, 9, 'later', NULL), (1, 2, 'first', '{"prompt"')`);
  db.close();
  const lib = openLibrary(dataDir);
  try {
    const page = datasetRejects(lib, { datasetId: 1 });
    assert.deepEqual(
      page.lines.map((l) => [l.line, l.message, l.text]),
      [
        [2, 'first', '{"prompt"'],
        [9, 'later', null],
      ],
    );
  } finally {
    closeLibrary(lib);
  }
});

test('runs recorded before sweeps existed are in none; a sweep recorded after the upgrade names its runs', () => {
  const k = all.findIndex((m) => m.name === 'run_sweeps');
  assert.ok(k > 0, 'the run_sweeps migration exists');
  const partial = join(root, 'before-sweeps');
  mkdirSync(partial);
  for (const m of all.slice(0, k)) copyFileSync(m.file, join(partial, `${m.id}_${m.name}.sql`));
  const dataDir = join(root, 'd-before-sweeps');
  const db = openDatabase(dataDir, { migrationsDir: partial });
  db.exec(V1_DATA);
  db.close();
  const lib = openLibrary(dataDir);
  try {
    const sweepId = createSweep(lib, ['lr']);
    lib.db.prepare('UPDATE runs SET sweep_id = ? WHERE id = 2').run(sweepId);
    assert.equal(getRun(lib, 1).sweep, null);
    assert.deepEqual(getRun(lib, 2).sweep, { id: sweepId, varied: ['lr'], runIds: [2] });
    assert.throws(
      () => lib.db.prepare('UPDATE runs SET sweep_id = 999 WHERE id = 1').run(),
      /FOREIGN KEY/,
      'a run names only a sweep that exists',
    );
  } finally {
    closeLibrary(lib);
  }
});

test('runs recorded before their precision was kept show none; a run after the upgrade records its own', () => {
  const k = all.findIndex((m) => m.name === 'run_precision');
  assert.ok(k > 0, 'the run_precision migration exists');
  const partial = join(root, 'before-precision');
  mkdirSync(partial);
  for (const m of all.slice(0, k)) copyFileSync(m.file, join(partial, `${m.id}_${m.name}.sql`));
  const dataDir = join(root, 'd-before-precision');
  const db = openDatabase(dataDir, { migrationsDir: partial });
  db.exec(V1_DATA);
  // Run 1 trained on the CPU with the device recorded, asked `auto`: what it computed in was not.
  db.exec(`UPDATE runs SET device = 'cpu', config_json = '{"dtype": "auto"}' WHERE id = 1`);
  db.close();
  const lib = openLibrary(dataDir);
  try {
    const old = getRun(lib, 1);
    assert.deepEqual([old.device, old.config.dtype, old.precision], ['cpu', 'auto', null]);
    assert.deepEqual(
      listRuns(lib).map((r) => r.precision),
      [null, null],
    );
    setRunDevice(lib, 2, { device: 'cpu', fallback: null, precision: 'fp32' });
    assert.equal(getRun(lib, 2).precision, 'fp32');
    assert.equal(getRun(lib, 1).precision, null, 'the other run is left as it was');
  } finally {
    closeLibrary(lib);
  }
});

test('adapters recorded before their precision was kept take their run’s; imports and run-less ones none', () => {
  const k = all.findIndex((m) => m.name === 'adapter_precision');
  assert.ok(k > 0, 'the adapter_precision migration exists');
  const partial = join(root, 'before-adapter-precision');
  mkdirSync(partial);
  for (const m of all.slice(0, k)) copyFileSync(m.file, join(partial, `${m.id}_${m.name}.sql`));
  const dataDir = join(root, 'd-before-adapter-precision');
  const db = openDatabase(dataDir, { migrationsDir: partial });
  db.exec(V1_DATA);
  // Adapter 1 is run 1's (bf16 recorded); 2 was imported (a content hash) from a folder naming run 1;
  // 3 is run 2's, whose precision was not recorded; 4 came from no run.
  db.exec(`UPDATE runs SET precision = 'bf16' WHERE id = 1;
    INSERT INTO adapters (id, name, path, type, base_model_fingerprint, manifest_json, run_id, dataset_version_id, size_bytes, created_at, content_hash)
      VALUES (2, 'imported', '/adapters/i', 'loreft', 'fp1', '{}', 1, 1, 50, 4, 'h'),
             (3, 'paused', '/adapters/p', 'loreft', 'fp1', '{}', 2, 1, 50, 5, NULL),
             (4, 'loose', '/adapters/l', 'loreft', 'fp1', '{}', NULL, NULL, 50, 6, NULL);`);
  db.close();
  const lib = openLibrary(dataDir);
  try {
    assert.deepEqual(
      listAdapters(lib).map((a) => [a.id, a.precision]),
      [
        [4, null],
        [3, null],
        [2, null],
        [1, 'bf16'],
      ],
    );
  } finally {
    closeLibrary(lib);
  }
});
