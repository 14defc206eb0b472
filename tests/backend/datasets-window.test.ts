// What the Datasets page needs from the backend, through its RPC (in-process host, real engine
// worker, real SQLite file, the llama fixture's tokenizer and chat template): a dataset file by
// upload (validated; one file, its name never used as a path), the rejected lines reviewed after the
// import, rename, drop duplicates, token counts after the chat template that match training's own,
// a version exported as a JSONL download, and runs/start and evaluations given a split part.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { loadTokenizer } from '../../native-runtime/tokenizer/tokenizer.ts';
import { readDataset, tokenizeExample } from '../../native-runtime/training/data.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor } from './helpers.ts';
import { writeParquet } from './parquet-writer.ts';

const root = tempDir('datasets-window');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;

const { call, callError, upload: send } = inProcess(() => b);
/** Uploads files {name → bytes} as the window does. */
const upload = (files: Record<string, Uint8Array | string>, chunk = 500) => send('dataset', files, chunk);

async function download(downloadId: string): Promise<Buffer> {
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

const jsonl = (rows: unknown[]) =>
  `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;
const qa = (i: number, long = 1) => ({
  prompt: `Question ${i}: what is ${i} plus ${i}?`,
  completion: `It is ${2 * i}. `.repeat(long).trim(),
});

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE, name: 'Llama fixture' })).id;
});
after(async () => {
  await b.close();
});

test('a dataset file by upload: bad rows reviewed after the import, the staging folder removed', async () => {
  const body = jsonl([qa(1), '{"prompt": "cut off', qa(2), { prompt: 'no answer' }, qa(3)]);
  const uploadId = await upload({ 'maths quiz.jsonl': body });
  const r = await call('datasets/import', { uploadId });
  assert.equal(r.action, 'created');
  assert.equal(r.dataset.name, 'maths quiz');
  assert.equal(r.version.rowCount, 3);
  assert.equal(r.version.sourcePath, 'maths quiz.jsonl', 'the upload is named by its file name, not a path');
  assert.equal(r.rejectedCount, 2);
  assert.ok(!existsSync(join(dataDir, 'uploads', uploadId)), 'the staged file is gone');
  // Later (the import dialog long closed): the rejected lines, with their text.
  const rejects = await call('datasets/rejects', { datasetId: r.dataset.id });
  assert.deepEqual(
    rejects.lines.map((l: { line: number; text: string }) => [l.line, l.text]),
    [
      [2, '{"prompt": "cut off'],
      [4, '{"prompt":"no answer"}'],
    ],
  );
  // The same file again adds nothing; a changed one is version 2 of the same dataset.
  const again = await call('datasets/import', { uploadId: await upload({ 'maths quiz.jsonl': body }) });
  assert.equal(again.action, 'unchanged');
  const v2 = await call('datasets/import', {
    uploadId: await upload({ 'maths quiz.jsonl': jsonl([qa(1), qa(2), qa(3), qa(4)]) }),
  });
  assert.equal(v2.action, 'new-version');
  assert.equal(v2.dataset.id, r.dataset.id);
  assert.equal((await call('datasets/rejects', { datasetId: r.dataset.id })).total, 0, 'v2 had no bad lines');
});

test('uploads: one file at a time, Parquet too, a path in the name refused, exactly one of path/uploadId', async () => {
  const two = await upload({ 'a.jsonl': jsonl([qa(1)]), 'b.jsonl': jsonl([qa(2)]) });
  assert.equal((await callError('datasets/import', { uploadId: two })).code, 'bad-upload');
  assert.equal(
    (await callError('files/upload-begin', { kind: 'dataset', files: [{ path: '../x.jsonl', size: 3 }] }))
      .code,
    'bad-path',
  );
  assert.equal((await callError('datasets/import', {})).code, 'invalid-params');
  const pq = writeParquet({ prompt: ['p1', 'p2'], completion: ['c1', 'c2'] });
  const r = await call('datasets/import', { uploadId: await upload({ 'table.parquet': pq }) });
  assert.equal(r.version.rowCount, 2);
  assert.equal(r.dataset.name, 'table');
});

test('rename, drop duplicates into a new version, export a version as a JSONL download', async () => {
  const rows = [qa(1), qa(2), qa(1), qa(3), qa(2)];
  const r = await call('datasets/import', { uploadId: await upload({ 'dups.jsonl': jsonl(rows) }) });
  const datasetId = r.dataset.id;
  assert.equal(
    (await callError('datasets/rename', { id: datasetId, name: 'maths quiz' })).code,
    'name-taken',
  );
  assert.equal((await call('datasets/rename', { id: datasetId, name: 'Arithmetic' })).name, 'Arithmetic');
  const d = await call('datasets/drop-duplicates', { datasetId });
  assert.deepEqual(d.removed, [2, 4]);
  assert.equal(d.version.rowCount, 3);
  assert.equal(d.version.parentVersionId, r.version.id);
  const none = await call('datasets/drop-duplicates', { datasetId, versionId: d.version.id });
  assert.equal(none.version, null, 'nothing to drop stores nothing');
  const info = await call('datasets/export', { datasetId, versionId: d.version.id });
  assert.equal(info.fileName, 'Arithmetic-v2.jsonl');
  const bytes = await download(info.downloadId);
  assert.deepEqual(
    bytes
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [qa(1), qa(2), qa(3)],
  );
  assert.deepEqual(readdirSync(join(dataDir, 'downloads')), [], 'read to its end, the download is gone');
});

test('token lengths: as training tokenizes each example (chat template, eos), the long ones flagged', async () => {
  const rows = [qa(1), qa(2, 40), qa(3), qa(4, 80)];
  const r = await call('datasets/import', { uploadId: await upload({ 'lengths.jsonl': jsonl(rows) }) });
  const report = await call('datasets/token-lengths', { datasetId: r.dataset.id, modelId, maxLength: 128 });
  // The trainer's own tokenization of the frozen file, without truncation.
  const tok = loadTokenizer(LLAMA_FIXTURE);
  const ds = readDataset(r.version.filePath);
  const expected = ds.examples.map(
    (ex) =>
      tokenizeExample(tok, ex, { maxLength: 1 << 20, chatTemplate: 'auto', eosId: tok.eosTokenId }).ids
        .length,
  );
  assert.deepEqual(report.lengths, expected);
  assert.equal(report.chatTemplate, tok.chatTemplate !== null);
  assert.deepEqual(
    report.overIndices,
    expected.flatMap((n, i) => (n > 128 ? [i] : [])),
  );
  assert.ok(report.over >= 1, 'the longest example is over 128 tokens');
  assert.equal(
    report.bins.reduce((s: number, x: { count: number }) => s + x.count, 0),
    rows.length,
  );
  assert.ok(report.bins.at(-1).to > 128, 'the bins reach past maxLength');
  // A sample: rows picked at random (seeded), counts scaled to the whole version, marked as an estimate.
  const many = await call('datasets/import', {
    uploadId: await upload({
      'many.jsonl': jsonl(Array.from({ length: 40 }, (_, i) => qa(i, i % 4 === 0 ? 60 : 1))),
    }),
  });
  const est = await call('datasets/token-lengths', {
    datasetId: many.dataset.id,
    modelId,
    maxLength: 128,
    sample: 20,
  });
  assert.deepEqual(est.sampled, { counted: 20, of: 40 });
  assert.equal(est.count, 40);
  assert.equal(est.lengths, null);
  assert.equal(
    est.bins.reduce((s: number, x: { count: number }) => s + x.count, 0),
    40,
    'scaled to the version',
  );
  assert.ok(
    est.overIndices.every((i: number) => i % 2 === 0 && i % 4 === 0),
    'row indices of the sampled long rows',
  );
  const full = await call('datasets/token-lengths', { datasetId: many.dataset.id, modelId, maxLength: 128 });
  assert.equal(full.sampled, null);
  assert.equal(full.over, 10);
  // Counted once per version and model: another maxLength comes from the cache.
  const again = await call('datasets/token-lengths', { datasetId: r.dataset.id, modelId, maxLength: 4096 });
  assert.equal(again.countMs, 0);
  assert.equal(again.over, 0);
});

test('runs/start trains on a split part and holds out its validation part; evaluations take a part', async () => {
  const rows = Array.from({ length: 20 }, (_, i) => qa(i));
  const r = await call('datasets/import', { uploadId: await upload({ 'split me.jsonl': jsonl(rows) }) });
  const datasetId = r.dataset.id;
  assert.equal(
    (await callError('runs/start', { modelId, datasetId, datasetSplit: 'train', maxSteps: 1 })).code,
    'no-split',
  );
  assert.match(
    (
      await callError('datasets/split', {
        datasetId,
        ratios: { train: 0.5, validation: 0.25, test: 0.1 },
      })
    ).message,
    /add up to 1/,
  );
  const s = await call('datasets/split', {
    datasetId,
    seed: 5,
    ratios: { train: 0.6, validation: 0.2, test: 0.2 },
  });
  const run = await call('runs/start', {
    modelId,
    datasetId,
    datasetSplit: 'train',
    evalDatasetSplit: 'validation',
    layers: '0',
    rank: 2,
    maxSteps: 2,
    evalEvery: 1,
  });
  const done = await waitFor(
    'the run to finish',
    async () => {
      const x = await call('runs/get', { id: run.runId });
      return ['completed', 'failed', 'cancelled'].includes(x.status) ? x : null;
    },
    240_000,
  );
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.equal(done.datasetVersionId, s.train.id, 'trained on the train part');
  assert.equal(done.config.evalDatasetVersionId, s.validation.id, 'held out the validation part');
  assert.ok(
    done.metrics.some((m: { evalLoss: number | null }) => m.evalLoss !== null),
    'an eval loss was measured on the held-out part',
  );
  const ev = await call('evaluations/run', {
    adapterId: done.adapterId,
    datasetId,
    datasetVersionId: s.train.id,
    split: 'test',
    kind: 'loss',
  });
  assert.equal(ev.datasetVersionId, s.test.id, 'the test part cut with the train part');
});

test('the rows of an exported version read back exactly as frozen', async () => {
  const list = await call('datasets/list');
  const v = list[0].latest;
  const info = await call('datasets/export', { datasetId: list[0].id });
  assert.equal((await download(info.downloadId)).toString('utf8'), readFileSync(v.filePath, 'utf8'));
});
