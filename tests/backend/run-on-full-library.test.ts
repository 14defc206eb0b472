// A run whose library cannot be written while it trains (a full disk: SQLite's "database or disk is
// full" on a metric point) stops with one line naming library.db and stays resumable. Before, the
// write threw out of the engine process's message handler: uncaught in the host, the run trained on
// with nothing recorded. When even its stop cannot be written, it reads interrupted, not running.
// The full library is real SQLite: max_page_count keeps the file from growing, query_only refuses
// every write.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('run-on-full-library');
const dataDir = join(root, 'data');
let b: Backend;
let modelId: number;
let datasetId: number;
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
const { call } = inProcess(() => b);

before(async () => {
  process.on('uncaughtException', onUncaught);
  b = createBackend(dataDir, { seedDemo: false, watchHubCache: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, 32);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
});
after(async () => {
  await b.close();
  process.off('uncaughtException', onUncaught);
});

/** Starts a 160-step run and, at its second step's report, makes the library unwritable by `fill`. */
async function runUntilFull(fill: () => void): Promise<number> {
  let filled = false;
  const off = b.events.onAny((topic, data) => {
    const d = (data as { detail?: { event?: string; step?: number } }).detail;
    if (topic !== 'jobs/progress' || filled || d?.event !== 'progress' || (d.step ?? 0) < 2) return;
    filled = true;
    fill();
  });
  const { runId } = await call('runs/start', {
    modelId,
    datasetId,
    layers: '1',
    rank: 2,
    batchSize: 4,
    epochs: 20,
    checkpointEvery: 2,
  });
  await b.jobs.idle();
  off();
  assert.ok(filled, 'the run reached its second step');
  return runId;
}

async function resumeToEnd(runId: number): Promise<void> {
  await call('runs/resume', { id: runId });
  const done = await waitFor(`run ${runId} to complete`, async () => {
    await b.jobs.idle();
    const r = await call('runs/get', { id: runId });
    return r.status !== 'queued' && r.status !== 'running' ? r : null;
  });
  assert.equal(done.status, 'completed', done.error ?? '');
  assert.equal(done.metrics.at(-1).step, 160);
}

test('a full library while training: the run fails naming library.db, nothing uncaught, and resumes', async () => {
  const runId = await runUntilFull(() =>
    b.lib.db.pragma(`max_page_count = ${b.lib.db.pragma('page_count', { simple: true })}`),
  );
  const failed = await call('runs/get', { id: runId });
  b.lib.db.pragma('max_page_count = 1073741823');
  assert.deepEqual(uncaught, []);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'cannot write library.db in the data folder: the disk is full');
  await resumeToEnd(runId);
});

test('a library that cannot even record the stop: the run reads interrupted, is marked later, resumes', async () => {
  const runId = await runUntilFull(() => b.lib.db.pragma('query_only = 1'));
  const stopped = await call('runs/get', { id: runId });
  const listed = (await call('runs/list', {})).find((r: { id: number }) => r.id === runId);
  b.lib.db.pragma('query_only = 0');
  assert.deepEqual(uncaught, []);
  assert.equal(stopped.status, 'interrupted');
  assert.equal(listed?.status, 'interrupted');
  // The host's next look for dead work writes the mark, now that it can.
  const stored = b.lib.db.prepare('SELECT status FROM runs WHERE id = ?').pluck();
  await waitFor('the stop to be recorded', async () => stored.get(runId) === 'interrupted');
  await resumeToEnd(runId);
});
