// Every evaluation from the moment it is queued (the studio's) or about to start (the CLI's
// `evaluate`, job_id NULL) until the engine has let go of it, in the database (evaluation_jobs)
// rather than only in one process's memory: an evaluation's own row (evaluations.ts) exists only
// once the engine has checked the request, and a process beside it (the CLI beside the studio, or
// the studio beside a CLI evaluation) must see it too. What reads them: removing an
// adapter or a model (refused while a job uses it: checkNoEvaluationJobUses) and the frozen files'
// reclaim and start-up sweep (frozen-file-reclaim.ts keeps the files they name). A job whose
// process died is marked 'interrupted' at the next start-up (db/database.ts, by its owner lock).

import { existsSync } from 'node:fs';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { evaluationJobLeftUnmarked, writeTransaction } from '../db/database.ts';
import type { Library } from './library-handle.ts';

/** 'stopping': cancelled, and the engine may still read its files until it notices. */
export type EvaluationJobStatus = 'queued' | 'running' | 'stopping' | 'ended' | 'interrupted';

/** The statuses of a job that may still read its adapter, model and dataset file. */
export const ACTIVE_EVALUATION_JOB = `status IN ('queued', 'running', 'stopping')`;

/**
 * Records a job as queued, owned by this process; returns its row id. Under the write lock, so a
 * removal in another process either has committed (what it removed is missing: refused here) or
 * will see the job. The CLI's (jobId null) starts 'running'; its adapter or model may be a folder
 * outside the library (null).
 */
export function recordEvaluationJob(
  lib: Library,
  j: {
    jobId: number | null;
    adapterId: number | null;
    modelId: number | null;
    /** The base model's fingerprint: its converted weights stay while the job reads them. */
    modelFingerprint: string;
    dataPath: string;
  },
): number {
  return writeTransaction(lib.db, () => {
    const gone = (table: 'adapters' | 'models', id: number | null) =>
      id !== null && lib.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id) === undefined;
    const missing = gone('adapters', j.adapterId)
      ? `adapter ${j.adapterId}`
      : gone('models', j.modelId)
        ? `model ${j.modelId}`
        : !existsSync(j.dataPath)
          ? 'its dataset version'
          : null;
    if (missing)
      throw new ValidationError(
        'not-found',
        `${missing} was removed meanwhile; ${j.jobId === null ? 'nothing was evaluated' : 'nothing was queued'}`,
      );
    const r = lib.db
      .prepare(
        `INSERT INTO evaluation_jobs
           (job_id, adapter_id, model_id, model_fingerprint, data_path, status, owner_token, owner_pid, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        j.jobId,
        j.adapterId,
        j.modelId,
        j.modelFingerprint,
        j.dataPath,
        j.jobId === null ? 'running' : 'queued',
        lib.owner.token,
        process.pid,
        Date.now(),
      );
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

/**
 * Marks the job 'stopping' once `signal` aborts (a cancel, a Ctrl-C): the engine may read its files
 * until it notices. Housekeeping: a failed write leaves it 'running' until it ends.
 */
export function markStoppingOnAbort(lib: Library, id: number, signal: AbortSignal): void {
  const stopping = () => {
    try {
      setEvaluationJobStatus(lib, id, 'stopping');
    } catch {}
  };
  signal.addEventListener('abort', stopping, { once: true });
}

/**
 * How many ended or interrupted jobs the start-up keeps. Nothing reads an ended row but the largest
 * job id (nextEvaluationJobId), always kept; the newest few hundred stay as a trace of recent
 * evaluations (which process ran one, whether it was interrupted), a few tens of KB. Pruned only
 * past twice as many, so most start-ups (every CLI command is one) read one row and write nothing.
 */
export const KEPT_ENDED_EVALUATION_JOBS = 200;

/** At start-up: deletes the ended and interrupted jobs beyond the newest KEPT_ENDED_EVALUATION_JOBS. */
export function pruneEndedEvaluationJobs(lib: Library): number {
  const endedAt = (offset: number) =>
    lib.db
      .prepare(
        `SELECT id FROM evaluation_jobs WHERE NOT ${ACTIVE_EVALUATION_JOB} ORDER BY id DESC LIMIT 1 OFFSET ?`,
      )
      .pluck()
      .get(offset) as number | undefined;
  if (endedAt(2 * KEPT_ENDED_EVALUATION_JOBS) === undefined) return 0;
  return writeTransaction(lib.db, () => {
    const last = endedAt(KEPT_ENDED_EVALUATION_JOBS);
    if (last === undefined) return 0;
    return lib.db
      .prepare(
        `DELETE FROM evaluation_jobs WHERE id <= ? AND NOT ${ACTIVE_EVALUATION_JOB}
           AND id IS NOT (SELECT id FROM evaluation_jobs ORDER BY job_id DESC LIMIT 1)`,
      )
      .run(last).changes;
  });
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
  const jobs = lib.db
    .prepare(
      `SELECT id, job_id AS jobId, owner_pid AS pid, status FROM evaluation_jobs
       WHERE ${kind === 'adapter' ? 'adapter_id' : 'model_id'} = ? AND ${ACTIVE_EVALUATION_JOB}
       ORDER BY id`,
    )
    .all(what.id) as Array<{
    id: number;
    jobId: number | null;
    pid: number | null;
    status: EvaluationJobStatus;
  }>;
  // One whose process died but that a full disk kept from being marked has ended (interruptDeadOwners).
  const job = jobs.find((j) => !evaluationJobLeftUnmarked(lib.db, j.id));
  if (!job) return;
  // The CLI's has no job id: its process is what the user can find (and stop with Ctrl-C).
  const user =
    job.jobId === null
      ? `an evaluation the CLI is ${job.status === 'stopping' ? 'stopping' : 'running'} (process ${job.pid})`
      : `evaluation job ${job.jobId}, which is ${job.status}`;
  const then =
    job.status === 'stopping'
      ? 'try again in a moment'
      : job.jobId === null
        ? 'stop it or let it finish first'
        : 'cancel it or let it finish first';
  throw new ValidationError('in-use', `${kind} ${what.id} (${what.name}) is used by ${user}; ${then}`);
}
