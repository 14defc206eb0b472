// What an adapter's Evaluate panel says about the evaluations it started. An evaluation can wait
// behind another and run for hours, so the panel does not hold a request open for it (one that
// timed out showed a failure while the evaluation went on): it starts one ('evaluations/start') and
// follows its job in 'evaluations/jobs'. A job that ends without a recorded evaluation was refused
// (a prompt too long, …): its reason is the panel's error; every other ending is a row of the
// adapter's evaluations, which says how it went.

import type { EvaluationJob } from './rpc/handlers.ts';

export interface FollowedJobs {
  /** 'running' while one of the adapter's evaluations runs, 'queued' while one only waits. */
  busy: 'running' | 'queued' | null;
  /** Why each of `started` that ended unrecorded did not run. */
  refused: string[];
  /** The ids of `started` that ended (no longer to be followed). */
  settled: number[];
}

export function followJobs(jobs: readonly EvaluationJob[], started: ReadonlySet<number>): FollowedJobs {
  const active = jobs.filter((j) => j.state === 'queued' || j.state === 'running');
  const ended = jobs.filter((j) => started.has(j.id) && !active.includes(j));
  return {
    busy: active.some((j) => j.state === 'running') ? 'running' : active.length ? 'queued' : null,
    refused: ended
      .filter((j) => j.evaluationId === null)
      .map((j) => j.error?.message ?? 'The evaluation stopped before it started.'),
    settled: ended.map((j) => j.id),
  };
}
