// A run's statuses, apart from runs.ts: the start-up sweeps (frozen-file-reclaim.ts), which
// library.ts runs, need them, and runs.ts builds on library.ts.

export const RUN_STATUSES = [
  'queued',
  'running',
  'paused',
  'interrupted',
  'completed',
  'failed',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Statuses a run can be resumed from: stopped on purpose (paused), by a crash or shutdown
 * (interrupted), or by an error (failed: a moved model folder or a full disk can be put right, and
 * the run then continues from its last checkpoint instead of being lost).
 */
export const RESUMABLE_STATUSES: readonly RunStatus[] = ['paused', 'interrupted', 'failed'];
