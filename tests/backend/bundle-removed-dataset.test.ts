// Bundling an adapter whose run's dataset was removed from the library. The run keeps its history,
// but not the dataset's file: frozen-file-reclaim.ts deletes it once no run may train on it again.
// Both the window and the CLI say so, rather than naming the library's hashed copy as missing.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { cliIn } from '../helpers/cli.ts';
import { completedRun, inProcess, LLAMA_FIXTURE, tempDir, writeJsonl } from './helpers.ts';

const root = tempDir('bundle-removed-dataset');
const dataDir = join(root, 'data');
let b: Backend;
const { call, callError } = inProcess(() => b);

before(() => {
  b = createBackend(dataDir, { seedDemo: false });
});
after(() => b.close());

test('a bundle of a run whose dataset was removed says why it has no rows, and what to do', async () => {
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 8);
  const datasetId = (await call('datasets/import', { path: file })).dataset.id;
  const { id: runId, adapterId } = await completedRun(b, call, {
    modelId,
    datasetId,
    layers: '1',
    rank: 1,
    positions: 'l1',
    maxSteps: 2,
    batchSize: 4,
  });
  await call('datasets/remove', { id: datasetId });
  const removed = `the dataset run ${runId} trained on was removed from the library, so there are no rows to bundle`;
  const toFolder = await callError('adapters/export', {
    id: adapterId,
    out: join(root, 'out'),
    format: 'bundle',
  });
  const asZip = await callError('adapters/export-zip', { id: adapterId, format: 'bundle' });
  for (const e of [toFolder, asZip])
    assert.deepEqual(e, {
      type: 'ValidationError',
      code: 'missing-data',
      message: `${removed}; export the adapter as pyreft or studio instead`,
    });
  const cli = await cliIn(
    dataDir,
    'export',
    '--format',
    'bundle',
    '--run',
    String(runId),
    '--out',
    join(root, 'b'),
  );
  assert.equal(cli.code, 1);
  assert.equal(cli.err, `error: ${removed}; give --data ID|FILE with rows to bundle\n`);
  // Given rows, the CLI bundles the run.
  const given = await cliIn(
    dataDir,
    'export',
    '--format',
    'bundle',
    '--run',
    String(runId),
    '--data',
    file,
    '--out',
    join(root, 'b'),
  );
  assert.equal(given.code, 0, given.err);
});

test("a run's held-out dataset is bundled as heldout.jsonl; once removed from the library, the bundle says it lacks it", async () => {
  const modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const trainFile = join(root, 'kept-train.jsonl');
  writeJsonl(trainFile, 8);
  const heldFile = join(root, 'held.jsonl');
  writeJsonl(heldFile, 3);
  const datasetId = (await call('datasets/import', { path: trainFile, name: 'kept' })).dataset.id;
  const held = (await call('datasets/import', { path: heldFile, name: 'held' })).dataset;
  const { id: runId, adapterId } = await completedRun(b, call, {
    modelId,
    datasetId,
    evalDatasetVersionId: held.latest.id,
    layers: '1',
    rank: 1,
    positions: 'l1',
    maxSteps: 2,
    batchSize: 4,
  });
  const out = join(root, 'with-held-out');
  const written = await call('adapters/export', { id: adapterId, out, format: 'bundle' });
  assert.match(written.note, /\(8 training examples, 3 held out\)/);
  const lines = (f: string) => readFileSync(join(out, f), 'utf8').trim().split('\n');
  assert.deepEqual(lines('heldout.jsonl'), readFileSync(heldFile, 'utf8').trim().split('\n'));
  assert.equal(lines('data.jsonl').length, 8);
  // Removed (its library copy reclaimed), the held-out rows are no longer there to bundle: the
  // training rows still are, and the bundle is written without them rather than refused (train.py
  // never reads them), its config.json, README and the line reporting it saying what it lacks.
  await call('datasets/remove', { id: held.id });
  const again = await call('adapters/export', { id: adapterId, out, format: 'bundle', force: true });
  const lacks =
    "8 training examples; no held-out rows: the run's held-out dataset was removed from the library";
  assert.match(again.note, new RegExp(`\\(${lacks}\\)`));
  assert.equal(existsSync(join(out, 'heldout.jsonl')), false);
  assert.equal(lines('data.jsonl').length, 8);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).heldOut, {
    file: null,
    rows: 0,
    missing: "the run's held-out dataset was removed from the library",
  });
  assert.match(
    readFileSync(join(out, 'README.md'), 'utf8'),
    /held-out dataset was removed from the library: this bundle has none of them/,
  );
  const cli = await cliIn(
    dataDir,
    'export',
    '--format',
    'bundle',
    '--run',
    String(runId),
    '--out',
    join(root, 'c'),
  );
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, new RegExp(`^wrote a pyreft training bundle to .* \\(${lacks}\\)$`, 'm'));
});
