// 'evaluations/cancel': the studio had no way to stop an evaluation but closing itself. A queued one
// is dropped (its job ends 'cancelled', nothing recorded); a running one is stored 'cancelled' with
// how far it got, as the CLI's Ctrl-C stores it; in both cases the dataset file it held goes once
// its dataset is removed and the engine has stopped (the adapter cannot be removed before then). The queue is free for the next one afterwards. A job that is not an
// evaluation's, unknown or already ended is a one-line refusal.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { REFT } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor } from './helpers.ts';

const root = tempDir('evaluation-cancel');
let b: Backend | null = null;
const { call, callError } = inProcess(() => b as Backend);
after(() => b?.close());

function jsonl(name: string, n: number): string {
  const file = join(root, name);
  const rows = Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `Q ${i}?`, completion: ' yes' }));
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

test('cancelling a queued and a running evaluation', { timeout: 180_000 }, async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  const lib = b.lib;
  const model = addModel(lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(lib, { path: pyreft, model: model.id, positions: 'l1' });
  const short = importDataset(lib, { path: jsonl('short.jsonl', 1), name: 'short' });
  const long = importDataset(lib, { path: jsonl('long.jsonl', 300), name: 'long' });
  const kept = importDataset(lib, { path: jsonl('kept.jsonl', 2), name: 'kept' });
  const jobsNow = () => call('evaluations/jobs', { adapterId: adapter.id });

  // Queued behind another evaluation: dropped, nothing recorded, its held file let go.
  let unblock!: () => void;
  const blocker = b.jobs.enqueue({
    kind: 'evaluate',
    device: 'evaluations',
    run: () => new Promise<void>((r) => (unblock = r)),
  });
  const queued = await call('evaluations/start', {
    adapterId: adapter.id,
    datasetId: short.dataset.id,
    kind: 'loss',
  });
  await call('datasets/remove', { id: short.dataset.id });
  assert.ok(existsSync(short.version.filePath), 'the queued evaluation holds its file');
  const dropped = await call('evaluations/cancel', { jobId: queued.jobId });
  assert.deepEqual(
    [dropped.id, dropped.state, dropped.evaluationId, dropped.error],
    [queued.jobId, 'cancelled', null, null],
  );
  assert.ok(!existsSync(short.version.filePath), 'the file goes with the cancelled evaluation');
  assert.deepEqual(await call('evaluations/list', { adapterId: adapter.id }), [], 'nothing recorded');

  // Refusals, each one line.
  assert.deepEqual(await callError('evaluations/cancel', { jobId: queued.jobId }), {
    type: 'ValidationError',
    code: 'not-cancellable',
    message: `evaluation job ${queued.jobId} has already been cancelled`,
  });
  const notOurs = await callError('evaluations/cancel', { jobId: blocker.id });
  assert.deepEqual(
    [notOurs.code, notOurs.message],
    ['not-found', `no evaluation job with id ${blocker.id}`],
    'a job that is not an evaluation',
  );
  assert.equal((await callError('evaluations/cancel', { jobId: 9999 })).code, 'not-found');
  assert.equal((await callError('evaluations/cancel', { jobId: 'x' })).code, 'invalid-params');
  unblock();
  await blocker.done;

  // Running: stored 'cancelled' with how far it got; the dataset removed meanwhile loses its file.
  const running = await call('evaluations/start', {
    adapterId: adapter.id,
    datasetId: long.dataset.id,
    kind: 'exact-match',
    maxNewTokens: 32,
    batchSize: 2,
  });
  const counting = await waitFor(
    'the first examples',
    async () => (await jobsNow()).find((j: { id: number }) => j.id === running.jobId)?.examples,
    120_000,
  );
  assert.equal(counting.total, 300);
  await call('datasets/remove', { id: long.dataset.id });
  assert.ok(existsSync(long.version.filePath), 'the running evaluation holds its file');
  const stopped = await call('evaluations/cancel', { jobId: running.jobId });
  assert.equal(stopped.state, 'cancelled');
  assert.ok(stopped.examples.done >= counting.done && stopped.examples.done < 300, stopped.examples);
  const [ev] = await call('evaluations/list', { adapterId: adapter.id });
  assert.deepEqual(
    [ev.id, ev.status, ev.error],
    [stopped.evaluationId, 'cancelled', `cancelled after ${stopped.examples.done} of 300 examples`],
    'stored as the reply says, when the reply comes',
  );
  // The reply comes before the engine has noticed the cancel (that takes a message from its
  // process): until it has, it may still read the file and the adapter, so both stay.
  assert.ok(existsSync(long.version.filePath), 'the file stays while the engine may read it');
  const inUse = await callError('adapters/remove', { id: adapter.id });
  assert.deepEqual(
    [inUse.code, inUse.message],
    [
      'in-use',
      `adapter ${adapter.id} (${adapter.name}) is used by evaluation job ${running.jobId}, which is stopping; try again in a moment`,
    ],
  );

  // Cancelled as soon as it started, while the engine loads the models: the engine's late 'start'
  // recorded a 'running' evaluation that nothing would finish.
  const early = await call('evaluations/start', {
    adapterId: adapter.id,
    datasetId: kept.dataset.id,
    kind: 'loss',
  });
  // It waits for the engine to stop the one cancelled above; cancelled the moment its turn comes.
  const gone = await new Promise<{ state: string; evaluationId: number | null }>((resolve) => {
    const stop = b?.events.onAny((topic, d) => {
      if (topic !== 'jobs/progress') return;
      const j = d as { id: number; state: string };
      if (j.id !== early.jobId || j.state !== 'running') return;
      stop?.();
      resolve(call('evaluations/cancel', { jobId: early.jobId }));
    });
  });
  assert.deepEqual([gone.state, gone.evaluationId], ['cancelled', null]);
  await waitFor('the file to go', async () => !existsSync(long.version.filePath));

  // The queue goes on: the next one runs once the engine has stopped the cancelled one.
  const next = await call('evaluations/run', {
    adapterId: adapter.id,
    datasetId: kept.dataset.id,
    kind: 'loss',
  });
  assert.equal(next.status, 'completed', next.error ?? '');
  const statuses = (await call('evaluations/list', { adapterId: adapter.id })).map(
    (e: { status: string }) => e.status,
  );
  assert.deepEqual(statuses, ['completed', 'cancelled'], 'no other row (none left running)');
});
