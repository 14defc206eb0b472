// The engine work the backend hands off: training (with probe samples), text generation,
// evaluation and a speed calibration. These functions run wherever the engine runs — inside the
// engine processes for the studio (engine-worker.ts), in-process for the CLI — and report through
// an `emit(event, data)` callback, so the same code serves both. All data crossing is structured-
// cloneable (no class instances, no functions).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type PreparedImport,
  type PrepareImportOptions,
  prepareImport,
} from '../../../native-runtime/adapters/folders.ts';
import {
  type EvaluateInput,
  type EvaluationReport,
  evaluateAdapter,
} from '../../../native-runtime/evaluation/evaluate.ts';
import {
  type ComposedAdapterInput,
  type GeneratedText,
  ModelRunner,
  type PromptInput,
} from '../../../native-runtime/evaluation/runner.ts';
import { readStudioAdapter } from '../../../native-runtime/formats/studio-adapter.ts';
import { loadModelSpec } from '../../../native-runtime/models/config.ts';
import type { NoteLevel, Notify } from '../../../native-runtime/notices.ts';
import { LAUNCH_MARKER, loadedOrtLibrary } from '../../../native-runtime/runtime/cuda-pack.ts';
import { trainingStartIssue } from '../../../native-runtime/runtime/precision.ts';
import type { ComputeUsed } from '../../../native-runtime/runtime/precision-used.ts';
import type { DeviceChoice, DeviceUsed } from '../../../native-runtime/runtime/session.ts';
import { WARMUP_STEPS } from '../../../native-runtime/runtime/warm-up.ts';
import type { TrainConfig } from '../../../native-runtime/training/config.ts';
import type {
  CheckpointWritten,
  DataProgress,
  LogEvent,
  ProbeSample,
  TrainPhase,
  TrainProgress,
} from '../../../native-runtime/training/events.ts';
import { type Audience, type OptionIssue, wordedFor } from '../../../native-runtime/training/options.ts';
import type { ExamplePreview } from '../../../native-runtime/training/preview.ts';
import type { ReftModel } from '../../../native-runtime/training/reft-model.ts';
import {
  type TokenLengths,
  type TokenLengthsInput,
  tokenLengths,
} from '../../../native-runtime/training/token-lengths.ts';
import { type TrainResult, train } from '../../../native-runtime/training/trainer.ts';
import { type ScanOptions, type ScanResult, type ScanWhere, scanForModels } from '../hub/scan.ts';
import {
  type ImportInput,
  type PreparedImport as PreparedDatasetImport,
  prepareImport as prepareDatasetImport,
} from '../library/dataset-prepare.ts';
import {
  type DuplicateReport,
  type FindDuplicatesOptions,
  findVersionDuplicatesAsync,
} from '../library/dedupe.ts';
import { type AdapterExport, type ExportJob, writeExport, writeExportZip } from '../library/export-writer.ts';
import { frozenRowHashes, type RowHashes } from '../library/row-hashes.ts';
import {
  checkProbePrompts,
  type PreviewTokensArgs,
  type ProbeCheckArgs,
  previewTokens,
} from '../library/run-tokenizing.ts';
import type { UnpackZipArgs } from '../library/transfers.ts';
import { unpackZip } from '../library/unpack-zip.ts';
import { waitUnless } from '../wait-unless.ts';
import type { ProbeConfig } from './run-params.ts';

/** A run's model folder, device, base weights and largest micro-batch (batch × its longest example). */
export interface TrainingStartArgs {
  model: string;
  device: DeviceChoice;
  quantize: string;
  batch: number;
  tokens: number;
}

export interface TrainArgs {
  config: TrainConfig;
  probe?: ProbeConfig | null;
  /**
   * A resumed run's probe prompts with an answer recorded at the steps it may answer again: its
   * checkpoint's (a pause there stops before they all answer) and its best evaluation's so far (a run
   * that keeps the best answers last with that step's parameters). Each prompt answers once a step.
   */
  answered?: { step: number; prompts: string[] }[] | null;
  /** Who reads the run's error (default the studio): the CLI's runs store its refusals in its words. */
  audience?: Audience;
}

/** TrainResult without the per-step metrics (the backend has them already). */
export type TrainSummary = Omit<TrainResult, 'metrics'>;

export interface GenerateArgs {
  model: string;
  adapter: string | null;
  /** Several adapters composed on the model (each on/off and scaled); `adapter` is then ignored. */
  adapters?: ComposedAdapterInput[];
  /** Texts, or conversations for the chat template. */
  prompts: PromptInput[];
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Texts that end an answer (cut before them), as generate's --stop. */
  stop?: string[];
  chat?: boolean | 'auto';
  device?: DeviceChoice;
  /** The base weights' form (the model's library setting) and the data folder holding it. */
  quantize?: string;
  dataDir?: string;
}

/** The answers, and where the session that wrote them runs (a loaded model's notice is told once). */
export interface Generation {
  texts: GeneratedText[];
  device: DeviceUsed;
}

export interface CalibrateArgs {
  config: TrainConfig;
  /** Timed steps after WARMUP_STEPS untimed ones (default 2). */
  steps?: number;
  /**
   * Where its throw-away folder goes (default the system's temporary folder): the host's scratch
   * folder, which the host removes even when a cancel killed this process midway.
   */
  scratch?: string;
}

export interface Calibration {
  stepMs: number;
  tokensPerS: number;
  steps: number;
}

/** Operation name → [args, events, result]. */
export interface EngineOps {
  train: {
    args: TrainArgs;
    events: {
      progress: TrainProgress;
      checkpoint: CheckpointWritten;
      sample: ProbeSample;
      log: Omit<LogEvent, 'event'>;
      device: ComputeUsed;
      phase: TrainPhase;
      'data-progress': DataProgress;
    };
    result: TrainSummary;
  };
  generate: {
    args: GenerateArgs;
    /** text: generated text; notice: what loading the model says (a conversion's progress, auto's form, a fallback). */
    events: { text: { row: number; text: string }; notice: Notice };
    result: Generation;
  };
  evaluate: {
    args: Omit<EvaluateInput, 'signal' | 'onProgress' | 'onNotice' | 'onStart'>;
    /**
     * start: the request was checked and the models load (EvaluateInput.onStart); notice: what
     * loading them says (a conversion's progress, the session opening).
     */
    events: {
      start: Record<string, never>;
      progress: { done: number; total: number };
      notice: Notice;
    };
    result: EvaluationReport;
  };
  /**
   * notice: what the trainer says before the first step (a conversion's progress, the session
   * opening); step: a step done, of `total` (the warm-up one included). Minutes each at desktop sizes.
   */
  calibrate: {
    args: CalibrateArgs;
    events: { notice: Notice; step: { done: number; total: number } };
    result: Calibration;
  };
  /**
   * Reads and checks an adapter folder for import (native-runtime/adapters/folders.ts), off the
   * RPC loop: a large or hostile pyreft folder costs the worker, never the clients.
   */
  prepareImport: { args: PrepareImportArgs; events: Record<string, never>; result: PreparedImport };
  /**
   * A dataset file read, checked and frozen (library/dataset-import.ts prepareImport), off the RPC
   * loop: a CSV or JSON document is parsed whole, a Parquet row group decoded at once. Rows checked
   * so far are reported every few thousand; the backend records the result.
   */
  prepareDatasetImport: {
    args: { dataDir: string; input: Omit<ImportInput, 'onProgress'> };
    events: { progress: { done: number; total: number | null } };
    result: PreparedDatasetImport;
  };
  /** The row hashes of frozen files (a re-import's row ids): a second a file of 200,000 rows. */
  frozenRowHashes: { args: { files: string[] }; events: Record<string, never>; result: RowHashes[] };
  /**
   * Tokens per example of a dataset for a model, as training counts them (the Datasets histogram):
   * minutes for a big version, so the examples counted so far are reported now and then.
   */
  tokenLengths: {
    args: Omit<TokenLengthsInput, 'onProgress'>;
    events: { progress: { done: number; total: number | null } };
    result: TokenLengths;
  };
  /** The run's probe prompts checked, then one dataset example as training tokenizes and intervenes it (the Train wizard's preview). */
  previewTokens: {
    args: PreviewTokensArgs;
    events: Record<string, never>;
    result: ExamplePreview & { numLayers: number };
  };
  /** Refuses probe prompts the model cannot answer (run-tokenizing.ts), before a run is recorded. */
  checkProbePrompts: { args: ProbeCheckArgs; events: Record<string, never>; result: null };
  /**
   * The engine's memory refusal of a training run (runtime/precision.ts trainingStartIssue), asked
   * where the engine runs: whether its sessions would run on the CPU is decided in an engine process.
   */
  trainingStartIssue: {
    args: TrainingStartArgs;
    events: Record<string, never>;
    result: OptionIssue | null;
  };
  /** An adapter export's files (export-writer.ts): a bundle copies the run's dataset, seconds on a big one. */
  exportAdapter: { args: { job: ExportJob }; events: Record<string, never>; result: AdapterExport };
  /** The same, zipped into a download's file (and its folder removed). */
  exportAdapterZip: {
    args: { job: ExportJob; zip: { workDir: string; stem: string; file: string } };
    events: Record<string, never>;
    result: Omit<AdapterExport, 'out'> & { sizeBytes: number };
  };
  /** An uploaded .zip unpacked into a folder (unpack-zip.ts): seconds for hundreds of MB. */
  unpackUpload: {
    args: UnpackZipArgs;
    events: Record<string, never>;
    result: { files: number; bytes: number };
  };
  /**
   * The Models page's scan of a Hugging Face cache or a folder (hub/scan.ts): every model's config,
   * safetensors headers and tokenizer.json read — a minute for a cache of hundreds of models, which
   * on the RPC loop held every window's requests that long.
   */
  scanModels: {
    args: { where: ScanWhere; opts: Pick<ScanOptions, 'devices'> };
    events: Record<string, never>;
    result: ScanResult;
  };
  /** Which ONNX Runtime library the engine process runs (the app's, or the CUDA pack's copy). */
  processInfo: { args: Record<string, never>; events: Record<string, never>; result: ProcessInfo };
  /**
   * Exact and near-duplicate rows of a version's frozen file (dedupe.ts), which the worker streams
   * itself (its texts never cross the channel): seconds on a big dataset, off the RPC loop.
   */
  findDuplicates: {
    args: { filePath: string; opts: FindDuplicatesOptions };
    events: Record<string, never>;
    result: DuplicateReport;
  };
}

export interface ProcessInfo {
  pid: number;
  /** The libonnxruntime.so.1 loaded (Linux; null elsewhere). */
  ortLibrary: string | null;
  /** The CUDA pack folder this process was started for, or null. */
  cudaPack: string | null;
}

export interface PrepareImportArgs {
  src: string;
  opts: PrepareImportOptions;
}

/** What loading a model or a run says for people, as an engine event; `level` 'warn' on warnings. */
export interface Notice {
  text: string;
  level?: NoteLevel;
}

export type OpName = keyof EngineOps;
export type Emit<O extends OpName> = <E extends keyof EngineOps[O]['events'] & string>(
  event: E,
  data: EngineOps[O]['events'][E],
) => void;

// ---- generation: loaded models are kept (two at most) so the playground answers quickly -------------

const RUNNERS_KEPT = 2;

/** A loaded model and the generations using it now: it is released only once none is. */
interface KeptRunner {
  runner: Promise<ModelRunner>;
  users: number;
  /** Evicted (or forgotten) while in use: released when its last generation ends, then `gone` is called. */
  dropped: { gone: () => void } | null;
  /** The base weights it holds: the model folder, device and form asked for (releaseRunnersOf). */
  base: string;
}

const runners = new Map<string, KeptRunner>();

/** Which weights a session holds, as the kept runners record it. */
const baseKey = (a: { model: string; device?: DeviceChoice; quantize?: string }): string =>
  JSON.stringify([a.model, a.device ?? 'cpu', a.quantize ?? 'none']);

function release(k: KeptRunner): Promise<void> {
  return k.runner.then((x) => x.release()).catch(() => {});
}

/**
 * Drops a kept model; one that a generation still decodes with is released after it. Resolves once
 * it is released.
 */
function drop(key: string, k: KeptRunner): Promise<void> {
  runners.delete(key);
  if (k.users === 0) return release(k);
  return new Promise((gone) => {
    k.dropped = { gone };
  });
}

/** The model for a request, counted as in use until `done` is called. */
function runnerFor(
  args: GenerateArgs,
  composed: ComposedAdapterInput[] | undefined,
  onNotice: Notify,
): { runner: Promise<ModelRunner>; done: () => void } {
  const { model, adapter, device } = args;
  // A composition is one session whatever its scales and switches (they are set per request).
  const parts = composed?.map((a) => [a.dir, a.name]) ?? null;
  const key = JSON.stringify([model, parts ?? adapter, device ?? 'cpu', args.quantize ?? 'none']);
  let k = runners.get(key);
  if (k) {
    runners.delete(key); // re-insert: most recently used last
    runners.set(key, k);
  } else {
    // Notices of a load go to the request that started it (others wait on the same promise).
    const opts = { device, quantize: args.quantize, dataDir: args.dataDir, onNotice };
    const opened = composed
      ? ModelRunner.openComposed(model, composed, opts)
      : ModelRunner.open(model, adapter, opts);
    // The request is checked before the load: a prompt the model cannot read neither converts the
    // base nor opens a session (nor fails the other requests waiting on this load).
    opened.reader.request(args.prompts, { chat: args.chat, maxNewTokens: args.maxNewTokens });
    const loaded: KeptRunner = { runner: opened.load(), users: 0, dropped: null, base: baseKey(args) };
    k = loaded;
    runners.set(key, loaded);
    loaded.runner.catch(() => {
      if (runners.get(key) === loaded) runners.delete(key);
    });
  }
  const used = k;
  used.users++;
  // Evicting a model another request is still decoding with released its session under it
  // ("Session already disposed"): that one is released once its generation ends.
  for (const [oldKey, old] of runners) {
    if (runners.size <= RUNNERS_KEPT) break;
    if (old !== used) void drop(oldKey, old);
  }
  return {
    runner: used.runner,
    done: () => {
      used.users--;
      const { dropped } = used;
      if (used.users === 0 && dropped) void release(used).then(dropped.gone);
    },
  };
}

/** Forgets cached sessions of an adapter folder (it was removed or replaced). */
export async function releaseRunners(): Promise<void> {
  await Promise.all([...runners].map(([key, k]) => drop(key, k)));
}

/**
 * Releases the kept sessions over the same weights as `a` (model folder, device, form), resolved once
 * they are gone: one still answering (or loading for an answer) goes when its answer ends, and
 * `onWait` is told when there is one. An evaluation does this before its own session opens: beside a
 * kept one it would hold the weights a second time — a quantized base pre-packs them per session (at
 * TinyLlama's shape in int8, 1.5 GB of private memory more), and RSS counts a float store once per
 * session mapping it.
 */
export async function releaseRunnersOf(
  a: { model: string; device?: DeviceChoice; quantize?: string },
  onWait: () => void = () => {},
): Promise<void> {
  const base = baseKey(a);
  const same = [...runners].filter(([, k]) => k.base === base);
  if (same.some(([, k]) => k.users > 0)) onWait();
  await Promise.all(same.map(([key, k]) => drop(key, k)));
}

// ---- an evaluation holds its model: the Playground's answers on the same weights wait for it -------

/** The evaluations holding (or opening) a session, by the weights they hold (baseKey). */
const evaluating = new Map<string, Set<Promise<unknown>>>();

/** Shown as the Playground's reply until it loads (the page adds '…'). */
export const WAITING_FOR_EVALUATION = 'waiting for the evaluation of this model to end';
/** The evaluation's job message while the Playground answers on its model. */
export const WAITING_FOR_ANSWER = "waiting for the Playground's answer on this model to end";

/**
 * Runs `work` (an evaluation's session and all it does) as holding the weights of `a`: a Playground
 * answer on them waits until it ends (generateTask) rather than open a second session beside it.
 */
async function holdingWeights<T>(a: Parameters<typeof baseKey>[0], work: () => Promise<T>): Promise<T> {
  const key = baseKey(a);
  const held = evaluating.get(key) ?? new Set();
  evaluating.set(key, held);
  const running = work();
  held.add(running);
  try {
    return await running;
  } finally {
    held.delete(running);
    if (!held.size) evaluating.delete(key);
  }
}

/**
 * Resolves once no evaluation holds the weights `args` asks for, saying `onWait` once if it waits.
 * A second session would hold them again — mapped again, and on a quantized base packed again (at
 * TinyLlama's shape in int8, 1.5 GB of private memory more) — for as long as both run. A cancel ends
 * the wait at once.
 */
async function afterEvaluationsOf(
  args: GenerateArgs,
  signal: AbortSignal,
  onWait: () => void,
): Promise<void> {
  const key = baseKey(args);
  let told = false;
  // Another evaluation of the model may start as one ends (they queue one after another).
  for (let held = evaluating.get(key); held; held = evaluating.get(key)) {
    if (!told) onWait();
    told = true;
    await waitUnless(Promise.allSettled(held), signal, 'generation cancelled');
  }
}

export async function generateTask(
  args: GenerateArgs,
  emit: Emit<'generate'>,
  signal: AbortSignal,
): Promise<Generation> {
  await afterEvaluationsOf(args, signal, () => emit('notice', { text: WAITING_FOR_EVALUATION }));
  const composed = args.adapters?.length ? args.adapters : undefined;
  const lease = runnerFor(args, composed, (text, level) => emit('notice', { text, level }));
  try {
    const runner = await lease.runner;
    // The session is shared by concurrent requests at other strengths: runner.generate copies these
    // into this request's feed synchronously, so nothing may await between here and that call.
    for (const a of composed ?? []) {
      runner.composed?.setScale(a.name, a.scale ?? 1);
      runner.composed?.setEnabled(a.name, a.enabled ?? true);
    }
    const greedy = args.temperature === 0;
    const texts = await runner.generate(args.prompts, {
      maxNewTokens: args.maxNewTokens,
      temperature: args.temperature,
      topP: args.topP,
      topK: args.topK,
      repetitionPenalty: args.repetitionPenalty,
      seed: args.seed,
      stop: args.stop,
      greedy,
      chat: args.chat ?? 'auto',
      signal,
      onText: (row, text) => emit('text', { row, text }),
    });
    return { texts, device: runner.deviceUsed };
  } finally {
    lease.done();
  }
}

// ---- training ------------------------------------------------------------------------------------

/** trainRun, its refusals worded for who started it (the engine's are the studio's and the CLI's). */
export async function trainTask(
  args: TrainArgs,
  emit: Emit<'train'>,
  signal: AbortSignal,
): Promise<TrainSummary> {
  try {
    return await trainRun(args, emit, signal);
  } catch (e) {
    throw wordedFor(e, args.audience ?? 'studio');
  }
}

async function trainRun(args: TrainArgs, emit: Emit<'train'>, signal: AbortSignal): Promise<TrainSummary> {
  const probe = args.probe?.prompts.length ? args.probe : null;
  let prober: ModelRunner | null = null;
  // A probe's failure is a log line of the run: a memory refusal in the words of who started it.
  const failed = (e: unknown) => (wordedFor(e, args.audience ?? 'studio') as Error).message;
  // The probes' runners are on the training session (`on`): they load nothing.
  const probeOpts = { device: args.config.device };
  /** Each probe prompt's answer (greedy) on `runner`, as the sample of `step`. */
  const answer = async (runner: ModelRunner, step: number, prompts: string[]) => {
    if (!probe) return;
    for (const prompt of prompts) {
      if (signal.aborted) return;
      const [out] = await runner.generate([prompt], { maxNewTokens: probe.maxNewTokens ?? 48, greedy: true });
      emit('sample', {
        step,
        prompt,
        output: out.text,
        ...(out.emptyNote ? { emptyNote: out.emptyNote } : {}),
      });
    }
  };
  // Samples are taken at each checkpoint on the training session itself, which the trainer leaves
  // alone until they are done (TrainHooks.onCheckpoint): its parameters are the checkpoint's, and
  // a second session would hold the weights again (ONNX Runtime maps them per session; a quantized
  // base packs them per session: 1.5 GB more at TinyLlama's shape in int8).
  // Every `every` steps and at the run's last checkpoint (its last step, or an early stop's). The
  // answers are recorded at the step whose parameters gave them: at a keep-best run's last checkpoint,
  // the best evaluation's (TrainHooks.onCheckpoint), as its adapter answers. A prompt answers once a
  // step: the best step answered at its own checkpoint already (the same parameters, the same
  // answers), in this process or, resumed, before it (TrainArgs.answered).
  const answered = new Map((args.answered ?? []).map((a) => [a.step, new Set(a.prompts)]));
  /** The probe prompts not answered at `step` yet, marked answered. */
  const toAnswer = (step: number): string[] => {
    const done = answered.get(step) ?? new Set<string>();
    answered.set(step, done);
    const prompts = (probe?.prompts ?? []).filter((p) => !done.has(p));
    for (const p of prompts) done.add(p);
    return prompts;
  };
  const sampleAt = async ({ step, dir, last }: CheckpointWritten, model: ReftModel, heldStep: number) => {
    if (!probe || signal.aborted) return;
    if (step % probe.every !== 0 && !last) return;
    const prompts = toAnswer(heldStep);
    if (!prompts.length) return;
    try {
      // The adapter's manifest formats the prompts and places the interventions, as in training.
      prober ??= ModelRunner.open(args.config.model, readStudioAdapter(dir), probeOpts).on(model);
      await answer(prober, heldStep, prompts);
    } catch (e) {
      emit('log', { message: `probe samples at step ${heldStep} failed: ${failed(e)}`, level: 'warn' });
    }
  };
  // Step 0 of the probe timeline: the base model's answers before any training, on the training
  // session once it is open and before its first step (TrainHooks.onSession), its interventions
  // given no positions: a session of their own loaded the model a second time (and on a quantized
  // base packed it) for a handful of tokens. A resumed run has them already, but for a pause before
  // its first step (TrainHooks.onResume at step 0).
  const answerBase = async (model: ReftModel) => {
    if (!probe || signal.aborted) return;
    const prompts = toAnswer(0);
    if (!prompts.length) return;
    try {
      await answer(ModelRunner.open(args.config.model, null, probeOpts).on(model), 0, prompts);
    } catch (e) {
      emit('log', { message: `probe answers before training failed: ${failed(e)}`, level: 'warn' });
    }
  };
  const res = await train(args.config, {
    signal,
    onLog: (message, level) => emit('log', { message, level }),
    onDevice: (d) => emit('device', d),
    onPhase: (p) => emit('phase', p),
    onDataProgress: (p) => emit('data-progress', p),
    onSession: (model) => (args.config.resumeFrom ? undefined : answerBase(model)),
    // A pause answers no probes (the trainer saves and stops at once): its resume answers there
    // what is missing, as the checkpoint just written would have.
    onResume: (c, model, heldStep) => (c.step === 0 ? answerBase(model) : sampleAt(c, model, heldStep)),
    onProgress: (p) => emit('progress', p),
    onCheckpoint: (c, model, heldStep) => {
      emit('checkpoint', c);
      return sampleAt(c, model, heldStep);
    },
  });
  const { metrics: _m, ...summary } = res;
  return summary;
}

// ---- evaluation and calibration --------------------------------------------------------------------

export async function evaluateTask(
  args: EngineOps['evaluate']['args'],
  emit: Emit<'evaluate'>,
  signal: AbortSignal,
): Promise<EvaluationReport> {
  // From the request until its session is released the evaluation holds the model: the Playground's
  // sessions of it go before its own opens (an answer in flight ends first), and its answers wait
  // (one copy of the weights, not two). Its next answer loads the model again.
  return holdingWeights(args, () =>
    evaluateAdapter({
      ...args,
      signal,
      onProgress: (done, total) => emit('progress', { done, total }),
      onNotice: (text, level) => emit('notice', { text, level }),
      onStart: () => emit('start', {}),
      beforeLoad: () =>
        waitUnless(
          releaseRunnersOf(args, () => emit('notice', { text: WAITING_FOR_ANSWER })),
          signal,
          'evaluation cancelled',
        ),
    }),
  );
}

/**
 * Times real training steps of a configuration: bench's WARMUP_STEPS untimed steps (session
 * creation, first-run allocations, and the start-up costs a session's second run still pays), then
 * `steps` timed ones, into a throw-away folder.
 */
export async function calibrateTask(
  args: CalibrateArgs,
  emit: Emit<'calibrate'>,
  signal: AbortSignal,
): Promise<Calibration> {
  const steps = args.steps ?? 2;
  const dir = mkdtempSync(join(args.scratch ?? tmpdir(), 'reft-calibrate-'));
  const marks: { at: number; tokensPerS: number }[] = [];
  try {
    await train(
      {
        ...args.config,
        out: join(dir, 'out'),
        checkpointDir: join(dir, 'ckpt'),
        checkpointEvery: 0,
        maxSteps: WARMUP_STEPS + steps,
        evalData: undefined,
        evalSplit: 0,
        // Without held-out data these are refused; a speed measurement judges no loss anyway.
        keepBest: false,
        earlyStoppingPatience: 0,
        exportPyreft: undefined,
        resumeFrom: undefined,
      },
      {
        signal,
        onLog: (text, level) => emit('notice', { text, level }),
        onProgress: (p) => {
          marks.push({ at: performance.now(), tokensPerS: p.tokensPerS });
          emit('step', { done: marks.length, total: WARMUP_STEPS + steps });
        },
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // From the end of the last warm-up step to the end of the last step.
  const timed = marks.length - WARMUP_STEPS;
  const stepMs = timed > 0 ? (marks[marks.length - 1].at - marks[WARMUP_STEPS - 1].at) / timed : Number.NaN;
  return { stepMs, tokensPerS: marks.at(-1)?.tokensPerS ?? Number.NaN, steps: timed };
}

export const TASKS: {
  [O in OpName]: (
    args: EngineOps[O]['args'],
    emit: Emit<O>,
    signal: AbortSignal,
  ) => Promise<EngineOps[O]['result']>;
} = {
  train: trainTask,
  generate: generateTask,
  evaluate: evaluateTask,
  calibrate: calibrateTask,
  prepareImport: async (args: PrepareImportArgs) => prepareImport(args.src, args.opts),
  prepareDatasetImport: ({ dataDir, input }, emit) =>
    prepareDatasetImport(dataDir, {
      ...input,
      onProgress: (done, total) => emit('progress', { done, total }),
    }),
  frozenRowHashes: async ({ files }) => files.map(frozenRowHashes),
  tokenLengths: async (args, emit) =>
    tokenLengths({ ...args, onProgress: (done, total) => emit('progress', { done, total }) }),
  previewTokens: async (args: PreviewTokensArgs) => previewTokens(args),
  checkProbePrompts: async (args: ProbeCheckArgs) => {
    checkProbePrompts(args);
    return null;
  },
  trainingStartIssue: ({ model, ...run }) => trainingStartIssue(loadModelSpec(model), run),
  findDuplicates: (args, _emit, signal) => findVersionDuplicatesAsync(args.filePath, args.opts, signal),
  exportAdapter: async ({ job }) => writeExport(job),
  exportAdapterZip: async ({ job, zip }) => writeExportZip(job, zip),
  unpackUpload: (args, _emit, signal) => unpackZip(args, signal),
  scanModels: async ({ where, opts }) => scanForModels(where, opts),
  processInfo: async () => {
    await import('onnxruntime-node');
    return { pid: process.pid, ortLibrary: loadedOrtLibrary(), cudaPack: process.env[LAUNCH_MARKER] ?? null };
  },
};
