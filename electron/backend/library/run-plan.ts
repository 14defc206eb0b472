// Planning a training run from library ids and recording it: the ids and options resolved into a
// trainer config and refused (naming the field) before anything is stored; then the run row with its
// full config, dataset version, model fingerprint and system info. The CLI's `train` names its model
// and data by id or path (recordRunFromRefs); the studio by id (jobs/training.ts). Executing a run
// is jobs/run-execution.ts's.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ValidationError } from '../../../native-runtime/errors.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import { noTokenizerReason } from '../../../native-runtime/models/model-folder.ts';
import { machineNvidia } from '../../../native-runtime/runtime/gpu-choice.ts';
import { noNvidiaGpu } from '../../../native-runtime/runtime/gpus.ts';
import {
  type ResolvedTrainConfig,
  resolveTrainConfig,
  type TrainConfig,
} from '../../../native-runtime/training/config.ts';
import {
  bf16Refusal,
  OptionError,
  optionError,
  TRAIN_DEFAULTS,
} from '../../../native-runtime/training/options.ts';
import { rolledBack, writeTransaction } from '../db/database.ts';
import type { Engine } from '../jobs/engine.ts';
import type { ProbeConfig, RunParams } from '../jobs/run-params.ts';
import { systemInfo } from '../system-info.ts';
import { resolveDatasetVersion } from './dataset-edits.ts';
import type { ColumnMapping, DatasetFormat } from './dataset-formats.ts';
import { datasetRef } from './dataset-import.ts';
import { type DatasetVersion, getDatasetVersion } from './datasets.ts';
import { cudaPackReady } from './device-memory.ts';
import { preferredDevice } from './environment.ts';
import { recordingFrozenFiles } from './frozen-file-reclaim.ts';
import type { FrozenFile } from './frozen-files.ts';
import { heldOutOverlap } from './held-out-rule.ts';
import type { Library } from './library.ts';
import { getModel, type ModelRecord, modelFromRef } from './models.ts';
import { refuseRunOverMemory } from './run-memory-check.ts';
import { checkProbePrompts, type ProbeCheckArgs } from './run-tokenizing.ts';
import { createRunWithConfig, type RunRecord } from './runs.ts';

export type { RunParams } from '../jobs/run-params.ts';

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
 * data must share no rows with the training data (held-out-rule.ts) and share its format (the
 * trainer reads both alike).
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
  const overlap = evalVersion && heldOutOverlap(version, evalVersion, (id) => getDatasetVersion(lib, id));
  if (overlap) throw new ValidationError('eval-is-train', overlap);
  if (evalVersion && evalVersion.format !== version.format)
    throw new ValidationError(
      'eval-format',
      `the held-out data is ${evalVersion.format} but the training data is ${version.format}`,
    );
  return { version, evalVersion };
}

/** What planRun says of the machine, which it cannot ask itself (it runs inside transactions). */
export interface PlanMachine {
  /** gpus.ts noNvidiaGpu's answer where a bf16 run may be refused for want of CUDA, else undefined. */
  noGpu?: string | null;
}

/**
 * The machine as planRun(lib, p) needs it: with no NVIDIA GPU its bf16 refusal says so, in `devices`'
 * words, rather than advise a runtime pack that cannot help. nvidia-smi is asked (once per process)
 * only for a bf16 run where the pack is missing: no other plan waits on it.
 */
export async function planMachine(lib: Library, p: Pick<RunParams, 'dtype'>): Promise<PlanMachine> {
  if (p.dtype !== 'bf16' || cudaPackReady(lib.dataDir)) return {};
  return { noGpu: noNvidiaGpu(await machineNvidia()) };
}

/**
 * Resolves library ids and options into a trainer config and refuses a bad run (ConfigError or
 * ValidationError naming the field) before anything is stored. `out` and the checkpoint folder are
 * placeholders until the run has an id. runs/start, runs/estimate and runs/preview all plan here,
 * so the Train form's estimate and preview refuse what Start would. The probe prompts, which need the
 * tokenizer, are checked by planRunChecked (the studio) and recordRunFromRefs (the CLI).
 */
export function planRun(
  lib: Library,
  p: RunParams,
  machine: PlanMachine,
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
  // Refused here, before the run is recorded, rather than by the trainer once it is.
  if (!existsSync(join(model.path, 'tokenizer.json')))
    throw new ValidationError(
      'missing-tokenizer',
      `${model.path}: ${noTokenizerReason(model.path)}; training needs the model's tokenizer`,
    );
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
    // The device chosen in Settings, unless the run names one; named here either way, so options
    // that depend on it (bf16) are judged before the run is stored.
    device: options.device ?? preferredDevice(lib) ?? TRAIN_DEFAULTS.device,
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
  // bfloat16 runs on CUDA only: 'auto' or 'cuda' without the CUDA runtime pack would run elsewhere
  // and fail at the run's start, a failed run no resume puts right; refused before it is recorded.
  if (
    config.dtype === 'bf16' &&
    (config.device === 'auto' || config.device === 'cuda') &&
    !cudaPackReady(lib.dataDir)
  )
    throw new OptionError(
      bf16Refusal(config.device, 'the CUDA runtime pack is not installed', machine.noGpu),
    );
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
 * planRun, then the probe prompts' check (run-tokenizing.ts) in the engine's 'tokens' process: the
 * studio's runs/start and runs/estimate plan here, never tokenizing on the RPC loop (runs/preview
 * sends the check with its example, one call: run-preview.ts).
 */
export async function planRunChecked(lib: Library, engine: Engine, p: RunParams): Promise<PlannedRun> {
  const plan = planRun(lib, p, await planMachine(lib, p));
  const check = probeCheckOf(plan);
  if (check) await engine.call('checkProbePrompts', check);
  return plan;
}

/** What the probe prompts' check reads of a plan, or null when the run asks no probe prompts. */
export function probeCheckOf(plan: PlannedRun): ProbeCheckArgs | null {
  if (!plan.probe) return null;
  const { chatTemplate } = plan.config;
  return { model: plan.model.path, format: plan.version.format, chatTemplate, probe: plan.probe };
}

/**
 * Creates the run row ('queued') with its full config, dataset version, model fingerprint and system
 * info. Checkpoints go to the run's folder in the data folder unless `checkpointDir` is given;
 * `sweepId` for a run of a sweep (runs/start-many). `name` may be made from the new run's id.
 */
export function createRecordedRun(
  lib: Library,
  plan: PlannedRun,
  name?: string | ((runId: number) => string | undefined),
  opts: { checkpointDir?: string; sweepId?: number } = {},
): RunRecord {
  return createRunWithConfig(
    lib,
    {
      name: typeof name === 'string' ? name : undefined,
      sweepId: opts.sweepId,
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
    typeof name === 'function' ? name : undefined,
  );
}

/** Library references as the CLI takes them: ids or paths (a path is added or imported). */
export interface RunRefs {
  model: string;
  data: string;
  evalData?: string;
  format?: DatasetFormat | 'auto';
  /** Columns of the data file when they use other names. */
  mapping?: ColumnMapping;
  /** Columns of the held-out data file (its own: it may name them otherwise). */
  evalMapping?: ColumnMapping;
}

/**
 * `reft-studio train`'s run: the model and data given as ids or paths, planned, checked and recorded.
 * Data files are read and frozen first (slow, no lock held); the run is planned on the model and
 * data it adds in a transaction rolled back, and checked against the computer's memory as runs/start
 * checks it (run-memory-check.ts, asynchronous: it may tokenize the data); then one short write
 * transaction adds the model and datasets, plans the run again and records it. A bad option, or a
 * run the engine would refuse for memory, leaves no model, dataset, run or frozen data file behind.
 */
export async function recordRunFromRefs(
  lib: Library,
  engine: Engine,
  refs: RunRefs,
  options: Omit<RunParams, 'modelId' | 'datasetId' | 'datasetVersionId' | 'evalDatasetVersionId'>,
  opts: { checkpointDir?: string; name?: string } = {},
): Promise<{ plan: PlannedRun; run: RunRecord; modelNote?: string }> {
  // What the data files froze into the data folder: given back should no run be recorded (a bad
  // option, the model refused, the eval file's bad row), instead of waiting for the start-up sweep.
  const frozen: FrozenFile[] = [];
  return recordingFrozenFiles(lib, frozen, async () => {
    const data = await datasetRef(lib, refs.data, refs.format, refs.mapping);
    frozen.push(...data.files);
    const evalData = refs.evalData
      ? await datasetRef(lib, refs.evalData, refs.format, refs.evalMapping)
      : undefined;
    frozen.push(...(evalData?.files ?? []));
    return await recordPlannedRun(lib, engine, refs.model, options, opts, data.version, evalData?.version);
  });
}

/** recordRunFromRefs once its data files are frozen: `data` and `evalData` record their versions. */
async function recordPlannedRun(
  lib: Library,
  engine: Engine,
  modelRef: string,
  options: Omit<RunParams, 'modelId' | 'datasetId' | 'datasetVersionId' | 'evalDatasetVersionId'>,
  opts: { checkpointDir?: string; name?: string },
  data: () => DatasetVersion,
  evalData: (() => DatasetVersion) | undefined,
): Promise<{ plan: PlannedRun; run: RunRecord; modelNote?: string }> {
  // How a cache repository's snapshot was chosen (addModel's note), for the caller to say.
  let modelNote: string | undefined;
  const machine = await planMachine(lib, options);
  const planned = (): PlannedRun => {
    const model = modelFromRef(lib, modelRef);
    modelNote = model.note;
    const version = data();
    const evalVersion = evalData?.();
    return planRun(
      lib,
      {
        ...options,
        modelId: model.id,
        datasetId: version.datasetId,
        datasetVersionId: version.id,
        evalDatasetVersionId: evalVersion?.id,
      } as RunParams,
      machine,
    );
  };
  const trial = rolledBack(lib.db, () => {
    const plan = planned();
    const check = probeCheckOf(plan);
    if (check) checkProbePrompts(check); // the CLI's own process: no loop to keep free
    return plan;
  });
  // No signal: the CLI counts on its only thread, which no Ctrl-C handler could interrupt; Node's
  // default ends the process there, nothing recorded (tests/cli/train-count-ctrl-c.test.ts).
  await refuseRunOverMemory(engine, trial);
  return writeTransaction(lib.db, () => {
    const plan = planned();
    const run = createRecordedRun(lib, plan, opts.name, { checkpointDir: opts.checkpointDir });
    return { plan, run, ...(modelNote ? { modelNote } : {}) };
  });
}
