// `reft-studio train`: trains a ReFT adapter and records the run in the library, through the same
// jobs/training.ts code the studio uses (planRun → createRecordedRun → executeRun on an in-process
// engine). --model is a library id or a folder (added if new), --data a library id (its latest
// version) or a file (imported as a dataset); metrics are stored per step and the adapter is
// registered on completion; --out also writes the adapter folder there. Progress goes to stderr, one
// line per optimizer step; without --json a summary follows on stdout, with --json exactly one object
// {runId, adapterId, adapter, steps, finalLoss, …}.
// Ctrl-C saves a checkpoint at the last finished step and stops: the run is left 'paused' (cancelled
// runs are final in the library) and `reft-studio runs resume ID` continues it; the exit is non-zero.
// `--resume CKPT` continues a checkpoint folder outside the library with its stored configuration
// (flags given on the command line override it; options that change the numbers must agree or the
// resume is refused) and writes only --out.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import type { TrainSummary } from '../../electron/backend/jobs/engine-tasks.ts';
import { createRecordedRun, executeRun, planRun } from '../../electron/backend/jobs/training.ts';
import { datasetVersionFromRef } from '../../electron/backend/library/datasets.ts';
import type { Library } from '../../electron/backend/library/library.ts';
import { modelFromRef } from '../../electron/backend/library/models.ts';
import { getRun } from '../../electron/backend/library/runs.ts';
import { CancelledError, ConfigError } from '../../native-runtime/errors.ts';
import { writeFolderAtomic } from '../../native-runtime/formats/atomic-write.ts';
import type { TrainConfig } from '../../native-runtime/training/config.ts';
import { DATA_FORMATS, type DataFormat } from '../../native-runtime/training/data.ts';
import { OptionError } from '../../native-runtime/training/options.ts';
import {
  resumeConfig,
  type TrainProgress,
  type TrainResult,
  train,
} from '../../native-runtime/training/trainer.ts';
import { type ArgValues, str, UsageError } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';
import { TRAIN_OPTION_FLAGS, TRAIN_OPTIONS_USAGE, trainOptionsFromFlags } from '../train-flags.ts';

const S = { type: 'string' } as const;

function oneOf<T extends string>(values: ArgValues, key: string, allowed: readonly T[]): T | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T))
    throw new ConfigError(`bad-${key}`, `--${key} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
}

/** TrainConfig fields given on the command line (undefined = not given). */
function flagsToConfig(v: ArgValues): Partial<TrainConfig> {
  const paths: Partial<TrainConfig> = {
    model: str(v, 'model'),
    data: str(v, 'data'),
    format: oneOf<DataFormat | 'auto'>(v, 'format', ['auto', ...DATA_FORMATS]),
    evalData: str(v, 'eval-data'),
    checkpointDir: str(v, 'checkpoint-dir'),
    exportPyreft: str(v, 'export-pyreft'),
    out: str(v, 'out'),
  };
  return {
    ...(Object.fromEntries(Object.entries(paths).filter(([, x]) => x !== undefined)) as Partial<TrainConfig>),
    ...trainOptionsFromFlags(v),
  };
}

function progressLine(p: TrainProgress): string {
  const w = String(p.totalSteps).length;
  const eta = p.etaS >= 90 ? `${Math.round(p.etaS / 60)}m` : `${Math.round(p.etaS)}s`;
  return [
    `step ${String(p.step).padStart(w)}/${p.totalSteps}`,
    `epoch ${p.epoch.toFixed(2)}`,
    `loss ${p.loss.toFixed(4)}`,
    `lr ${p.lr.toExponential(2)}`,
    `|g| ${p.gradNorm.toFixed(3)}`,
    `${Math.round(p.tokensPerS)} tok/s`,
    `eta ${eta}`,
    ...(p.evalLoss !== undefined ? [`eval ${p.evalLoss.toFixed(4)}`] : []),
  ].join('  ');
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a ReFT adapter, recording the run in the library (and writing it to --out when given)',
  usage:
    'train --model ID|DIR --data ID|FILE [--out DIR] [--format auto|prompt-completion|alpaca|chat] ' +
    '[--eval-data FILE] [--checkpoint-dir DIR] [--export-pyreft DIR] [--resume CHECKPOINT_DIR] ' +
    TRAIN_OPTIONS_USAGE,
  options: {
    model: S,
    data: S,
    format: S,
    'eval-data': S,
    'checkpoint-dir': S,
    'export-pyreft': S,
    out: S,
    resume: S,
    ...TRAIN_OPTION_FLAGS,
  },
  async run(ctx) {
    try {
      if (ctx.args.length) throw new UsageError(`train: unexpected argument "${ctx.args[0]}"`);
      const flags = flagsToConfig(ctx.values);
      const resume = str(ctx.values, 'resume');
      if (resume)
        return await resumeCheckpoint(ctx, { ...resumeConfig(resume), ...flags, resumeFrom: resume });
      if (!flags.model) throw new UsageError('train: --model ID|DIR is required');
      if (!flags.data) throw new UsageError('train: --data ID|FILE is required');
      return await ctx.withLibrary((lib) => trainRecorded(ctx, lib, flags));
    } catch (e) {
      // An option's refusal names its flag here, its label in the studio.
      throw e instanceof OptionError ? e.forCli() : e;
    }
  },
};

const err = (s: string) => process.stderr.write(`${s}\n`);

/** Ctrl-C: the first one asks the trainer to checkpoint and stop (a second one kills the process). */
function onCtrlC(fn: () => void): () => void {
  const onSigint = () => {
    err('cancelling: saving a checkpoint at the end of this step (Ctrl-C again to stop at once)');
    fn();
  };
  process.once('SIGINT', onSigint);
  return () => process.removeListener('SIGINT', onSigint);
}

type Summary = Omit<TrainResult, 'metrics'> | TrainSummary;

function summaryJson(r: Summary, adapter: string): Record<string, unknown> {
  return {
    adapter,
    pyreft: r.pyreft,
    steps: r.steps,
    totalSteps: r.totalSteps,
    epochs: r.epochs,
    finalLoss: r.finalLoss,
    evalLoss: r.evalLoss,
    tokensPerS: r.tokensPerS,
    stepsPerS: r.stepsPerS,
    elapsedS: r.elapsedS,
    trainExamples: r.trainExamples,
    evalExamples: r.evalExamples,
    truncatedExamples: r.truncatedExamples,
    interventions: r.interventions,
    trainableParams: r.trainableParams,
    checkpoints: r.checkpoints,
    resumedFrom: r.resumedFrom,
  };
}

function summaryText(r: Summary, adapter: string, head: string[] = []): string {
  return [
    ...head,
    `adapter: ${adapter}`,
    ...(r.pyreft ? [`pyreft export: ${r.pyreft}`] : []),
    `steps: ${r.steps}  final loss: ${r.finalLoss.toFixed(4)}${r.evalLoss !== null ? `  eval loss: ${r.evalLoss.toFixed(4)}` : ''}`,
    `${r.interventions} interventions, ${r.trainableParams} trainable parameters, ${Math.round(r.tokensPerS)} tok/s`,
  ].join('\n');
}

/** A run in the library: model and data resolved (or added), the run recorded, trained in-process. */
async function trainRecorded(
  ctx: CommandContext,
  lib: Library,
  flags: Partial<TrainConfig>,
): Promise<number> {
  const f = flags;
  // Everything is validated before anything is stored: a bad flag leaves no model, dataset or run behind.
  const { plan, run } = lib.db.transaction(() => {
    const model = modelFromRef(lib, f.model as string);
    const version = datasetVersionFromRef(lib, f.data as string, f.format);
    const evalVersion = f.evalData ? datasetVersionFromRef(lib, f.evalData, f.format) : undefined;
    const { model: _m, data: _d, format: _f, evalData: _e, checkpointDir: _c, out: _o, ...options } = f;
    const plan = planRun(lib, {
      ...options,
      modelId: model.id,
      datasetId: version.datasetId,
      datasetVersionId: version.id,
      evalDatasetVersionId: evalVersion?.id,
    });
    return { plan, run: createRecordedRun(lib, plan, undefined, { checkpointDir: f.checkpointDir }) };
  })();
  err(
    `run ${run.id}: ${plan.model.name}, dataset ${plan.version.datasetId} v${plan.version.version}, ${plan.totalSteps} steps`,
  );

  const ac = new AbortController();
  const release = onCtrlC(() => ac.abort());
  let summary: TrainSummary | undefined;
  let outcome: Awaited<ReturnType<typeof executeRun>>;
  try {
    outcome = await executeRun(lib, new InProcessEngine(), run.id, {
      signal: ac.signal,
      // Ctrl-C keeps the run resumable ('paused'): a cancelled run is final in the library.
      abortReason: () => 'pause',
      onLog: err,
      onProgress: (p) => err(progressLine(p)),
      onCheckpoint: (c) => err(`checkpoint: ${c.dir}`),
      onResult: (s) => {
        summary = s;
      },
    });
  } finally {
    release();
  }
  const done = getRun(lib, run.id);
  if (outcome !== 'completed' || !summary) {
    if (outcome === 'failed') throw new ConfigError('run-failed', done.error ?? `run ${run.id} failed`);
    const ck = done.checkpoints.at(-1);
    throw new CancelledError(
      `run ${run.id} ${done.status}${ck ? ` at step ${ck.step} (checkpoint ${ck.path})` : ''}; ` +
        `continue it with \`reft-studio runs resume ${run.id}\``,
    );
  }
  let adapter = summary.adapter;
  if (f.out) {
    writeFolderAtomic(
      f.out,
      readdirSync(adapter).map((name) => [name, readFileSync(join(adapter, name))] as [string, Uint8Array]),
    );
    adapter = f.out;
  }
  const s = summary;
  ctx.print({ runId: run.id, adapterId: done.adapterId, ...summaryJson(s, adapter) }, () =>
    summaryText(s, adapter, [`run ${run.id} completed; adapter ${done.adapterId} in the library`]),
  );
  return 0;
}

/** `--resume CKPT`: continues a checkpoint folder outside the library and writes only --out. */
async function resumeCheckpoint(ctx: CommandContext, config: TrainConfig): Promise<number> {
  if (!config.model) throw new UsageError('train: --model DIR is required');
  if (!config.data) throw new UsageError('train: --data FILE is required');
  if (!config.out)
    throw new UsageError('train: --out DIR is required with --resume (the adapter folder to write)');
  const ac = new AbortController();
  const release = onCtrlC(() => ac.abort());
  try {
    const { metrics: _m, ...r } = await train(
      { ...config, dataDir: ctx.dataDir },
      {
        signal: ac.signal,
        onLog: err,
        onProgress: (p) => err(progressLine(p)),
        onCheckpoint: (c) => err(`checkpoint: ${c.dir}`),
      },
    );
    ctx.print(summaryJson(r, r.adapter), () => summaryText(r, r.adapter));
    return 0;
  } finally {
    release();
  }
}
