// The runs and evaluations that a removal must not pull a model or adapter from under: those that
// read 'queued' or 'running' as the lists read them (runs.ts, evaluations.ts). One whose process
// died but that could not be marked yet (a full disk: db/database.ts interruptDeadOwners) reads
// 'interrupted' there, and uses nothing here either: the removal used to be refused as "in use"
// by a run the Runs page showed as interrupted.

import { evaluationLeftUnmarked, runLeftUnmarked } from '../db/database.ts';
import type { Library } from './library-handle.ts';

export interface WorkInUse {
  kind: 'run' | 'evaluation';
  id: number;
  status: string;
}

/** The first run or evaluation still using the model (or the adapter: evaluations only), if any. */
export function workUsing(
  lib: Library,
  what: { model: number } | { adapter: number },
): WorkInUse | undefined {
  if ('model' in what) {
    const runs = lib.db
      .prepare(
        "SELECT id, status, owner_token FROM runs WHERE model_id = ? AND status IN ('queued', 'running') ORDER BY id",
      )
      .all(what.model) as Array<{ id: number; status: string; owner_token: string | null }>;
    const run = runs.find((r) => !runLeftUnmarked(lib.db, r.id, r.owner_token));
    if (run) return { kind: 'run', id: run.id, status: run.status };
  }
  const column = 'model' in what ? 'model_id' : 'adapter_id';
  const evaluations = lib.db
    .prepare(`SELECT id FROM evaluations WHERE ${column} = ? AND status = 'running' ORDER BY id`)
    .pluck()
    .all('model' in what ? what.model : what.adapter) as number[];
  const evaluation = evaluations.find((id) => !evaluationLeftUnmarked(lib.db, id));
  return evaluation === undefined ? undefined : { kind: 'evaluation', id: evaluation, status: 'running' };
}
