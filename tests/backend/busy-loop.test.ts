// "No page blocks while the engine works": the long library operations run in the engine's 'files'
// worker, so the backend answers every other window's calls meanwhile. Each case starts the long
// call, then a cheap one (datasets/list), and checks which answers first — an order, not a time:
// on the RPC loop the long call finished before the cheap one was even looked at (finding duplicates
// among 100,000 rows held every window for 16 s; a scale-out bundle of them 2.6 s; unpacking a 96 MB
// uploaded zip 0.4 s). The longest
// stall of the loop during each call is printed for the record.
// In-process host, real engine processes, real SQLite file.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { LLAMA_FIXTURE, tempDir, waitFor, whileBusy } from './helpers.ts';

const root = tempDir('busy-loop');
const dataDir = join(root, 'data');
let b: Backend;
let datasetId: number;
let adapterId: number;
let nextId = 1;

// biome-ignore lint/suspicious/noExplicitAny: tests read results field by field
async function call<T = any>(method: string, params: unknown = {}): Promise<T> {
  const r = await b.handle({ type: 'request', id: nextId++, method, params });
  if (r.type !== 'reply') throw new Error(`${method}: ${r.error.message}`);
  return r.result as T;
}

before(async () => {
  b = createBackend(dataDir, { seedDemo: false });
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  // Rows with shared phrasing, some repeated, so that near-duplicate search has work to do.
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const k = i % 2500;
    lines.push(
      JSON.stringify({
        prompt: `Question ${k}: where does the ship sail after port ${k % 97}?`,
        completion: `To the island of ${k} and then ${'onwards '.repeat(k % 7)}home.`,
      }),
    );
  }
  const file = join(root, 'voyages.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
  const run = await call('runs/start', { modelId, datasetId, layers: '1', rank: 2, maxSteps: 2 });
  adapterId = await waitFor(
    'the run’s adapter',
    async () => {
      const r = await call('runs/get', { id: run.runId });
      if (r.status === 'failed') throw new Error(r.error);
      return r.status === 'completed' ? (r.adapterId as number) : null;
    },
    120_000,
    100,
  );
  // Start the 'files' worker so the first case does not measure its start-up.
  await call('datasets/duplicates', { datasetId, maxPairs: 1 });
});
after(() => b.close());

test('finding duplicates (near ones too) leaves the loop free', async () => {
  const { order, result } = await whileBusy(call, 'datasets/duplicates', { datasetId, maxPairs: 50 });
  assert.deepEqual(order, ['datasets/list', 'datasets/duplicates']);
  const r = result as { exact: unknown[]; exactGroups: number };
  assert.equal(r.exactGroups, 500, 'rows 2500..2999 repeat rows 0..499');
});

test('dropping duplicates leaves the loop free; exact mode needs no near search', async () => {
  const { order, result } = await whileBusy(call, 'datasets/drop-duplicates', { datasetId, mode: 'exact' });
  assert.deepEqual(order, ['datasets/list', 'datasets/drop-duplicates']);
  const r = result as { removed: number[]; version: { rowCount: number } };
  assert.equal(r.removed.length, 500);
  assert.equal(r.version.rowCount, 2500);
});

test('a scale-out bundle zip (the whole dataset inside) leaves the loop free', async () => {
  const { order, result } = await whileBusy(call, 'adapters/export-zip', { id: adapterId, format: 'bundle' });
  assert.deepEqual(order, ['datasets/list', 'adapters/export-zip']);
  const r = result as { downloadId: string; sizeBytes: number; files: string[]; note: string };
  assert.ok(r.sizeBytes > 0);
  assert.deepEqual([...r.files].sort(), ['README.md', 'config.json', 'data.jsonl', 'train.py']);
  assert.match(r.note, /torchrun/);
  // Only the download is left in the downloads folder: the work folder is gone.
  assert.deepEqual(readdirSync(join(dataDir, 'downloads')), [`${r.downloadId}.download`]);
  const bytes = await call('files/download', { downloadId: r.downloadId, offset: 0 });
  assert.equal(bytes.eof, true);
});

test('an export into a folder leaves the loop free and marks the folder', async () => {
  const out = join(root, 'exported');
  const { order, result } = await whileBusy(call, 'adapters/export', {
    id: adapterId,
    out,
    format: 'bundle',
  });
  assert.deepEqual(order, ['datasets/list', 'adapters/export']);
  assert.equal((result as { out: string }).out, out);
  assert.ok(existsSync(join(out, 'data.jsonl')));
  assert.ok(existsSync(join(out, '.reft-studio-export.json')), 'marked as an export');
});

test('unpacking a big uploaded zip leaves the loop free', async () => {
  // 96 MB: an adapter's weights (random bytes, stored: fflate inflated those on the loop even through
  // its async unzip) and text that deflates. unzipSync held every window for the whole inflate.
  const zip = zipSync({
    'big-adapter/weights.bin': [randomBytes(64 << 20), { level: 0 }],
    'big-adapter/notes.txt': [strToU8('a line of notes\n'.repeat(2 << 20)), { level: 1 }],
  });
  const { uploadId } = await call('files/upload-begin', {
    kind: 'adapter',
    files: [{ path: 'big-adapter.zip', size: zip.length }],
  });
  for (let offset = 0; offset < zip.length; offset += 4 << 20) {
    const data = Buffer.from(zip.subarray(offset, offset + (4 << 20))).toString('base64');
    await call('files/upload-chunk', { uploadId, path: 'big-adapter.zip', offset, data });
  }
  const { order, result } = await whileBusy(call, 'files/upload-finish', { uploadId });
  assert.deepEqual(order, ['datasets/list', 'files/upload-finish']);
  assert.deepEqual((result as { files: string[] }).files, [
    'big-adapter/notes.txt',
    'big-adapter/weights.bin',
  ]);
  await call('files/upload-discard', { uploadId });
});

test('an export that fails in the worker says why in one line and leaves no work folder', async () => {
  const a = await call('adapters/get', { id: adapterId });
  rmSync(a.path, { recursive: true });
  const r = await b.handle({
    type: 'request',
    id: nextId++,
    method: 'adapters/export-zip',
    params: { id: adapterId, format: 'pyreft' },
  });
  assert.equal(r.type, 'error');
  const { message } = (r as { error: { message: string } }).error;
  console.log(`# ${message}`);
  assert.doesNotMatch(message, /\n/);
  assert.deepEqual(
    readdirSync(join(dataDir, 'downloads')).filter((f) => f.startsWith('.work-')),
    [],
  );
});
