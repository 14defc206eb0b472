// The configuration of a training run: the training options (options.ts, declared once for the
// CLI, the RPC handlers and the studio's form) plus where the data comes from and where results go.
// resolveTrainConfig fills the defaults and refuses a bad run before any work starts: an option's
// problem is an OptionError naming it (options.ts), a path's a ConfigError with its own code.
// Checks that need the data (empty dataset, a row without a completion) happen in data.ts, also
// before training starts.

import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { DATA_FORMATS, type DataFormat } from './data.ts';
import {
  DETERMINISTIC_OPTIONS,
  heldOutIssues,
  type ModelShapeForTraining,
  mustBe,
  OptionError,
  type ResolvedTrainOptions,
  resolveTrainOptions,
  TRAIN_OPTION_KEYS,
  type TrainOptions,
} from './options.ts';

export type { ModelShapeForTraining } from './options.ts';
export { TRAIN_DEFAULTS } from './options.ts';

/** Where a run reads and writes; the CLI's path flags and what the studio fills in from its library. */
export interface TrainPaths {
  /** Model folder (a Hugging Face cache repo folder is resolved to its snapshot). */
  model: string;
  /** Training data file (JSONL or a JSON array). */
  data: string;
  format?: DataFormat | 'auto';
  /** Held-out evaluation file; otherwise `evalSplit` of the training data is held out. */
  evalData?: string;
  /** The final studio adapter folder. */
  out: string;
  /** Checkpoint folders go here (default `<out>.checkpoints`). */
  checkpointDir?: string;
  /** Also write a pyreft folder here (marked as an export, formats/export-marker.ts). */
  exportPyreft?: string;
  /**
   * `out` is a folder the person named (`train --resume`), not the library's: mark it as an export,
   * so that a later run may replace it. Not stored with the run.
   */
  outIsExport?: boolean;
  /** Resume from this checkpoint folder (same config and data required). */
  resumeFrom?: string;
  runId?: string | null;
  datasetVersion?: string | null;
  /**
   * The data folder, where converted base weights live (`<dataDir>/bases`, quantize/store.ts): needed
   * for a quantized base and for a half-precision checkpoint on the CPU. Not stored with the run.
   */
  dataDir?: string;
}

export type TrainConfig = TrainOptions & TrainPaths;

/** Every option resolved to a value; stored in checkpoints. */
export type ResolvedTrainConfig = ResolvedTrainOptions & {
  model: string;
  data: string;
  format: DataFormat | 'auto';
  evalData: string | null;
  out: string;
  checkpointDir: string;
  exportPyreft: string | null;
  runId: string | null;
  datasetVersion: string | null;
};

/** The options that change the numbers a run produces; a resume must agree on all of them. */
export const DETERMINISTIC_KEYS = ['format', ...DETERMINISTIC_OPTIONS] as const satisfies ReadonlyArray<
  keyof ResolvedTrainConfig
>;

/** Fills defaults and refuses bad options (OptionError / ConfigError, one specific message each). */
export function resolveTrainConfig(cfg: TrainConfig, model: ModelShapeForTraining): ResolvedTrainConfig {
  if (!cfg.model) throw new ConfigError('missing-model', 'no model folder given (--model DIR)');
  if (!cfg.data) throw new ConfigError('missing-data', 'no training data given (--data FILE)');
  if (!cfg.out) throw new ConfigError('missing-out', 'no output folder given (--out DIR)');
  const format = cfg.format ?? 'auto';
  if (format !== 'auto' && !DATA_FORMATS.includes(format)) {
    throw new ConfigError(
      'bad-format',
      `--format ${mustBe(`one of auto, ${DATA_FORMATS.join(', ')}`, format)}`,
    );
  }
  // Only the options: a stored run config carries the studio's extras (probe, datasetId) too, and
  // an undefined value is a flag not given.
  const options = Object.fromEntries(
    TRAIN_OPTION_KEYS.flatMap((k) => (cfg[k] === undefined ? [] : [[k, cfg[k]]])),
  ) as TrainOptions;
  const out = resolve(cfg.out);
  const r: ResolvedTrainConfig = {
    ...resolveTrainOptions(options, model),
    model: resolve(cfg.model),
    data: resolve(cfg.data),
    format,
    evalData: cfg.evalData ? resolve(cfg.evalData) : null,
    out,
    checkpointDir: resolve(cfg.checkpointDir ?? `${out}.checkpoints`),
    exportPyreft: cfg.exportPyreft ? resolve(cfg.exportPyreft) : null,
    runId: cfg.runId ?? null,
    datasetVersion: cfg.datasetVersion ?? null,
  };
  if (r.exportPyreft === r.out || r.checkpointDir === r.out || r.exportPyreft === r.checkpointDir) {
    throw new ConfigError('bad-out', 'the adapter, checkpoint and pyreft export folders must be different');
  }
  if (r.evalData && r.evalSplit > 0) {
    throw new ConfigError('bad-eval', 'give either an evaluation file or a held-out fraction, not both');
  }
  const [noHeldOut] = heldOutIssues(r, r.evalData !== null);
  if (noHeldOut) throw new OptionError(noHeldOut);
  return r;
}
