// The run estimate's wait on a token count: a batch refused at the max length makes the memory check
// count the whole dataset to find its longest example (run-memory-check.ts) — minutes for a big one.
// That wait says how far it is ('datasets/token-progress' under the estimate's requestId) and stops
// with runs/estimate-cancel, its count too where nobody else waits on it; a count the histogram also
// waits on goes on, until the histogram stops waiting too. runs/start waits on the same count: its
// window closing stops it, and nothing is recorded. The model is a Llama-7B shape in a sparse file
// (only its header is read), with the smallest batch whose int4 step is refused at the max length on
// this computer.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { WorkerEngine } from '../../electron/backend/jobs/engine.ts';
import { smallestRefusedBatch, sparseLlama } from '../helpers/models.ts';
import { importCountingDatasets, inProcess, tempDir, waitFor } from './helpers.ts';

// The check this file is about must run (REFT_STUDIO_MEMORY_CHECK=0 skips it), in the engine's
// processes too: they take this environment when they start.
delete process.env.REFT_STUDIO_MEMORY_CHECK;

const root = tempDir('estimate-count-cancel');
const model = sparseLlama(root, 4);
const MAX_LENGTH = 1024;
let batch: number;
let b: Backend;
let engine: WorkerEngine;
let modelId: number;
let big: number;
let small: number;
const { call, callError } = inProcess(() => b);

before(async () => {
  batch = await smallestRefusedBatch(model, MAX_LENGTH);
  engine = new WorkerEngine({ dataDir: join(root, 'data') });
  b = createBackend(join(root, 'data'), { seedDemo: false, engine });
  modelId = (await call('models/add', { path: model })).id;
  ({ big, small } = await importCountingDatasets(call, root));
});
after(() => b.close());

const runOf = (datasetId: number) => ({
  modelId,
  datasetId,
  quantize: 'int4',
  device: 'cpu',
  maxLength: MAX_LENGTH,
  batchSize: batch,
});
const estimateOf = (datasetId: number, requestId: string) => ({
  ...runOf(datasetId),
  calibrate: false,
  requestId,
});

/** The 'datasets/token-progress' pushes under `requestId`, as they come. */
function progressOf(requestId: string): {
  pushes: { done: number; total: number | null }[];
  off: () => void;
} {
  const pushes: { done: number; total: number | null }[] = [];
  const off = b.events.onAny((topic, d) => {
    if (topic === 'datasets/token-progress' && (d as { requestId: string }).requestId === requestId)
      pushes.push(d as { done: number; total: number | null });
  });
  return { pushes, off };
}

/** `p`, or a failure naming `what` once `ms` have passed (a wait of minutes fails the test at once). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The 'counts' engine process's id, or null when none is alive. */
const countsPid = () => engine.processes().find((p) => p.lane === 'counts')?.pid ?? null;

/** Whether process `pid` still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** For waitFor: `n` pushes came — failing at once where `request` answered before they did. */
function counted(request: Promise<unknown>, pushes: unknown[], n: number): () => Promise<boolean> {
  let answer: unknown;
  void request.then((r) => {
    answer = r;
  });
  return async () => {
    if (answer !== undefined) assert.fail(`answered before its count: ${JSON.stringify(answer)}`);
    return pushes.length >= n;
  };
}

/** The small version's count answers within `ms`: the 'counts' process is not busy for nobody. */
async function countsSmallWithin(ms: number, chatTemplate: 'auto' | 'none'): Promise<void> {
  const r = await within(
    call('datasets/token-lengths', { datasetId: small, modelId, chatTemplate }),
    ms,
    'the next count',
  );
  assert.equal(r.count, 8);
}

test("the memory check's token count says how far it is, and runs/estimate-cancel stops it", async () => {
  const { pushes, off } = progressOf('est-1');
  try {
    const estimating = callError('runs/estimate', estimateOf(big, 'est-1'));
    // Bug: nothing said what the estimate waited for; the Train wizard gave up after 60 s.
    await waitFor('two progress pushes', async () => pushes.length >= 2, 60_000);
    assert.deepEqual(
      pushes.map((p) => p.total),
      pushes.map(() => 60_000),
    );
    assert.ok(pushes[1].done > pushes[0].done, JSON.stringify(pushes.slice(0, 2)));
    assert.deepEqual(await call('runs/estimate-cancel', { requestId: 'est-1' }), { cancelled: true });
    // Bug: the cancel was taken but the estimate went on counting every row, for minutes.
    assert.equal((await within(estimating, 3000, 'the stopped estimate')).code, 'cancelled');
    await countsSmallWithin(25_000, 'auto');
  } finally {
    off();
  }
});

test('an estimate stopped before its count began starts none', async () => {
  const estimating = callError('runs/estimate', estimateOf(big, 'est-2'));
  await call('runs/estimate-cancel', { requestId: 'est-2' });
  assert.equal((await within(estimating, 3000, 'the stopped estimate')).code, 'cancelled');
  // Bug: the memory check, still planning when it was stopped, then began a count of minutes for nobody.
  await countsSmallWithin(25_000, 'none');
});

test('a stopped estimate leaves a count the histogram also waits on running, until that stops too', async () => {
  const histogram = progressOf('count-1');
  try {
    const counting = callError('datasets/token-lengths', { datasetId: big, modelId, requestId: 'count-1' });
    await waitFor('the histogram count under way', async () => histogram.pushes.length >= 1, 60_000);
    const estimating = callError('runs/estimate', estimateOf(big, 'est-3'));
    await new Promise((r) => setTimeout(r, 1000));
    await call('runs/estimate-cancel', { requestId: 'est-3' });
    assert.equal((await within(estimating, 3000, 'the stopped estimate')).code, 'cancelled');
    // The histogram's count goes on: more pushes come, and it was not failed with the estimate.
    const seen = histogram.pushes.length;
    await waitFor('the histogram count going on', async () => histogram.pushes.length > seen, 60_000);
    const pid = countsPid() as number;
    await call('datasets/token-lengths-cancel', { requestId: 'count-1' });
    assert.equal((await counting).code, 'cancelled');
    // Bug: the stopped estimate had joined the count, which then went on for nobody for a minute.
    await waitFor('the counting process ended', async () => !alive(pid), 3000);
  } finally {
    histogram.off();
  }
});

test("a run start whose window closes during its memory check's count stops the count, recording nothing", async () => {
  engine.refresh(); // no idle 'counts' process left from earlier tests: the next one is this start's count
  const link = new AbortController();
  const starting = b.handle(
    { type: 'request', id: 9101, method: 'runs/start', params: runOf(big) },
    { gone: link.signal },
  );
  await waitFor('the count under way', async () => countsPid() !== null, 60_000);
  const pid = countsPid() as number;
  await new Promise((r) => setTimeout(r, 1000));
  link.abort();
  // Bug: the start went on counting every row for the window that had closed, then recorded the run.
  const reply = (await within(starting, 3000, 'the stopped start')) as { error?: { code: string } };
  assert.equal(reply.error?.code, 'cancelled');
  await waitFor('the counting process ended', async () => !alive(pid), 3000);
  assert.deepEqual(await call('runs/list', {}), []);
});

test('a run start says how far its count is, and runs/start-cancel stops it by its requestId, recording nothing', async () => {
  engine.refresh(); // no idle 'counts' process left from earlier tests: the next one is this start's count
  const { pushes, off } = progressOf('start-1');
  try {
    // Bug: runs/start took no requestId, so the Train page could neither follow nor stop its count.
    const starting = callError('runs/start', { ...runOf(big), requestId: 'start-1' });
    await waitFor('two progress pushes', counted(starting, pushes, 2), 60_000);
    assert.equal(pushes[0].total, 60_000);
    const pid = countsPid() as number;
    assert.deepEqual(await call('runs/start-cancel', { requestId: 'start-1' }), { cancelled: true });
    assert.equal((await within(starting, 3000, 'the stopped start')).code, 'cancelled');
    await waitFor('the counting process ended', async () => !alive(pid), 3000);
    assert.deepEqual(await call('runs/list', {}), []);
    assert.deepEqual(await call('runs/start-cancel', { requestId: 'start-1' }), { cancelled: false });
  } finally {
    off();
  }
});

test('a sweep start stopped by its requestId while it counts queues none of its runs', async () => {
  engine.refresh();
  const { pushes, off } = progressOf('sweep-1');
  try {
    const runs = [1, 2].map((seed) => ({ ...runOf(big), seed, name: `seed ${seed}` }));
    const starting = callError('runs/start-many', { runs, requestId: 'sweep-1' });
    await waitFor('a progress push', counted(starting, pushes, 1), 60_000);
    const pid = countsPid() as number;
    assert.deepEqual(await call('runs/start-cancel', { requestId: 'sweep-1' }), { cancelled: true });
    assert.equal((await within(starting, 3000, 'the stopped sweep')).code, 'cancelled');
    await waitFor('the counting process ended', async () => !alive(pid), 3000);
    assert.deepEqual(await call('runs/list', {}), []);
  } finally {
    off();
  }
});
