// How fast a running run goes, from what is stored: the Runs page's ETA and tokens/s for a run that
// another process trains (`reft-studio train` beside the studio), which sends the studio no
// 'jobs/progress' pushes — those carry the numbers for the studio's own jobs.
//
// The trainer's figures are its session's: tokens/s is stored with every step (the session's
// average, as pushed), and its ETA is the steps left times the session's mean step time. Stored
// steps carry the time they were written instead: the median time between consecutive recent
// steps stands for the step time — a median, because a resumed run's first step comes after the
// model's load, and the steps restored from its checkpoint were all written at one instant.

import type { Library } from './library-handle.ts';
import type { RunRecord } from './runs.ts';

export interface RunPace {
  /** Seconds to the last step at the recent pace; null until two steps were timed. */
  etaS: number | null;
  tokensPerS: number | null;
}

/** Recent steps looked at: enough for a steady median, few enough to follow a change of pace. */
const RECENT_STEPS = 21;

/** The pace of a running run from its stored steps; null for a run not running or without a step. */
export function runPace(lib: Library, run: Pick<RunRecord, 'id' | 'status' | 'totalSteps'>): RunPace | null {
  if (run.status !== 'running') return null;
  const rows = lib.db
    .prepare(
      `SELECT step, tokens_per_s AS tokensPerS, created_at AS at FROM run_metrics
       WHERE run_id = ? ORDER BY step DESC LIMIT ${RECENT_STEPS}`,
    )
    .all(run.id) as Array<{ step: number; tokensPerS: number | null; at: number }>;
  if (rows.length === 0) return null;
  const msPerStep: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const ms = rows[i - 1].at - rows[i].at;
    if (ms > 0) msPerStep.push(ms / (rows[i - 1].step - rows[i].step));
  }
  msPerStep.sort((a, b) => a - b);
  const median = msPerStep.length ? msPerStep[Math.floor(msPerStep.length / 2)] : null;
  const left = run.totalSteps !== null ? Math.max(0, run.totalSteps - rows[0].step) : null;
  return {
    etaS: median !== null && left !== null ? (left * median) / 1000 : null,
    tokensPerS: rows[0].tokensPerS,
  };
}
