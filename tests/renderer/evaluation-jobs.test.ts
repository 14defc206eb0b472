// What the Evaluate panel says about the evaluations it follows (renderer/src/lib/evaluation-jobs.ts):
// busy while one of the adapter's jobs waits or runs, and, for a job it started that ended without a
// recorded evaluation, the reason as its error; an evaluation that was recorded (whatever its end) is
// said by its row, not by an error, and one cancelled before it ran by nothing. Cancel stops the
// running job, else the next to run; the count of examples reads for people, and a running
// evaluation's row shows it live; the jobs a window started outlive its panel, but not their end or
// their adapter. The backend side: tests/backend/evaluation-jobs.test.ts and
// evaluation-cancel.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  examplesCell,
  examplesText,
  followJobs,
  StartedJobs,
  startedJobs,
} from '../../renderer/src/lib/evaluation-jobs.ts';
import type { EvaluationJob } from '../../renderer/src/lib/rpc/handlers.ts';

function job(
  id: number,
  state: EvaluationJob['state'],
  evaluationId: number | null,
  error?: string,
): EvaluationJob {
  return {
    id,
    kind: 'evaluate',
    device: 'evaluations',
    label: null,
    runId: null,
    state,
    progress: null,
    message: null,
    error: error ? { type: 'ConfigError', code: 'prompt-too-long', message: error } : null,
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    adapterId: 1,
    evaluationId,
    examples: null,
  };
}

test('busy while a job waits or runs, however long: no request is held open to time out', () => {
  assert.equal(followJobs([job(2, 'queued', null), job(1, 'running', 5)], new Set([2])).busy, 'running');
  assert.equal(followJobs([job(2, 'queued', null), job(1, 'completed', 5)], new Set([2])).busy, 'queued');
  assert.equal(followJobs([job(1, 'completed', 5)], new Set()).busy, null);
  assert.deepEqual(followJobs([job(2, 'queued', null)], new Set([2])).settled, [], 'still followed');
});

test('a started job that ended unrecorded is refused, with its reason; a recorded one is not an error', () => {
  const f = followJobs(
    [
      job(4, 'failed', null, 'dataset “long” v1: line 1: the prompt has 600 tokens'),
      job(3, 'failed', 7, 'out of memory'),
      job(2, 'failed', null),
      job(1, 'failed', null, 'started elsewhere'),
    ],
    new Set([2, 3, 4]),
  );
  assert.deepEqual(f.refused, [
    'dataset “long” v1: line 1: the prompt has 600 tokens',
    'The evaluation stopped before it started.',
  ]);
  assert.deepEqual(f.settled, [4, 3, 2]);
  assert.equal(f.busy, null);
});

test('a job cancelled before it ran is no error: the user asked for it', () => {
  // Bug: it read "The evaluation stopped before it started." under "Evaluation failed."
  const f = followJobs([job(2, 'cancelled', null), job(1, 'cancelled', 4)], new Set([1, 2]));
  assert.deepEqual(f.refused, []);
  assert.deepEqual(f.settled, [2, 1]);
});

test('Cancel stops the running job, else the one that runs next', () => {
  const running = followJobs(
    [job(3, 'queued', null), job(2, 'running', 5), job(1, 'completed', 4)],
    new Set(),
  );
  assert.equal(running.current?.id, 2);
  // Newest first: job 2 was queued first, so it runs next.
  assert.equal(followJobs([job(3, 'queued', null), job(2, 'queued', null)], new Set()).current?.id, 2);
  assert.equal(followJobs([job(1, 'cancelled', null)], new Set()).current, null);
});

test('the count reads for people; none before the first example', () => {
  assert.equal(examplesText({ done: 12, total: 40 }), '12 of 40 examples');
  assert.equal(examplesText(null), null);
});

test('the jobs a window started outlive its panel, per adapter', () => {
  // Bug: a panel closed and opened again before its evaluation was refused forgot it had started
  // it, so the refusal was never said.
  startedJobs.add(7, 11);
  const reopened = startedJobs.of(7);
  assert.ok(reopened.has(11));
  assert.deepEqual(followJobs([job(11, 'failed', null, 'too long')], reopened).refused, ['too long']);
  assert.ok(!startedJobs.of(8).has(11), "another adapter's");
  startedJobs.settle(7, 11);
});

test('an adapter is forgotten once its jobs have settled or it was removed', () => {
  // Bug: every adapter a window had evaluated kept an entry for as long as the window was open.
  const started = new StartedJobs();
  started.add(1, 10);
  started.add(1, 11);
  started.add(2, 12);
  started.settle(1, 10);
  assert.deepEqual([...started.of(1)], [11], 'one still followed');
  started.settle(1, 11);
  assert.equal(started.of(1).size, 0);
  assert.equal(started.adapters, 1, 'all of its jobs settled');
  started.forgetAdapter(2);
  assert.equal(started.adapters, 0, 'removed');
  started.settle(3, 1); // unknown: nothing to do
  assert.equal(started.adapters, 0);
});

test("a running evaluation's row shows its live count, not a dash", () => {
  // Bug: "—" under Examples while the count was only in the line below the form.
  const running = { ...job(2, 'running', 5), examples: { done: 4, total: 40 } };
  const ev = { id: 5, status: 'running', examples: null };
  assert.equal(examplesCell(ev, [running], {}), '4 of 40', 'as listed');
  assert.equal(examplesCell(ev, [running], { 2: { done: 12, total: 40 } }), '12 of 40', 'as pushed');
  assert.equal(examplesCell(ev, [running], { 2: { done: 1, total: 40 } }), '4 of 40', 'a late push');
  assert.equal(examplesCell(ev, [{ ...running, examples: null }], {}), '—', 'before the first example');
  assert.equal(examplesCell(ev, [], {}), '—', 'run elsewhere (the CLI): no job to read');
  const ended = { id: 5, status: 'completed', examples: 40 };
  assert.equal(examplesCell(ended, [{ ...running, state: 'completed' }], {}), '40', 'its stored count');
});
