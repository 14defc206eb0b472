// Training runs in the library: planning a run from library ids (validated before anything is
// stored), executing it on an engine while recording everything (metrics per step, checkpoints, probe
// samples, the final adapter with its lineage), and the studio's run controls (start, pause, resume,
// cancel) on the job queue — one training job per device.
//
// Durability: the checkpoint folders on disk are the truth. Every execution (a first start or a
// resume) lists them, re-records any the database missed (a kill between the folder's rename and its
// row), drops metrics after the checkpoint it continues from and lets the trainer repeat those steps
// (deterministically the same numbers), so the stored curve has no gap and no duplicate step.
// After a crash the start-up check marks the run 'interrupted'; `runs/resume` continues it.
//
// For the CLI (and a `train` command that wants its run recorded): createRecordedRun + executeRun
// with an InProcessEngine.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CancelledError, ConfigError, toWireError, ValidationError } from '../../../native-runtime/errors.ts';
import { readStudioAdapter, writeStudioAdapter } from '../../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import {
  listCheckpoints,
  readTrainerState,
  STATE_FILE,
} from '../../../native-runtime/training/checkpoint.ts';
import {
  type ResolvedTrainConfig,
  resolveTrainConfig,
  type TrainConfig,
} from '../../../native-runtime/training/config.ts';
import type {
  CheckpointWritten,
  ProbeSample,
  TrainProgress,
} from '../../../native-runtime/training/events.ts';
import { optionError } from '../../../native-runtime/training/options.ts';
import { writeTransaction } from '../db/database.ts';
import type { BackendEvents } from '../events.ts';
import {
  type AdapterRecord,
  findRunAdapter,
  getAdapter,
  registerRunAdapterOnce,
} from '../library/adapters.ts';
import { resolveDatasetVersion } from '../library/dataset-edits.ts';
import type { DatasetFormat } from '../library/dataset-formats.ts';
import { datasetRef } from '../library/dataset-import.ts';
import { type DatasetVersion, getDataset, getDatasetVersion } from '../library/datasets.ts';
import { preferredDevice } from '../library/environment.ts';
import type { Library } from '../library/library.ts';
import { getModel, type ModelRecord, modelFromRef } from '../library/models.ts';
import { appendRunLog, type RunLogLine } from '../library/run-logs.ts';
import {
  appendMetrics,
  createRunWithConfig,
  forgetCheckpoints,
  getRun,
  type RunRecord,
  recordCheckpoint,
  recordGeneration,
  requeueRun,
  setRunStatus,
  setRunTotalSteps,
  truncateMetrics,
} from '../library/runs.ts';
import { cleanMessage } from '../rpc/user-errors.ts';
import { systemInfo } from '../system-info.ts';
import type { Engine } from './engine.ts';
import type { TrainSummary } from './engine-tasks.ts';
import type { JobQueue } from './queue.ts';
import type { ProbeConfig, RunParams } from './run-params.ts';

export type { RunParams } from './run-params.ts';

/** What a run stores in its config column: the resolved trainer config plus the studio's extras. */
export type StoredRunConfig = ResolvedTrainConfig & {
  probe: ProbeConfig | null;
  datasetId: number;
  /** The held-out version given as evalDatasetVersionId (clone and compare show it). */
  evalDatasetVersionId?: number | null;
};

export interface PlannedRun {
  model: ModelRecord;
  version: DatasetVersion;
  evalVersion: DatasetVersion | null;
  config: ResolvedTrainConfig;
  probe: ProbeConfig | null;
  trainExamples: number;
  stepsPerEpoch: number;
  totalSteps: number;
}

/**
 * The versions a run trains and evaluates on: a version id and/or a split part for each. Held-out
 * data must differ from the training data and share its format (the trainer reads both alike).
 */
export function planRunData(
  lib: Library,
  p: Pick<
    RunParams,
    'datasetId' | 'datasetVersionId' | 'datasetSplit' | 'evalDatasetVersionId' | 'evalDatasetSplit'
  >,
): { version: DatasetVersion; evalVersion: DatasetVersion | null } {
  if (p.evalDatasetVersionId !== undefined && p.evalDatasetSplit !== undefined)
    throw new ValidationError('invalid-params', 'give evalDatasetVersionId or evalDatasetSplit, not both');
  const version = resolveDatasetVersion(lib, {
    datasetId: p.datasetId,
    versionId: p.datasetVersionId,
    split: p.datasetSplit,
  });
  const evalVersion =
    p.evalDatasetVersionId !== undefined
      ? getDatasetVersion(lib, p.evalDatasetVersionId)
      : p.evalDatasetSplit !== undefined
        ? resolveDatasetVersion(lib, {
            datasetId: p.datasetId,
            versionId: version.id,
            split: p.evalDatasetSplit,
          })
        : null;
  if (evalVersion && (evalVersion.id === version.id || evalVersion.contentHash === version.contentHash))
    throw new ValidationError(
      'eval-is-train',
      'the held-out data is the training data itself; choose a validation or test part',
    );
  if (evalVersion && evalVersion.format !== version.format)
    throw new ValidationError(
      'eval-format',
      `the held-out data is ${evalVersion.format} but the training data is ${version.format}`,
    );
  return { version, evalVersion };
}

/**
 * Resolves library ids and options into a trainer config and refuses a bad run (ConfigError or
 * ValidationError naming the field) before anything is stored. `out` and the checkpoint folder are
 * placeholders until the run has an id.
 */
export function planRun(
  lib: Library,
  p: RunParams,
  paths = { out: join(lib.dataDir, 'adapters', 'planned') },
): PlannedRun {
  const model = getModel(lib, p.modelId);
  const { version, evalVersion } = planRunData(lib, p);
  if (!existsSync(model.path))
    throw new ValidationError('missing-model', `the model folder ${model.path} is gone`);
  const spec = loadModelSpec(model.path);
  if (spec.fingerprint !== model.fingerprint) {
    throw new ValidationError(
      'model-changed',
      `the files in ${model.path} changed since the model was added; add it again`,
    );
  }
  const probe = p.probe?.prompts.length ? { ...p.probe, maxNewTokens: p.probe.maxNewTokens ?? 48 } : null;
  const {
    modelId: _m,
    datasetId: _d,
    datasetVersionId: _v,
    datasetSplit: _ds,
    evalDatasetVersionId: _e,
    evalDatasetSplit: _es,
    name: _n,
    probe: _p,
    exportPyreft,
    ...options
  } = p;
  const base: TrainConfig = {
    ...options,
    // The device chosen in Settings, unless the run names one.
    device: options.device ?? preferredDevice(lib),
    // The model's library setting, unless the run asks for another form.
    quantize: options.quantize ?? model.quantize,
    model: model.path,
    data: version.filePath,
    format: version.format,
    evalData: evalVersion?.filePath,
    exportPyreft,
    out: paths.out,
    datasetVersion: `${version.datasetId}.${version.version}:${version.contentHash.slice(0, 16)}`,
  };
  let config = resolveTrainConfig(base, spec);
  const held = config.evalSplit > 0 ? Math.max(1, Math.floor(version.rowCount * config.evalSplit)) : 0;
  const trainExamples = version.rowCount - held;
  if (trainExamples < 1)
    throw optionError(
      'evalSplit',
      'bad-eval-split',
      `${config.evalSplit} leaves no training examples out of ${version.rowCount}`,
    );
  const micro = Math.ceil(trainExamples / config.batchSize);
  const stepsPerEpoch = Math.ceil(micro / config.gradAccum);
  const totalSteps = config.maxSteps > 0 ? config.maxSteps : config.epochs * stepsPerEpoch;
  if (p.checkpointEvery === undefined) {
    // Checkpoints are what a resume continues from: about ten per run unless asked otherwise.
    config = { ...config, checkpointEvery: probe?.every ?? Math.max(1, Math.ceil(totalSteps / 10)) };
  }
  return { model, version, evalVersion, config, probe, trainExamples, stepsPerEpoch, totalSteps };
}

/**
 * Creates the run row ('queued') with its full config, dataset version, model fingerprint and system
 * info. Checkpoints go to the run's folder in the data folder unless `checkpointDir` is given.
 */
export function createRecordedRun(
  lib: Library,
  plan: PlannedRun,
  name?: string,
  opts: { checkpointDir?: string } = {},
): RunRecord {
  return createRunWithConfig(
    lib,
    {
      name,
      modelId: plan.model.id,
      datasetVersionId: plan.version.id,
      modelFingerprint: plan.model.fingerprint,
      totalSteps: plan.totalSteps,
      systemInfo: { ...systemInfo(lib.dataDir) },
    },
    (runId): StoredRunConfig => ({
      ...plan.config,
      out: join(lib.dataDir, 'adapters', `run-${runId}`),
      checkpointDir: opts.checkpointDir
        ? resolve(opts.checkpointDir)
        : join(lib.dataDir, 'runs', String(runId), 'checkpoints'),
      runId: String(runId),
      probe: plan.probe,
      datasetId: plan.version.datasetId,
      evalDatasetVersionId: plan.evalVersion?.id ?? null,
    }),
  );
}

/** Library references as the CLI takes them: ids or paths (a path is added or imported). */
export interface RunRefs {
  model: string;
  data: string;
  evalData?: string;
  format?: DatasetFormat | 'auto';
}

/**
 * `reft-studio train`'s run: the model and data given as ids or paths, planned and recorded. Data
 * files are read and frozen first (slow, no lock held); then one short write transaction adds the
 * model and datasets, plans the run and records it, so a bad option leaves no model, dataset or
 * run behind.
 */
export async function recordRunFromRefs(
  lib: Library,
  refs: RunRefs,
  options: Omit<RunParams, 'modelId' | 'datasetId' | 'datasetVersionId' | 'evalDatasetVersionId'>,
  opts: { checkpointDir?: string; name?: string } = {},
): Promise<{ plan: PlannedRun; run: RunRecord }> {
  const data = await datasetRef(lib, refs.data, refs.format);
  const evalData = refs.evalData ? await datasetRef(lib, refs.evalData, refs.format) : undefined;
  return writeTransaction(lib.db, () => {
    const model = modelFromRef(lib, refs.model);
    const version = data();
    const evalVersion = evalData?.();
    const plan = planRun(lib, {
      ...options,
      modelId: model.id,
      datasetId: version.datasetId,
      datasetVersionId: version.id,
      evalDatasetVersionId: evalVersion?.id,
    } as RunParams);
    return { plan, run: createRecordedRun(lib, plan, opts.name, { checkpointDir: opts.checkpointDir }) };
  });
}

function folderSize(dir: string): number | null {
  try {
    return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  } catch {
    return null;
  }
}

export type RunOutcome = 'completed' | 'paused' | 'cancelled' | 'interrupted' | 'failed';

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Why the signal was aborted (default: a cancel). */
  abortReason?: () => 'pause' | 'cancel' | 'shutdown';
  onProgress?: (p: TrainProgress) => void;
  onLog?: (m: string) => void;
  /** Each line written to the run's log (library/run-logs.ts), for live viewers. */
  onLogLine?: (line: RunLogLine) => void;
  onCheckpoint?: (c: CheckpointWritten) => void;
  /** A probe prompt's answer at a checkpoint (already recorded in the library). */
  onSample?: (s: ProbeSample) => void;
  onChange?: () => void;
  /** The trainer's summary of a completed run (before the adapter is registered). */
  onResult?: (s: TrainSummary) => void;
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
  const run = getRun(lib, runId);
  const cfg = run.config as unknown as StoredRunConfig;
  const log = (source: RunLogLine['source'], text: string) =>
    opts.onLogLine?.(appendRunLog(lib, runId, source, text));
  let resumeFrom: string | undefined;
  try {
    if (!cfg.checkpointDir || !cfg.out)
      throw new ConfigError('bad-run', `run ${runId} has no stored training config`);
    forgetCheckpoints(lib, runId, (p) => existsSync(join(p, STATE_FILE)));
    const onDisk = listCheckpoints(cfg.checkpointDir);
    for (const dir of onDisk) recordCheckpoint(lib, runId, readTrainerState(dir).step, dir, folderSize(dir));
    resumeFrom = onDisk.at(-1);
    truncateMetrics(lib, runId, resumeFrom ? readTrainerState(resumeFrom).step : 0);
  } catch (e) {
    setRunStatus(lib, runId, 'failed', cleanMessage(toWireError(e).message, lib.dataDir));
    log('studio', `failed before training started: ${cleanMessage(toWireError(e).message, lib.dataDir)}`);
    opts.onChange?.();
    return 'failed';
  }
  if (!setRunStatus(lib, runId, 'running')) return getRun(lib, runId).status as RunOutcome;
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
  // beside a running server), seen in the database at most every two seconds.
  const ac = new AbortController();
  let cancelledElsewhere = false;
  const onOuterAbort = () => ac.abort();
  if (opts.signal?.aborted) ac.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let lastStatusCheck = Date.now();
  const checkCancelled = () => {
    if (Date.now() - lastStatusCheck < 2000) return;
    lastStatusCheck = Date.now();
    if (getRun(lib, runId).status === 'cancelled') {
      cancelledElsewhere = true;
      ac.abort();
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
      },
      {
        signal: ac.signal,
        onEvent: (event, data) => {
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
            const c = data as { step: number; dir: string };
            recordCheckpoint(lib, runId, c.step, c.dir, folderSize(c.dir));
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
            });
          } else if (event === 'log') {
            log('trainer', data as string);
            opts.onLog?.(data as string);
          }
        },
      },
    );
    opts.onResult?.(summary);
    const adapterId = registerRunAdapter(lib, runId, summary.adapter);
    setRunStatus(lib, runId, 'completed');
    log('studio', `completed; its adapter is #${adapterId} in the library`);
    opts.onChange?.();
    return 'completed';
  } catch (e) {
    const aborted = e instanceof CancelledError || ac.signal.aborted;
    const reason = aborted ? (cancelledElsewhere ? 'cancel' : (opts.abortReason?.() ?? 'cancel')) : null;
    // A dead engine worker is like a crashed process: the run can resume from its last checkpoint.
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
        ? cleanMessage(toWireError(e).message, lib.dataDir)
        : outcome === 'cancelled'
          ? 'cancelled by the user'
          : undefined;
    setRunStatus(lib, runId, outcome, message);
    const at = getRun(lib, runId).checkpoints.at(-1)?.step;
    const where = at !== undefined ? ` (last checkpoint: step ${at})` : '';
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
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** Registers a completed run's adapter folder in the library (once), with its lineage. */
export function registerRunAdapter(lib: Library, runId: number, dir: string): number {
  const run = getRun(lib, runId);
  const cfg = run.config as unknown as StoredRunConfig;
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown> & {
    baseModel?: { fingerprint?: string };
  };
  // Once per folder: a checkpoint kept earlier (keepLastCheckpoint) is another adapter of the same run.
  return registerRunAdapterOnce(lib, {
    name: run.name ?? `Run ${runId} (${cfg.intervention}, rank ${cfg.rank})`,
    path: dir,
    type: cfg.intervention,
    baseModelFingerprint: run.modelFingerprint ?? manifest.baseModel?.fingerprint ?? '',
    manifest,
    runId,
    datasetVersionId: run.datasetVersionId,
    sizeBytes: folderSize(dir),
  });
}

/**
 * Keeps a stopped run's last checkpoint as an adapter: its parameters (a checkpoint folder is a
 * studio adapter folder) are copied to <data>/adapters/run-<id>-step-<N>/ — so deleting the run
 * later keeps the adapter — and registered with the run's lineage and the tag 'checkpoint'.
 * Refuses a run that is queued or running ('run-active') or has no checkpoint ('no-checkpoint').
 * Keeping the same checkpoint twice returns the adapter kept the first time.
 */
export function keepLastCheckpoint(lib: Library, runId: number): AdapterRecord {
  const run = getRun(lib, runId);
  if (run.status === 'queued' || run.status === 'running')
    throw new ValidationError(
      'run-active',
      `run ${runId} is ${run.status}; cancel it with "keep the last checkpoint" instead`,
    );
  const ckpt = [...run.checkpoints].reverse().find((c) => existsSync(join(c.path, STATE_FILE)));
  if (!ckpt) throw new ValidationError('no-checkpoint', `run ${runId} saved no checkpoint before it stopped`);
  const dest = join(lib.dataDir, 'adapters', `run-${runId}-step-${ckpt.step}`);
  const existing = findRunAdapter(lib, runId, dest);
  if (existing !== null) return getAdapter(lib, existing);
  const adapter = readStudioAdapter(ckpt.path);
  // The same checkpoint always gives the same folder: writing it twice (two windows) is harmless;
  // registering it twice is not, so that is decided under the write lock.
  writeStudioAdapter(dest, adapter);
  const cfg = run.config as unknown as StoredRunConfig;
  const total = run.totalSteps !== null ? ` of ${run.totalSteps}` : '';
  const id = registerRunAdapterOnce(lib, {
    name: `${run.name ?? `Run ${runId} (${cfg.intervention}, rank ${cfg.rank})`} — step ${ckpt.step}${total}`,
    path: dest,
    type: cfg.intervention ?? adapter.interventions[0]?.type ?? 'loreft',
    baseModelFingerprint: run.modelFingerprint ?? adapter.manifest.baseModel.fingerprint,
    manifest: adapter.manifest as unknown as Record<string, unknown>,
    runId,
    datasetVersionId: run.datasetVersionId,
    sizeBytes: folderSize(dest),
    tags: ['checkpoint'],
  });
  return getAdapter(lib, id);
}

// ---- the studio's run controls ---------------------------------------------------------------------

type Intent = 'pause' | 'cancel' | 'shutdown';

export class TrainingService {
  #intent = new Map<number, Intent>();
  /** Runs cancelled with "keep the last checkpoint": kept once their job has stopped. */
  #keep = new Set<number>();

  constructor(
    readonly lib: Library,
    readonly engine: Engine,
    readonly jobs: JobQueue,
    readonly events: BackendEvents,
  ) {}

  start(p: RunParams): RunRecord {
    const plan = planRun(this.lib, p);
    const run = createRecordedRun(this.lib, plan, p.name);
    const ds = getDataset(this.lib, plan.version.datasetId);
    this.#log(
      run.id,
      `queued: ${plan.totalSteps} steps on ${plan.trainExamples} examples of “${ds.name}” v${plan.version.version}`,
    );
    this.#enqueue(run.id);
    this.#changed(run.id);
    return getRun(this.lib, run.id);
  }

  /** Continues a paused or interrupted run from its last checkpoint (from the start if it has none). */
  resume(id: number): RunRecord {
    const run = getRun(this.lib, id);
    if (this.jobs.findByRun(id))
      throw new ValidationError('already-running', `run ${id} is already ${run.status}`);
    if (!requeueRun(this.lib, id)) {
      throw new ValidationError(
        'not-resumable',
        `run ${id} is ${run.status}; only paused or interrupted runs can be resumed`,
      );
    }
    this.#enqueue(id);
    this.#changed(id);
    return getRun(this.lib, id);
  }

  /** Stops a running run after a checkpoint and keeps it resumable; a queued run just waits as paused. */
  pause(id: number): RunRecord {
    const run = getRun(this.lib, id);
    const job = this.jobs.findByRun(id);
    if (!job || (run.status !== 'running' && run.status !== 'queued')) {
      throw new ValidationError(
        'not-pausable',
        `run ${id} is ${run.status}; only a queued or running run can be paused`,
      );
    }
    this.#intent.set(id, 'pause');
    if (job.state === 'queued') setRunStatus(this.lib, id, 'paused');
    this.jobs.cancel(job.id);
    this.#changed(id);
    return getRun(this.lib, id);
  }

  /**
   * Cancels a run: a running one saves a checkpoint at its last step, then stops. With
   * `keepCheckpoint` that last checkpoint becomes an adapter (at once for a stopped run, else when
   * its job has stopped; 'library/changed' adapters then says so).
   */
  cancel(id: number, opts: { keepCheckpoint?: boolean } = {}): RunRecord & { keptAdapterId: number | null } {
    const run = getRun(this.lib, id);
    if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
      throw new ValidationError('not-cancellable', `run ${id} is already ${run.status}`);
    }
    this.#intent.set(id, 'cancel');
    setRunStatus(this.lib, id, 'cancelled', 'cancelled by the user');
    const job = this.jobs.findByRun(id);
    let keptAdapterId: number | null = null;
    if (job) {
      if (opts.keepCheckpoint) this.#keep.add(id);
      this.jobs.cancel(job.id);
    } else {
      this.#log(id, 'cancelled');
      if (opts.keepCheckpoint) keptAdapterId = this.#keepNow(id);
    }
    this.#changed(id);
    return { ...getRun(this.lib, id), keptAdapterId };
  }

  /** Keeps a stopped run's last checkpoint as an adapter (see keepLastCheckpoint). */
  keepCheckpoint(id: number): AdapterRecord {
    const a = keepLastCheckpoint(this.lib, id);
    this.#log(
      id,
      `kept the checkpoint at step ${(a.manifest as { metrics?: { step?: number } }).metrics?.step ?? '?'} as adapter #${a.id}`,
    );
    this.events.emit('library/changed', { kind: 'adapters', id: a.id, action: 'added' });
    this.#changed(id);
    return a;
  }

  #keepNow(id: number): number | null {
    try {
      return this.keepCheckpoint(id).id;
    } catch (e) {
      this.#log(
        id,
        `could not keep the last checkpoint: ${cleanMessage(toWireError(e).message, this.lib.dataDir)}`,
      );
      return null;
    }
  }

  #log(id: number, text: string): void {
    this.events.emit('runs/log', { runId: id, line: appendRunLog(this.lib, id, 'studio', text) });
  }

  /** Host shutdown: running runs stop at a checkpoint and stay resumable ('interrupted'). */
  shutdown(): void {
    for (const j of this.jobs.list()) {
      if (j.runId !== null && (j.state === 'running' || j.state === 'queued'))
        this.#intent.set(j.runId, 'shutdown');
    }
  }

  #changed(id: number): void {
    this.events.emit('library/changed', { kind: 'runs', id, action: 'updated' });
  }

  #enqueue(runId: number): void {
    const run = getRun(this.lib, runId);
    const cfg = run.config as unknown as StoredRunConfig;
    this.#intent.delete(runId);
    this.jobs.enqueue({
      kind: 'train',
      device: cfg.device ?? 'cpu',
      runId,
      label: run.name ?? `run ${runId}`,
      run: async ({ signal, report }) => {
        if (getRun(this.lib, runId).status !== 'queued') return 'skipped';
        const outcome = await executeRun(this.lib, this.engine, runId, {
          signal,
          abortReason: () => this.#intent.get(runId) ?? 'cancel',
          onChange: () => this.#changed(runId),
          onLogLine: (line) => this.events.emit('runs/log', { runId, line }),
          onSample: (s) => report({ detail: { event: 'sample', ...s } }),
          onProgress: (p) =>
            report({
              progress: p.totalSteps ? p.step / p.totalSteps : undefined,
              message: `step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}`,
              detail: { event: 'progress', ...p },
            }),
        });
        this.#intent.delete(runId);
        if (this.#keep.delete(runId) && outcome === 'cancelled') this.#keepNow(runId);
        if (outcome === 'completed')
          this.events.emit('library/changed', { kind: 'adapters', action: 'added' });
        if (outcome === 'failed')
          throw new ConfigError('run-failed', getRun(this.lib, runId).error ?? 'training failed');
        if (outcome !== 'completed') throw new CancelledError(`run ${runId} ${outcome}`);
        return outcome;
      },
    });
  }
}
