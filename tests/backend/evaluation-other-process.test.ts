// A queued evaluation seen by another process on the same data folder (the real CLI beside a
// running studio). It used to be known only to the studio's memory: `adapters rm` in the CLI
// deleted the adapter under it, and the CLI's start-up sweep deleted its dataset's frozen file
// (the dataset removed in the studio while it waited), so the evaluation later failed naming a
// missing file. Queued and running evaluations are recorded in the database (evaluation_jobs), and
// every removal and sweep in any process reads them. Their job ids go on from there after a restart:
// they restarted at 1, so a window's remembered job (evaluation-jobs.ts) could match a new one.

import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { importAdapter } from '../../electron/backend/library/adapters.ts';
import { importDataset } from '../../electron/backend/library/dataset-import.ts';
import { addModel } from '../../electron/backend/library/models.ts';
import { REFT } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, runCli, tempDir } from './helpers.ts';

const root = tempDir('evaluation-other-process');
const dataDir = join(root, 'data');
let b: Backend | null = null;
const { call } = inProcess(() => b as Backend);
after(() => b?.close());

test('the CLI beside the studio leaves a queued evaluation its adapter, model and file', {
  timeout: 240_000,
}, async () => {
  b = createBackend(dataDir, { seedDemo: false });
  const lib = b.lib;
  const model = addModel(lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(lib, { path: pyreft, model: model.id, positions: 'l1' });
  const file = join(root, 'one.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'Is it?', completion: ' yes' })}\n`);
  const { dataset, version } = importDataset(lib, { path: file, name: 'one' });

  // Another job holds the evaluations' queue: this one waits behind it.
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

  const rm = await runCli(['adapters', 'rm', String(adapter.id), '--data-dir', dataDir]);
  assert.equal(rm.code, 1, rm.stdout);
  assert.equal(
    rm.stderr.trim(),
    `error: adapter ${adapter.id} (${adapter.name}) is used by evaluation job ${jobId}, which is queued; cancel it or let it finish first`,
  );
  const mrm = await runCli(['models', 'rm', String(model.id), '--data-dir', dataDir]);
  assert.equal(mrm.code, 1, mrm.stdout);
  assert.match(mrm.stderr, new RegExp(`is used by evaluation job ${jobId}, which is queued`));
  assert.ok(existsSync(adapter.path), 'the adapter folder stays');

  // Its dataset removed in the studio: the file stays for the evaluation, even to the CLI's
  // start-up sweep of unrecorded files (which leaves files younger than 10 minutes: aged here).
  await call('datasets/remove', { id: dataset.id });
  assert.ok(existsSync(version.filePath), 'the queued evaluation keeps its file');
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(version.filePath, old, old);
  const list = await runCli(['datasets', 'list', '--data-dir', dataDir]);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(existsSync(version.filePath), "the CLI's sweep leaves the file a queued evaluation reads");

  unblock();
  await blocker.done;
  const [ev] = await waitForEvaluation(adapter.id);
  assert.equal(ev.status, 'completed', ev.error ?? '');
  assert.ok(!existsSync(version.filePath), 'the file goes once the evaluation has ended');
  const done = await runCli(['adapters', 'rm', String(adapter.id), '--data-dir', dataDir]);
  assert.equal(done.code, 0, done.stderr);
});

test('evaluation job ids go on after the studio restarts', { timeout: 60_000 }, async () => {
  await b?.close();
  b = createBackend(dataDir, { seedDemo: false });
  const model = addModel(b.lib, { path: LLAMA_FIXTURE });
  const pyreft = join(REFT, 'llama-loreft-l1-shared', 'pyreft_final');
  const { adapter } = importAdapter(b.lib, { path: pyreft, model: model.id, positions: 'l1' });
  const file = join(root, 'two.jsonl');
  writeFileSync(file, `${JSON.stringify({ prompt: 'Is it?', completion: ' yes' })}\n`);
  const { dataset } = importDataset(b.lib, { path: file, name: 'two' });
  const params = { adapterId: adapter.id, datasetId: dataset.id, kind: 'loss' };
  const queueOne = async () => {
    const blocker = (b as Backend).jobs.enqueue({
      kind: 'evaluate',
      device: 'evaluations',
      // Holds the evaluations' queue until cancelled.
      run: ({ signal }) => new Promise((r) => signal.addEventListener('abort', r)),
    });
    const { jobId } = await call('evaluations/start', params);
    await call('evaluations/cancel', { jobId });
    (b as Backend).jobs.cancel(blocker.id);
    return jobId;
  };
  const before = await queueOne();
  await b.close();
  b = createBackend(dataDir, { seedDemo: false });
  const after = await queueOne();
  assert.ok(after > before, `job ${after} after a restart is not job ${before} of before it`);
});

async function waitForEvaluation(adapterId: number) {
  for (;;) {
    const jobs = await call('evaluations/jobs', { adapterId });
    if (jobs.every((j: { state: string }) => j.state !== 'queued' && j.state !== 'running'))
      return call('evaluations/list', { adapterId });
    await new Promise((r) => setTimeout(r, 100));
  }
}
