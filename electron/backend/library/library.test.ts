import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError, ValidationError } from '../../../native-runtime/errors.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import { tempDir } from '../../../tests/helpers/temp.ts';
import { appRoot } from '../paths.ts';
import {
  getAdapter,
  listAdapters,
  registerAdapter,
  removeAdapter,
  renameAdapter,
  tagAdapter,
} from './adapters.ts';
import { importDataset } from './dataset-import.ts';
import { datasetRows } from './dataset-rows.ts';
import { getDataset, listDatasets, renameDataset } from './datasets.ts';
import { DEMO_DATASET_NAME, DEMO_MODEL_NAME, seedDemo } from './demo.ts';
import { closeLibrary, type Library, openLibrary } from './library.ts';
import { STORED_CONFIG_BYTES } from './model-inspect.ts';
import { addModel, listModels, removeModel, setModelQuantize } from './models.ts';
import { appendMetrics, cancelRun, createRun, getRun, listRuns, setRunStatus } from './runs.ts';
import { getSetting, setSetting } from './settings.ts';

const root = tempDir('reft-lib-');
let n = 0;
const open = (): Library => openLibrary(join(root, `lib-${n++}`));
const LLAMA = join(appRoot(), 'tests', 'fixtures', 'golden', 'models', 'llama');

test('a host seeds the demo model and dataset once; removing them is permanent', () => {
  const dir = join(root, 'demo');
  let lib = openLibrary(dir);
  assert.equal(listModels(lib).length, 0, 'opening the library seeds nothing by itself');
  assert.equal(seedDemo(lib), true);
  const models = listModels(lib);
  const datasets = listDatasets(lib);
  assert.deepEqual(
    models.map((m) => [m.name, m.isDemo]),
    [[DEMO_MODEL_NAME, true]],
  );
  assert.deepEqual(
    datasets.map((d) => [d.name, d.isDemo, d.latest.rowCount]),
    [[DEMO_DATASET_NAME, true, 12]],
  );
  removeModel(lib, models[0].id);
  closeLibrary(lib);
  lib = openLibrary(dir);
  assert.equal(seedDemo(lib), false);
  assert.equal(listModels(lib).length, 0, 'not seeded again');
  closeLibrary(lib);
});

test('a model a running run uses cannot be removed: its converted weights would go under the run', () => {
  const lib = open();
  const m = addModel(lib, { path: LLAMA });
  const store = join(lib.dataDir, 'bases', m.fingerprint, 'int8');
  mkdirSync(store, { recursive: true });
  const run = createRun(lib, { modelId: m.id, modelFingerprint: m.fingerprint });
  setRunStatus(lib, run.id, 'running');
  assert.throws(() => removeModel(lib, m.id), {
    code: 'in-use',
    message: `model ${m.id} (${m.name}) is used by run ${run.id}, which is running; stop it or let it finish first`,
  });
  assert.ok(existsSync(store), 'the run’s converted weights stay');
  assert.equal(listModels(lib).length, 1);
  setRunStatus(lib, run.id, 'paused');
  removeModel(lib, m.id);
  assert.ok(!existsSync(join(lib.dataDir, 'bases', m.fingerprint)), 'removed once the run stopped');
  closeLibrary(lib);
});

test('models: adding a known folder says so (created false), a new one created true', () => {
  const lib = open();
  const first = addModel(lib, { path: LLAMA });
  assert.equal(first.created, true);
  const again = addModel(lib, { path: LLAMA });
  assert.deepEqual([again.id, again.created], [first.id, false]);
  closeLibrary(lib);
});

test('models: adding a folder whose files changed reads it again (name and choices kept)', () => {
  const lib = open();
  const dir = join(root, 'changed-llama');
  cpSync(LLAMA, dir, { recursive: true });
  const first = addModel(lib, { path: dir, name: 'mine' });
  setModelQuantize(lib, first.id, 'int8');
  // A converted base of the old files, which nothing can use once they changed.
  const oldBase = join(lib.dataDir, 'bases', first.fingerprint);
  mkdirSync(oldBase, { recursive: true });
  // Another checkpoint saved over the folder (here: another norm epsilon).
  const cfgPath = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.rms_norm_eps = 1e-6;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const again = addModel(lib, { path: dir });
  assert.deepEqual([again.id, again.created, again.updated], [first.id, false, true]);
  assert.equal(again.fingerprint, loadModelSpec(dir).fingerprint, 'the fingerprint of the files as they are');
  assert.notEqual(again.fingerprint, first.fingerprint);
  assert.deepEqual([again.name, again.quantize], ['mine', 'int8']);
  assert.equal(listModels(lib).length, 1, 'the same entry, not a second one');
  assert.ok(!existsSync(oldBase), "the old files' converted weights are deleted");
  const third = addModel(lib, { path: dir });
  assert.deepEqual([third.created, third.updated], [false, undefined], 'unchanged since: nothing to do');
  closeLibrary(lib);
});

test('models: adding a changed folder again stores everything a fresh add of it would', () => {
  const lib = open();
  const dir = join(root, 'refreshed-llama');
  cpSync(LLAMA, dir, { recursive: true });
  const first = addModel(lib, { path: dir, name: 'mine' });
  setModelQuantize(lib, first.id, 'int8');
  // Only a file added (a tokenizer, a README): the weights and config.json, so the fingerprint,
  // are as they were. The entry kept its first size, and adding it again said nothing changed.
  writeFileSync(join(dir, 'tokenizer-extra.bin'), Buffer.alloc(5_000_000));
  const bigger = addModel(lib, { path: dir });
  assert.equal(bigger.fingerprint, first.fingerprint);
  assert.deepEqual([bigger.updated, bigger.sizeBytes], [true, first.sizeBytes + 5_000_000]);
  // Then config.json and the weights' layout too.
  const cfgPath = join(dir, 'config.json');
  writeFileSync(
    cfgPath,
    JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), rms_norm_eps: 1e-6 }),
  );
  const again = addModel(lib, { path: dir });
  const fresh = open();
  const added = addModel(fresh, { path: dir });
  // Every field read from the folder equals a fresh add's; only the studio's own choices differ.
  const studioOwned = new Set(['id', 'name', 'createdAt', 'quantize', 'created', 'updated']);
  for (const key of Object.keys(added).filter((k) => !studioOwned.has(k)))
    assert.deepEqual(again[key as keyof typeof again], added[key as keyof typeof added], key);
  assert.deepEqual([again.name, again.quantize], ['mine', 'int8']);
  closeLibrary(lib);
  closeLibrary(fresh);
});

test('models: a folder added again through a symlink is the same entry', () => {
  const lib = open();
  const dir = join(root, 'linked-llama');
  cpSync(LLAMA, dir, { recursive: true });
  const first = addModel(lib, { path: dir });
  symlinkSync(dir, join(root, 'llama-link'));
  mkdirSync(join(root, 'parent'));
  symlinkSync(root, join(root, 'parent', 'root-link'));
  for (const other of [join(root, 'llama-link'), join(root, 'parent', 'root-link', 'linked-llama')]) {
    const again = addModel(lib, { path: other });
    assert.deepEqual([again.id, again.created], [first.id, false], other);
  }
  assert.equal(listModels(lib).length, 1);
  closeLibrary(lib);
});

test("models: a git clone's size is its files, not also the .git copy of its weights", () => {
  const lib = open();
  const dir = join(root, 'cloned-llama');
  cpSync(LLAMA, dir, { recursive: true });
  const files = bytesOfFilesIn(dir);
  // git lfs keeps a second copy of every weights file under .git/lfs/objects.
  mkdirSync(join(dir, '.git', 'lfs', 'objects'), { recursive: true });
  cpSync(join(dir, 'model.safetensors'), join(dir, '.git', 'lfs', 'objects', 'ab12'));
  const m = addModel(lib, { path: dir });
  assert.equal(m.sizeBytes, files);
  closeLibrary(lib);
});

/** Bytes of the files directly in a folder. */
function bytesOfFilesIn(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

test('a file given as the data folder, or on its path, is named as such', () => {
  const file = join(root, 'notes.txt');
  writeFileSync(file, 'x');
  for (const [dataDir, why] of [
    [file, 'it is a file'],
    [join(file, 'lib'), 'a folder on its path is a file'],
    [join(file, 'a', 'lib'), 'a folder on its path is a file'],
  ])
    assert.throws(
      () => openLibrary(dataDir),
      (e: unknown) =>
        e instanceof FormatError &&
        e.code === 'not-a-folder' &&
        e.message === `${dataDir} cannot be the data folder: ${why}`,
    );
  assert.equal(readFileSync(file, 'utf8'), 'x', 'the file is left as it was');
});

test('a folder named library.db in the data folder is named as a folder', () => {
  // SQLite said only "unable to open database file".
  const dataDir = join(root, 'folder-named-library-db');
  mkdirSync(join(dataDir, 'library.db'), { recursive: true });
  assert.throws(
    () => openLibrary(dataDir),
    (e: unknown) =>
      e instanceof Error &&
      (e as { code?: string }).code === 'open-failed' &&
      e.message ===
        `cannot open ${join(dataDir, 'library.db')}: it is a folder, not the library file; rename it or choose another data folder`,
  );
});

test("a data folder inside another library's data folder is refused, naming that library", () => {
  // Before, `--data-dir LIB/adapters/NAME` opened a library inside an adapter's folder, and
  // `adapters rm` in LIB deleted it, datasets and all. Links count by where they lead.
  const outer = join(root, 'outer-lib');
  closeLibrary(openLibrary(outer));
  const adapterFolder = join(outer, 'adapters', 'a1-0123abcd');
  mkdirSync(adapterFolder, { recursive: true });
  const link = join(root, 'link-into-lib');
  symlinkSync(adapterFolder, link);
  for (const dataDir of [adapterFolder, join(outer, 'runs', 'new', 'lib'), link, join(link, 'lib')]) {
    assert.throws(
      () => openLibrary(dataDir),
      (e: unknown) =>
        e instanceof FormatError &&
        e.code === 'data-folder-in-library' &&
        e.message ===
          `${dataDir} cannot be the data folder: it is inside the data folder of another studio library, ${outer}, whose removals would delete its files; choose a folder outside it`,
    );
  }
  assert.deepEqual(readdirSync(adapterFolder), [], 'nothing was written there');
  assert.ok(!existsSync(join(outer, 'runs', 'new')));
  // The library itself, a folder beside it, and one under another program's library.db are fine.
  closeLibrary(openLibrary(outer));
  closeLibrary(openLibrary(join(root, 'outer-lib-beside')));
  const photos = join(root, 'photos');
  mkdirSync(photos);
  writeFileSync(join(photos, 'library.db'), 'not a studio library');
  closeLibrary(openLibrary(join(photos, 'studio')));
});

test('a new data folder holding another library where its clean-ups reach is refused; an existing one opens', () => {
  // The outer library's housekeeping would delete the inner one's files: downloads/ and uploads/
  // lose whole old entries, the temp sweep walks runs/ to the bottom, and the start-up sweep of
  // set-aside folders would delete the inner library's interrupted removals rather than put them back.
  const cases: [string, string][] = [
    ['holds-sub', 'old'],
    ['holds-downloads', join('downloads', 'old')],
    ['holds-deep-run', join('runs', 'a', 'b', 'c', 'old')],
  ];
  for (const [name, at] of cases) {
    const dataDir = join(root, name);
    const inner = join(dataDir, at);
    closeLibrary(openLibrary(inner));
    assert.throws(
      () => openLibrary(dataDir),
      (e: unknown) =>
        e instanceof FormatError &&
        e.code === 'library-in-data-folder' &&
        e.message ===
          `${dataDir} cannot be the data folder: it holds the data folder of another studio library, ${inner}, whose files its clean-ups could delete; choose a folder that does not hold it`,
    );
    assert.ok(!existsSync(join(dataDir, 'library.db')), 'no library was made');
  }
  // A library deeper than any clean-up reaches, outside the library's own folders, is none of its business.
  const far = join(root, 'holds-far');
  closeLibrary(openLibrary(join(far, 'photos', '2020', 'album', 'old')));
  closeLibrary(openLibrary(far));
  // A library that exists keeps opening, whatever was moved into it since.
  const existing = join(root, 'existing-lib');
  closeLibrary(openLibrary(existing));
  const moved = join(root, 'moved-lib');
  closeLibrary(openLibrary(moved));
  renameSync(moved, join(existing, 'moved-lib'));
  closeLibrary(openLibrary(existing));
});

test('models: a file given as the model folder is named as a file, not "no such folder"', () => {
  const lib = open();
  const file = join(LLAMA, 'config.json');
  assert.throws(
    () => addModel(lib, { path: file }),
    (e: unknown) =>
      e instanceof FormatError &&
      e.code === 'not-a-folder' &&
      e.message ===
        `${file} is a file; give the model's folder (the one holding config.json and the safetensors files)`,
  );
  closeLibrary(lib);
});

test('models: add reads config + safetensors headers, is idempotent per folder, rm forgets it', () => {
  const lib = open();
  const m = addModel(lib, { path: LLAMA });
  assert.equal(m.arch, 'llama');
  assert.equal(m.hiddenSize, 64);
  assert.equal(m.numLayers, 4);
  assert.equal(m.vocabSize, 640);
  assert.equal(m.dtype, 'float32');
  assert.ok(m.params > 200_000);
  assert.match(m.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(addModel(lib, { path: `${LLAMA}/` }).id, m.id, 'same folder, same entry');
  assert.throws(
    () => addModel(lib, { path: join(root, 'nope') }),
    (e: unknown) => e instanceof FormatError,
  );
  removeModel(lib, m.id);
  assert.throws(
    () => removeModel(lib, m.id),
    (e: unknown) => e instanceof ValidationError && e.code === 'not-found',
  );
  assert.ok(existsSync(join(LLAMA, 'config.json')), 'the folder is never touched');
  closeLibrary(lib);
});

test('datasets: import freezes normalised rows with a content hash; bad rows are skipped or refuse', () => {
  const lib = open();
  const src = join(root, 'd.jsonl');
  writeFileSync(src, '{"prompt":"a","completion":"b"}\nnot json\n{"prompt":"c","completion":"d"}\n');
  assert.throws(
    () => importDataset(lib, { path: src, onBadRows: 'refuse' }),
    (e: unknown) => e instanceof FormatError && e.message.startsWith('d.jsonl:2:'),
  );
  assert.equal(listDatasets(lib).length, 0, 'a refused import stores nothing');
  const r = importDataset(lib, { path: src, name: 'mine' });
  assert.deepEqual(
    r.rejected.map((b) => b.line),
    [2],
  );
  assert.equal(r.version.rowCount, 2);
  const body = readFileSync(r.version.filePath);
  assert.equal(createHash('sha256').update(body).digest('hex'), r.version.contentHash);
  const same = importDataset(lib, { path: src, datasetId: r.dataset.id });
  assert.equal(same.action, 'unchanged', 'the same rows again add no version');
  assert.equal(same.version.id, r.version.id);
  writeFileSync(
    src,
    '{"prompt":"a","completion":"b"}\n{"prompt":"c","completion":"d"}\n{"prompt":"e","completion":"f"}\n',
  );
  const v2 = importDataset(lib, { path: src, datasetId: r.dataset.id });
  assert.equal(v2.action, 'new-version');
  assert.equal(v2.version.version, 2);
  assert.equal(getDataset(lib, r.dataset.id).versions.length, 2);
  const page = datasetRows(lib, { datasetId: r.dataset.id, offset: 1, limit: 5 });
  assert.equal(page.total, 3);
  assert.deepEqual(page.rows, [
    { prompt: 'c', completion: 'd' },
    { prompt: 'e', completion: 'f' },
  ]);
  closeLibrary(lib);
});

test('runs: lifecycle, metrics by step, cancel refuses finished runs', () => {
  const lib = open();
  const run = createRun(lib, { name: 'r', config: { rank: 4 } });
  assert.equal(run.status, 'queued');
  setRunStatus(lib, run.id, 'running');
  appendMetrics(lib, run.id, [
    { step: 1, epoch: 0, loss: 2.5, lr: 1e-3, gradNorm: 1, tokensPerS: 100, evalLoss: null },
    { step: 2, epoch: 0, loss: 2.0, lr: 1e-3, gradNorm: 1, tokensPerS: 100, evalLoss: null },
  ]);
  appendMetrics(lib, run.id, [
    { step: 2, epoch: 0, loss: 1.9, lr: 1e-3, gradNorm: 1, tokensPerS: 100, evalLoss: null },
  ]);
  const detail = getRun(lib, run.id);
  assert.deepEqual(
    detail.metrics.map((m) => [m.step, m.loss]),
    [
      [1, 2.5],
      [2, 1.9],
    ],
  );
  assert.equal(listRuns(lib)[0].lastLoss, 1.9);
  assert.equal(cancelRun(lib, run.id).status, 'cancelled');
  assert.equal(setRunStatus(lib, run.id, 'completed'), false, 'a cancelled run stays cancelled');
  assert.throws(
    () => cancelRun(lib, run.id),
    (e: unknown) => e instanceof ValidationError && e.code === 'not-cancellable',
  );
  closeLibrary(lib);
});

test('adapters: register, tag, rename, remove (files deleted only inside the data folder)', () => {
  const lib = open();
  const inside = join(lib.dataDir, 'adapters', 'a1');
  mkdirSync(inside, { recursive: true });
  writeFileSync(join(inside, 'config.json'), '{}');
  const outside = join(root, 'user-adapter');
  mkdirSync(outside, { recursive: true });
  const a = registerAdapter(lib, {
    name: 'pirate',
    path: inside,
    type: 'loreft',
    baseModelFingerprint: 'f',
    tags: ['v1'],
  });
  const b = registerAdapter(lib, { name: 'other', path: outside, type: 'loreft', baseModelFingerprint: 'g' });
  assert.deepEqual(tagAdapter(lib, a.id, { add: ['best', 'v1'] }).tags, ['best', 'v1']);
  assert.deepEqual(tagAdapter(lib, a.id, { remove: ['v1'] }).tags, ['best']);
  assert.deepEqual(
    listAdapters(lib, { tag: 'best' }).map((x) => x.id),
    [a.id],
  );
  assert.equal(renameAdapter(lib, a.id, 'Pirate v2').name, 'Pirate v2');
  assert.deepEqual(removeAdapter(lib, a.id), { id: a.id, deletedFiles: true });
  assert.equal(existsSync(inside), false);
  assert.deepEqual(removeAdapter(lib, b.id), { id: b.id, deletedFiles: false });
  assert.equal(existsSync(outside), true);
  assert.throws(() => getAdapter(lib, a.id), ValidationError);
  closeLibrary(lib);
});

test("names of adapters and models follow the datasets' rule: no control characters, at most 200", () => {
  const lib = open();
  const a = registerAdapter(lib, {
    name: 'ok',
    path: join(root, 'n-a'),
    type: 'loreft',
    baseModelFingerprint: 'f',
  });
  const refused = (fn: () => unknown, what: RegExp) =>
    assert.throws(fn, (e: ValidationError) => e.code === 'bad-name' && what.test(e.message));
  // A newline in a name broke every table the CLI prints (and a log line in the studio).
  refused(() => renameAdapter(lib, a.id, 'two\nlines'), /^an adapter name cannot hold control characters$/);
  refused(() => renameAdapter(lib, a.id, 'x'.repeat(201)), /^an adapter name is at most 200 characters$/);
  refused(() => renameAdapter(lib, a.id, '  '), /^an adapter needs a name$/);
  refused(
    () =>
      registerAdapter(lib, {
        name: 'a\tb',
        path: join(root, 'n-b'),
        type: 'loreft',
        baseModelFingerprint: 'f',
      }),
    /control characters/,
  );
  refused(
    () => addModel(lib, { path: LLAMA, name: 'bell\u0007' }),
    /^a model name cannot hold control characters$/,
  );
  assert.equal(renameAdapter(lib, a.id, '  Pirate 2 ').name, 'Pirate 2');
  closeLibrary(lib);
});

test('names refuse C1 controls and text-direction characters, which make a name read as another', () => {
  const lib = open();
  const a = registerAdapter(lib, {
    name: 'ok',
    path: join(root, 'n-c'),
    type: 'loreft',
    baseModelFingerprint: 'f',
  });
  const src = join(root, 'names-c1.jsonl');
  writeFileSync(src, '{"prompt":"a","completion":"b"}\n');
  const ds = importDataset(lib, { path: src, name: 'rows' }).dataset;
  const refused = (fn: () => unknown, what: RegExp) =>
    assert.throws(fn, (e: ValidationError) => e.code === 'bad-name' && what.test(e.message));
  // U+009B starts an escape sequence on terminals that act on C1 controls; U+0085 is a line break.
  for (const c1 of ['\u0085', '\u009b', '\u0080', '\u009f']) {
    refused(() => renameAdapter(lib, a.id, `a${c1}b`), /^an adapter name cannot hold control characters$/);
    refused(() => renameDataset(lib, ds.id, `a${c1}b`), /^a dataset name cannot hold control characters$/);
  }
  // "pirate\u202Etxt.exe" displays as "pirateexe.txt".
  for (const [bidi, code] of [
    ['\u202a', '202A'],
    ['\u202e', '202E'],
    ['\u2066', '2066'],
    ['\u2069', '2069'],
  ]) {
    const line = new RegExp(
      `^a model name cannot hold a text-direction character \\(U\\+${code}\\), which can make it read as another$`,
    );
    refused(() => addModel(lib, { path: LLAMA, name: `pirate${bidi}txt.exe` }), line);
    refused(
      () => renameDataset(lib, ds.id, `x${bidi}`),
      /^a dataset name cannot hold a text-direction character/,
    );
  }
  // Letters beyond ASCII, and marks next to the refused ranges, are fine.
  assert.equal(
    renameAdapter(lib, a.id, 'Piraté \u00a0v2 \u2013 \u200f').name,
    'Piraté \u00a0v2 \u2013 \u200f',
  );
  assert.equal(getAdapter(lib, a.id).name, 'Piraté \u00a0v2 \u2013 \u200f');
  closeLibrary(lib);
});

test('settings: JSON values, null removes', () => {
  const lib = open();
  setSetting(lib, 'ui.theme', { dark: true });
  assert.deepEqual(getSetting(lib, 'ui.theme'), { dark: true });
  setSetting(lib, 'ui.theme', null);
  assert.equal(getSetting(lib, 'ui.theme'), undefined);
  closeLibrary(lib);
});

test('models: a config.json with big tables is stored in part (what describes the model), capped', () => {
  const lib = open();
  const dir = join(root, 'big-config');
  cpSync(LLAMA, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8'));
  // ~900 KB of label map, under the engine's 1 MiB cap for the file.
  config.id2label = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [String(i), `LABEL_${i}`]));
  for (let i = 0; i < 2000; i++) config[`extra_${i}`] = i;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const m = addModel(lib, { path: dir });
  const stored = (
    lib.db.prepare('SELECT config_json FROM models WHERE id = ?').get(m.id) as { config_json: string }
  ).config_json;
  assert.ok(stored.length <= STORED_CONFIG_BYTES, `${stored.length} bytes stored`);
  assert.ok(!('id2label' in JSON.parse(stored)));
  assert.deepEqual(
    [m.modelType, m.hiddenSize, m.numLayers, m.vocabSize],
    [config.model_type, config.hidden_size, config.num_hidden_layers, config.vocab_size],
  );
  // A 50 MB config.json is refused before it is read, and nothing is stored.
  const huge = join(root, 'huge-config');
  cpSync(LLAMA, huge, { recursive: true });
  writeFileSync(join(huge, 'config.json'), `{"model_type": "llama", "pad": "${'x'.repeat(50 * 2 ** 20)}"}`);
  assert.throws(
    () => addModel(lib, { path: huge }),
    (e: unknown) => e instanceof FormatError && e.code === 'file-too-large',
  );
  assert.equal(listModels(lib).length, 1);
  closeLibrary(lib);
});

test('a new data folder is its owner’s only (it holds the Hugging Face token); an existing one is kept', {
  skip: process.platform === 'win32',
}, () => {
  const oldMask = process.umask(0o022);
  try {
    const fresh = join(tempDir('lib-mode'), 'nested', 'data');
    const lib = openLibrary(fresh);
    setSetting(lib, 'hub.token', 'hf_secret');
    closeLibrary(lib);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    const shared = tempDir('lib-mode-existing');
    chmodSync(shared, 0o750);
    closeLibrary(openLibrary(shared));
    assert.equal(statSync(shared).mode & 0o777, 0o750, 'a folder the person made keeps its mode');
  } finally {
    process.umask(oldMask);
  }
});
