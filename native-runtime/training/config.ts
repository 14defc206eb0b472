// The configuration of a training run: what the CLI flags and the studio's run form map to, the
// defaults, and the validation that refuses a bad run before any work starts. Each refusal is a
// ConfigError with its own code and a message naming the option.
// Checks that need the data (empty dataset, a row without a completion) happen in data.ts, also
// before training starts; checks that need the model (layer range, rank vs hidden size) take its shape.

import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { type ActivationName, INTERVENTION_TYPES, type InterventionType } from '../interventions/kinds.ts';
import type { DeviceChoice } from '../runtime/session.ts';
import { DATA_FORMATS, type DataFormat } from './data.ts';
import type { ScheduleKind } from './optimizer.ts';
import { parseLayers, parsePositions } from './positions.ts';

export interface TrainConfig {
  /** Model folder (a Hugging Face cache repo folder is resolved to its snapshot). */
  model: string;
  /** Training data file (JSONL or a JSON array). */
  data: string;
  format?: DataFormat | 'auto';
  /** Held-out evaluation file; otherwise `evalSplit` of the training data is held out. */
  evalData?: string;
  /** Fraction of the training examples held out for evaluation (0 = none), e.g. 0.1. */
  evalSplit?: number;
  /** Evaluate every N optimizer steps (0 = only at the end of each epoch and of training). */
  evalEvery?: number;
  intervention?: InterventionType;
  /** "all", "2;10;18", "2,10,18" or a list. */
  layers?: string | number[];
  positions?: string;
  shareWeights?: boolean;
  rank?: number;
  act?: ActivationName;
  lr?: number;
  epochs?: number;
  /** Stop after this many optimizer steps (overrides epochs, as in Hugging Face's Trainer). */
  maxSteps?: number;
  batchSize?: number;
  gradAccum?: number;
  maxLength?: number;
  dropout?: number;
  weightDecay?: number;
  warmupRatio?: number;
  schedule?: ScheduleKind;
  /** Global gradient-norm clipping (0 = off); Hugging Face's default 1.0. */
  maxGradNorm?: number;
  seed?: number;
  /** 'auto': prompt-completion and alpaca prompts go through the model's chat template if it has one. */
  chatTemplate?: 'auto' | 'none';
  /** Save a checkpoint every N optimizer steps (0 = only at the end and on cancel). */
  checkpointEvery?: number;
  /** The final studio adapter folder. */
  out: string;
  /** Checkpoint folders go here (default `<out>.checkpoints`). */
  checkpointDir?: string;
  /** Also write a pyreft folder here. */
  exportPyreft?: string;
  device?: DeviceChoice;
  /** Resume from this checkpoint folder (same config and data required). */
  resumeFrom?: string;
  runId?: string | null;
  datasetVersion?: string | null;
}

/** Every option resolved to a value; stored in checkpoints. */
export interface ResolvedTrainConfig {
  model: string;
  data: string;
  format: DataFormat | 'auto';
  evalData: string | null;
  evalSplit: number;
  evalEvery: number;
  intervention: InterventionType;
  layers: number[];
  positions: string;
  shareWeights: boolean;
  rank: number;
  act: ActivationName;
  lr: number;
  epochs: number;
  maxSteps: number;
  batchSize: number;
  gradAccum: number;
  maxLength: number;
  dropout: number;
  weightDecay: number;
  warmupRatio: number;
  schedule: ScheduleKind;
  maxGradNorm: number;
  seed: number;
  chatTemplate: 'auto' | 'none';
  checkpointEvery: number;
  out: string;
  checkpointDir: string;
  exportPyreft: string | null;
  device: DeviceChoice;
  runId: string | null;
  datasetVersion: string | null;
}

export const TRAIN_DEFAULTS = {
  format: 'auto',
  evalSplit: 0,
  evalEvery: 0,
  intervention: 'loreft',
  layers: 'all',
  positions: 'f1+l1',
  shareWeights: false,
  rank: 4,
  act: 'linear',
  lr: 4e-3,
  epochs: 1,
  maxSteps: 0,
  batchSize: 4,
  gradAccum: 1,
  maxLength: 512,
  dropout: 0,
  weightDecay: 0,
  warmupRatio: 0,
  schedule: 'linear',
  maxGradNorm: 1,
  seed: 42,
  chatTemplate: 'auto',
  checkpointEvery: 0,
  device: 'cpu',
} as const;

/** The options that change the numbers a run produces; a resume must agree on all of them. */
export const DETERMINISTIC_KEYS = [
  'format',
  'evalSplit',
  'intervention',
  'layers',
  'positions',
  'shareWeights',
  'rank',
  'act',
  'lr',
  'epochs',
  'maxSteps',
  'batchSize',
  'gradAccum',
  'maxLength',
  'dropout',
  'weightDecay',
  'warmupRatio',
  'schedule',
  'maxGradNorm',
  'seed',
  'chatTemplate',
] as const satisfies ReadonlyArray<keyof ResolvedTrainConfig>;

const SCHEDULES: readonly ScheduleKind[] = ['linear', 'cosine', 'constant'];
const ACTS: readonly ActivationName[] = ['linear', 'relu', 'gelu', 'tanh', 'silu', 'sigmoid'];

/** What validation needs from the model. */
export interface ModelShapeForTraining {
  numLayers: number;
  hiddenSize: number;
  maxPositions: number;
}

/** Fills defaults and refuses bad options (ConfigError, one specific message each). */
export function resolveTrainConfig(cfg: TrainConfig, model: ModelShapeForTraining): ResolvedTrainConfig {
  const d = TRAIN_DEFAULTS;
  const num = (
    name: string,
    v: number | undefined,
    def: number,
    ok: (x: number) => boolean,
    rule: string,
    code = `bad-${name}`,
  ) => {
    const x = v ?? def;
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x))
      throw new ConfigError(code, `--${name} must be ${rule} (got ${String(v)})`);
    return x;
  };
  const int = (name: string, v: number | undefined, def: number, min: number, code?: string) =>
    num(name, v, def, (x) => Number.isInteger(x) && x >= min, `an integer ≥ ${min}`, code);

  if (!cfg.model) throw new ConfigError('missing-model', 'no model folder given (--model DIR)');
  if (!cfg.data) throw new ConfigError('missing-data', 'no training data given (--data FILE)');
  if (!cfg.out) throw new ConfigError('missing-out', 'no output folder given (--out DIR)');
  const format = cfg.format ?? d.format;
  if (format !== 'auto' && !DATA_FORMATS.includes(format)) {
    throw new ConfigError(
      'bad-format',
      `--format must be auto, ${DATA_FORMATS.join(', ')} (got "${format}")`,
    );
  }
  const intervention = cfg.intervention ?? d.intervention;
  if (!INTERVENTION_TYPES.includes(intervention)) {
    throw new ConfigError(
      'unknown-intervention',
      `unknown intervention type "${intervention}": use one of ${INTERVENTION_TYPES.join(', ')}`,
    );
  }
  const act = cfg.act ?? d.act;
  if (!ACTS.includes(act))
    throw new ConfigError('bad-act', `unknown activation "${act}": use one of ${ACTS.join(', ')}`);
  const schedule = cfg.schedule ?? d.schedule;
  if (!SCHEDULES.includes(schedule))
    throw new ConfigError(
      'bad-schedule',
      `--schedule must be linear, cosine or constant (got "${schedule}")`,
    );
  const chatTemplate = cfg.chatTemplate ?? d.chatTemplate;
  if (chatTemplate !== 'auto' && chatTemplate !== 'none')
    throw new ConfigError(
      'bad-chat-template',
      `--chat-template must be auto or none (got "${chatTemplate}")`,
    );

  const rank = num('rank', cfg.rank, d.rank, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  if (rank > model.hiddenSize) {
    throw new ConfigError(
      'bad-rank',
      `--rank ${rank} is larger than the model's hidden size ${model.hiddenSize}`,
    );
  }
  const maxLength = int('max-length', cfg.maxLength, Math.min(d.maxLength, model.maxPositions), 2);
  if (maxLength > model.maxPositions) {
    throw new ConfigError(
      'bad-max-length',
      `--max-length ${maxLength} is longer than the model's ${model.maxPositions} positions`,
    );
  }
  const positions = parsePositions(cfg.positions ?? d.positions, maxLength).text;
  const layers = parseLayers(cfg.layers ?? d.layers, model.numLayers);

  const r: ResolvedTrainConfig = {
    model: resolve(cfg.model),
    data: resolve(cfg.data),
    format,
    evalData: cfg.evalData ? resolve(cfg.evalData) : null,
    evalSplit: num('eval-split', cfg.evalSplit, d.evalSplit, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    evalEvery: int('eval-every', cfg.evalEvery, d.evalEvery, 0),
    intervention,
    layers,
    positions,
    shareWeights: cfg.shareWeights ?? d.shareWeights,
    rank,
    act,
    lr: num('lr', cfg.lr, d.lr, (x) => x > 0, '> 0'),
    epochs: int('epochs', cfg.epochs, d.epochs, 1),
    maxSteps: int('max-steps', cfg.maxSteps, d.maxSteps, 0),
    batchSize: int('batch-size', cfg.batchSize, d.batchSize, 1),
    gradAccum: int('grad-accum', cfg.gradAccum, d.gradAccum, 1),
    maxLength,
    dropout: num('dropout', cfg.dropout, d.dropout, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    weightDecay: num('weight-decay', cfg.weightDecay, d.weightDecay, (x) => x >= 0, '≥ 0'),
    warmupRatio: num('warmup-ratio', cfg.warmupRatio, d.warmupRatio, (x) => x >= 0 && x <= 1, 'in [0, 1]'),
    schedule,
    maxGradNorm: num('max-grad-norm', cfg.maxGradNorm, d.maxGradNorm, (x) => x >= 0, '≥ 0 (0 = no clipping)'),
    seed: num(
      'seed',
      cfg.seed,
      d.seed,
      (x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff,
      'an integer in 0..2^32−1',
    ),
    chatTemplate,
    checkpointEvery: int('checkpoint-every', cfg.checkpointEvery, d.checkpointEvery, 0),
    out: resolve(cfg.out),
    checkpointDir: resolve(cfg.checkpointDir ?? `${resolve(cfg.out)}.checkpoints`),
    exportPyreft: cfg.exportPyreft ? resolve(cfg.exportPyreft) : null,
    device: cfg.device ?? d.device,
    runId: cfg.runId ?? null,
    datasetVersion: cfg.datasetVersion ?? null,
  };
  if (r.exportPyreft === r.out || r.checkpointDir === r.out || r.exportPyreft === r.checkpointDir) {
    throw new ConfigError('bad-out', 'the adapter, checkpoint and pyreft export folders must be different');
  }
  if (r.evalData && r.evalSplit > 0) {
    throw new ConfigError('bad-eval', 'give either --eval-data or --eval-split, not both');
  }
  return r;
}
