import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError } from '../../../native-runtime/errors.ts';
import { type JobProgress, JobQueue } from './queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runs one job per device at a time, in order, and different devices side by side', async () => {
  const q = new JobQueue();
  const log: string[] = [];
  const job = (name: string, device: string, ms: number) =>
    q.enqueue({
      kind: 'test',
      device,
      run: async () => {
        log.push(`start ${name}`);
        await sleep(ms);
        log.push(`end ${name}`);
        return name;
      },
    });
  const a = job('a', 'cpu', 30);
  const b = job('b', 'cpu', 5);
  const c = job('c', 'cuda:0', 5);
  assert.deepEqual(await Promise.all([a.done, b.done, c.done]), ['a', 'b', 'c']);
  // c (another device) starts before a ends; b waits for a.
  assert.ok(log.indexOf('start c') < log.indexOf('end a'));
  assert.ok(log.indexOf('end a') < log.indexOf('start b'));
  assert.equal(q.get(a.id)?.state, 'completed');
});

test('cancel drops a queued job and aborts a running one; the device stays held until it returns', async () => {
  const q = new JobQueue();
  let sawAbort = false;
  let releasedAt = 0;
  const running = q.enqueue({
    kind: 'train',
    run: (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true;
          // Simulates a training step that takes a moment to stop.
          setTimeout(() => {
            releasedAt = Date.now();
            reject(new CancelledError());
          }, 20);
        });
      }),
  });
  let nextStartedAt = 0;
  const queued = q.enqueue({ kind: 'train', run: async () => 1 });
  const next = q.enqueue({
    kind: 'train',
    run: async () => {
      nextStartedAt = Date.now();
      return 2;
    },
  });
  await sleep(5);
  assert.equal(q.cancel(queued.id), true);
  assert.equal(q.get(queued.id)?.state, 'cancelled');
  assert.equal(q.cancel(running.id), true);
  assert.equal(q.get(running.id)?.state, 'cancelled');
  await assert.rejects(running.done, CancelledError);
  assert.equal(releasedAt, 0, '`done` rejects at the cancel, before the job has returned');
  await queued.ended;
  await running.ended;
  assert.ok(releasedAt > 0, '`ended` waits for the cancelled job to return');
  await assert.rejects(queued.done, CancelledError);
  assert.equal(await next.done, 2);
  assert.ok(sawAbort);
  assert.ok(nextStartedAt >= releasedAt, 'next job started only after the cancelled one returned');
  assert.equal(q.cancel(running.id), false, 'a finished job cannot be cancelled again');
  await q.idle();
});

test('a failing job is reported as failed with a wire error, and progress is pushed', async () => {
  const events: JobProgress[] = [];
  const q = new JobQueue((p) => events.push(p));
  const j = q.enqueue({
    kind: 'export',
    run: async (ctx) => {
      ctx.report({ progress: 0.5, message: 'half', detail: { event: 'log', message: 'halfway' } });
      throw new Error('disk full');
    },
  });
  await assert.rejects(j.done, /disk full/);
  const info = q.get(j.id);
  assert.equal(info?.state, 'failed');
  assert.deepEqual(info?.error, { type: 'Error', code: 'internal', message: 'disk full' });
  assert.deepEqual(
    events.map((e) => e.state),
    ['queued', 'running', 'running', 'failed'],
  );
  assert.deepEqual(events[2].detail, { event: 'log', message: 'halfway' });
  assert.equal(events[1].detail, null, 'a state change carries no detail');
  assert.equal(events[2].progress, 0.5);
});
