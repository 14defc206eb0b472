// A queued evaluation keeps its dataset's frozen file: the dataset may be removed while it waits
// (frozen-file-reclaim.ts counts files held by waiting work as in use), and the evaluation then runs
// and is recorded; the file goes once it has ended. Before, the removal deleted the file under the
// queued evaluation, which then failed on a missing library file when its turn came.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { REFT } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('evaluation-queued-dataset');
let b: Backend | null = null;
const { call } = inProcess(() => b as Backend);
after(() => b?.close());

test('removing the dataset of a queued evaluation: it still runs, then the file goes', {
  timeout: 180_000,
}, async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  const lib = b.lib;
  const model = addModel(lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(lib, { path: pyreft, model: model.id, positions: 'l1' });
  const file = join(root, 'short.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'Is it?', completion: ' yes' })}\n`);
  const { dataset, version } = importDataset(lib, { path: file });

  // Another evaluation holds the evaluations' queue: this one waits behind it.
  let release!: () => void;
  const blocker = b.jobs.enqueue({
    kind: 'evaluate',
    device: 'evaluations',
    run: () => new Promise<void>((r) => (release = r)),
  });
  const evaluation = call('evaluations/run', { adapterId: adapter.id, datasetId: dataset.id, kind: 'loss' });
  await new Promise((r) => setImmediate(r));
  assert.ok(
    b.jobs.list().some((j) => j.kind === 'evaluate' && j.state === 'queued'),
    'the evaluation is queued',
  );

  await call('datasets/remove', { id: dataset.id });
  assert.ok(existsSync(version.filePath), 'the queued evaluation still needs the file');

  release();
  await blocker.done;
  const ev = await evaluation;
  assert.equal(ev.status, 'completed', ev.error ?? '');
  assert.equal(ev.datasetVersionId, null, 'its dataset is gone; the evaluation is kept');
  assert.ok(Number.isFinite(ev.metrics.adapterLoss ?? ev.metrics.loss), JSON.stringify(ev.metrics));
  assert.ok(!existsSync(version.filePath), 'the file goes once nothing waits for it');
});
