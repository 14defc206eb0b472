// Executing a recorded training run on an engine while recording everything: metrics per step,
// checkpoints, probe samples, the final adapter with its lineage; and keeping a stopped run's last
// checkpoint as an adapter.
//
// Durability: the checkpoint folders on disk are the truth. Every execution (a first start or a
// resume) lists them, re-records any the database missed (a kill between the folder's rename and its
// row), records the metrics the checkpoint holds (a crash can lose the last reports in flight), drops
// metrics after the checkpoint it continues from and lets the trainer repeat those steps
// (deterministically the same numbers), so the stored curve has no gap and no duplicate step.
// After a crash the start-up check marks the run 'interrupted'; `runs/resume` continues it.
// The CLI runs it with an InProcessEngine; the studio on its worker engine (jobs/training.ts).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CancelledError, ConfigError, toWireError, ValidationError } from '../../../native-runtime/errors.ts';
import { writeStudioAdapter } from '../../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import type { NoteLevel, Notify } from '../../../native-runtime/notices.ts';
import type { ComputeUsed } from '../../../native-runtime/runtime/precision-used.ts';
import {
  checkpointAdapter,
  listCheckpoints,
  readTrainerState,
  STATE_FILE,
  type TrainerState,
} from '../../../native-runtime/training/checkpoint.ts';
import type {
  CheckpointWritten,
  DataProgress,
  LogEvent,
  ProbeSample,
  TrainPhase,
  TrainProgress,
} from '../../../native-runtime/training/events.ts';
import type { Audience } from '../../../native-runtime/training/options.ts';
import { leaveStoppedRunUnmarked } from '../db/database.ts';
import { databaseDiskError } from '../db/disk-full.ts';
import {
  type AdapterRecord,
  findRunAdapter,
  getAdapter,
  registerRunAdapterOnce,
} from '../library/adapters.ts';
import { namingVersions } from '../library/datasets.ts';
import { removeOutdatedBaseStores } from '../library/folder-removal.ts';
import type { Library } from '../library/library.ts';
import { refusalCode } from '../library/run-failures.ts';
import { appendRunLog, type RunLogLine } from '../library/run-logs.ts';
import type { StoredRunConfig } from '../library/run-plan.ts';
import {
  appendMetrics,
  checkpointAdapterPath,
  forgetCheckpoints,
  getRunCheckpoints,
  getRunRecord,
  lastCheckpointNote,
  probePromptsAnswered,
  type RunRecord,
  recordCheckpoint,
  recordGeneration,
  releaseRun,
  runStatus,
  setRunDevice,
  setRunPreparing,
  setRunStatus,
  setRunTotalSteps,
  truncateMetrics,
  truncateProbeAnswers,
} from '../library/runs.ts';
import { cleanMessage } from '../rpc/user-errors.ts';
import type { Engine } from './engine.ts';
import type { TrainArgs, TrainSummary } from './engine-tasks.ts';

/**
 * A failure's message as the run records it: the run's frozen data files by the library's names
 * (dataset “persona” v2, not datasets/<hash>.jsonl), other paths in the data folder shortened (cleanMessage).
 */
function failureText(lib: Library, run: RunRecord, message: string): string {
  const cfg = run.config as unknown as StoredRunConfig;
  const files = [
    [cfg.data, run.datasetVersionId],
    [cfg.evalData, cfg.evalDatasetVersionId],
  ] as const;
  return cleanMessage(namingVersions(lib, message, files), lib.dataDir);
}

function folderSize(dir: string): number | null {
  try {
    return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  } catch {
    return null;
  }
}

/** How often at most a CLI run records how far its data preparation is (recordPreparing). */
const PREPARING_RECORDED_EVERY_MS = 1000;

/** How often a training run reads its status besides at each step: a cancel from another process. */
export const CANCEL_POLL_MS = 1000;

export type RunOutcome = 'completed' | 'paused' | 'cancelled' | 'interrupted' | 'failed';

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Who started it, whose words its stored error is in (default the studio: its Train wizard's fields). */
  audience?: Audience;
  /** Why the signal was aborted (default: a cancel). */
  abortReason?: () => 'pause' | 'cancel' | 'shutdown';
  onProgress?: (p: TrainProgress) => void;
  onLog?: Notify;
  /** Each line written to the run's log (library/run-logs.ts), for live viewers. */
  onLogLine?: (line: RunLogLine) => void;
  onCheckpoint?: (c: CheckpointWritten) => void;
  /** Where the steps run and in what precision, once the engine's session exists (already recorded). */
  onDevice?: (d: ComputeUsed) => void;
  /** Each phase of the run as it begins (TrainHooks.onPhase). */
  onPhase?: (phase: TrainPhase) => void;
  /** How far the run's data preparation is, before its first step (TrainHooks.onDataProgress). */
  onDataProgress?: (p: DataProgress) => void;
  /** A probe prompt's answer at a checkpoint (already recorded in the library). */
  onSample?: (s: ProbeSample) => void;
  onChange?: () => void;
  /** The trainer's summary of a completed run (before the adapter is registered). */
  onResult?: (s: TrainSummary) => void;
}

/**
 * The probe prompts a run resumed from checkpoint `state` has an answer to at the steps it may answer
 * again (TrainArgs.answered): the checkpoint's, whose answers a pause there left undone or half done,
 * and the best evaluation's so far, whose parameters a run that keeps the best answers with last.
 */
function answeredAt(
  lib: Library,
  runId: number,
  cfg: StoredRunConfig,
  state: TrainerState | null,
): TrainArgs['answered'] {
  if (!cfg.probe?.prompts.length) return null;
  // No checkpoint (a crash before the first, its folders deleted): the run starts over, and what an
  // earlier start answered before training (step 0) it does not answer again.
  if (!state) return [{ step: 0, prompts: [...probePromptsAnswered(lib, runId, 0)] }];
  const best = state.best?.best?.step;
  const steps = best === undefined || best === state.step ? [state.step] : [state.step, best];
  return steps.map((step) => ({ step, prompts: [...probePromptsAnswered(lib, runId, step)] }));
}

/**
 * Trains a recorded run to its end (or pause/cancel), from its last checkpoint when it has one.
 * Never throws for a training failure: the run is marked failed and 'failed' returned.
 */
export async function executeRun(
  lib: Library,
  engine: Engine,
  runId: number,
  opts: ExecuteOptions = {},
): Promise<RunOutcome> {
  try {
    return await trainRecordedRun(lib, engine, runId, opts);
  } finally {
    // Stopped, however: a `runs cancel` waiting in another process reads that the run let go.
    // Best effort: a failed write here (a full disk) must not replace the run's own outcome or
    // error; a run left with its owner only makes such a wait end at its bound.
    try {
      releaseRun(lib, runId);
    } catch {}
  }
}

async function trainRecordedRun(
  lib: Library,
  engine: Engine,
  runId: number,
  opts: ExecuteOptions,
): Promise<RunOutcome> {
  const run = getRunRecord(lib, runId);
  const cfg = run.config as unknown as StoredRunConfig;
  // Stored whoever runs it (the CLI passes no onLogLine): `opts.onLogLine?.(appendRunLog(…))` would
  // skip the append itself, an optional call evaluating no arguments when there is no function.
  const log = (source: RunLogLine['source'], text: string, level?: NoteLevel) => {
    const line = appendRunLog(lib, runId, source, text, level);
    opts.onLogLine?.(line);
  };
  let resumeFrom: string | undefined;
  let answered: TrainArgs['answered'] = null;
  try {
    if (!cfg.checkpointDir || !cfg.out)
      throw new ConfigError('bad-run', `run ${runId} has no stored training config`);
    forgetCheckpoints(lib, runId, (p) => existsSync(join(p, STATE_FILE)));
    const onDisk = listCheckpoints(cfg.checkpointDir);
    for (const dir of onDisk) recordCheckpoint(lib, runId, readTrainerState(dir).step, dir, folderSize(dir));
    resumeFrom = onDisk.at(-1);
    // Its checkpoint's interventions were trained on the model the run began with: a folder changed
    // since (another checkpoint saved over it) is refused, as planRun refuses it when a run starts.
    if (resumeFrom && run.modelFingerprint && loadModelSpec(cfg.model).fingerprint !== run.modelFingerprint)
      throw new ConfigError(
        'model-changed',
        `the files in ${cfg.model} changed since run ${runId} started; put them back to resume it, or start a new run`,
      );
    const state = resumeFrom ? readTrainerState(resumeFrom) : null;
    // The checkpoint carries the metrics of the steps before it (CHECKPOINT_METRICS): steps whose
    // reports were lost in a crash (sent by the engine, never read by a process that died) are
    // recorded from it.
    if (state) appendMetrics(lib, runId, state.metrics);
    truncateMetrics(lib, runId, state?.step ?? 0);
    truncateProbeAnswers(lib, runId, state?.step ?? 0);
    answered = answeredAt(lib, runId, cfg, state);
  } catch (e) {
    const wire = toWireError(e);
    const message = failureText(lib, run, wire.message);
    setRunStatus(lib, runId, 'failed', message, refusalCode(wire));
    log('studio', `failed before training started: ${message}`);
    opts.onChange?.();
    return 'failed';
  }
  if (!setRunStatus(lib, runId, 'running')) return getRunRecord(lib, runId).status as RunOutcome;
  // A count a killed CLI left behind is not this start's (recordPreparing, below, writes its own).
  setRunPreparing(lib, runId, null);
  log(
    'studio',
    resumeFrom
      ? `resuming from the checkpoint at step ${readTrainerState(resumeFrom).step}`
      : `started: ${cfg.intervention} rank ${cfg.rank} on layers ${cfg.layers.join(';')}, positions ${cfg.positions}`,
  );
  opts.onChange?.();
  let knownTotal = run.totalSteps;
  const { probe, datasetId: _d, evalDatasetVersionId: _e, ...trainerConfig } = cfg;
  // Our own signal: the caller's, or a cancel made by another process (`reft-studio runs cancel`
  // beside a running server or CLI), read from the database at each step's report, so that the run
  // stops at the end of the step it was cancelled in (before: at most every two seconds, some steps
  // later), and every second for steps longer than that (the trainer looks between micro-batches).
  const ac = new AbortController();
  let cancelledElsewhere = false;
  const onOuterAbort = () => ac.abort();
  if (opts.signal?.aborted) ac.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const checkCancelled = () => {
    if (ac.signal.aborted || runStatus(lib, runId) !== 'cancelled') return;
    cancelledElsewhere = true;
    ac.abort();
  };
  const statusPoll = setInterval(checkCancelled, CANCEL_POLL_MS);
  statusPoll.unref();
  /** A write into the library that failed while training (a full disk): the run stops with it. */
  let unrecorded: unknown = null;
  // The CLI's run is heard by no studio job: how far its data preparation is goes into its row, for
  // an open studio's Runs page (its watcher of outside changes ticks each second: no more often).
  const recordsPreparing = opts.audience === 'cli';
  let preparingRecorded = false;
  let nextPreparingAt = 0;
  const recordPreparing = (p: DataProgress | null) => {
    if (p === null ? !preparingRecorded : Date.now() < nextPreparingAt) return;
    nextPreparingAt = Date.now() + PREPARING_RECORDED_EVERY_MS;
    preparingRecorded = p !== null;
    setRunPreparing(lib, runId, p);
  };
  const recordEvent = (event: string, data: unknown) => {
    if (event === 'progress') {
      checkCancelled();
      const p = data as TrainProgress;
      appendMetrics(lib, runId, [
        {
          step: p.step,
          epoch: p.epoch,
          loss: p.loss,
          lr: p.lr,
          gradNorm: p.gradNorm,
          tokensPerS: p.tokensPerS,
          evalLoss: p.evalLoss ?? null,
        },
      ]);
      if (knownTotal !== p.totalSteps) {
        knownTotal = p.totalSteps;
        setRunTotalSteps(lib, runId, p.totalSteps);
      }
      opts.onProgress?.(p);
    } else if (event === 'checkpoint') {
      const c = data as CheckpointWritten;
      recordCheckpoint(lib, runId, c.step, c.dir, folderSize(c.dir));
      if (c.removed?.length) {
        const gone = new Set(c.removed.map((d) => resolve(d)));
        forgetCheckpoints(lib, runId, (path) => !gone.has(resolve(path)));
      }
      opts.onCheckpoint?.(c);
    } else if (event === 'sample') {
      const s = data as ProbeSample;
      opts.onSample?.(s);
      recordGeneration(lib, {
        runId,
        modelId: run.modelId,
        step: s.step,
        kind: 'probe',
        prompt: s.prompt,
        output: s.output,
        ...(s.emptyNote ? { params: { emptyNote: s.emptyNote } } : {}),
      });
    } else if (event === 'device') {
      // What really runs the steps, not what the config asked for (a fallback to the CPU, auto's
      // precision for this device).
      setRunDevice(lib, runId, data as ComputeUsed);
      opts.onDevice?.(data as ComputeUsed);
      opts.onChange?.();
    } else if (event === 'log') {
      const { message, level } = data as Omit<LogEvent, 'event'>;
      log('trainer', message, level);
      opts.onLog?.(message, level);
    } else if (event === 'phase') {
      if (recordsPreparing && data !== 'data') recordPreparing(null);
      opts.onPhase?.(data as TrainPhase);
    } else if (event === 'data-progress') {
      if (recordsPreparing) recordPreparing(data as DataProgress);
      opts.onDataProgress?.(data as DataProgress);
    }
  };
  try {
    const summary = await engine.call(
      'train',
      {
        config: {
          ...trainerConfig,
          evalData: trainerConfig.evalData ?? undefined,
          exportPyreft: trainerConfig.exportPyreft ?? undefined,
          resumeFrom,
          dataDir: lib.dataDir,
        },
        probe,
        answered,
        audience: opts.audience,
      },
      {
        signal: ac.signal,
        onEvent: (event, data) => {
          // Recording failed (a full disk): the trainer is stopping, and nothing more is recorded.
          if (unrecorded !== null) return;
          try {
            recordEvent(event, data);
          } catch (e) {
            // Thrown out of this callback it would be uncaught in a host (an engine process's
            // message) and leave the run training with nothing recorded: the run stops instead.
            unrecorded = e;
            ac.abort();
          }
        },
      },
    );
    if (unrecorded !== null) throw unrecorded;
    opts.onResult?.(summary);
    const adapterId = registerRunAdapter(lib, runId, summary.adapter);
    setRunStatus(lib, runId, 'completed');
    log('studio', `completed; its adapter is #${adapterId} in the library`);
    opts.onChange?.();
    return 'completed';
  } catch (e) {
    // The library could not record the run (a full disk), while training or once it completed.
    if (unrecorded !== null || isLibraryError(e))
      return stoppedUnrecorded(lib, run, unrecorded ?? e, log, opts);
    const aborted = e instanceof CancelledError || ac.signal.aborted;
    const reason = aborted ? (cancelledElsewhere ? 'cancel' : (opts.abortReason?.() ?? 'cancel')) : null;
    // A dead engine process is like a crashed studio: the run can resume from its last checkpoint.
    const crashed = !aborted && toWireError(e).code === 'engine-crashed';
    const outcome: RunOutcome =
      reason === 'pause'
        ? 'paused'
        : reason === 'shutdown' || crashed
          ? 'interrupted'
          : reason === 'cancel'
            ? 'cancelled'
            : 'failed';
    const message =
      outcome === 'failed' || crashed
        ? failureText(lib, run, toWireError(e).message)
        : outcome === 'cancelled'
          ? 'cancelled by the user'
          : undefined;
    setRunStatus(lib, runId, outcome, message, outcome === 'failed' ? refusalCode(toWireError(e)) : null);
    const where = lastCheckpointNote(lib, runId);
    log(
      'studio',
      outcome === 'failed'
        ? `failed: ${message}`
        : outcome === 'interrupted'
          ? `interrupted${crashed ? `: ${message}` : ' (the studio was closing)'}${where}; it can be resumed`
          : `${outcome}${where}`,
    );
    opts.onChange?.();
    return outcome;
  } finally {
    clearInterval(statusPoll);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    // Stopped while preparing (a pause, a refusal of its data): no count is left behind.
    try {
      recordPreparing(null);
    } catch {}
    // Its model's old converted weights, if its files changed while it ran (housekeeping: else at
    // the next start-up).
    try {
      removeOutdatedBaseStores(lib);
    } catch {}
  }
}

/** Whether `e` is SQLite's, from a write into the library (the engine's errors never are). */
function isLibraryError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/**
 * A run the library could not record (`cause`, said as one line naming library.db when the disk
 * is full) stops as failed, resumable once there is room. When even that cannot be written, the run
 * reads interrupted (not running with no one training it) until a later look marks it, and the
 * error is thrown for the caller to show.
 */
function stoppedUnrecorded(
  lib: Library,
  run: RunRecord,
  cause: unknown,
  log: (source: RunLogLine['source'], text: string) => void,
  opts: ExecuteOptions,
): RunOutcome {
  const named = databaseDiskError(cause, lib.dataDir);
  const wire = toWireError(named);
  const message = failureText(lib, run, wire.message);
  try {
    setRunStatus(lib, run.id, 'failed', message, refusalCode(wire));
  } catch {
    leaveStoppedRunUnmarked(lib.db, run.id, lib.owner.token);
    opts.onChange?.();
    throw named;
  }
  try {
    log('studio', `failed: ${message}`);
  } catch {}
  opts.onChange?.();
  return 'failed';
}

/** Registers a completed run's adapter folder in the library (once), with its lineage. */
export function registerRunAdapter(lib: Library, runId: number, dir: string): number {
  const run = getRunRecord(lib, runId);
  const cfg = run.config as unknown as StoredRunConfig;
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown> & {
    baseModel?: { fingerprint?: string };
  };
  // Once per folder: a checkpoint kept earlier (keepLastCheckpoint) is another adapter of the same run.
  const { id } = registerRunAdapterOnce(lib, {
    name: run.name ?? `Run ${runId} (${cfg.intervention}, rank ${cfg.rank})`,
    path: dir,
    type: cfg.intervention,
    baseModelFingerprint: run.modelFingerprint ?? manifest.baseModel?.fingerprint ?? '',
    manifest,
    runId,
    datasetVersionId: run.datasetVersionId,
    sizeBytes: folderSize(dir),
    precision: run.precision,
  });
  return id;
}

/**
 * Keeps a stopped run's last checkpoint as an adapter: its parameters (a checkpoint folder is a
 * studio adapter folder), or with keep the best the best evaluation's so far (checkpointAdapter), are
 * copied to <data>/adapters/run-<id>-step-<N>/ — so deleting the run
 * later keeps the adapter — and registered with the run's lineage and the tag 'checkpoint'.
 * Refuses a run that is queued or running ('run-active') or has no checkpoint ('no-checkpoint').
 * Keeping the same checkpoint twice returns the adapter kept the first time, with `added` false.
 */
export function keepLastCheckpoint(lib: Library, runId: number): { adapter: AdapterRecord; added: boolean } {
  const run = getRunRecord(lib, runId);
  if (run.status === 'queued' || run.status === 'running')
    throw new ValidationError(
      'run-active',
      `run ${runId} is ${run.status}; cancel it with "keep the last checkpoint" instead`,
    );
  const ckpt = getRunCheckpoints(lib, runId)
    .reverse()
    .find((c) => existsSync(join(c.path, STATE_FILE)));
  if (!ckpt) throw new ValidationError('no-checkpoint', `run ${runId} saved no checkpoint before it stopped`);
  const dest = checkpointAdapterPath(lib, runId, ckpt.step);
  const existing = findRunAdapter(lib, runId, dest);
  if (existing !== null) return { adapter: getAdapter(lib, existing), added: false };
  // A run that keeps the best keeps the best evaluation's parameters so far, as it would end there.
  const { adapter, bestStep } = checkpointAdapter(ckpt.path);
  // The same checkpoint always gives the same folder: writing it twice (two windows) is harmless;
  // registering it twice is not, so that is decided under the write lock.
  writeStudioAdapter(dest, adapter);
  const cfg = run.config as unknown as StoredRunConfig;
  const total = run.totalSteps !== null ? ` of ${run.totalSteps}` : '';
  const { id, added } = registerRunAdapterOnce(lib, {
    name: `${run.name ?? `Run ${runId} (${cfg.intervention}, rank ${cfg.rank})`} — step ${ckpt.step}${total}${bestStep !== null ? `, the best so far: step ${bestStep}'s` : ''}`,
    path: dest,
    type: cfg.intervention ?? adapter.interventions[0]?.type ?? 'loreft',
    baseModelFingerprint: run.modelFingerprint ?? adapter.manifest.baseModel.fingerprint,
    manifest: adapter.manifest as unknown as Record<string, unknown>,
    runId,
    datasetVersionId: run.datasetVersionId,
    sizeBytes: folderSize(dest),
    tags: ['checkpoint'],
    precision: run.precision,
  });
  return { adapter: getAdapter(lib, id), added };
}
