// `reft-studio train`: trains a ReFT adapter and records the run in the library, through the same
// code the studio uses (library/run-plan.ts records it, jobs/run-execution.ts executes it in-process:
// cli/run-training.ts). --model is a library id or a folder (added if new), --data a library id (its
// latest version) or a file (imported as a dataset); metrics are stored per step and the adapter is
// registered on completion; --out also writes the adapter folder there. Progress goes through the
// reporter: a live bar on a terminal, interval lines otherwise, JSON-lines events on stderr with
// --json, whose one object on stdout is the result ({status, runId, adapterId, adapter, steps,
// finalLoss, …}; a stopped run's status, step, lastLoss, checkpoint and resume command).
// Ctrl-C pauses at the end of the step with a checkpoint (twice within 2 s: stops at once); the run
// stays resumable with `reft-studio runs resume ID` and the exit code is 130.
// `--resume CKPT` continues a checkpoint folder outside the library with its stored configuration
// (flags given on the command line override it; options that change the numbers must agree or the
// resume is refused) and writes only --out.

import { InProcessEngine } from '../../electron/backend/jobs/engine.ts';
import type { TrainSummary } from '../../electron/backend/jobs/engine-tasks.ts';
import { isDatasetId } from '../../electron/backend/library/dataset-import.ts';
import type { Library } from '../../electron/backend/library/library.ts';
import { type RunRefs, recordRunFromRefs } from '../../electron/backend/library/run-plan.ts';
import { plural } from '../../native-runtime/plural.ts';
import { deviceText } from '../../native-runtime/runtime/device-choice.ts';
import { precisionText, runAskedPrecision } from '../../native-runtime/runtime/precision-used.ts';
import type { TrainConfig } from '../../native-runtime/training/config.ts';
import { DATA_FORMATS, type DataFormat } from '../../native-runtime/training/data.ts';
import type { ColumnMapping } from '../../native-runtime/training/data-files.ts';
import { resumeConfig, type TrainResult } from '../../native-runtime/training/trainer.ts';
import { type ArgValues, badValue, type OptionDef, str, UsageError } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';
import { dataFileOf, MAP_OPTION, parseMapping, refuseMappedId } from '../data-flags.ts';
import { warnModelNote } from '../model-flag.ts';
import {
  bestText,
  checkOutFolders,
  executeRunHere,
  printStopped,
  runFailed,
  trainFromCheckpoint,
  writeOutFolders,
} from '../run-training.ts';
import { TRAIN_OPTION_FLAGS, TRAIN_OPTIONS_USAGE, trainOptionsFromFlags } from '../train-flags.ts';

const S = (description: string, value: string): OptionDef => ({ type: 'string', description, value });

function oneOf<T extends string>(values: ArgValues, key: string, allowed: readonly T[]): T | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw badValue(`--${key}`, `one of ${allowed.join(', ')}`, v, `bad-${key}`);
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

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a ReFT adapter, recording the run in the library (and writing it to --out when given)',
  usage:
    'train --model ID|DIR --data ID|FILE [--out DIR] [--format auto|prompt-completion|alpaca|chat] [--map FIELD=COLUMN]... ' +
    '[--eval-data FILE] [--eval-map FIELD=COLUMN]... [--checkpoint-dir DIR] [--export-pyreft DIR] [--resume CHECKPOINT_DIR] ' +
    TRAIN_OPTIONS_USAGE,
  options: {
    model: S('the base model: a library id or a model folder (added to the library)', 'ID|DIR'),
    data: S('training data: a library dataset id or a JSONL/JSON/CSV/TSV/Parquet file (imported)', 'ID|FILE'),
    format: S('the row format of --data (default auto)', 'auto|prompt-completion|alpaca|chat'),
    map: MAP_OPTION,
    'eval-data': S('held-out data to measure the loss on', 'FILE'),
    'eval-map': {
      ...MAP_OPTION,
      description: 'as --map, for --eval-data FILE (default: --map, when --data is a file too)',
    },
    'checkpoint-dir': S('where checkpoints go (default: the run folder in the library)', 'DIR'),
    'export-pyreft': S('also write the adapter as a pyreft folder', 'DIR'),
    out: S('also write the adapter folder here', 'DIR'),
    resume: S('continue a checkpoint folder outside the library (needs --out)', 'CHECKPOINT_DIR'),
    ...TRAIN_OPTION_FLAGS,
  },
  examples: [
    'train --model ./SmolLM2-135M --data persona.jsonl --max-steps 200',
    'train --model 1 --data 2 --layers "4;8" --positions l1 --rank 8 --lr 4e-3 --epochs 3 --out ./pirate',
  ],
  stream: true,
  async run(ctx) {
    const flags = flagsToConfig(ctx.values);
    const mapping = parseMapping(ctx.values.map);
    const evalMapping = parseMapping(ctx.values['eval-map'], '--eval-map');
    const resume = str(ctx.values, 'resume');
    // --resume trains on --data as it is, never imported: it has no columns to map.
    if (resume && (mapping || evalMapping))
      throw new UsageError('train: --map and --eval-map are for files imported by a new run, not --resume');
    if (resume)
      return await resumeCheckpoint(ctx, { ...storedOptions(resume), ...flags, resumeFrom: resume });
    if (!flags.model) throw new UsageError('train: --model ID|DIR is required');
    if (!flags.data) throw new UsageError('train: --data ID|FILE is required');
    const mappings = dataMappings(flags.data, flags.evalData, mapping, evalMapping);
    return await ctx.withLibrary((lib) => trainRecorded(ctx, lib, flags, mappings));
  },
};

/**
 * Each data file's column mapping: --map is --data's, --eval-map --eval-data's. A held-out file
 * without --eval-map takes --map's when --data is a file too (--map applied to both before
 * --eval-map existed); beside a library id, --map would map nothing, so the refusal names the flag.
 */
function dataMappings(
  data: string,
  evalData: string | undefined,
  mapping: ColumnMapping | undefined,
  evalMapping: ColumnMapping | undefined,
): Pick<RunRefs, 'mapping' | 'evalMapping'> {
  if (evalMapping && !evalData) throw new UsageError('train: --eval-map is for --eval-data FILE');
  refuseMappedId('train', { data: '--eval-data', map: '--eval-map' }, evalData, evalMapping);
  const evalFile = evalData !== undefined && !isDatasetId(evalData);
  refuseMappedId(
    'train',
    { data: '--data', map: '--map' },
    data,
    mapping,
    evalFile && !evalMapping ? "map --eval-data's columns with --eval-map FIELD=COLUMN" : undefined,
  );
  return { mapping, evalMapping: evalMapping ?? (evalFile ? mapping : undefined) };
}

/**
 * A checkpoint's stored configuration without the folders its own run wrote to: for a run in a
 * library those are inside that data folder (its adapter, its checkpoints, its pyreft export), which
 * a continuation outside the library must not write; it writes --out, its checkpoints beside it
 * (or in --checkpoint-dir) and --export-pyreft only when given.
 */
function storedOptions(checkpoint: string): Omit<TrainConfig, 'out'> {
  const { out: _o, checkpointDir: _c, exportPyreft: _e, ...stored } = resumeConfig(checkpoint);
  return stored;
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
    best: r.best,
    keptBest: r.keptBest,
    stoppedEarly: r.stoppedEarly,
    // As `runs show` has them: the provider that ran, why not the one asked for, and the precision
    // the steps computed in (auto's choice for the device).
    device: r.device.device,
    deviceFallback: r.device.fallback,
    precision: r.device.precision,
  };
}

/** `asked`: the --dtype the run was given (its config's), beside which the precision that ran is said. */
function summaryText(r: Summary, adapter: string, asked: string, head: string[] = []): string {
  return [
    ...head,
    `adapter: ${adapter}`,
    ...(r.pyreft ? [`pyreft export: ${r.pyreft}`] : []),
    `steps: ${r.steps}  final loss: ${r.finalLoss.toFixed(4)}${r.evalLoss !== null ? `  eval loss: ${r.evalLoss.toFixed(4)}` : ''}`,
    ...(r.stoppedEarly ? [`stopped early at step ${r.steps} of ${r.totalSteps}: ${r.stoppedEarly}`] : []),
    ...(r.best ? [bestText(r.best, r.keptBest)] : []),
    `${plural(r.interventions, 'intervention')}, ${plural(r.trainableParams, 'trainable parameter')}, ${Math.round(r.tokensPerS)} tok/s`,
    deviceText(r.device),
    `precision: ${precisionText(asked, r.device.precision)}`,
  ].join('\n');
}

/** A run in the library: model and data resolved (or added), the run recorded, trained in-process. */
async function trainRecorded(
  ctx: CommandContext,
  lib: Library,
  flags: Partial<TrainConfig>,
  mappings: Pick<RunRefs, 'mapping' | 'evalMapping'>,
): Promise<number> {
  const f = flags;
  checkOutFolders(ctx, f);
  const { model: _m, data: _d, format: _f, evalData: _e, checkpointDir: _c, out: _o, ...options } = f;
  const { plan, run, modelNote } = await recordRunFromRefs(
    lib,
    new InProcessEngine(),
    { model: f.model as string, data: f.data as string, evalData: f.evalData, format: f.format, ...mappings },
    options,
    { checkpointDir: f.checkpointDir },
  );
  warnModelNote(ctx, modelNote); // as `models add` says it
  ctx.progress.log(
    `run ${run.id}: ${plan.model.name}, dataset ${plan.version.datasetId} v${plan.version.version}, ${plural(plan.totalSteps, 'step')}`,
  );
  const { outcome, summary, run: done } = await executeRunHere(ctx, lib, run.id, f.out);
  if (outcome === 'failed') throw runFailed(ctx, done, f.out);
  if (outcome !== 'completed' || !summary) return printStopped(ctx, done, outcome, f.out);
  const adapter = writeOutFolders(summary.adapter, f);
  const s: TrainSummary = summary;
  ctx.print(
    { status: 'completed', runId: run.id, adapterId: done.adapterId, ...summaryJson(s, adapter) },
    () =>
      summaryText(s, adapter, runAskedPrecision(done.config), [
        `run ${run.id} completed; adapter ${done.adapterId} in the library`,
      ]),
  );
  return 0;
}

/** `--resume CKPT`: continues a checkpoint folder outside the library and writes only --out. */
async function resumeCheckpoint(
  ctx: CommandContext,
  config: Omit<TrainConfig, 'out'> & { out?: string },
): Promise<number> {
  if (!config.model) throw new UsageError('train: --model DIR is required');
  if (!config.data) throw new UsageError('train: --data ID|FILE is required');
  if (!config.out)
    throw new UsageError('train: --out DIR is required with --resume (the adapter folder to write)');
  checkOutFolders(ctx, config);
  const data = await dataFileOf(ctx, config.data);
  const evalData = await dataFileOf(ctx, config.evalData);
  const r = await trainFromCheckpoint(ctx, {
    ...config,
    data,
    evalData,
    out: config.out,
    outIsExport: true,
    dataDir: ctx.dataDir,
  });
  if (typeof r === 'number') return r;
  ctx.print({ status: 'completed', ...summaryJson(r, r.adapter) }, () =>
    summaryText(r, r.adapter, runAskedPrecision(config)),
  );
  return 0;
}
