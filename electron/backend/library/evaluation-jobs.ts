// The studio's evaluations from the moment they are queued until the engine has let go of them, in
// the database (evaluation_jobs) rather than only in the studio's memory: an evaluation's own row
// (evaluations.ts) exists only once the engine has checked the request, and a process beside the
// studio (the CLI on the same data folder) must see a queued one too. What reads them: removing an
// adapter or a model (refused while a job uses it: checkNoEvaluationJobUses) and the frozen files'
// reclaim and start-up sweep (frozen-file-reclaim.ts keeps the files they name). A job whose
// process died is marked 'interrupted' at the next start-up (db/database.ts, by its owner lock).

import { existsSync } from 'node:fs';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { writeTransaction } from '../db/database.ts';
import type { Library } from './library-handle.ts';

/** 'stopping': cancelled, and the engine may still read its files until it notices. */
export type EvaluationJobStatus = 'queued' | 'running' | 'stopping' | 'ended' | 'interrupted';

/** The statuses of a job that may still read its adapter, model and dataset file. */
export const ACTIVE_EVALUATION_JOB = `status IN ('queued', 'running', 'stopping')`;

/**
 * Records a job as queued, owned by this process; returns its row id. Under the write lock, so a
 * removal in another process either has committed (what it removed is missing: refused here) or
 * will see the job.
 */
export function recordEvaluationJob(
  lib: Library,
  j: { jobId: number; adapterId: number; modelId: number; dataPath: string },
): number {
  return writeTransaction(lib.db, () => {
    const has = (table: 'adapters' | 'models', id: number) =>
      lib.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id) !== undefined;
    const gone = !has('adapters', j.adapterId)
      ? `adapter ${j.adapterId}`
      : !has('models', j.modelId)
        ? `model ${j.modelId}`
        : !existsSync(j.dataPath)
          ? 'its dataset version'
          : null;
    if (gone) throw new ValidationError('not-found', `${gone} was removed meanwhile; nothing was queued`);
    const r = lib.db
      .prepare(
        `INSERT INTO evaluation_jobs (job_id, adapter_id, model_id, data_path, status, owner_token, created_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?)`,
      )
      .run(j.jobId, j.adapterId, j.modelId, j.dataPath, lib.owner.token, Date.now());
    return Number(r.lastInsertRowid);
  });
}

/** Moves a job on; an ended (or interrupted) one stays so. */
export function setEvaluationJobStatus(
  lib: Library,
  id: number,
  status: Exclude<EvaluationJobStatus, 'queued' | 'interrupted'>,
): void {
  lib.db
    .prepare(`UPDATE evaluation_jobs SET status = ? WHERE id = ? AND ${ACTIVE_EVALUATION_JOB}`)
    .run(status, id);
}

/** The dataset files the jobs not yet ended read (in any process). */
export function evaluationJobFiles(lib: Library): string[] {
  return lib.db
    .prepare(`SELECT DISTINCT data_path FROM evaluation_jobs WHERE ${ACTIVE_EVALUATION_JOB}`)
    .pluck()
    .all() as string[];
}

/**
 * The first job id a new studio process may give: past every evaluation job recorded, so that a
 * window that remembers a job it started before a restart never takes a new one for it.
 */
export function nextEvaluationJobId(lib: Library): number {
  return lib.db.prepare('SELECT COALESCE(MAX(job_id), 0) + 1 FROM evaluation_jobs').pluck().get() as number;
}

/**
 * Refuses ('in-use') to remove an adapter or model that an evaluation job not yet ended uses: its
 * folder would go under the evaluation, which then fails. Called inside the removal's write
 * transaction, so a job queued meanwhile in another process is either seen or queued after it.
 */
export function checkNoEvaluationJobUses(
  lib: Library,
  kind: 'adapter' | 'model',
  what: { id: number; name: string },
): void {
  const job = lib.db
    .prepare(
      `SELECT job_id AS jobId, status FROM evaluation_jobs
       WHERE ${kind === 'adapter' ? 'adapter_id' : 'model_id'} = ? AND ${ACTIVE_EVALUATION_JOB}
       ORDER BY id LIMIT 1`,
    )
    .get(what.id) as { jobId: number; status: EvaluationJobStatus } | undefined;
  if (!job) return;
  throw new ValidationError(
    'in-use',
    `${kind} ${what.id} (${what.name}) is used by evaluation job ${job.jobId}, which is ${job.status === 'stopping' ? 'stopping; try again in a moment' : `${job.status}; cancel it or let it finish first`}`,
  );
}
