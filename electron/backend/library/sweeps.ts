// Sweeps in the library (migration run_sweeps): the runs queued together by runs/start-many. A run
// names its sweep (runs.sweep_id); a sweep knows which options it varies. The Runs page shows a
// run's sweep and offers to compare its runs (the ones not deleted since).

import type { TrainOptionKey } from '../../../native-runtime/training/options.ts';
import { type Library, parseJsonColumn } from './library.ts';

/** A run's sweep as the Runs page shows it. */
export interface RunSweep {
  id: number;
  /** The options its runs vary, in the options' order. */
  varied: TrainOptionKey[];
  /** Its runs still in the library, oldest first. */
  runIds: number[];
}

/** A new sweep varying `varied`: its id (call inside the transaction that records its runs). */
export function createSweep(lib: Library, varied: readonly TrainOptionKey[]): number {
  const row = lib.db
    .prepare('INSERT INTO sweeps (varied_json, created_at) VALUES (?, ?) RETURNING id')
    .get(JSON.stringify(varied), Date.now()) as { id: number };
  return row.id;
}

/** The sweeps `sweepIds` name (those that exist), by id: one query for a whole list of runs. */
export function sweepsByIds(lib: Library, sweepIds: Iterable<number>): Map<number, RunSweep> {
  const ids = [...new Set(sweepIds)];
  const out = new Map<number, RunSweep>();
  if (!ids.length) return out;
  const rows = lib.db
    .prepare(
      `SELECT s.id, s.varied_json, json_group_array(r.id) AS run_ids
       FROM sweeps s JOIN runs r ON r.sweep_id = s.id
       WHERE s.id IN (SELECT value FROM json_each(?))
       GROUP BY s.id`,
    )
    .all(JSON.stringify(ids)) as { id: number; varied_json: string; run_ids: string }[];
  for (const r of rows)
    out.set(r.id, {
      id: r.id,
      varied: parseJsonColumn<TrainOptionKey[]>(r.varied_json, []),
      runIds: parseJsonColumn<number[]>(r.run_ids, []).sort((a, b) => a - b),
    });
  return out;
}

/** The sweep `sweepId` names, or null (none, or its runs are all gone). */
export function sweepOf(lib: Library, sweepId: number | null): RunSweep | null {
  return sweepId === null ? null : (sweepsByIds(lib, [sweepId]).get(sweepId) ?? null);
}
