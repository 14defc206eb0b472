// What the Adapters page needs from the backend, through its RPC (in-process host, real engine, real
// SQLite file): uploads of a pyreft folder or a zip (validated: paths, sizes, order), import from an
// upload, exports to a folder (absolute paths only: a relative one is refused) and as a zip download
// in all three formats, each with a truthful one-line note, and the base model named the same way as
// on the Runs page when two library models share the weights.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { REFT } from '../helpers/fixtures.ts';
import { completedRun, inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('adapters-window');
const dataDir = join(root, 'data');
const F2L2 = join(REFT, 'llama-loreft-f2l2', 'pyreft_final');
let b: Backend;
let modelId: number;
let copyId: number;
let datasetId: number;

const { call, callError, upload: send } = inProcess(() => b);
/** Uploads files {path → bytes} as the window does. */
const upload = (files: Record<string, Uint8Array>, chunk = 700) => send('adapter', files, chunk);

function folderFiles(dir: string, prefix: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) out[`${prefix}/${f}`] = readFileSync(join(dir, f));
  return out;
}

/** Reads a download to its end, as the window does. */
async function download(downloadId: string): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for (let offset = 0; ; ) {
    const r = await call('files/download', { downloadId, offset, length: 1000 });
    const piece = Buffer.from(r.data, 'base64');
    parts.push(piece);
    offset += piece.length;
    if (r.eof) break;
  }
  return Buffer.concat(parts);
}

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE, name: 'Llama fixture' })).id;
  // The same weights in another folder, added second: two library models share one fingerprint.
  const copy = join(root, 'llama-copy');
  cpSync(LLAMA_FIXTURE, copy, { recursive: true });
  copyId = (await call('models/add', { path: copy, name: 'Same weights, other folder' })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(() => b.close());

test('an adapter names the base model its run trained on, as the Runs page does', async () => {
  const done = await completedRun(b, call, {
    modelId: copyId,
    datasetId,
    layers: '1',
    rank: 1,
    positions: 'l1',
    maxSteps: 2,
    batchSize: 4,
  });
  const a = await call('adapters/get', { id: done.adapterId });
  assert.equal(a.baseModelId, copyId);
  assert.equal(a.baseModelName, 'Same weights, other folder');
  const listed = (await call('adapters/list')).find((x: { id: number }) => x.id === a.id);
  assert.equal(listed.baseModelName, 'Same weights, other folder');
  const lineage = await call('adapters/lineage', { id: a.id });
  assert.equal(lineage.baseModel.name, 'Same weights, other folder');
  assert.equal(lineage.baseModel.modelId, copyId);
});

test('an import path is absolute: a relative one or one with ".." is refused, not read from the working folder', async () => {
  // The working folder of the server means nothing to a window; the relative path names the fixture
  // from here, so without the check it was found and imported.
  const rel = relative(process.cwd(), F2L2);
  for (const params of [
    { path: rel, modelId },
    { path: `${F2L2}/../pyreft_final`, modelId },
    { path: F2L2, modelPath: relative(process.cwd(), LLAMA_FIXTURE) },
  ])
    assert.equal((await callError('adapters/import', params)).code, 'bad-path', JSON.stringify(params));
});

test('an export folder is an absolute path; a relative one is refused, not put anywhere', async () => {
  const [a] = await call('adapters/list');
  assert.equal((await callError('adapters/export', { id: a.id, out: 'my-export' })).code, 'relative-path');
  assert.ok(!existsSync(join(process.cwd(), 'my-export')), 'nothing written in the working folder');
  const r = await call('adapters/export', { id: a.id, out: join(root, 'my-export') });
  assert.equal(r.out, join(root, 'my-export'));
  assert.ok(existsSync(join(root, 'my-export', 'config.json')));
  // A trained adapter's export is pyreft's layout with its parameters; never called approximate.
  assert.equal(r.exact, false);
  assert.match(r.note, /^pyreft's layout/);
  assert.doesNotMatch(r.note, /approximate/i);
  assert.equal(
    (await callError('adapters/export', { id: a.id, out: join(root, 'my-export') })).code,
    'out-not-empty',
  );
  const s = await call('adapters/export', { id: a.id, out: join(root, 'studio-out'), format: 'studio' });
  assert.deepEqual(readdirSync(s.out).sort(), [
    '.reft-studio-export.json',
    'adapter.safetensors',
    'manifest.json',
  ]);
});

test('upload a pyreft folder in chunks, import it; re-export is byte for byte', async () => {
  const files = folderFiles(F2L2, 'my-pyreft');
  const uploadId = await upload(files);
  const r = await call('adapters/import', { uploadId, modelId, positions: 'f2+l2' });
  assert.equal(r.adapter.name, 'my-pyreft', 'named after the uploaded folder');
  assert.equal(r.kind, 'pyreft');
  assert.ok(!existsSync(join(dataDir, 'uploads', uploadId)), 'the staging folder is gone');
  const out = await call('adapters/export', { id: r.adapter.id, out: join(root, 'reexport') });
  assert.equal(out.exact, true);
  assert.match(out.note, /byte for byte/);
  for (const f of readdirSync(F2L2))
    assert.deepEqual(readFileSync(join(out.out, f)), readFileSync(join(F2L2, f)), f);
});

test('the same folder uploaded again is the adapter already there, not a second one', async () => {
  const before = await call('adapters/list');
  const first = before.find((a: { name: string }) => a.name === 'my-pyreft');
  const uploadId = await upload(folderFiles(F2L2, 'my-pyreft'));
  const r = await call('adapters/import', { uploadId, modelId, positions: 'f2+l2' });
  assert.equal(r.created, false);
  assert.equal(r.adapter.id, first.id);
  assert.deepEqual(r.notes, []);
  assert.ok(!existsSync(join(dataDir, 'uploads', uploadId)), 'the staging folder is gone');
  assert.equal((await call('adapters/list')).length, before.length);
  assert.equal(readdirSync(join(dataDir, 'adapters')).length, before.length, 'no second folder');
});

test('upload a zip of a pyreft folder; the adapter downloads as a zip in each format', async () => {
  const zip = zipSync(folderFiles(F2L2, 'zipped') as Record<string, Uint8Array>);
  const uploadId = await upload({ 'zipped.zip': zip }, 4096);
  const r = await call('adapters/import', { uploadId, modelId, positions: 'f2+l2', name: 'from zip' });
  assert.equal(r.adapter.name, 'from zip');

  const py = await call('adapters/export-zip', { id: r.adapter.id, format: 'pyreft' });
  assert.equal(py.fileName, 'from-zip-pyreft.zip');
  assert.equal(py.exact, true);
  const entries = unzipSync(await download(py.downloadId));
  for (const f of readdirSync(F2L2))
    assert.deepEqual(Buffer.from(entries[`from-zip-pyreft/${f}`]), readFileSync(join(F2L2, f)), f);
  assert.ok(entries['from-zip-pyreft/reft_studio.json']);
  // Read once: the download is gone.
  assert.equal(
    (await callError('files/download', { downloadId: py.downloadId, offset: 0 })).code,
    'not-found',
  );

  const st = await call('adapters/export-zip', { id: r.adapter.id, format: 'studio' });
  assert.deepEqual(Object.keys(unzipSync(await download(st.downloadId))).sort(), [
    'from-zip-studio/adapter.safetensors',
    'from-zip-studio/manifest.json',
  ]);
  // An imported adapter has no run to bundle; a trained one does.
  assert.equal(
    (await callError('adapters/export-zip', { id: r.adapter.id, format: 'bundle' })).code,
    'no-run',
  );
  const trained = (await call('adapters/list')).find((a: { runId: number | null }) => a.runId !== null);
  const bundle = await call('adapters/export-zip', { id: trained.id, format: 'bundle' });
  const names = Object.keys(unzipSync(await download(bundle.downloadId)))
    .map((n) => n.split('/')[1])
    .sort();
  assert.deepEqual(names, ['README.md', 'config.json', 'data.jsonl', 'train.py']);
  assert.match(bundle.note, /torchrun/);
  // Nothing is left behind in the downloads folder.
  assert.deepEqual(readdirSync(join(dataDir, 'downloads')), []);
});

test('uploads are validated: paths, declared sizes, limits, order, completeness, bad zips', async () => {
  const begin = (files: { path: string; size: number }[]) =>
    callError('files/upload-begin', { kind: 'adapter', files });
  for (const path of ['../evil.bin', '/abs/x', 'a/../../x', 'C:/x', 'a\\b', 'a//b', './x'])
    assert.equal((await begin([{ path, size: 1 }])).code, 'bad-path', path);
  assert.equal((await begin([{ path: 'big.bin', size: 2 ** 31 }])).code, 'too-large');
  assert.equal(
    (
      await begin([
        { path: 'a', size: 1 },
        { path: 'a', size: 1 },
      ])
    ).code,
    'bad-path',
  );
  // A name both a file and a folder, either way round: refused before anything is staged (a chunk
  // refused it before, naming the staging folder in the data folder).
  for (const files of [
    ['a', 'a/b'],
    ['x/a/b', 'x/a'],
    ['x/y/z', 'x/y/z/w/v'],
  ]) {
    const e = await begin(files.map((path) => ({ path, size: 1 })));
    assert.equal(e.code, 'bad-path', files.join(' '));
    assert.match(e.message, /^"(a|x\/a|x\/y\/z)" is both a file and a folder in this upload$/);
  }
  const { uploadId } = await call('files/upload-begin', {
    kind: 'adapter',
    files: [{ path: 'x/a.bin', size: 4 }],
  });
  const chunk = (offset: number, bytes: string) =>
    callError('files/upload-chunk', {
      uploadId,
      path: 'x/a.bin',
      offset,
      data: Buffer.from(bytes).toString('base64'),
    });
  assert.equal((await chunk(2, 'ab')).code, 'bad-offset');
  assert.equal((await chunk(0, 'abcdef')).code, 'bad-size');
  assert.equal(
    (await callError('files/upload-chunk', { uploadId, path: 'y.bin', offset: 0, data: '' })).code,
    'bad-path',
  );
  await call('files/upload-chunk', {
    uploadId,
    path: 'x/a.bin',
    offset: 0,
    data: Buffer.from('ab').toString('base64'),
  });
  assert.equal((await callError('files/upload-finish', { uploadId })).code, 'incomplete-upload');
  assert.equal((await callError('adapters/import', { uploadId })).code, 'incomplete-upload');
  await call('files/upload-discard', { uploadId });
  assert.equal((await callError('files/upload-finish', { uploadId })).code, 'not-found');

  // A zip whose entry escapes the folder, and a file that is not a zip at all.
  const evil = zipSync({ '../escape.txt': strToU8('x') });
  const up1 = await call('files/upload-begin', {
    kind: 'adapter',
    files: [{ path: 'evil.zip', size: evil.length }],
  });
  await call('files/upload-chunk', {
    uploadId: up1.uploadId,
    path: 'evil.zip',
    offset: 0,
    data: Buffer.from(evil).toString('base64'),
  });
  assert.equal((await callError('files/upload-finish', { uploadId: up1.uploadId })).code, 'bad-path');
  assert.ok(!existsSync(join(dataDir, 'uploads', 'escape.txt')));
  const junk = strToU8('not a zip at all');
  const up2 = await call('files/upload-begin', {
    kind: 'adapter',
    files: [{ path: 'junk.zip', size: junk.length }],
  });
  await call('files/upload-chunk', {
    uploadId: up2.uploadId,
    path: 'junk.zip',
    offset: 0,
    data: Buffer.from(junk).toString('base64'),
  });
  const err = await callError('files/upload-finish', { uploadId: up2.uploadId });
  assert.equal(err.code, 'bad-zip');
  assert.doesNotMatch(err.message, new RegExp(relative('/', dataDir)), 'no server paths in the message');
  // An uploaded folder that is not an adapter fails the import with the importer's own error.
  const up3 = await upload({ 'notes/readme.txt': strToU8('hello') });
  assert.equal((await callError('adapters/import', { uploadId: up3 })).code, 'not-an-adapter');
});

test('a trained adapter exported to pyreft and imported back by path: the same facts and greedy tokens', async () => {
  const done = await completedRun(b, call, {
    modelId,
    datasetId,
    layers: '1;3',
    rank: 2,
    positions: 'f1+l1',
    maxSteps: 2,
    batchSize: 4,
    lr: 0.05,
  });
  const out = join(root, 'trained-export');
  await call('adapters/export', { id: done.adapterId, out, format: 'pyreft' });
  const back = (await call('adapters/import', { path: out, name: 'trained, back' })).adapter;
  const original = await call('adapters/get', { id: done.adapterId });
  const facts = (a: {
    type: string;
    precision: unknown;
    baseModelId: number;
    manifest: Record<string, unknown>;
  }) => {
    const { layers, positions, shareWeights, rank, interventions, activation, promptTemplate } = a.manifest;
    return {
      type: a.type,
      precision: a.precision,
      baseModelId: a.baseModelId,
      layers,
      positions,
      shareWeights,
      rank,
      interventions,
      activation,
      promptTemplate,
    };
  };
  assert.deepEqual(facts(back), facts(original));
  // Its lineage travels in reft_studio.json and comes back: the same run and dataset version.
  const { lineage } = JSON.parse(readFileSync(join(out, 'reft_studio.json'), 'utf8'));
  assert.equal(lineage.run.id, String(original.runId));
  assert.equal(lineage.run.config.rank, 2);
  assert.equal(lineage.steps, 2);
  assert.equal(typeof lineage.finalLoss, 'number');
  assert.equal(lineage.baseModel.fingerprint, original.baseModelFingerprint);
  assert.equal(typeof lineage.dataset.name, 'string');
  assert.deepEqual([back.runId, back.datasetVersionId], [original.runId, original.datasetVersionId]);
  const greedy = { modelId, prompt: 'Question 5: what is 5 plus 5?', maxNewTokens: 8, temperature: 0 };
  const answer = await call('generate/run', { ...greedy, adapterId: original.id });
  assert.notEqual(answer.text, (await call('generate/run', greedy)).text, 'the adapter changes the answer');
  const again = await call('generate/run', { ...greedy, adapterId: back.id });
  // The window's answer is its text (tokens: how many).
  assert.deepEqual([again.text, again.tokens], [answer.text, answer.tokens]);
});
