// A long run's page leaves the RPC loop free: a run of 8B logs a point a step (100k points and more)
// and its log grows with it. runs/get read every point in one query (~200 ms on the loop at 100k
// points) and sent them all; it now reads them in time slices and thins the curve for the charts,
// keeping each step bucket's extremes. runs/logs read the whole log file to return its last lines;
// it now reads the file's tail. runs/pause, resume and cancel answered with every point too (their
// contract is a RunRecord); they now read the run's record only. (The same pattern for datasets:
// search-off-loop.test.ts.)
// In-process host, real SQLite file, real log file.

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { CHART_BUCKETS } from '../../electron/backend/library/chart-metrics.ts';
import { closeLibrary, type Library, openLibrary } from '../../electron/backend/library/library.ts';
import { runFolder } from '../../electron/backend/library/run-logs.ts';
import {
  appendMetrics,
  createRun,
  getRun,
  getRunRecord,
  type RunMetric,
  setRunStatus,
} from '../../electron/backend/library/runs.ts';
import { inProcess, tempDir, whileBusy } from './helpers.ts';

const root = tempDir('long-run-off-loop');
const POINTS = 100_000;
let b: Backend;
let lib: Library;
const { call } = inProcess(() => b);

/** A slowly falling loss with one spike and one dip, a grad-norm spike and an eval every 1000 steps. */
const point = (step: number): RunMetric => ({
  step,
  epoch: step / POINTS,
  loss: step === 54_321 ? 50 : step === 77_777 ? 0.001 : 2 - step / POINTS,
  lr: 1e-4,
  gradNorm: step === 12_345 ? 900 : 1,
  tokensPerS: 1000,
  evalLoss: step % 1000 === 999 ? 1.5 : null,
});

function runWith(points: number): number {
  const run = createRun(lib, { name: `run of ${points}` });
  const metrics = Array.from({ length: points }, (_, i) => point(i));
  for (let k = 0; k < points; k += 10_000) appendMetrics(lib, run.id, metrics.slice(k, k + 10_000));
  return run.id;
}

before(() => {
  b = createBackend(join(root, 'data'), { seedDemo: false, watchHubCache: false });
  lib = openLibrary(join(root, 'data'));
});
after(() => {
  closeLibrary(lib);
  b.close();
});

test("a long run's page leaves the loop free; its curve keeps each stretch's extremes", async () => {
  const id = runWith(POINTS);
  const { order, result } = await whileBusy(call, 'runs/get', { id });
  assert.deepEqual(order, ['datasets/list', 'runs/get']);
  const metrics = (result as { metrics: RunMetric[] }).metrics;
  assert.ok(metrics.length <= CHART_BUCKETS * 6 + 2, `${metrics.length} points sent`);
  assert.ok(metrics.length >= CHART_BUCKETS, `${metrics.length} points sent`);
  const steps = metrics.map((m) => m.step);
  assert.ok(
    steps.every((s, i) => i === 0 || s > (steps[i - 1] as number)),
    'steps ascend',
  );
  assert.equal(steps[0], 0);
  assert.equal(steps.at(-1), POINTS - 1);
  for (const s of [54_321, 77_777, 12_345]) assert.deepEqual(metrics[steps.indexOf(s)], point(s));
  assert.ok(metrics.filter((m) => m.evalLoss !== null).length >= 90, 'eval points kept');
  // The CLI's `runs show` still has every point.
  assert.equal(getRun(lib, id).metrics.length, POINTS);
});

test("a long run's controls answer with its record, not its metrics", async () => {
  const id = runWith(POINTS);
  const record = Object.keys(getRunRecord(lib, id)).sort();
  // A job holding the device keeps the resumed run queued, so it can be paused.
  let release!: () => void;
  const blocker = b.jobs.enqueue({
    kind: 'train',
    device: 'cpu',
    label: 'holds the device',
    run: () => new Promise<void>((r) => (release = r)),
  });
  try {
    setRunStatus(lib, id, 'paused');
    const resumed = (await whileBusy(call, 'runs/resume', { id })).result as Record<string, unknown>;
    assert.equal(resumed.status, 'queued');
    assert.deepEqual(Object.keys(resumed).sort(), record);
    const paused = (await whileBusy(call, 'runs/pause', { id })).result as Record<string, unknown>;
    assert.equal(paused.status, 'paused');
    assert.deepEqual(Object.keys(paused).sort(), record);
    const cancelled = (await whileBusy(call, 'runs/cancel', { id })).result as Record<string, unknown>;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.keptAdapterId, null);
    assert.deepEqual(Object.keys(cancelled).sort(), [...record, 'keptAdapterId'].sort());
  } finally {
    release();
    await blocker.done;
  }
});

test('a short run comes back with every point', async () => {
  const id = runWith(1500);
  const run = await call('runs/get', { id });
  assert.deepEqual(run.metrics, getRun(lib, id).metrics);
  assert.equal(run.metrics.length, 1500);
});

test("runs/logs reads a long log's tail, not the whole file", async () => {
  const { id } = createRun(lib, { name: 'long log' });
  const file = join(runFolder(lib, id), 'log.jsonl');
  mkdirSync(runFolder(lib, id), { recursive: true });
  const line = (i: number) => ({ at: i, source: 'trainer', text: `step ${i}: loss ${'é'.repeat(i % 50)}` });
  // Far past what a string can hold (~512 MB), as a sparse file, then lines spanning several chunks
  // and a torn last line.
  writeFileSync(file, '');
  truncateSync(file, 600 * 1024 * 1024);
  appendFileSync(
    file,
    `\n${Array.from({ length: 5000 }, (_, i) => JSON.stringify(line(i))).join('\n')}\n{"at":`,
  );
  const logs = await call('runs/logs', { id, limit: 3000 });
  assert.equal(logs.length, 3000);
  assert.deepEqual(logs[0], line(2000));
  assert.deepEqual(logs.at(-1), line(4999));
  assert.deepEqual(await call('runs/logs', { id, limit: 1 }), [line(4999)]);

  // A follower (the Runs page on a run the CLI trains) reads the tail once, then only what is
  // appended: the torn line once it is whole, and the next one.
  const tail = await call('runs/log-since', { id });
  assert.equal(tail.lines.length, 2000);
  assert.deepEqual(tail.lines.at(-1), line(4999));
  assert.deepEqual(await call('runs/log-since', { id, offset: tail.end }), { lines: [], end: tail.end });
  appendFileSync(file, `5000,"source":"trainer","text":"torn"}\n${JSON.stringify(line(5001))}\n`);
  const next = await call('runs/log-since', { id, offset: tail.end });
  assert.deepEqual(next.lines, [{ at: 5000, source: 'trainer', text: 'torn' }, line(5001)]);
  assert.deepEqual(await call('runs/log-since', { id, offset: next.end }), { lines: [], end: next.end });
});

test('a short log comes back whole', async () => {
  const { id } = createRun(lib, { name: 'short log' });
  const file = join(runFolder(lib, id), 'log.jsonl');
  mkdirSync(runFolder(lib, id), { recursive: true });
  writeFileSync(
    file,
    '{"at":1,"source":"studio","text":"queued"}\nnot json\n{"at":2,"source":"studio","text":"done"}\n',
  );
  assert.deepEqual(
    (await call('runs/logs', { id })).map((l: { text: string }) => l.text),
    ['queued', 'done'],
  );
});
