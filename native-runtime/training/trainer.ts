// The ReFT trainer: `train(config, hooks)` runs a whole training job — model, tokenizer, data,
// fresh (or restored) interventions, AdamW with schedule, clipping, accumulation, dropout, evaluation,
// checkpoints, cancel and exact resume, keeping the best evaluation's parameters and stopping early on
// request (best-so-far.ts) — and writes the final studio adapter (and a pyreft folder on request). It
// is a library function: the CLI, the studio's job queue and the tests all call it, and it reports
// through hooks (progress per optimizer step, checkpoints, log lines, an AbortSignal).
//
// Determinism: everything random is a pure function of the seed and a counter, so the position in
// training (the optimizer step) is the whole RNG state:
//   initial parameters      mulberry32(seed)                           (init.ts)
//   held-out eval split     mulberry32(mix(seed, EVAL_SALT))           (run-rows.ts)
//   order of epoch e        Fisher–Yates with mulberry32(mix(seed, e))
//   dropout masks, step k   mulberry32(mix(seed ^ DROPOUT_SALT, k)), drawn micro-batch by micro-batch
// With ORT's CPU kernels giving the same numbers for the same inputs, a resumed run reproduces the
// uninterrupted run's losses exactly.
//
// Batches: right padding (pad id = the tokenizer's pad, else eos, else 0), attention mask 1 on tokens,
// labels −100 on prompts and padding, position ids 0…T−1, locations per intervention (B, P) with −1
// padding, computed on each prompt (positions.ts). Steps: an epoch has ⌈N/B⌉ micro-batches and
// ⌈⌈N/B⌉/G⌉ optimizer steps; a step sums the gradients of its micro-batches scaled by 1/(their count)
// (1/G except for a short last step of an epoch). `maxSteps` > 0 overrides epochs (runs past them).
// Learning rate of step k (0-based): scheduledLr(schedule, lr, k, total, ⌈warmupRatio·total⌉), as
// transformers' schedulers give it.
// Leaves out: multi-device training, mixed precision, packing of short examples.

import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import { CancelledError, ConfigError } from '../errors.ts';
import { writePyreftFolder } from '../formats/pyreft.ts';
import {
  manifestEntries,
  type StudioAdapter,
  studioToPyreft,
  validateManifest,
  writeStudioAdapter,
} from '../formats/studio-adapter.ts';
import { mulberry32, type Rng } from '../generation/sampling.ts';
import { type InterventionSpec, PARAMS, paramCount } from '../interventions/kinds.ts';
import type { ModelSpec } from '../models/config.ts';
import { noTokenizerReason, openModelFolder } from '../models/model-folder.ts';
import type { Notify } from '../notices.ts';
import { baseForm } from '../quantize/base.ts';
import { memoryCheckSkipped } from '../runtime/memory-check.ts';
import { prepareModel } from '../runtime/precision.ts';
import { type ComputeUsed, type Precision, precisionOf } from '../runtime/precision-used.ts';
import { deviceUsed, runsInHostMemory } from '../runtime/session.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { BestSoFar } from './best-so-far.ts';
import {
  CHECKPOINT_METRICS,
  checkpointName,
  type MetricRecord,
  pruneCheckpoints,
  readAdamState,
  readTrainerState,
  restoreStates,
  type TrainerState,
  writeCheckpoint,
} from './checkpoint.ts';
import {
  DETERMINISTIC_KEYS,
  type ResolvedTrainConfig,
  resolveTrainConfig,
  TRAIN_DEFAULTS,
  type TrainConfig,
} from './config.ts';
import { type DatasetInfo, specialIds, trainsThroughChatTemplate } from './data.ts';
import type { CheckpointWritten, DataProgress, TrainPhase, TrainProgress } from './events.ts';
import { initStates } from './init.ts';
import { scheduledLr } from './optimizer.ts';
import { OptionError } from './options.ts';
import {
  interventionLocations,
  isUntied,
  type Positions,
  parsePositions,
  planInterventions,
} from './positions.ts';
import { hostStepIssue, recomputeForced } from './recompute.ts';
import { baseFormOf, type InterventionState, type ReftBatch, ReftModel } from './reft-model.ts';
import { ReftOptimizer } from './reft-optimizer.ts';
import { mix, permutation, readRunRows } from './run-rows.ts';
import type { TokenizedRows } from './tokenized-rows.ts';

export type { TrainProgress } from './events.ts';

export interface TrainHooks {
  onProgress?: (p: TrainProgress) => void;
  /**
   * A checkpoint was written. Awaited before the next step, so while it runs `model` holds the
   * parameters of step `heldStep`: a run's probe prompts answer on this session (ModelRunner's `on`)
   * rather than load the weights into a second one. That is the checkpoint's step, except at the
   * last checkpoint of a run that keeps the best: there the best evaluation's, what its adapter
   * holds, so its last answers are the adapter's.
   */
  onCheckpoint?: (c: CheckpointWritten, model: ReftModel, heldStep: number) => void | Promise<void>;
  /**
   * A resumed run's checkpoint, before its first step, as onCheckpoint is given a checkpoint just
   * written (`model` holding the parameters of `heldStep`; `last` where the run ends there, as a
   * pause at its last step or at an early stop's leaves it): a pause stops before the checkpoint's
   * probe prompts answer, so its resume answers what is missing.
   */
  onResume?: (c: CheckpointWritten, model: ReftModel, heldStep: number) => void | Promise<void>;
  /** Human-readable notes (data summary, resume, device fallback). */
  onLog?: Notify;
  /** Where the run's session really runs and in what precision, once it exists (before the first step). */
  onDevice?: (d: ComputeUsed) => void;
  /**
   * Each phase of the run as it begins, in order (TrainPhase: data → model → [conversion → model] →
   * training), each told once where it begins: what a Ctrl-C stops is said by the phase, never by
   * the words of a log line.
   */
  onPhase?: (phase: TrainPhase) => void;
  /**
   * How far the data preparation is (phase 'data'), at most every DATA_PROGRESS_EVERY_MS: what a
   * page or a progress bar shows, read from these numbers rather than from the log line's words.
   */
  onDataProgress?: (p: DataProgress) => void;
  /**
   * The training session is open, before the first step: awaited, so `model` is the caller's alone
   * meanwhile (a run's probe prompts answer as the base model on it: ModelRunner's `on` without an
   * adapter), rather than load the weights into a session of their own.
   */
  onSession?: (model: ReftModel) => void | Promise<void>;
  /** Abort: the trainer saves a checkpoint at the last finished step and throws CancelledError. */
  signal?: AbortSignal;
}

export interface TrainResult {
  adapter: string;
  pyreft: string | null;
  steps: number;
  totalSteps: number;
  epochs: number;
  finalLoss: number;
  evalLoss: number | null;
  tokensPerS: number;
  stepsPerS: number;
  elapsedS: number;
  trainExamples: number;
  evalExamples: number;
  truncatedExamples: number;
  interventions: number;
  trainableParams: number;
  checkpoints: string[];
  resumedFrom: string | null;
  /** The provider that ran the steps, why it is not the one asked for, and the precision computed in. */
  device: ComputeUsed;
  /**
   * The last CHECKPOINT_METRICS steps' (a checkpoint's tail: resumed runs included). Every step's
   * went out as it came (onProgress); kept whole, they cost ~170 bytes a step in the training process
   * (170 MB at a million steps) that nothing read.
   */
  metrics: MetricRecord[];
  /**
   * The evaluation with the lowest held-out loss, where keepBest or early stopping tracked it (null:
   * neither asked for, or no evaluation yet).
   */
  best: { step: number; evalLoss: number } | null;
  /** The adapter holds the parameters of `best`'s step (keepBest), not the last step's. */
  keptBest: boolean;
  /** Why the run stopped before its last planned step (early stopping), or null. */
  stoppedEarly: string | null;
}

/** Everything a run needs, loaded and validated; nothing trained yet. */
export interface PreparedRun {
  config: ResolvedTrainConfig;
  spec: ModelSpec;
  tokenizer: Tokenizer;
  positions: Positions;
  untied: boolean;
  specs: InterventionSpec[];
  train: TokenizedRows;
  eval: TokenizedRows;
  dataset: DatasetInfo;
  evalDataset: DatasetInfo | null;
  padId: number;
  promptTemplate: string | null;
  /** Lines of the training examples left out: their prompt has no intervention position. */
  skippedLines: number[];
}

/** At most this many line numbers are named when examples are left out. */
const LINES_NAMED = 5;

/** The log line saying which examples were left out, or null when none was. */
function skippedNote(skippedLines: number[], total: number): string | null {
  if (skippedLines.length === 0) return null;
  const named = skippedLines.slice(0, LINES_NAMED).join(', ');
  const more = skippedLines.length > LINES_NAMED ? ', …' : '';
  return `data: ${skippedLines.length} of ${total} training examples left out (line${skippedLines.length > 1 ? 's' : ''} ${named}${more}): their prompt is 1 token, where no intervention can be placed`;
}

const DROPOUT_SALT = 0xd5017;

/** The first "preparing data" line comes after this long (a small dataset says nothing), then … */
const PREPARING_FIRST_MS = 1000;
/** … one at most this often, so that an hour of tokenizing writes no more than the log can show. */
const PREPARING_EVERY_MS = 5000;

/** hooks.onDataProgress at most this often (the CLI's --json counts are no more frequent). */
export const DATA_PROGRESS_EVERY_MS = 250;

/**
 * How far a run's data preparation is, told twice: as numbers (hooks.onDataProgress, for the run's
 * page and the CLI's progress) and as throttled log lines for people reading the log ("preparing
 * data: 12,000 of 20,287 rows").
 */
function preparingNotes(
  hooks: Pick<TrainHooks, 'onLog' | 'onDataProgress'>,
): (done: number, total: number) => void {
  const start = performance.now();
  let nextLine = start + PREPARING_FIRST_MS;
  let nextCount = start;
  return (done, total) => {
    const now = performance.now();
    if (hooks.onDataProgress && now >= nextCount) {
      nextCount = now + DATA_PROGRESS_EVERY_MS;
      hooks.onDataProgress({ done, total });
    }
    if (!hooks.onLog || now < nextLine) return;
    nextLine = now + PREPARING_EVERY_MS;
    hooks.onLog(`preparing data: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows`);
  };
}

/**
 * Loads the model spec, tokenizer and data and validates the whole configuration: every refusal
 * (bad option, layer out of range, rank too large, empty dataset, malformed line) happens here,
 * before any training. Tokenizing the data takes seconds to minutes: `hooks.signal` stops it between
 * rows (a CancelledError, no checkpoint), and `hooks.onDataProgress` and `hooks.onLog` are told how
 * far it is (preparingNotes).
 */
export async function prepareRun(
  config: TrainConfig,
  hooks: Pick<TrainHooks, 'signal' | 'onLog' | 'onDataProgress'> = {},
): Promise<PreparedRun> {
  const folder = openModelFolder(config.model);
  const { spec, tokenizer } = folder;
  const cfg = resolveTrainConfig({ ...config, model: folder.dir }, spec);
  if (!tokenizer)
    throw new ConfigError(
      'missing-tokenizer',
      `${folder.dir}: ${noTokenizerReason(folder.dir)}; training needs the model's tokenizer`,
    );
  const positions = parsePositions(cfg.positions, cfg.maxLength);
  const untied = isUntied(positions, cfg.shareWeights);
  const specs: InterventionSpec[] = planInterventions(cfg.layers, positions, cfg.shareWeights).map((p) => ({
    key: p.key,
    layer: p.layer,
    type: cfg.intervention,
    rank: cfg.rank,
    embedDim: spec.hiddenSize,
    act: cfg.act,
    dropout: cfg.dropout,
  }));
  const { padId } = specialIds(tokenizer, spec);
  const {
    train,
    eval: evalSet,
    dataset,
    evalDataset,
    skippedLines,
  } = await readRunRows(tokenizer, spec, cfg, positions, {
    signal: hooks.signal,
    onRows: preparingNotes(hooks),
  });
  const usesTemplate = trainsThroughChatTemplate(dataset.format, cfg.chatTemplate, tokenizer);
  return {
    config: cfg,
    spec,
    tokenizer,
    positions,
    untied,
    specs,
    train,
    eval: evalSet,
    dataset,
    evalDataset,
    padId,
    promptTemplate: usesTemplate ? 'chat' : null,
    skippedLines,
  };
}

/** Steps per epoch and in total for a prepared run. */
export function stepPlan(
  cfg: ResolvedTrainConfig,
  trainCount: number,
): { microPerEpoch: number; stepsPerEpoch: number; totalSteps: number; warmup: number } {
  const microPerEpoch = Math.ceil(trainCount / cfg.batchSize);
  const stepsPerEpoch = Math.ceil(microPerEpoch / cfg.gradAccum);
  const totalSteps = cfg.maxSteps > 0 ? cfg.maxSteps : cfg.epochs * stepsPerEpoch;
  return { microPerEpoch, stepsPerEpoch, totalSteps, warmup: Math.ceil(cfg.warmupRatio * totalSteps) };
}

/**
 * A padded batch in the graph's layout. `dropout`: per intervention, the probability (0 = none) and
 * an rng for the keep-masks (scaled by 1/(1−p)).
 */
export function buildBatch(
  rows: readonly { ids: ArrayLike<number>; promptLen: number }[],
  positions: Positions,
  untied: boolean,
  numInterventions: number,
  padId: number,
  dropout?: { specs: readonly InterventionSpec[]; rng: Rng },
): { batch: ReftBatch; tokens: number } {
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length));
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(B * T);
  const labels = new BigInt64Array(B * T).fill(-100n);
  let tokens = 0;
  const locs = rows.map((r) => interventionLocations(r.promptLen, positions, numInterventions, untied));
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) {
      const id = r.ids[t];
      inputIds[b * T + t] = BigInt(id);
      attentionMask[b * T + t] = 1n;
      if (t >= r.promptLen) labels[b * T + t] = BigInt(id);
    }
    tokens += r.ids.length;
  });
  const locations = Array.from({ length: numInterventions }, (_, j) => {
    const P = Math.max(...locs.map((l) => l[j].length));
    const data = new BigInt64Array(B * P).fill(-1n);
    for (const [b, l] of locs.entries()) for (const [p, x] of l[j].entries()) data[b * P + p] = BigInt(x);
    return { data, P };
  });
  const batch: ReftBatch = { inputIds, attentionMask, labels, dims: [B, T], locations };
  if (dropout) {
    batch.dropoutMasks = dropout.specs.map((s, j) => {
      if (!(s.dropout > 0) || s.type === 'consreft') return null;
      const keep = 1 - s.dropout;
      const m = new Float32Array(B * locations[j].P * s.embedDim);
      for (let i = 0; i < m.length; i++) m[i] = dropout.rng() < keep ? 1 / keep : 0;
      return m;
    });
  }
  return { batch, tokens };
}

/**
 * The studio adapter of the current parameters, trained with the base computing in `precision` (null:
 * not known, recorded as such).
 */
export function adapterFromStates(
  run: PreparedRun,
  states: InterventionState[],
  metrics: Record<string, number>,
  precision: Precision | null,
): StudioAdapter {
  const { config: cfg, spec } = run;
  const interventions = states.map((s) => {
    const params: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const d of PARAMS[s.spec.type]) {
      const p = s.params.get(d.name)!;
      params[d.name === 'rotate_layer' ? 'R' : d.name] = {
        shape: [...p.shape],
        data: Float32Array.from(p.data),
      };
    }
    return {
      key: s.spec.key,
      layer: s.spec.layer,
      component: 'block_output' as const,
      type: s.spec.type,
      embedDim: s.spec.embedDim,
      rank: s.spec.rank,
      params,
    };
  });
  const manifest = validateManifest(
    {
      format: 'reft-studio-adapter',
      version: 1,
      interventions: manifestEntries(interventions),
      layers: [...cfg.layers],
      positions: run.positions.text,
      shareWeights: !run.untied,
      rank: cfg.rank,
      hiddenSize: spec.hiddenSize,
      dropout: cfg.dropout,
      activation: cfg.act === 'linear' ? null : cfg.act,
      promptTemplate: run.promptTemplate,
      dtype: 'float32',
      precision,
      baseModel: { arch: spec.arch, fingerprint: spec.fingerprint, form: baseForm(spec) },
      datasetVersion: cfg.datasetVersion ?? run.dataset.hash.slice(0, 16),
      runId: cfg.runId,
      metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v))),
      createdAt: new Date().toISOString(),
    },
    'trained adapter manifest',
  );
  return { manifest, interventions };
}

/** The TrainConfig a checkpoint was made with (to resume it: train({...resumeConfig(dir), resumeFrom: dir})). */
export function resumeConfig(dir: string): TrainConfig {
  const c = readTrainerState(dir).config;
  return {
    ...c,
    evalData: c.evalData ?? undefined,
    exportPyreft: c.exportPyreft ?? undefined,
  };
}

function checkResumable(dir: string, st: TrainerState, run: PreparedRun): void {
  for (const k of DETERMINISTIC_KEYS) {
    // An option added after the checkpoint was written had its default then (quantize: none, before
    // auto became the default).
    const was =
      st.config[k] === undefined && k in TRAIN_DEFAULTS
        ? k === 'quantize'
          ? 'none'
          : TRAIN_DEFAULTS[k as keyof typeof TRAIN_DEFAULTS]
        : st.config[k];
    if (JSON.stringify(was) !== JSON.stringify(run.config[k])) {
      throw new ConfigError(
        'checkpoint-mismatch',
        `cannot resume from ${dir}: ${k} was ${JSON.stringify(was)}, now ${JSON.stringify(run.config[k])}`,
      );
    }
  }
  // When to evaluate changes nothing a run trains, unless the best evaluation picks its adapter or
  // stops it: then a resume must evaluate where the run did.
  const tracked = run.config.keepBest || run.config.earlyStoppingPatience > 0;
  if (tracked && st.config.evalEvery !== run.config.evalEvery)
    throw new ConfigError(
      'checkpoint-mismatch',
      `cannot resume from ${dir}: evalEvery was ${st.config.evalEvery}, now ${run.config.evalEvery} (the best held-out loss is judged at each evaluation)`,
    );
  if (st.dataHash !== run.dataset.hash)
    throw new ConfigError(
      'checkpoint-mismatch',
      `cannot resume from ${dir}: the training data ${run.config.data} changed since the checkpoint`,
    );
  if (st.evalHash !== (run.evalDataset?.hash ?? null))
    throw new ConfigError(
      'checkpoint-mismatch',
      `cannot resume from ${dir}: the evaluation data changed since the checkpoint`,
    );
}

/** Token-weighted mean loss over the eval set (no dropout); null when cancelled part-way. */
async function evaluate(model: ReftModel, run: PreparedRun, signal?: AbortSignal): Promise<number | null> {
  let sum = 0,
    count = 0;
  const bs = run.config.batchSize;
  for (let i = 0; i < run.eval.length; i += bs) {
    if (signal?.aborted) return null;
    const rows = run.eval.slice(i, i + bs);
    const { batch } = buildBatch(rows, run.positions, run.untied, run.specs.length, run.padId);
    const n = rows.reduce((s, r) => s + r.ids.length - r.promptLen, 0);
    sum += (await model.forward(batch)).loss * n;
    count += n;
  }
  return count ? sum / count : Number.NaN;
}

/**
 * Refuses, before the weights are loaded, a run on the CPU whose step cannot fit in the computer's
 * memory (`memory`) even replaying layers (recompute.ts stepMemoryIssue): judged at the longest
 * example the run really has, since batches are padded only to it. "On the CPU" is where the
 * sessions will really run, not the device asked for: `--device cuda` without the runtime pack, or
 * `auto` without a GPU, falls back to the CPU, where such a step would creep into swap.
 */
export async function refuseStepOverMemory(
  run: PreparedRun,
  workload: { batch: number; tokens: number },
  memory = totalmem(),
  form = baseFormOf(run.spec),
): Promise<void> {
  if (memoryCheckSkipped() || !(await runsInHostMemory(run.config.device))) return;
  const longest = Math.max(run.train.longest(), run.eval.longest());
  const issue = hostStepIssue(run.spec, form, memory, {
    batch: workload.batch,
    tokens: Math.min(workload.tokens, longest),
  });
  // Both wordings: the Train wizard's fields for a studio run, the flags for the CLI's (wordedFor).
  if (issue) throw new OptionError(issue);
}

/** Trains a ReFT adapter; see the header. Throws ConfigError before training for a bad run. */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const phase = phaseTeller(hooks.onPhase);
  phase('data');
  const run = await prepareRun(config, hooks);
  const cfg = run.config;
  const log = hooks.onLog ?? (() => {});
  const plan = stepPlan(cfg, run.train.length);
  const truncated = run.train.truncatedCount() + run.eval.truncatedCount();
  log(
    `data: ${run.train.length} training and ${run.eval.length} evaluation examples (${run.dataset.format}${truncated ? `, ${truncated} truncated to ${cfg.maxLength} tokens` : ''})`,
  );
  const skipped = skippedNote(run.skippedLines, run.dataset.count);
  // Examples the run will not learn from: a warning, not a count for the record.
  if (skipped) log(skipped, 'warn');

  // Parameters: fresh, or restored from the checkpoint (before the optimizer takes hold of X).
  const states = initStates(run.specs, cfg.seed);
  let resumed: TrainerState | null = null;
  if (config.resumeFrom) {
    resumed = readTrainerState(config.resumeFrom);
    checkResumable(config.resumeFrom, resumed, run);
    restoreStates(config.resumeFrom, states);
    log(`resuming from ${config.resumeFrom} at step ${resumed.step} of ${plan.totalSteps}`);
  }
  // The largest micro-batch the run will feed (batches are padded to their longest example).
  const workload = { batch: Math.min(cfg.batchSize, run.train.length), tokens: cfg.maxLength };
  phase('model');
  run.spec = await prepareModel(run.spec, {
    quantize: cfg.quantize,
    dtype: cfg.dtype,
    dataDir: config.dataDir,
    device: cfg.device,
    signal: hooks.signal,
    log,
    training: true,
    // The run's config fixed the form and device: a refusal says how a new run changes them.
    setBy: 'run',
    // Before the base is converted (minutes for a large model), not after.
    beforeBase: (form, memory) => refuseStepOverMemory(run, workload, memory, form),
    onConversion: () => phase('conversion'),
  });
  phase('model');
  // Opening the session reads every weight (and packs a quantized base's): 40 s and more for an 8B
  // model on 2 cores, silent until the first step's line without this one.
  log('loading the model into ONNX Runtime');
  const model = await ReftModel.load(run.spec, states, { device: cfg.device, onNotice: log, workload });
  // The provider that really runs (auto's choice, or the CPU after a fallback) is reported for the
  // run's record; a fallback was told in the session's one line already, auto's choice is told here.
  // The precision is the loaded model's: a half one without kernels there was opened in float32.
  const device: ComputeUsed = {
    ...deviceUsed(model.session, cfg.device),
    precision: precisionOf(model.spec),
  };
  phase('training');
  hooks.onDevice?.(device);
  if (cfg.device !== device.device && !device.fallback)
    log(`device '${cfg.device}': running on ${device.device}`);
  if (model.recompute)
    log(
      recomputeForced()
        ? 'replaying each layer in the backward (REFT_STUDIO_RECOMPUTE=1)'
        : `replaying each layer in the backward: the activations of ${workload.batch} × ${workload.tokens} tokens would not fit beside the weights (slower steps; REFT_STUDIO_RECOMPUTE=0 keeps them)`,
    );
  try {
    await hooks.onSession?.(model);
    return { ...(await trainLoop(config, hooks, run, plan, states, model, resumed, truncated)), device };
  } finally {
    await model.session.session.release();
  }
}

/** hooks.onPhase told each phase once where it begins (a base and its backward layout convert in turn). */
function phaseTeller(onPhase: TrainHooks['onPhase']): (p: TrainPhase) => void {
  let now: TrainPhase | null = null;
  return (p) => {
    if (p === now) return;
    now = p;
    onPhase?.(p);
  };
}

async function trainLoop(
  config: TrainConfig,
  hooks: TrainHooks,
  run: PreparedRun,
  plan: ReturnType<typeof stepPlan>,
  states: InterventionState[],
  model: ReftModel,
  resumed: TrainerState | null,
  truncated: number,
): Promise<Omit<TrainResult, 'device'>> {
  const cfg = run.config;
  const log = hooks.onLog ?? (() => {});
  const opt = new ReftOptimizer(model, { weightDecay: cfg.weightDecay });
  if (config.resumeFrom) opt.importState(readAdamState(config.resumeFrom, states, opt.slots));

  // Only the tail a checkpoint carries is kept, trimmed in batches so that a step costs O(1).
  const metrics: MetricRecord[] = resumed ? [...resumed.metrics] : [];
  let step = resumed?.step ?? 0;
  let lastEval: number | null = resumed?.lastEvalLoss ?? null;
  let tokensSeen = resumed?.tokensSeen ?? 0;
  let elapsedTotal = resumed?.elapsedS ?? 0;
  const checkpoints: string[] = [];
  const tracker = new BestSoFar(cfg.earlyStoppingPatience, cfg.keepBest);
  if (config.resumeFrom && resumed) tracker.restore(config.resumeFrom, resumed.best, states);
  let lastCheckpoint = config.resumeFrom && resumed ? { step: resumed.step, dir: config.resumeFrom } : null;
  const endsHere = () => step === plan.totalSteps || tracker.exhausted;
  /**
   * The step whose parameters the session holds for the probe prompts answered at a checkpoint:
   * its own, or at the run's last one, where nothing trains after, the adapter's (keepBest: the best
   * evaluation's, loaded into `states`).
   */
  const heldForAnswers = (last: boolean): number => {
    const best = tracker.best;
    const adapterStep = last && cfg.keepBest && best !== null ? best.step : step;
    if (adapterStep !== step) tracker.loadInto(states);
    return adapterStep;
  };
  let sessionTokens = 0,
    sessionSeconds = 0,
    sessionSteps = 0;
  const order = new Map<number, number[]>();
  const epochOrder = (e: number) => {
    let o = order.get(e);
    if (!o) {
      order.clear();
      o = permutation(run.train.length, mulberry32(mix(cfg.seed, e)));
      order.set(e, o);
    }
    return o;
  };
  const lastLoss = () => metrics.at(-1)?.loss ?? Number.NaN;

  const saveCheckpoint = () => {
    const dir = `${cfg.checkpointDir}/${checkpointName(step)}`;
    const epoch = Math.floor(step / plan.stepsPerEpoch);
    const state: TrainerState = {
      format: 'reft-studio-checkpoint',
      version: 1,
      step,
      totalSteps: plan.totalSteps,
      epoch,
      micro: (step % plan.stepsPerEpoch) * cfg.gradAccum,
      config: cfg,
      dataHash: run.dataset.hash,
      evalHash: run.evalDataset?.hash ?? null,
      trainExamples: run.train.length,
      evalExamples: run.eval.length,
      tokensSeen,
      elapsedS: elapsedTotal,
      metrics: metrics.slice(-CHECKPOINT_METRICS),
      lastEvalLoss: lastEval,
      ...(tracker.active ? { best: tracker.state() } : {}),
      createdAt: new Date().toISOString(),
    };
    const adapter = adapterFromStates(
      run,
      states,
      { step, loss: lastLoss(), ...(lastEval !== null ? { evalLoss: lastEval } : {}) },
      precisionOf(model.spec),
    );
    writeCheckpoint(dir, {
      adapter,
      state,
      slots: opt.slots,
      adam: opt.exportState(),
      states,
      best: tracker.tensors(),
    });
    checkpoints.push(dir);
    lastCheckpoint = { step, dir };
    // Only this run's checkpoints: a folder given with --checkpoint-dir may hold others'. The newest
    // (this one) is never pruned.
    const removed = pruneCheckpoints(cfg.checkpointDir, cfg.keepCheckpoints, ownCheckpoint);
    for (const d of removed) {
      const k = checkpoints.findIndex((c) => resolve(c) === resolve(d));
      if (k >= 0) checkpoints.splice(k, 1);
    }
    const last = endsHere();
    return hooks.onCheckpoint?.(
      { step, dir, ...(removed.length ? { removed } : {}), ...(last ? { last: true as const } : {}) },
      model,
      heldForAnswers(last),
    );
  };
  const ownCheckpoint = (d: string): boolean => {
    if (checkpoints.some((c) => resolve(c) === resolve(d))) return true;
    if (cfg.runId === null) return false;
    try {
      const s = readTrainerState(d);
      return s.config.runId === cfg.runId && s.dataHash === run.dataset.hash;
    } catch {
      return false;
    }
  };
  const cancel = (): never => {
    // Not awaited: a cancelled run answers no probe prompts.
    if (lastCheckpoint?.step !== step) void saveCheckpoint();
    throw new CancelledError(
      `training cancelled at step ${step} of ${plan.totalSteps}; checkpoint: ${lastCheckpoint?.dir}`,
    );
  };

  /** Whether step `k` evaluates: every `evalEvery` steps, at the end of each epoch and at the last step. */
  const evaluatesAt = (k: number) =>
    run.eval.length > 0 &&
    (k === plan.totalSteps || k % plan.stepsPerEpoch === 0 || (cfg.evalEvery > 0 && k % cfg.evalEvery === 0));
  /** The held-out loss at `m`'s step, into `m` (and the best judged on it); null when cancelled part-way. */
  const evaluateInto = async (m: MetricRecord) => {
    // A run judged by its best evaluation finishes this one even when cancelled: a checkpoint
    // without it would resume to another best (or another stop) than the run never paused.
    m.evalLoss = await evaluate(model, run, tracker.active ? undefined : hooks.signal);
    if (m.evalLoss === null) return;
    lastEval = m.evalLoss;
    if (tracker.active) tracker.observe(m.step, m.evalLoss, states, precisionOf(model.spec));
  };
  const report = (m: MetricRecord) =>
    hooks.onProgress?.({
      step: m.step,
      totalSteps: plan.totalSteps,
      epoch: m.epoch,
      loss: m.loss,
      lr: m.lr,
      gradNorm: m.gradNorm,
      tokensPerS: m.tokensPerS,
      // Unknown until a step of this session is timed (a resumed run's first report).
      etaS: sessionSteps ? ((plan.totalSteps - step) * sessionSeconds) / sessionSteps : Number.NaN,
      ...(m.evalLoss !== null ? { evalLoss: m.evalLoss } : {}),
    });
  // A pause during an evaluation stops it at once where no best is judged, so the checkpoint's step
  // has no held-out loss: measured now, on the checkpoint's parameters, and reported again with it,
  // the run reports the losses (and its adapter the `evalLoss`) of the run never paused.
  const pausedIn = resumed ? metrics.at(-1) : undefined;
  if (pausedIn?.step === step && pausedIn.evalLoss === null && evaluatesAt(step)) {
    await evaluateInto(pausedIn);
    if (pausedIn.evalLoss !== null) report(pausedIn);
  }
  if (config.resumeFrom && hooks.onResume) {
    const last = endsHere();
    await hooks.onResume(
      { step, dir: config.resumeFrom, ...(last ? { last: true as const } : {}) },
      model,
      heldForAnswers(last),
    );
  }
  // A resume from the checkpoint an early stop saved stops at once, as the run it continues did.
  while (step < plan.totalSteps && !tracker.exhausted) {
    const t0 = performance.now();
    const epoch = Math.floor(step / plan.stepsPerEpoch);
    const first = (step % plan.stepsPerEpoch) * cfg.gradAccum;
    const last = Math.min(first + cfg.gradAccum, plan.microPerEpoch);
    const ord = epochOrder(epoch);
    const dropRng = mulberry32(mix(cfg.seed ^ DROPOUT_SALT, step));
    let lossSum = 0,
      stepTokens = 0;
    for (let mb = first; mb < last; mb++) {
      if (hooks.signal?.aborted) cancel();
      const rows = ord.slice(mb * cfg.batchSize, (mb + 1) * cfg.batchSize).map((i) => run.train.at(i));
      const { batch, tokens } = buildBatch(
        rows,
        run.positions,
        run.untied,
        run.specs.length,
        run.padId,
        cfg.dropout > 0 ? { specs: run.specs, rng: dropRng } : undefined,
      );
      const r = await model.lossAndGrads(batch);
      if (!Number.isFinite(r.loss))
        throw new ConfigError(
          'diverged',
          `training diverged at step ${step + 1}: the loss is ${r.loss}; try a lower learning rate`,
        );
      opt.accumulate(r.grads, 1 / (last - first));
      lossSum += r.loss;
      stepTokens += tokens;
    }
    const lr = scheduledLr(cfg.schedule, cfg.lr, step, plan.totalSteps, plan.warmup);
    const gradNorm = opt.step(lr, cfg.maxGradNorm);
    step++;
    const dt = (performance.now() - t0) / 1000;
    sessionSeconds += dt;
    sessionSteps++;
    sessionTokens += stepTokens;
    tokensSeen += stepTokens;
    elapsedTotal += dt;
    const tokensPerS = sessionTokens / Math.max(sessionSeconds, 1e-9);
    const m: MetricRecord = {
      step,
      epoch: step / plan.stepsPerEpoch,
      loss: lossSum / (last - first),
      lr,
      gradNorm,
      tokensPerS,
      evalLoss: null,
    };
    if (evaluatesAt(step)) await evaluateInto(m);
    metrics.push(m);
    if (metrics.length >= 2 * CHECKPOINT_METRICS) metrics.splice(0, metrics.length - CHECKPOINT_METRICS);
    report(m);
    if (hooks.signal?.aborted) cancel();
    if (
      step === plan.totalSteps ||
      tracker.exhausted ||
      (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0)
    )
      await saveCheckpoint();
  }
  const stoppedEarly = step < plan.totalSteps ? tracker.stopReason() : null;
  if (stoppedEarly) log(`stopping early at step ${step} of ${plan.totalSteps}: ${stoppedEarly}`);

  const finalLoss = lastLoss();
  const finalMetrics: Record<string, number> = {
    steps: step,
    epochs: step / plan.stepsPerEpoch,
    finalLoss,
    tokensPerS: sessionTokens / Math.max(sessionSeconds, 1e-9),
    trainExamples: run.train.length,
  };
  if (lastEval !== null) finalMetrics.evalLoss = lastEval;
  const best = tracker.best;
  const keptBest = cfg.keepBest && best !== null;
  if (best) {
    finalMetrics.bestStep = best.step;
    finalMetrics.bestEvalLoss = best.evalLoss;
    // The adapter's own held-out loss: its step's, where it is the best step's parameters.
    if (keptBest) finalMetrics.evalLoss = best.evalLoss;
  }
  if (keptBest)
    log(
      `keeping the best: the adapter is step ${best.step}'s (held-out loss ${best.evalLoss.toFixed(4)}${lastEval !== null && best.step !== step ? `; step ${step}'s: ${lastEval.toFixed(4)}` : ''})`,
    );
  // The best's parameters are labelled with the precision they were trained in: an earlier session's,
  // where the run was resumed on another device (none where an older checkpoint did not record it).
  const adapter = adapterFromStates(
    run,
    keptBest ? tracker.statesAtBest(states) : states,
    finalMetrics,
    keptBest ? tracker.precision : precisionOf(model.spec),
  );
  writeStudioAdapter(cfg.out, adapter, { asExport: config.outIsExport });
  if (cfg.exportPyreft) writePyreftFolder(cfg.exportPyreft, studioToPyreft(adapter), { asExport: true });
  return {
    adapter: cfg.out,
    pyreft: cfg.exportPyreft,
    steps: step,
    totalSteps: plan.totalSteps,
    epochs: step / plan.stepsPerEpoch,
    finalLoss,
    evalLoss: lastEval,
    tokensPerS: finalMetrics.tokensPerS,
    stepsPerS: sessionSteps / Math.max(sessionSeconds, 1e-9),
    elapsedS: elapsedTotal,
    trainExamples: run.train.length,
    evalExamples: run.eval.length,
    truncatedExamples: truncated,
    interventions: run.specs.length,
    trainableParams: run.specs.reduce((s, sp) => s + paramCount(sp), 0),
    checkpoints,
    resumedFrom: config.resumeFrom ?? null,
    metrics: metrics.slice(-CHECKPOINT_METRICS),
    best,
    keptBest,
    stoppedEarly,
  };
}
