// Evaluations of adapters, stored with the adapter: which dataset version, which kind (loss,
// exact-match, multiple-choice, compare), the metrics and sample outputs. A row is inserted as
// 'running' once the engine has checked the request (its 'start'; a refused or never-started request
// is the caller's error, not history), before the models load, so a crash leaves a visible
// 'interrupted' row (set by the first start-up check whose owner lock is gone, db/database.ts), never
// a silent gap; the studio closing leaves the same status.

import { ValidationError } from '../../../native-runtime/errors.ts';
import type { EvalKind, EvalSample } from '../../../native-runtime/evaluation/evaluate.ts';
import type { DeviceUsed } from '../../../native-runtime/runtime/device-choice.ts';
import { evaluationLeftUnmarked } from '../db/database.ts';
import { type Library, parseJsonColumn } from './library.ts';

export type EvaluationStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';

export interface EvaluationRecord {
  id: number;
  adapterId: number | null;
  modelId: number | null;
  datasetVersionId: number | null;
  kind: EvalKind;
  status: EvaluationStatus;
  metrics: Record<string, number>;
  samples: EvalSample[];
  examples: number | null;
  error: string | null;
  /** Where it ran (the provider, and why not the device asked for); null until it has run. */
  device: DeviceUsed | null;
  createdAt: number;
}

interface Row {
  id: number;
  adapter_id: number | null;
  model_id: number | null;
  dataset_version_id: number | null;
  kind: EvalKind;
  status: EvaluationStatus;
  metrics_json: string;
  created_at: number;
}

interface Stored {
  metrics?: Record<string, number>;
  samples?: EvalSample[];
  examples?: number;
  error?: string;
  device?: DeviceUsed;
}

/**
 * An evaluation as stored, except one the start-up check found without a live owner but could not
 * mark on a full disk (db/database.ts): it reads as the marking would have left it, as runs do.
 */
function toRecord(lib: Library, r: Row): EvaluationRecord {
  const s = parseJsonColumn<Stored>(r.metrics_json, {});
  const unmarked = r.status === 'running' && evaluationLeftUnmarked(lib.db, r.id);
  return {
    id: r.id,
    adapterId: r.adapter_id,
    modelId: r.model_id,
    datasetVersionId: r.dataset_version_id,
    kind: r.kind,
    status: unmarked ? 'interrupted' : r.status,
    metrics: s.metrics ?? {},
    samples: s.samples ?? [],
    examples: s.examples ?? null,
    error: s.error ?? null,
    device: s.device ?? null,
    createdAt: r.created_at,
  };
}

export function createEvaluation(
  lib: Library,
  e: { adapterId: number; modelId: number | null; datasetVersionId: number; kind: EvalKind },
): EvaluationRecord {
  // The version may have been removed while the evaluation waited (its file is held until it ends):
  // then it is recorded without one, as it would be had the version gone after it.
  const row = lib.db
    .prepare(
      `INSERT INTO evaluations (adapter_id, model_id, dataset_version_id, kind, status, metrics_json, owner_token, created_at)
       VALUES (?, ?, (SELECT id FROM dataset_versions WHERE id = ?), ?, 'running', '{}', ?, ?) RETURNING *`,
    )
    .get(e.adapterId, e.modelId, e.datasetVersionId, e.kind, lib.owner.token, Date.now()) as Row;
  return toRecord(lib, row);
}

/** JSON has no Infinity/NaN: such metrics are stored as null and dropped on read. */
function finiteMetrics(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

export function finishEvaluation(
  lib: Library,
  id: number,
  result: {
    status: EvaluationStatus;
    metrics?: Record<string, number>;
    samples?: EvalSample[];
    examples?: number;
    error?: string;
    device?: DeviceUsed;
  },
): EvaluationRecord {
  const stored: Stored = {
    metrics: finiteMetrics(result.metrics ?? {}),
    samples: result.samples ?? [],
    examples: result.examples,
    error: result.error,
    device: result.device,
  };
  lib.db
    .prepare('UPDATE evaluations SET status = ?, metrics_json = ? WHERE id = ?')
    .run(result.status, JSON.stringify(stored), id);
  return getEvaluation(lib, id);
}

export function getEvaluation(lib: Library, id: number): EvaluationRecord {
  const row = lib.db.prepare('SELECT * FROM evaluations WHERE id = ?').get(id) as Row | undefined;
  if (!row) throw new ValidationError('not-found', `no evaluation with id ${id}`);
  return toRecord(lib, row);
}

export function listEvaluations(lib: Library, filter: { adapterId?: number } = {}): EvaluationRecord[] {
  const rows =
    filter.adapterId !== undefined
      ? lib.db
          .prepare('SELECT * FROM evaluations WHERE adapter_id = ? ORDER BY id DESC')
          .all(filter.adapterId)
      : lib.db.prepare('SELECT * FROM evaluations ORDER BY id DESC').all();
  return (rows as Row[]).map((r) => toRecord(lib, r));
}
