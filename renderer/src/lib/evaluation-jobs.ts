// What an adapter's Evaluate panel says about the evaluations it started. An evaluation can wait
// behind another and run for hours, so the panel does not hold a request open for it (one that
// timed out showed a failure while the evaluation went on): it starts one ('evaluations/start') and
// follows its job in 'evaluations/jobs'. A job that failed without a recorded evaluation was refused
// (a prompt too long, …): its reason is the panel's error; every other ending is a row of the
// adapter's evaluations, which says how it went, or (cancelled before it ran) nothing at all.

import { formatCount, text } from './format.ts';
import type { EvaluationJob } from './rpc/handlers.ts';

export interface FollowedJobs {
  /** 'running' while one of the adapter's evaluations runs, 'queued' while one only waits. */
  busy: 'running' | 'queued' | null;
  /** The job the panel's Cancel stops and whose count it shows: the running one, else the next to run. */
  current: EvaluationJob | null;
  /** Why each of `started` that ended unrecorded did not run. */
  refused: string[];
  /** The ids of `started` that ended (no longer to be followed). */
  settled: number[];
}

export function followJobs(jobs: readonly EvaluationJob[], started: ReadonlySet<number>): FollowedJobs {
  const active = jobs.filter((j) => j.state === 'queued' || j.state === 'running');
  const ended = jobs.filter((j) => started.has(j.id) && !active.includes(j));
  const running = active.find((j) => j.state === 'running');
  return {
    busy: running ? 'running' : active.length ? 'queued' : null,
    // `jobs` is newest first: the oldest queued one runs next.
    current: running ?? active.at(-1) ?? null,
    // A cancel is what someone asked for, not an error.
    refused: ended
      .filter((j) => j.evaluationId === null && j.state !== 'cancelled')
      .map((j) => j.error?.message ?? 'The evaluation stopped before it started.'),
    settled: ended.map((j) => j.id),
  };
}

/** Per adapter, the jobs this window started and still follows. */
export class StartedJobs {
  #byAdapter = new Map<number, Set<number>>();

  /** The ids of the jobs started for `adapterId` and still followed. */
  of(adapterId: number): ReadonlySet<number> {
    return this.#byAdapter.get(adapterId) ?? new Set();
  }

  add(adapterId: number, jobId: number): void {
    const s = this.#byAdapter.get(adapterId) ?? new Set<number>();
    this.#byAdapter.set(adapterId, s);
    s.add(jobId);
  }

  /** A job that has ended is no longer followed; an adapter with none left is forgotten. */
  settle(adapterId: number, jobId: number): void {
    const s = this.#byAdapter.get(adapterId);
    s?.delete(jobId);
    if (s?.size === 0) this.#byAdapter.delete(adapterId);
  }

  /** The adapter was removed: nothing of it is followed any more. */
  forgetAdapter(adapterId: number): void {
    this.#byAdapter.delete(adapterId);
  }

  /** How many adapters have jobs followed (each window keeps only those, not every adapter it saw). */
  get adapters(): number {
    return this.#byAdapter.size;
  }
}

// The jobs each adapter's panel started, kept by this window beyond the panel: closed and opened
// again before one was refused, the panel still says why (the backend keeps the reason in the
// job's `error`, but not which window asked).
export const startedJobs = new StartedJobs();

type Count = NonNullable<EvaluationJob['examples']>;

/** A job's count of examples: the latest pushed one once it is ahead of the count it was listed with. */
export function latestCount(job: EvaluationJob, pushed: Count | undefined): Count | null {
  return pushed && pushed.done >= (job.examples?.done ?? 0) ? pushed : job.examples;
}

/**
 * An evaluation row's Examples: its stored count, or while it runs in one of `jobs` the live count
 * ("12 of 40"; it was "—" there while the count was only in the line below the form).
 */
export function examplesCell(
  ev: { id: number; status: string; examples: number | null },
  jobs: readonly EvaluationJob[],
  pushed: Readonly<Record<number, Count>>,
): string {
  const job = ev.status === 'running' ? jobs.find((j) => j.evaluationId === ev.id) : undefined;
  const live = job?.state === 'running' ? latestCount(job, pushed[job.id]) : null;
  if (live) return `${formatCount(live.done)} of ${formatCount(live.total)}`;
  return text(ev.examples);
}

/** How far a running evaluation has got, for people: "12 of 40 examples". */
export function examplesText(examples: EvaluationJob['examples']): string | null {
  return examples ? `${examples.done} of ${examples.total} examples` : null;
}
