// The Runs page's list (runs/list): each run as its row shows it, and no more. A full RunRecord
// carries the run's whole configuration and system information; at 2,000 runs the list was 3 MB,
// parsed from JSON and sent again after every change — each second while a CLI training ran
// beside the studio. A row shows the run's name, status, model, data, device, steps and loss; the
// run's page reads the full record with runs/get. The CLI's `runs list` keeps full records.
//
// The page can also ask for some runs only (`ids`: the ones a 'library/changed' push names) and
// search (`query`: every word must match the run's name, status, model, dataset or sweep).

import { runAskedDevice } from '../../../native-runtime/runtime/device-choice.ts';
import { runLeftUnmarked } from '../db/database.ts';
import type { Library } from './library-handle.ts';
import { type RunPace, runPace } from './run-pace.ts';
import { LAST_METRIC_JOIN, type RunRecord, type RunStatus, runStoppedEarly } from './runs.ts';
import { type RunSweep, sweepsByIds } from './sweeps.ts';

/** A run as the Runs page lists it. */
export type RunListEntry = Pick<
  RunRecord,
  | 'id'
  | 'name'
  | 'status'
  | 'modelId'
  | 'datasetVersionId'
  | 'createdAt'
  | 'totalSteps'
  | 'lastStep'
  | 'lastLoss'
  | 'stoppedEarly'
  | 'device'
  | 'deviceFallback'
> & {
  /** The device the run's config asked for (its `device` option; the CPU where it names none). */
  askedDevice: string;
  pace: RunPace | null;
  /**
   * How far a running run's data preparation is, where the process training it recorded it (the
   * CLI's: the studio's own runs report it on their job's 'jobs/progress'); null otherwise.
   */
  preparing: { done: number; total: number } | null;
  /** The sweep it was queued in, with the sweep's runs ("Compare this sweep"), or null. */
  sweep: RunSweep | null;
};

export interface RunListFilter {
  status?: RunStatus;
  /** Only these runs (those a change names); one deleted or not matching is left out. */
  ids?: readonly number[];
  /** Free text, case-insensitive: every word matches the name, status, model, dataset or "sweep N". */
  query?: string;
}

interface Row {
  id: number;
  name: string | null;
  status: RunStatus;
  model_id: number | null;
  dataset_version_id: number | null;
  created_at: number;
  total_steps: number | null;
  device: string | null;
  device_fallback: string | null;
  sweep_id: number | null;
  owner_token: string | null;
  prepared_rows: number | null;
  prepare_total: number | null;
  asked_device: unknown;
  patience: unknown;
  model_name: string | null;
  dataset_name: string | null;
  last_step: number | null;
  last_loss: number | null;
}

// The config's device and patience only (json_extract), not the config: parsing every run's config was most of
// the list's time. The model and dataset names are for the search.
const SELECT_ROWS = `SELECT r.id, r.name, r.status, r.model_id, r.dataset_version_id, r.created_at,
    r.total_steps, r.device, r.device_fallback, r.sweep_id, r.owner_token, r.prepared_rows, r.prepare_total,
    json_extract(r.config_json, '$.device') AS asked_device,
    json_extract(r.config_json, '$.earlyStoppingPatience') AS patience,
    md.name AS model_name, d.name || ' v' || v.version AS dataset_name,
    m.step AS last_step, m.loss AS last_loss
  FROM runs r
  LEFT JOIN models md ON md.id = r.model_id
  LEFT JOIN dataset_versions v ON v.id = r.dataset_version_id
  LEFT JOIN datasets d ON d.id = v.dataset_id
  ${LAST_METRIC_JOIN}`;

/**
 * A search's terms, each a test of one lower-cased field: a word matches as part of the field, but
 * "sweep 3" and "run 3" (the names the page gives) are one term matching that number whole — the
 * words apart would find any sweep's run with a 3 in its name, and "sweep 3" would find sweep 13.
 */
function searchTerms(query: string): ((field: string) => boolean)[] {
  const parts = query.toLowerCase().match(/\b(?:sweep|run)\s+\d+\b|\S+/g) ?? [];
  return parts.map((part) => {
    const numbered = /^(sweep|run)\s+(\d+)$/.exec(part);
    if (!numbered) return (field) => field.includes(part);
    const whole = new RegExp(`\\b${numbered[1]} ${numbered[2]}(?!\\d)`);
    return (field) => whole.test(field);
  });
}

/** Runs newest first, as the Runs page lists them. */
export function listRunEntries(lib: Library, filter: RunListFilter = {}): RunListEntry[] {
  const ids = filter.ids;
  const rows = (
    ids
      ? lib.db
          .prepare(`${SELECT_ROWS} WHERE r.id IN (SELECT value FROM json_each(?)) ORDER BY r.id DESC`)
          .all(JSON.stringify(ids))
      : lib.db.prepare(`${SELECT_ROWS} ORDER BY r.id DESC`).all()
  ) as Row[];
  const terms = searchTerms(filter.query ?? '');
  // Every sweep the rows name, read at once (not one query per row).
  const sweeps = sweepsByIds(
    lib,
    rows.flatMap((r) => (r.sweep_id === null ? [] : [r.sweep_id])),
  );
  const out: RunListEntry[] = [];
  for (const r of rows) {
    // A run left unmarked on a full disk reads as interrupted (as runs.ts's toRecord reads it).
    const status = runLeftUnmarked(lib.db, r.id, r.owner_token) ? 'interrupted' : r.status;
    if (filter.status && status !== filter.status) continue;
    if (terms.length) {
      const hay = [
        r.name ?? `run ${r.id}`,
        status,
        r.model_name ?? '',
        r.dataset_name ?? '',
        r.sweep_id === null ? '' : `sweep ${r.sweep_id}`,
      ].map((x) => x.toLowerCase());
      if (!terms.every((t) => hay.some((h) => t(h)))) continue;
    }
    const entry = {
      id: r.id,
      name: r.name,
      status,
      modelId: r.model_id,
      datasetVersionId: r.dataset_version_id,
      createdAt: r.created_at,
      totalSteps: r.total_steps ?? null,
      lastStep: r.last_step,
      lastLoss: r.last_loss,
      stoppedEarly: runStoppedEarly(status, r.last_step, r.total_steps, r.patience),
      device: r.device ?? null,
      deviceFallback: r.device_fallback ?? null,
      askedDevice: runAskedDevice({ device: r.asked_device }),
    };
    const sweep = r.sweep_id === null ? null : (sweeps.get(r.sweep_id) ?? null);
    const preparing =
      status === 'running' && r.prepared_rows !== null && r.prepare_total !== null
        ? { done: r.prepared_rows, total: r.prepare_total }
        : null;
    out.push({ ...entry, pace: runPace(lib, entry), preparing, sweep });
  }
  return out;
}
