// Training runs and their metrics. The engine (another module) creates a run, moves it through its
// states and appends one metrics row per step; the UI and the CLI read them back. Status changes are
// guarded (a finished run cannot start again) so a late message from a dying job cannot undo a cancel.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import type { ComputeUsed } from '../../../native-runtime/runtime/precision-used.ts';
import {
  INTERRUPTED_ERROR,
  ownerLives,
  retryInterruptedMarks,
  runLeftUnmarked,
  runsInterruptedAtOpen,
  writeTransaction,
} from '../db/database.ts';
import { chartMetrics, METRIC_COLUMNS, type RunMetric } from './chart-metrics.ts';
import { removingFolders } from './folder-removal.ts';
import { deletingUnusedFrozenFiles } from './frozen-file-reclaim.ts';
import { type Library, parseJsonColumn } from './library.ts';
import { appendRunLog } from './run-logs.ts';
import { RESUMABLE_STATUSES, RUN_STATUSES, type RunStatus } from './run-statuses.ts';
import { type RunSweep, sweepOf } from './sweeps.ts';

export { RESUMABLE_STATUSES, RUN_STATUSES, type RunStatus };

const FINISHED: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled']);

export interface RunRecord {
  id: number;
  name: string | null;
  modelId: number | null;
  datasetVersionId: number | null;
  config: Record<string, unknown>;
  status: RunStatus;
  error: string | null;
  /**
   * Why a failed run failed, where its own settings or data were refused (library/run-failures.ts):
   * resuming it would fail the same way. Null for a failure that can be put right.
   */
  errorCode: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  wallTimeMs: number | null;
  systemInfo: Record<string, unknown> | null;
  /** The base model's fingerprint when the run was created. */
  modelFingerprint: string | null;
  /** Optimizer steps planned (known once the engine has prepared the data). */
  totalSteps: number | null;
  /** The last recorded step and loss, for list views. */
  lastStep: number | null;
  lastLoss: number | null;
  /** Early stopping ended it: completed before its last planned step (runStoppedEarly). */
  stoppedEarly: boolean;
  /**
   * The provider that ran the steps (config.device is what was asked for: 'auto' picks, and a device
   * that cannot start falls back to the CPU); null until the engine has created its session.
   */
  device: string | null;
  /** Why `device` is not the one asked for (null when it is). */
  deviceFallback: string | null;
  /**
   * The precision the steps computed in (fp32, fp16, bf16; config.dtype is what was asked for: 'auto'
   * picks per device); null until the engine has created its session, and for runs recorded before
   * runs kept it (migration run_precision).
   */
  precision: string | null;
  /** The sweep it was queued in (runs/start-many; library/sweeps.ts), or null. */
  sweepId: number | null;
}

// A metric point is defined beside the reader that thins them for charts (which runs.ts uses).
export type { RunMetric } from './chart-metrics.ts';

export interface RunCheckpoint {
  id: number;
  step: number;
  path: string;
  sizeBytes: number | null;
  createdAt: number;
}

export interface RunSample {
  id: number;
  step: number | null;
  prompt: string;
  output: string;
  /** Why the output is empty though tokens were generated (ids past the tokenizer, …); else null. */
  emptyNote: string | null;
  createdAt: number;
}

export interface RunDetail extends RunRecord {
  metrics: RunMetric[];
  checkpoints: RunCheckpoint[];
  /** Probe-prompt samples taken during training, oldest first. */
  samples: RunSample[];
  /** The adapter the run produced, once completed. */
  adapterId: number | null;
  /** The adapter its last checkpoint was kept as, if it was (so the page offers no second keep). */
  lastCheckpointAdapterId: number | null;
  /**
   * The evaluation with the lowest held-out loss so far, for a run that keeps the best or stops early
   * (null otherwise, or before its first evaluation); `kept`: the run's adapter is that step's (a
   * completed run that keeps the best: before its end there is no adapter, and the best may change).
   */
  best: RunBest | null;
  /** Its sweep with the sweep's runs, where it was queued in one. */
  sweep: RunSweep | null;
}

export interface RunBest {
  step: number;
  evalLoss: number;
  kept: boolean;
}

interface RunRow {
  id: number;
  name: string | null;
  model_id: number | null;
  dataset_version_id: number | null;
  config_json: string;
  status: RunStatus;
  error: string | null;
  error_code: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  wall_time_ms: number | null;
  system_info_json: string | null;
  model_fingerprint: string | null;
  total_steps: number | null;
  last_step: number | null;
  last_loss: number | null;
  device: string | null;
  device_fallback: string | null;
  precision: string | null;
  sweep_id: number | null;
  owner_token: string | null;
}

/** Joins run `r`'s last metric row as `m` (none before its first step): its lastStep and lastLoss. */
export const LAST_METRIC_JOIN =
  'LEFT JOIN run_metrics m ON m.run_id = r.id AND m.step = (SELECT MAX(step) FROM run_metrics WHERE run_id = r.id)';

const SELECT_RUN = `SELECT r.*, m.step AS last_step, m.loss AS last_loss FROM runs r
  ${LAST_METRIC_JOIN}`;

/**
 * A run as stored, except one the start-up check found without a live owner but could not mark on
 * a full disk (db/database.ts): it reads as the marking would have left it.
 */
function toRecord(lib: Library, r: RunRow): RunRecord {
  const unmarked = runLeftUnmarked(lib.db, r.id, r.owner_token ?? null);
  const status = unmarked ? 'interrupted' : r.status;
  const config = parseJsonColumn<Record<string, unknown>>(r.config_json, {});
  return {
    id: r.id,
    name: r.name,
    modelId: r.model_id,
    datasetVersionId: r.dataset_version_id,
    config,
    status,
    error: unmarked ? (r.error ?? INTERRUPTED_ERROR) : r.error,
    errorCode: r.error_code ?? null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    wallTimeMs: r.wall_time_ms,
    systemInfo: r.system_info_json == null ? null : parseJsonColumn(r.system_info_json, {}),
    modelFingerprint: r.model_fingerprint ?? null,
    totalSteps: r.total_steps ?? null,
    lastStep: r.last_step,
    lastLoss: r.last_loss,
    stoppedEarly: runStoppedEarly(status, r.last_step, r.total_steps, config.earlyStoppingPatience),
    device: r.device ?? null,
    deviceFallback: r.device_fallback ?? null,
    precision: r.precision ?? null,
    sweepId: r.sweep_id ?? null,
  };
}

/**
 * Whether early stopping ended a run (training/best-so-far.ts): it completed before its last planned
 * step, with a patience set. Nothing else completes a run early (a resume must agree on the steps),
 * and the library keeps no other mark of it: the reason is a line of the run's log.
 */
export function runStoppedEarly(
  status: RunStatus,
  lastStep: number | null,
  totalSteps: number | null,
  earlyStoppingPatience: unknown,
): boolean {
  return (
    status === 'completed' &&
    Number(earlyStoppingPatience) > 0 &&
    lastStep !== null &&
    totalSteps !== null &&
    lastStep < totalSteps
  );
}

export function listRuns(lib: Library, filter: { status?: RunStatus } = {}): RunRecord[] {
  // Filtered after reading: a run left unmarked on a full disk reads as interrupted (toRecord).
  const runs = (lib.db.prepare(`${SELECT_RUN} ORDER BY r.id DESC`).all() as RunRow[]).map((r) =>
    toRecord(lib, r),
  );
  return filter.status ? runs.filter((r) => r.status === filter.status) : runs;
}

function runRow(lib: Library, id: number): RunRow {
  const row = lib.db.prepare(`${SELECT_RUN} WHERE r.id = ?`).get(id) as RunRow | undefined;
  if (!row) throw new ValidationError('not-found', `no run with id ${id}`);
  return row;
}

/** The run without its metrics, checkpoints and samples (what a status check needs). */
export function getRunRecord(lib: Library, id: number): RunRecord {
  return toRecord(lib, runRow(lib, id));
}

/** The run with every metric point (the CLI's `runs show`). */
export function getRun(lib: Library, id: number): RunDetail {
  const metrics = lib.db
    .prepare(`SELECT ${METRIC_COLUMNS} FROM run_metrics WHERE run_id = ? ORDER BY step`)
    .all(id) as RunMetric[];
  return { ...getRunBesidesMetrics(lib, id), metrics };
}

/**
 * The run as its page shows it (runs/get): a long run's metrics read in time slices and thinned
 * for its charts (chart-metrics.ts).
 */
export async function getRunForCharts(lib: Library, id: number): Promise<RunDetail> {
  const detail = getRunBesidesMetrics(lib, id);
  return { ...detail, metrics: await chartMetrics(lib, id) };
}

/** The run's checkpoints, oldest first (without its metrics, which grow with the run's length). */
export function getRunCheckpoints(lib: Library, id: number): RunCheckpoint[] {
  return lib.db
    .prepare(
      'SELECT id, step, path, size_bytes AS sizeBytes, created_at AS createdAt FROM checkpoints WHERE run_id = ? ORDER BY step',
    )
    .all(id) as RunCheckpoint[];
}

/** A run's detail without its metric points, which a long run has by the hundred thousand. */
export type RunBesidesMetrics = Omit<RunDetail, 'metrics'>;

/** The run with its checkpoints, samples and adapters but no metrics (the CLI's training reads). */
export function getRunBesidesMetrics(lib: Library, id: number): RunBesidesMetrics {
  const row = runRow(lib, id);
  const checkpoints = getRunCheckpoints(lib, id);
  const samples = lib.db
    .prepare(
      `SELECT id, step, prompt, output, json_extract(params_json, '$.emptyNote') AS emptyNote, created_at AS createdAt
       FROM generations WHERE run_id = ? AND kind = 'probe' ORDER BY step, id`,
    )
    .all(id) as RunSample[];
  const adapter = lib.db
    .prepare('SELECT id FROM adapters WHERE run_id = ? ORDER BY id DESC LIMIT 1')
    .get(id) as { id: number } | undefined;
  const last = checkpoints.at(-1);
  const kept = last
    ? (lib.db
        .prepare('SELECT id FROM adapters WHERE run_id = ? AND path = ?')
        .get(id, checkpointAdapterPath(lib, id, last.step)) as { id: number } | undefined)
    : undefined;
  const record = toRecord(lib, row);
  return {
    ...record,
    checkpoints,
    samples,
    adapterId: adapter?.id ?? null,
    lastCheckpointAdapterId: kept?.id ?? null,
    best: runBest(lib, record),
    sweep: sweepOf(lib, row.sweep_id ?? null),
  };
}

/**
 * The best evaluation of a run that judges its held-out loss (keepBest, earlyStoppingPatience): the
 * first of the lowest held-out losses, the trainer's own rule (training/best-so-far.ts: only a strictly
 * lower loss improves), read from the metrics every evaluation recorded.
 */
function runBest(lib: Library, run: RunRecord): RunBest | null {
  const keepBest = run.config.keepBest === true;
  if (!keepBest && !(Number(run.config.earlyStoppingPatience) > 0)) return null;
  const row = lib.db
    .prepare(
      'SELECT step, eval_loss AS evalLoss FROM run_metrics WHERE run_id = ? AND eval_loss IS NOT NULL ORDER BY eval_loss, step LIMIT 1',
    )
    .get(run.id) as { step: number; evalLoss: number } | undefined;
  return row ? { ...row, kept: keepBest && run.status === 'completed' } : null;
}

/** The folder a run's checkpoint is copied to when it is kept as an adapter: one per run and step. */
export function checkpointAdapterPath(lib: Library, runId: number, step: number): string {
  return resolve(lib.dataDir, 'adapters', `run-${runId}-step-${step}`);
}

export interface CreateRunInput {
  name?: string;
  modelId?: number | null;
  datasetVersionId?: number | null;
  config?: Record<string, unknown>;
  systemInfo?: Record<string, unknown>;
  modelFingerprint?: string | null;
  totalSteps?: number | null;
  /** The sweep it is queued in (runs/start-many). */
  sweepId?: number | null;
}

/** A new run in 'queued', owned by this process (its owner lock; see db/owner-lock.ts). */
export function createRun(lib: Library, input: CreateRunInput): RunRecord {
  const row = lib.db
    .prepare(
      `INSERT INTO runs (name, model_id, dataset_version_id, config_json, status, owner_pid, owner_token, created_at,
         system_info_json, model_fingerprint, total_steps, sweep_id)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    )
    .get(
      input.name ?? null,
      input.modelId ?? null,
      input.datasetVersionId ?? null,
      JSON.stringify(input.config ?? {}),
      process.pid,
      lib.owner.token,
      Date.now(),
      input.systemInfo ? JSON.stringify(input.systemInfo) : null,
      input.modelFingerprint ?? null,
      input.totalSteps ?? null,
      input.sweepId ?? null,
    ) as { id: number };
  return getRunRecord(lib, row.id);
}

/**
 * createRun, then the config computed from the new run's id (its folders are named after it), and
 * with `nameFor` its name ("Run 12 · lr 4e-3"), in one write transaction: no run is ever seen without
 * its config or under another name.
 */
export function createRunWithConfig(
  lib: Library,
  input: CreateRunInput,
  configFor: (runId: number) => Record<string, unknown>,
  nameFor?: (runId: number) => string | undefined,
): RunRecord {
  return writeTransaction(lib.db, () => {
    const run = createRun(lib, input);
    lib.db
      .prepare('UPDATE runs SET config_json = ?, name = ? WHERE id = ?')
      .run(JSON.stringify(configFor(run.id)), (nameFor ? nameFor(run.id) : input.name) ?? null, run.id);
    return getRunRecord(lib, run.id);
  });
}

/**
 * Moves a run to `status`. Returns false (and changes nothing) when the run is already finished,
 * so cancel-then-complete races keep the first final state. A new `error` replaces the error code
 * too (`errorCode`, null unless given).
 */
export function setRunStatus(
  lib: Library,
  id: number,
  status: RunStatus,
  error?: string,
  errorCode?: string | null,
): boolean {
  const now = Date.now();
  const fin = FINISHED.has(status) || status === 'interrupted';
  const res = lib.db
    .prepare(
      `UPDATE runs SET status = ?, error = COALESCE(?, error),
         error_code = CASE WHEN ? IS NULL THEN error_code ELSE ? END,
         owner_pid = CASE WHEN ? = 'running' THEN ? ELSE owner_pid END,
         owner_token = CASE WHEN ? = 'running' THEN ? ELSE owner_token END,
         started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END,
         finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
         wall_time_ms = CASE WHEN ? AND started_at IS NOT NULL THEN ? - started_at ELSE wall_time_ms END
       WHERE id = ? AND status NOT IN ('completed', 'failed', 'cancelled')`,
    )
    .run(
      status,
      error ?? null,
      error ?? null,
      errorCode ?? null,
      status,
      process.pid,
      status,
      // Only a run that starts takes this process's owner lock (a file: a cancel on a full disk needs none).
      status === 'running' ? lib.owner.token : null,
      status,
      now,
      fin ? 1 : 0,
      now,
      fin ? 1 : 0,
      now,
      id,
    );
  return res.changes > 0;
}

/** Records metrics for a step (a repeated step, e.g. after resuming, replaces the earlier row). */
export function appendMetrics(lib: Library, runId: number, metrics: RunMetric[]): void {
  const ins = lib.db.prepare(
    `INSERT INTO run_metrics (run_id, step, epoch, loss, lr, grad_norm, tokens_per_s, eval_loss, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(run_id, step) DO UPDATE SET epoch = excluded.epoch, loss = excluded.loss, lr = excluded.lr,
       grad_norm = excluded.grad_norm, tokens_per_s = excluded.tokens_per_s,
       eval_loss = COALESCE(excluded.eval_loss, eval_loss)`,
  );
  const now = Date.now();
  writeTransaction(lib.db, () => {
    for (const m of metrics) {
      ins.run(runId, m.step, m.epoch, m.loss, m.lr, m.gradNorm, m.tokensPerS, m.evalLoss, now);
    }
  });
}

/**
 * The answer to a cancel of a run whose process had died before it was asked (a CLI killed with -9)
 * but that still read running: it is interrupted — marked so, and resumable — rather than called
 * cancelled; a second cancel stops it for good.
 */
export function alreadyInterrupted(run: RunRecord): ValidationError {
  const at = run.lastStep ? ` at step ${run.lastStep}` : '';
  return new ValidationError(
    'already-interrupted',
    `run ${run.id} was already interrupted: the process running it stopped${at}; it can be resumed, or cancelled again to stop it for good`,
  );
}

/**
 * Marks a queued/running/paused/interrupted run cancelled; the host also stops its job. Refuses
 * finished runs, and a run this library's start-up check has just found dead (alreadyInterrupted:
 * the CLI opens the library for each command, so it died before this cancel).
 */
export function cancelRun(lib: Library, id: number): RunRecord {
  const run = getRunRecord(lib, id);
  if (FINISHED.has(run.status)) {
    throw new ValidationError('not-cancellable', `run ${id} is already ${run.status}`);
  }
  if (run.status === 'interrupted' && runsInterruptedAtOpen(lib.db).has(id)) throw alreadyInterrupted(run);
  setRunStatus(lib, id, 'cancelled', 'cancelled by the user');
  // A running run's process logs its stop once its step ends (jobs/run-execution.ts); a paused,
  // queued or interrupted one has none, so the cancel is logged here, or the log never said it.
  if (run.status !== 'running') appendRunLog(lib, id, 'studio', `cancelled${lastCheckpointNote(lib, id)}`);
  return getRunRecord(lib, id);
}

/** What a stopped run can go on from, for its log line: " (last checkpoint: step 64)", or "". */
export function lastCheckpointNote(lib: Library, id: number): string {
  const at = getRunCheckpoints(lib, id).at(-1)?.step;
  return at !== undefined ? ` (last checkpoint: step ${at})` : '';
}

/** A run's status alone: read at each step by the process training it, to see a cancel from elsewhere. */
export function runStatus(lib: Library, id: number): RunStatus {
  return (lib.db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as { status: RunStatus }).status;
}

/**
 * The process that executed a run lets go of it once it has stopped (jobs/run-execution.ts): its
 * owner is cleared, only its own, and only for a run no longer queued or running (their owner is
 * what the start-up check reads to find runs left behind by a crash).
 */
export function releaseRun(lib: Library, id: number): void {
  lib.db
    .prepare(
      `UPDATE runs SET owner_pid = NULL, owner_token = NULL
       WHERE id = ? AND owner_token = ? AND status NOT IN ('queued', 'running')`,
    )
    .run(id, lib.owner.token);
}

/**
 * Whether a process still executes the run: it has an owner that is alive. A run cancelled from
 * another process (`runs cancel`) reads 'cancelled' at once, but trains on to the end of its step.
 */
export function runStillExecuting(lib: Library, id: number): boolean {
  const owner = lib.db.prepare('SELECT owner_pid, owner_token FROM runs WHERE id = ?').get(id) as
    | { owner_pid: number | null; owner_token: string | null }
    | undefined;
  return owner !== undefined && ownerLives(lib.dataDir, owner);
}

/**
 * Deletes a run with its metrics, checkpoints, probe samples and log. Refuses a queued or running run
 * ('not-deletable': cancel or pause it first). Its adapter stays in the library (lineage loses the
 * run). Folders are removed only inside the data folder, and only those the run wrote, crash-safely
 * with the row (folder-removal.ts).
 */
export function deleteRun(lib: Library, id: number): { id: number; deletedFolders: number } {
  const run = getRunRecord(lib, id);
  if (run.status === 'queued' || run.status === 'running') {
    throw new ValidationError('not-deletable', `run ${id} is ${run.status}; cancel or pause it first`);
  }
  // The run's own folder and each checkpoint it wrote; never the folder a `--checkpoint-dir` named
  // (it may hold other runs' folders, or the library's datasets: deleting one run wiped them all).
  const folders = new Set<string>([join(lib.dataDir, 'runs', String(id))]);
  for (const c of getRunCheckpoints(lib, id)) folders.add(c.path);
  // The dataset files it trained on go too when only this run still kept them (their datasets were
  // removed while it could be resumed: frozen-file-reclaim.ts).
  const { data, evalData } = run.config;
  const candidates = [data, evalData].filter((f) => typeof f === 'string');
  // One transaction (the frozen files') deletes the row and sets aside both its files and folders.
  const { removed } = removingFolders(
    lib,
    () => {
      lib.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
      return { result: null, folders: [...folders] };
    },
    (fn) => deletingUnusedFrozenFiles(lib, () => ({ result: fn(), candidates })).result,
  );
  return { id, deletedFolders: removed };
}

/** Refuses to resume a run that is not stopped in a resumable state ('not-resumable'). */
export function checkResumable(run: Pick<RunRecord, 'id' | 'status'>): void {
  if (!RESUMABLE_STATUSES.includes(run.status))
    throw new ValidationError(
      'not-resumable',
      `run ${run.id} is ${run.status}; only paused, interrupted or failed runs can be resumed`,
    );
}

/**
 * Puts an unfinished run (paused, interrupted, failed, or queued without a job) back in the queue,
 * owned by this process. Returns false when the run is running or finished.
 */
export function requeueRun(lib: Library, id: number): boolean {
  // A run that reads as interrupted only because a full disk kept it from being marked is marked first.
  retryInterruptedMarks(lib.db);
  const res = lib.db
    .prepare(
      `UPDATE runs SET status = 'queued', owner_pid = ?, owner_token = ?, error = NULL, error_code = NULL,
         finished_at = NULL
       WHERE id = ? AND status IN ('paused', 'interrupted', 'failed', 'queued')`,
    )
    .run(process.pid, lib.owner.token, id);
  return res.changes > 0;
}

/**
 * Records where the run's steps run and in what precision (jobs/run-execution.ts, once the engine's
 * session exists).
 */
export function setRunDevice(
  lib: Library,
  id: number,
  d: Pick<ComputeUsed, 'device' | 'fallback' | 'precision'>,
): void {
  lib.db
    .prepare('UPDATE runs SET device = ?, device_fallback = ?, precision = ? WHERE id = ?')
    .run(d.device, d.fallback, d.precision, id);
}

/**
 * Records how far the run's data preparation is, or that none is under way (null): the CLI's run,
 * which no studio job reports, for an open studio's Runs page (runs/list's `preparing`).
 */
export function setRunPreparing(lib: Library, id: number, p: { done: number; total: number } | null): void {
  lib.db
    .prepare('UPDATE runs SET prepared_rows = ?, prepare_total = ? WHERE id = ?')
    .run(p?.done ?? null, p?.total ?? null, id);
}

/** Sets the planned number of steps (once the engine knows it). */
export function setRunTotalSteps(lib: Library, id: number, totalSteps: number): void {
  lib.db
    .prepare('UPDATE runs SET total_steps = ? WHERE id = ? AND total_steps IS NOT ?')
    .run(totalSteps, id, totalSteps);
}

/**
 * Drops metrics after `step`: a resume continues from a checkpoint at `step` and will record the
 * later steps again (deterministically the same numbers), so the curve has no stale tail.
 */
export function truncateMetrics(lib: Library, runId: number, afterStep: number): number {
  return lib.db.prepare('DELETE FROM run_metrics WHERE run_id = ? AND step > ?').run(runId, afterStep)
    .changes;
}

/** Records a checkpoint folder (once per run and step; a repeat updates the path and size). */
export function recordCheckpoint(
  lib: Library,
  runId: number,
  step: number,
  path: string,
  sizeBytes: number | null,
): void {
  writeTransaction(lib.db, () => {
    const existing = lib.db
      .prepare('SELECT id FROM checkpoints WHERE run_id = ? AND step = ?')
      .get(runId, step) as { id: number } | undefined;
    if (existing) {
      lib.db
        .prepare('UPDATE checkpoints SET path = ?, size_bytes = ? WHERE id = ?')
        .run(path, sizeBytes, existing.id);
    } else {
      lib.db
        .prepare(
          'INSERT INTO checkpoints (run_id, step, path, size_bytes, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(runId, step, path, sizeBytes, Date.now());
    }
  });
}

/** Drops checkpoint rows whose folder is gone (removed by hand, or never completed). */
export function forgetCheckpoints(lib: Library, runId: number, keep: (path: string) => boolean): number {
  const rows = lib.db.prepare('SELECT id, path FROM checkpoints WHERE run_id = ?').all(runId) as {
    id: number;
    path: string;
  }[];
  const del = lib.db.prepare('DELETE FROM checkpoints WHERE id = ?');
  let n = 0;
  for (const r of rows) if (!keep(r.path)) n += del.run(r.id).changes;
  return n;
}

export interface GenerationInput {
  modelId?: number | null;
  adapterId?: number | null;
  runId?: number | null;
  step?: number | null;
  kind: 'probe' | 'playground' | 'evaluation';
  prompt: string;
  output: string;
  params?: Record<string, unknown>;
}

/** Stores one generated text (a run's probe sample, a playground answer). */
export function recordGeneration(lib: Library, g: GenerationInput): number {
  const row = lib.db
    .prepare(
      `INSERT INTO generations (model_id, adapter_id, run_id, step, kind, prompt, output, params_json, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    )
    .get(
      g.modelId ?? null,
      g.adapterId ?? null,
      g.runId ?? null,
      g.step ?? null,
      g.kind,
      g.prompt,
      g.output,
      JSON.stringify(g.params ?? {}),
      Date.now(),
    ) as { id: number };
  return row.id;
}

/**
 * Drops the probe answers after `step`, as truncateMetrics the metrics: a resume from a checkpoint at
 * `step` (or from none: 0) trains the later steps again and answers their probes again.
 */
export function truncateProbeAnswers(lib: Library, runId: number, afterStep: number): number {
  return lib.db
    .prepare("DELETE FROM generations WHERE run_id = ? AND step > ? AND kind = 'probe'")
    .run(runId, afterStep).changes;
}

/** The probe prompts a run has an answer to at `step` (a resume answers the others: run-execution.ts). */
export function probePromptsAnswered(lib: Library, runId: number, step: number): Set<string> {
  const rows = lib.db
    .prepare("SELECT prompt FROM generations WHERE run_id = ? AND step = ? AND kind = 'probe'")
    .all(runId, step) as { prompt: string }[];
  return new Set(rows.map((r) => r.prompt));
}

/**
 * Start-up check of the files runs refer to: checkpoint rows whose folder is gone are forgotten
 * (a resume then continues from the newest checkpoint that still exists).
 */
export function checkRunFiles(lib: Library): { forgottenCheckpoints: number } {
  const rows = lib.db.prepare('SELECT id, path FROM checkpoints').all() as { id: number; path: string }[];
  const del = lib.db.prepare('DELETE FROM checkpoints WHERE id = ?');
  let n = 0;
  writeTransaction(lib.db, () => {
    for (const r of rows) if (!existsSync(join(r.path, 'trainer-state.json'))) n += del.run(r.id).changes;
  });
  return { forgottenCheckpoints: n };
}
