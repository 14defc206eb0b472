// What the Evaluate panel says about the evaluations it follows (renderer/src/lib/evaluation-jobs.ts):
// busy while one of the adapter's jobs waits or runs, and, for a job it started that ended without a
// recorded evaluation, the reason as its error; an evaluation that was recorded (whatever its end) is
// said by its row, not by an error. The backend side: tests/backend/evaluation-jobs.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { followJobs } from '../../renderer/src/lib/evaluation-jobs.ts';
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
      job(2, 'cancelled', null),
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
