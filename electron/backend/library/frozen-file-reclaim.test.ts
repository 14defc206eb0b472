// Removing a dataset gives its disk back (frozen-file-reclaim.ts): its frozen files are deleted unless
// another version shares one or a resumable run may still read it; a writer of the same rows racing
// the removal is refused rather than recorded over a deleted file; the start-up sweep deletes files
// nothing records and finishes removals a crash interrupted. Before, every frozen file stayed forever.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelDir, REFT } from '../../../tests/helpers/fixtures.ts';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { importAdapter } from './adapters.ts';
import { editDataset, splitDataset } from './dataset-edits.ts';
import { importDataset, recordImport } from './dataset-import.ts';
import { prepareImport } from './dataset-prepare.ts';
import { datasetRows, textMatches } from './dataset-rows.ts';
import { getDataset, listDatasets, removeDataset } from './datasets.ts';
import { recordEvaluationJob, setEvaluationJobStatus } from './evaluation-jobs.ts';
import { sweepUnusedFrozenFiles } from './frozen-file-reclaim.ts';
import { readFrozenRowsAt, writeFrozenFile } from './frozen-files.ts';
import { keptTokenCounts } from './kept-token-counts.ts';
import type { Library } from './library.ts';
import { addModel } from './models.ts';
import { createRun, deleteRun, getRunRecord, setRunStatus } from './runs.ts';

const { root, open } = testLibraries('reft-reclaim-');
function file(name: string, count: number, tag = ''): string {
  const p = join(root, name);
  const rows = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ prompt: `q${i}${tag}`, completion: 'a' }),
  );
  writeFileSync(p, `${rows.join('\n')}\n`);
  return p;
}
const frozen = (lib: Library) => readdirSync(join(lib.dataDir, 'datasets')).sort();

test("removing a dataset deletes its versions' files, edits and split parts included", () => {
  const lib = open();
  const ds = importDataset(lib, { path: file('gone.jsonl', 10) }).dataset;
  editDataset(lib, { datasetId: ds.id, remove: [0] });
  splitDataset(lib, { datasetId: ds.id, ratios: { train: 0.6, validation: 0.2, test: 0.2 } });
  const other = importDataset(lib, { path: file('kept.jsonl', 3, 'x') }).version;
  assert.equal(frozen(lib).length, 6, 'five files of the removed dataset, one of the other');
  const r = removeDataset(lib, ds.id);
  assert.equal(r.deletedFiles.length, 5);
  assert.deepEqual(frozen(lib), [`${other.contentHash}.jsonl`], 'only the other dataset’s file is left');
});

test('a file another dataset shares stays, and that dataset still reads its rows', () => {
  const lib = open();
  const a = importDataset(lib, { path: file('same.jsonl', 4), name: 'a' }).version;
  const b = importDataset(lib, { path: file('same.jsonl', 4), name: 'b' }).version;
  assert.equal(a.filePath, b.filePath, 'one file for both');
  assert.deepEqual(removeDataset(lib, a.datasetId).deletedFiles, []);
  assert.ok(existsSync(b.filePath));
  assert.equal(datasetRows(lib, { datasetId: b.datasetId }).rows.length, 4);
});

test('a run that may still be resumed keeps its file; once it cannot, the start-up sweep deletes it', () => {
  const lib = open();
  const v = importDataset(lib, { path: file('trained.jsonl', 5) }).version;
  const run = createRun(lib, { datasetVersionId: v.id, config: { data: v.filePath } });
  setRunStatus(lib, run.id, 'interrupted');
  assert.deepEqual(removeDataset(lib, v.datasetId).deletedFiles, []);
  assert.ok(existsSync(v.filePath), 'resuming the run reads it');
  assert.equal(getRunRecord(lib, run.id).datasetVersionId, null, 'the run keeps its history');
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 0);
  lib.db.prepare("UPDATE runs SET status = 'cancelled' WHERE id = ?").run(run.id);
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 1);
  assert.ok(!existsSync(v.filePath));
});

test('deleting the run that alone kept a removed dataset’s file deletes the file', () => {
  const lib = open();
  const v = importDataset(lib, { path: file('failed-run.jsonl', 5) }).version;
  const held = importDataset(lib, { path: file('eval.jsonl', 2, 'e'), name: 'held-out' }).version;
  const run = createRun(lib, {
    datasetVersionId: v.id,
    config: { data: v.filePath, evalData: held.filePath },
  });
  setRunStatus(lib, run.id, 'failed', 'out of memory');
  removeDataset(lib, v.datasetId);
  assert.ok(existsSync(v.filePath));
  deleteRun(lib, run.id);
  assert.ok(!existsSync(v.filePath), 'nothing needs it any more');
  assert.ok(existsSync(held.filePath), 'the held-out data is still a version of a dataset');
});

test('an import of the same rows racing the removal is refused in one line, never recorded over a deleted file', async () => {
  const lib = open();
  const a = importDataset(lib, { path: file('race.jsonl', 6), name: 'a' }).version;
  // The import's file is written (found already there: a's), then a is removed before it is recorded.
  const input = { path: file('race.jsonl', 6), name: 'b' };
  const prepared = await prepareImport(lib.dataDir, input);
  assert.equal(prepared.file.contentHash, a.contentHash);
  removeDataset(lib, a.datasetId);
  assert.throws(() => recordImport(lib, prepared, input), {
    code: 'missing-file',
    message:
      'a dataset with the same rows was removed while this version was being written: nothing was stored; try again',
  });
  assert.deepEqual(listDatasets(lib), [], 'no dataset whose file is gone');
  // Imported again, the rows are written afresh.
  const b = importDataset(lib, input).version;
  assert.ok(existsSync(b.filePath));
});

test("a removed file's kept row index and search results are not served", () => {
  const lib = open();
  const v = importDataset(lib, { path: file('kept-index.jsonl', 3) }).version;
  readFrozenRowsAt(v.filePath, [1]);
  textMatches(v.filePath, 'q1');
  removeDataset(lib, v.datasetId);
  // Kept, the index would open the deleted path: a raw ENOENT instead of the library's own line.
  assert.throws(() => readFrozenRowsAt(v.filePath, [1]), { code: 'missing-file' });
  assert.throws(() => textMatches(v.filePath, 'q1'), { code: 'missing-file' });
});

test('the start-up sweep: unrecorded files deleted, recorded ones kept, an interrupted removal put back', () => {
  const lib = open();
  const v = importDataset(lib, { path: file('recorded.jsonl', 2) }).version;
  const orphan = writeFrozenFile(lib.dataDir, (w) => w.write({ prompt: 'never', completion: 'recorded' }));
  // A crash after the removal's file was set aside, before its transaction committed.
  renameSync(v.filePath, `${v.filePath}.removing`);
  assert.equal(sweepUnusedFrozenFiles(lib), 1, 'a young unrecorded file is left (its writer may record it)');
  assert.ok(existsSync(v.filePath), 'put back: its version is still recorded');
  assert.ok(existsSync(join(lib.dataDir, orphan.rel)));
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 1);
  assert.deepEqual(frozen(lib), [`${v.contentHash}.jsonl`]);
  assert.equal(getDataset(lib, v.datasetId).latest.rowCount, 2);
});

test("a deleted file's kept token counts go with it, whichever delete it was", async () => {
  const lib = open();
  const keep = (hash: string) =>
    keptTokenCounts.keep(
      `${hash}:model:auto`,
      Promise.resolve({
        lengths: [1],
        promptLengths: [1],
        indices: null,
        total: 1,
        chatTemplate: false,
        maxPositions: 8,
      }),
    );
  // Kept by a run only (its dataset removed), then the run deleted.
  const v = importDataset(lib, { path: file('counted.jsonl', 2) }).version;
  const run = createRun(lib, { datasetVersionId: v.id, config: { data: v.filePath } });
  setRunStatus(lib, run.id, 'failed');
  removeDataset(lib, v.datasetId);
  keep(v.contentHash);
  deleteRun(lib, run.id);
  assert.ok(!existsSync(v.filePath));
  assert.equal(keptTokenCounts.get(`${v.contentHash}:model:auto`), undefined, 'dropped with the run’s file');
  // An unrecorded file the start-up sweep deletes.
  const orphan = writeFrozenFile(lib.dataDir, (w) => w.write({ prompt: 'never', completion: 'recorded' }));
  keep(orphan.contentHash);
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 1);
  assert.equal(keptTokenCounts.get(`${orphan.contentHash}:model:auto`), undefined, 'dropped by the sweep');
});

test('an evaluation job not yet ended keeps its file from removals and sweeps, in any process', () => {
  const lib = open();
  const model = addModel(lib, { path: modelDir('llama') });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(lib, { path: pyreft, model: model.id, positions: 'l1' });
  const v = importDataset(lib, { path: file('evaluated.jsonl', 2) }).version;
  const job = recordEvaluationJob(lib, {
    jobId: 1,
    adapterId: adapter.id,
    modelId: model.id,
    modelFingerprint: model.fingerprint,
    dataPath: v.filePath,
  });
  assert.deepEqual(removeDataset(lib, v.datasetId).deletedFiles, []);
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 0, 'the sweep leaves it');
  setEvaluationJobStatus(lib, job, 'stopping');
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 0, 'the engine may still read it');
  setEvaluationJobStatus(lib, job, 'ended');
  assert.equal(sweepUnusedFrozenFiles(lib, 0), 1, 'once it has ended, the file goes');
  assert.ok(!existsSync(v.filePath));
});
