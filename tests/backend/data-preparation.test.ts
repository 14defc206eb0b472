// A run's data preparation (tokenizing its rows before the first step: seconds to a minute for
// 20,000 rows) through the backend's RPC, real engine and SQLite file: Pause and Cancel act within
// about a second instead of waiting for it to end, and the run's job reports how far it is (numbers
// in 'jobs/progress' pushes, what the run's page shows) besides its log's lines for people.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DataProgressEvent, JobProgress } from '../../electron/backend/events.ts';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { completedRun, inProcess, LLAMA_FIXTURE, tempDir, waitFor, writeJsonl } from './helpers.ts';

const root = tempDir('data-preparation');
let b: Backend;
let modelId: number;
let datasetId: number;
const { call } = inProcess(() => b);
const pushes: JobProgress[] = [];

// Tokenizing this many rows takes several seconds on a loaded 2-core machine (~0.25 ms a row).
const ROWS = 40_000;
const run = { layers: '1', rank: 2, positions: 'f1+l1', maxSteps: 2, batchSize: 1, checkpointEvery: 1 };

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false });
  b.events.onAny((topic, data) => {
    if (topic === 'jobs/progress') pushes.push(data as JobProgress);
  });
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

/** The data preparation's counts that run `id`'s job pushed so far, in order. */
const preparingPushes = (id: number): DataProgressEvent[] =>
  pushes.flatMap((p) => (p.runId === id && p.detail?.event === 'data-progress' ? [p.detail] : []));

test('a run preparing its data says how far it is; Cancel stops it within a second', async () => {
  const { runId } = await call('runs/start', { modelId, datasetId, ...run });
  // The numbers, as the job reports them (its page reads these, not the log line's words): several
  // in the seconds before the first log line, the rows done growing, of the file's 40,000.
  const counts = await waitFor(
    'three data-progress pushes',
    async () => {
      const seen = preparingPushes(runId);
      return seen.length >= 3 ? seen : null;
    },
    60_000,
    20,
  );
  for (const [i, c] of counts.entries()) {
    assert.equal(c.total, ROWS);
    assert.ok(c.done > 0 && c.done <= ROWS, `${c.done} rows done`);
    if (i > 0) assert.ok(c.done > counts[i - 1].done, `${counts.map((x) => x.done).join(', ')} rows done`);
  }
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
