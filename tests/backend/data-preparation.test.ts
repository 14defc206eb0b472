// A run's data preparation (tokenizing its rows before the first step: seconds to a minute for
// 20,000 rows) through the backend's RPC, real engine and SQLite file: Pause and Cancel act within
// about a second instead of waiting for it to end, and the run's log says how far it is.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { completedRun, inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('data-preparation');
let b: Backend;
let modelId: number;
let datasetId: number;
const { call } = inProcess(() => b);

// Tokenizing this many rows takes several seconds on a loaded 2-core machine (~0.25 ms a row).
const ROWS = 40_000;
const run = { layers: '1', rank: 2, positions: 'f1+l1', maxSteps: 2, batchSize: 1, checkpointEvery: 1 };

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  modelId = (await call('models/add', { path: LLAMA_FIXTURE })).id;
  const file = join(root, 'train.jsonl');
  writeJsonl(file, ROWS);
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
  // The training lane's engine process started (seconds) before the runs below: what they time is
  // their data's preparation, not a process starting.
  const small = join(root, 'small.jsonl');
  writeJsonl(small, 4);
  const smallId = (await call('datasets/import', { path: small })).dataset.id;
  await completedRun(b, call, { modelId, datasetId: smallId, ...run });
});
after(() => b.close());

const logOf = async (id: number): Promise<string[]> =>
  ((await call('runs/logs', { id })) as { text: string }[]).map((l) => l.text);

/**
 * Seconds from `stop` until the run logs `last` (the line the studio writes once the engine stopped
 * it: a cancelled run reads cancelled at once, before its engine heard of it).
 */
async function secondsUntil(id: number, last: string, stop: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await stop();
  await waitFor(
    `run ${id} to log "${last}"`,
    async () => ((await logOf(id)).at(-1) === last ? true : null),
    120_000,
    20,
  );
  return (performance.now() - t0) / 1000;
}

test('Pause while a run prepares its data stops it within a second, paused with no checkpoint', async () => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...run });
  await waitFor(
    'the run running',
    async () => ((await call('runs/get', { id: runId })).status === 'running' ? true : null),
    60_000,
    20,
  );
  await new Promise((r) => setTimeout(r, 1500));
  const s = await secondsUntil(runId, 'paused', () => call('runs/pause', { id: runId }));
  assert.ok(s < 1.5, `paused after ${s.toFixed(1)} s`);
  const r = await call('runs/get', { id: runId });
  assert.equal(r.status, 'paused');
  assert.equal(r.lastStep, null, 'no step was trained');
  assert.deepEqual(r.checkpoints, [], 'paused before its first step: no checkpoint, a resume starts over');
  assert.ok(
    !(await logOf(runId)).some((l) => l.startsWith('data: ')),
    'stopped before its data was read whole',
  );
  await b.jobs.idle();
});

test('a run preparing its data says how far it is; Cancel stops it within a second', async () => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...run });
  const line = await waitFor(
    'a "preparing data" line',
    async () => (await logOf(runId)).find((l) => l.startsWith('preparing data: ')),
    60_000,
    20,
  );
  assert.match(line, /^preparing data: [\d,]+ of 40,000 rows$/);
  const s = await secondsUntil(runId, 'cancelled', () => call('runs/cancel', { id: runId }));
  assert.ok(s < 1.5, `cancelled after ${s.toFixed(1)} s`);
  const r = await call('runs/get', { id: runId });
  assert.equal(r.status, 'cancelled');
  assert.equal(r.lastStep, null);
  await b.jobs.idle();
});
