// An adapter or model an evaluation uses cannot be removed while it waits or runs: removing the
// adapter deleted its folder under the evaluation (which then failed reading it, or lost its row
// with the adapter's), and the model check saw only evaluations already recorded 'running', not
// those queued or loading. Both removals are refused ('in-use', one line naming the evaluation's
// job), as removing a model a run uses is; once the evaluation is cancelled or has ended they go.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { createEvaluation, finishEvaluation } from '../../electron/backend/library/evaluations.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { REFT } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('evaluation-in-use');
let b: Backend | null = null;
const { call, callError } = inProcess(() => b as Backend);
after(() => b?.close());

test('an adapter or model a queued or running evaluation uses is not removed', async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  const lib = b.lib;
  const model = addModel(lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(lib, { path: pyreft, model: model.id, positions: 'l1' });
  const file = join(root, 'one.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'Q?', completion: ' yes' })}\n`);
  const { dataset } = importDataset(lib, { path: file, name: 'one' });

  // Queued behind another job of the evaluations' queue (it has no evaluation row yet).
  let unblock!: () => void;
  const blocker = b.jobs.enqueue({
    kind: 'evaluate',
    device: 'evaluations',
    run: () => new Promise<void>((r) => (unblock = r)),
  });
  const { jobId } = await call('evaluations/start', {
    adapterId: adapter.id,
    datasetId: dataset.id,
    kind: 'loss',
  });
  assert.deepEqual(await callError('adapters/remove', { id: adapter.id }), {
    type: 'ValidationError',
    code: 'in-use',
    message: `adapter ${adapter.id} (${adapter.name}) is used by evaluation job ${jobId}, which is queued; cancel it or let it finish first`,
  });
  assert.deepEqual(await callError('models/remove', { id: model.id }), {
    type: 'ValidationError',
    code: 'in-use',
    message: `model ${model.id} (${model.name}) is used by evaluation job ${jobId}, which is queued; cancel it or let it finish first`,
  });
  assert.ok(existsSync(adapter.path), 'the adapter folder stays');
  assert.equal((await call('adapters/get', { id: adapter.id })).id, adapter.id);
  assert.equal((await call('models/list')).length, 1);

  // An evaluation recorded 'running' (by this studio or another process on the same library).
  const ev = createEvaluation(lib, {
    adapterId: adapter.id,
    modelId: model.id,
    datasetVersionId: 0,
    kind: 'loss',
  });
  await call('evaluations/cancel', { jobId });
  assert.deepEqual(await callError('adapters/remove', { id: adapter.id }), {
    type: 'ValidationError',
    code: 'in-use',
    message: `adapter ${adapter.id} (${adapter.name}) is used by evaluation ${ev.id}, which is running; cancel it or let it finish first`,
  });
  finishEvaluation(lib, ev.id, { status: 'completed' });
  unblock();
  await blocker.done;

  // Cancelled and ended: both go.
  assert.deepEqual(await call('adapters/remove', { id: adapter.id }), { id: adapter.id, deletedFiles: true });
  assert.ok(!existsSync(adapter.path), 'the adapter folder went with it');
  assert.equal((await call('models/remove', { id: model.id })).id, model.id);
});
