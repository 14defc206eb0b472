// Evaluation jobs' rows (evaluation-jobs.ts) are kept past their end only as far as something needs
// them: before, every evaluation ever queued or run (the studio's and the CLI's) left a row forever.
// The start-up prunes ended and interrupted rows beyond the newest few hundred, never an active one
// nor the one with the largest job id (the next studio's job ids continue past it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testLibraries } from '../../../tests/helpers/libraries.ts';
import { KEPT_ENDED_EVALUATION_JOBS, nextEvaluationJobId } from './evaluation-jobs.ts';
import { closeLibrary } from './library.ts';

const { open } = testLibraries('reft-evaluation-jobs-');

test('the start-up prunes old ended evaluation jobs, keeping active ones and the largest job id', () => {
  const lib = open();
  const ins = lib.db.prepare(
    "INSERT INTO evaluation_jobs (job_id, data_path, status, owner_token, created_at) VALUES (?, '/d.jsonl', ?, ?, 0)",
  );
  const token = lib.owner.token;
  const active = Number(ins.run(1, 'running', token).lastInsertRowid);
  const many = 3 * KEPT_ENDED_EVALUATION_JOBS;
  lib.db.transaction(() => {
    for (let i = 0; i < many; i++) ins.run(null, i % 2 ? 'ended' : 'interrupted', token);
  })();
  // The largest job id on an old row: a row a restart numbers past, whatever its age.
  lib.db.prepare('UPDATE evaluation_jobs SET job_id = 9000 WHERE id = ?').run(active + 1);
  const count = () => lib.db.prepare('SELECT COUNT(*) FROM evaluation_jobs').pluck().get() as number;
  assert.equal(count(), many + 1);
  closeLibrary(lib);

  const again = open(lib.dataDir);
  const ids = again.db.prepare('SELECT id FROM evaluation_jobs ORDER BY id').pluck().all() as number[];
  assert.equal(ids.length, KEPT_ENDED_EVALUATION_JOBS + 2, 'the newest ones, the active one, the largest id');
  assert.deepEqual(ids.slice(0, 2), [active, active + 1]);
  assert.equal(ids[2], active + many - KEPT_ENDED_EVALUATION_JOBS + 1);
  assert.equal(nextEvaluationJobId(again), 9001);
});
