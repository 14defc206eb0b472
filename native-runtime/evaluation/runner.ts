// A loaded model, with or without a studio adapter, ready for the studio's inference work: text
// generation (the playground, probe samples during training, evaluation outputs) and held-out loss.
// One ORT session serves both (reft-graph's forward-only path); an adapter's interventions are placed
// on each prompt exactly as in training (positions.ts), and the prompt is formatted as in training
// (data.ts encodePrompt: the chat template when the adapter was trained through it).
// A run's probe prompts use the training session itself (OpenedRunner.on): no second copy of the weights.
// Several adapters can be composed on one session (adapters/compose.ts), each on/off and scaled per
// call without rebuilding it (the playground's strength dials). A prompt is a text or a chat
// (system/user/assistant messages through the model's chat template).
// Loading is two steps (open, then load): open reads the folders and checks the adapters, and hands
// out the PromptReader, so a caller refuses a request it cannot serve before the weights are
// converted or a session opens.
// Leaves out: batching of generation requests from different callers.

import { adapterStates, checkAdapterForModel } from '../adapters/apply.ts';
import { ComposedAdapters, checkComposition, promptTemplateConflict } from '../adapters/compose.ts';
import { detectAdapterFolder } from '../adapters/folders.ts';
import { ConfigError } from '../errors.ts';
import { readPyreftFolder, SIDECAR_FILE } from '../formats/pyreft.ts';
import {
  pyreftToStudio,
  readStudioAdapter,
  type StudioAdapter,
  type StudioManifest,
} from '../formats/studio-adapter.ts';
import { AnswerStream } from '../generation/answer-stream.ts';
import { emptyAnswerNote } from '../generation/empty-answer.ts';
import { decodeLoopPays, type FinishReason, type GenerateOptions } from '../generation/generator.ts';
import type { ModelSpec } from '../models/config.ts';
import { openModelFolder } from '../models/model-folder.ts';
import type { Notify } from '../notices.ts';
import { plural } from '../plural.ts';
import { shouldPrepack } from '../quantize/base.ts';
import { modelLoadIssue, prepareModel } from '../runtime/precision.ts';
import { type DeviceChoice, type DeviceUsed, deviceUsed } from '../runtime/session.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { type Dataset, specialIds } from '../training/data.ts';
import { type DtypeOption, OptionError } from '../training/options.ts';
import { interventionLocations, isUntied, type Positions, parsePositions } from '../training/positions.ts';
import { type InterventionState, ReftModel } from '../training/reft-model.ts';
import type { StoredExample, TokenizedRows } from '../training/tokenized-rows.ts';
import { buildBatch } from '../training/trainer.ts';
import { weightedMeanLoss } from './metrics.ts';
import {
  DEFAULT_MAX_NEW_TOKENS,
  type PromptInput,
  PromptReader,
  templateConflictError,
} from './prompt-reader.ts';

export type { ChatMessage, PromptInput } from './prompt-reader.ts';

export interface RunnerOptions {
  device?: DeviceChoice;
  onNotice?: Notify;
  /**
   * Positions for a pyreft folder that does not record them; with one adapter (load) they replace
   * the adapter's own, in a composition (loadComposed) only the folders without them take them.
   */
  positions?: string;
  /** Apply an adapter made for another model of the same shape. */
  forceBase?: boolean;
  /**
   * The base weights' form (auto|none|int8|int4; runtime/precision.ts, quantize/base.ts; default
   * auto) and the data folder holding converted forms.
   */
  quantize?: string;
  dataDir?: string;
  /** The compute dtype (runtime/precision.ts): auto keeps a half checkpoint half on CUDA. */
  dtype?: DtypeOption;
  /**
   * How text prompts will be formatted, when the caller knows it at load (generate's --chat):
   * 'auto' refuses adapters trained on differently formatted prompts before the model loads.
   */
  chat?: boolean | 'auto';
}

/** One batch's mean loss over its completion tokens, and how many tokens that is. */
export interface BatchLoss {
  loss: number;
  tokens: number;
}

export interface LossResult {
  loss: number;
  tokens: number;
  examples: number;
  truncated: number;
}

/** The loss over `rows` from its batches' (ModelRunner.batchLoss), token-weighted. */
export function lossResult(rows: TokenizedRows, parts: readonly BatchLoss[]): LossResult {
  return {
    loss: weightedMeanLoss(parts),
    tokens: parts.reduce((s, p) => s + p.tokens, 0),
    examples: rows.length,
    // Examples cut to maxLength (tokenizeExample): measured on what was kept.
    truncated: rows.truncatedCount(),
  };
}

/**
 * Told before the session opens: tens of seconds on an 8B model, silent otherwise (the Playground
 * would still show a finished conversion's last notice).
 */
const LOADING = 'loading the model into ONNX Runtime';

/** The model folder's spec and tokenizer: generation and evaluation cannot go without the tokenizer. */
function openTokenizedModel(modelDir: string): { spec: ModelSpec; tokenizer: Tokenizer } {
  const { spec, tokenizer } = openModelFolder(modelDir);
  if (!tokenizer) throw new ConfigError('missing-tokenizer', `${modelDir}: no tokenizer.json`);
  return { spec, tokenizer };
}

/**
 * The base in the form asked for (a conversion the first time), for the device's compute dtype; then
 * says the session is being loaded, as that comes next.
 */
async function prepareBaseFor(spec: ModelSpec, opts: RunnerOptions): Promise<ModelSpec> {
  const base = await prepareModel(spec, {
    quantize: opts.quantize ?? 'auto',
    dtype: opts.dtype,
    dataDir: opts.dataDir,
    device: opts.device,
    log: opts.onNotice,
  });
  opts.onNotice?.(LOADING);
  return base;
}

/** The base for a session of one adapter (or none), and whether ORT pre-packs its weights. */
async function inferenceBase(
  spec: ModelSpec,
  opts: RunnerOptions,
): Promise<{ base: ModelSpec; prepack: boolean }> {
  // Generation and evaluation only: quantized weights are packed for the int8 kernels.
  const base = await prepareBaseFor(spec, opts);
  return { base, prepack: shouldPrepack(base, { training: false }) };
}

export interface GenerateTextOptions
  extends Omit<GenerateOptions, 'interventions' | 'onToken' | 'shouldStop'> {
  /** Stop a row once its text contains one of these (answer-stream.ts); the text is cut before it. */
  stop?: string[];
  /** Format the prompt with the chat template: true, false, or 'auto' (as the adapter was trained). */
  chat?: boolean | 'auto';
  /** Called with each newly completed piece of text of row `row`. */
  onText?: (row: number, text: string) => void;
  /** The base model's answer on this session (ModelRunner.base). */
  base?: boolean;
}

/** One adapter of a composition (ModelRunner.loadComposed). */
export interface ComposedAdapterInput {
  dir: string;
  name: string;
  /** α: 0 = the base model, 1 = as trained (default 1). */
  scale?: number;
  enabled?: boolean;
}

/**
 * Why a row ended: the generator's reasons, or 'context' when the model's context (its max position
 * embeddings) filled up before the max new tokens asked for; said, not passed off as 'length'.
 */
export type TextFinishReason = FinishReason | 'context';

export interface GeneratedText {
  text: string;
  /** The generated token ids. */
  ids: number[];
  tokens: number;
  finishReason: TextFinishReason;
  promptTokens: number;
  /** Why tokens were generated but no text (empty-answer.ts), said beside the empty answer; else null. */
  emptyNote: string | null;
  /** Milliseconds from this row's first generated token to its last (decoding speed), null below 2. */
  decodeMs: number | null;
}

/**
 * Reads an adapter folder (studio format or pyreft) for `spec`. A pyreft folder without the studio's
 * side file records neither positions nor base model: `positions` must then be given, and only the
 * shapes can be checked. `positions` replaces a pyreft folder's recorded ones unless `keepRecorded`.
 */
function readAdapterFor(
  dir: string,
  spec: ModelSpec,
  positions?: string,
  keepRecorded = false,
): StudioAdapter {
  if (detectAdapterFolder(dir) === 'studio') return readStudioAdapter(dir);
  // Checked as given: the converted manifest's own check would name itself, not the positions.
  if (positions !== undefined) parsePositions(positions);
  const py = readPyreftFolder(dir);
  const recorded = py.sidecar?.positions;
  const pos = keepRecorded ? (recorded ?? positions) : (positions ?? recorded);
  if (!pos) {
    throw new ConfigError(
      'missing-positions',
      `${dir}: the adapter does not record its positions (no ${SIDECAR_FILE}); pass --positions, e.g. f1+l1`,
    );
  }
  return pyreftToStudio(py, {
    positions: pos,
    baseModel: py.sidecar?.baseModel ?? { arch: spec.arch, fingerprint: spec.fingerprint },
  });
}

/**
 * A model and its adapters read and checked, the weights not yet touched (ModelRunner.open): `reader`
 * refuses what a request cannot have before `load` converts the base or opens the session.
 */
export interface OpenedModel {
  readonly reader: PromptReader;
  /** Refuses what `load` would refuse for the computer's memory (prepareModel's check), loading nothing. */
  checkMemory(): Promise<void>;
  load(): Promise<ModelRunner>;
}

/** A model with one adapter (or none) read and checked (ModelRunner.open). */
export interface OpenedRunner extends OpenedModel {
  /**
   * A runner on a session already open with these interventions (a training run's own, for its
   * probe prompts: a second session would hold the weights again), generating with the parameters
   * that session's model has when it runs. Opened without an adapter, it answers as the base model
   * on any session, its interventions given no positions (`base`): the probes' answers before
   * training. Releasing the runner leaves the session to its owner.
   */
  on(model: ReftModel): ModelRunner;
}

/** OpenedModel.checkMemory of `spec` loaded with `opts`: an OptionError, as prepareModel throws. */
async function checkMemory(spec: ModelSpec, opts: RunnerOptions): Promise<void> {
  const issue = await modelLoadIssue(spec, { quantize: opts.quantize ?? 'auto', device: opts.device });
  if (issue) throw new OptionError(issue);
}

export class ModelRunner {
  readonly spec: ModelSpec;
  readonly model: ReftModel;
  /** Formats and checks prompts (the same reader open handed out). */
  readonly reader: PromptReader;
  readonly positions: Positions;
  readonly untied: boolean;
  /** Several adapters on this session, when loaded with loadComposed. */
  readonly composed: ComposedAdapters | null;
  /** The device the runner was loaded for (its session may run elsewhere: see deviceUsed). */
  #requested: DeviceChoice | undefined;
  /** Whether release ends the session (not when it is another's: OpenedModel.on). */
  #owned: boolean;
  /** Always the base model: opened without an adapter on a session with interventions (`on`). */
  #baseOnly: boolean;

  private constructor(
    model: ReftModel,
    reader: PromptReader,
    requested: DeviceChoice | undefined,
    composed: ComposedAdapters | null = null,
    owned = true,
  ) {
    this.#baseOnly = reader.manifest === null && model.states.length > 0 && composed === null;
    this.spec = model.spec;
    this.model = model;
    this.reader = reader;
    this.composed = composed;
    this.#requested = requested;
    this.#owned = owned;
    const manifest = reader.manifest;
    this.positions = parsePositions(manifest?.positions ?? 'f1');
    this.untied = manifest ? isUntied(this.positions, manifest.shareWeights) : false;
  }

  /**
   * Reads the model folder and, when given, an adapter — a folder, or one already read (a training
   * checkpoint the trainer may delete before this runs) — refused when made for another model. Reads
   * no weights: the returned `load` prepares the base and opens the session.
   */
  static open(
    modelDir: string,
    adapterDir: string | StudioAdapter | null,
    opts: RunnerOptions = {},
  ): OpenedRunner {
    const { spec, tokenizer } = openTokenizedModel(modelDir);
    let states: InterventionState[] = [];
    let manifest: StudioManifest | null = null;
    if (adapterDir) {
      const adapter =
        typeof adapterDir === 'string' ? readAdapterFor(adapterDir, spec, opts.positions) : adapterDir;
      const adapterName = typeof adapterDir === 'string' ? adapterDir : 'the adapter';
      const target = {
        arch: spec.arch,
        fingerprint: spec.fingerprint,
        hiddenSize: spec.hiddenSize,
        numLayers: spec.numLayers,
        name: modelDir,
      };
      checkAdapterForModel(adapter, target, { forceBase: opts.forceBase, adapterName });
      states = adapterStates(adapter);
      manifest = opts.positions ? { ...adapter.manifest, positions: opts.positions } : adapter.manifest;
    }
    const named = typeof adapterDir === 'string' ? `adapter "${adapterDir}"` : undefined;
    const reader = new PromptReader(spec, tokenizer, manifest, null, named);
    return {
      reader,
      checkMemory: () => checkMemory(spec, opts),
      load: async () => {
        const { base, prepack } = await inferenceBase(spec, opts);
        const model = await ReftModel.load(base, states, {
          ...opts,
          prepack,
          decodeLoop: await decodeLoopPays(opts.device),
        });
        return new ModelRunner(model, reader, opts.device);
      },
      on: (model) => {
        if (adapterDir && model.states.length !== states.length)
          throw new ConfigError(
            'adapter-mismatch',
            `the session has ${plural(model.states.length, 'intervention')}, the adapter ${states.length}`,
          );
        return new ModelRunner(model, reader, opts.device, null, false);
      },
    };
  }

  /** open, then load: the model (and adapter) ready to generate. */
  static async load(
    modelDir: string,
    adapterDir: string | StudioAdapter | null,
    opts: RunnerOptions = {},
  ): Promise<ModelRunner> {
    return ModelRunner.open(modelDir, adapterDir, opts).load();
  }

  /**
   * The model with several adapters composed on one session (in the order given; see compose.ts),
   * read and checked without the weights, as open. Prompts go through the chat template when any of
   * them was trained through it.
   */
  static openComposed(
    modelDir: string,
    adapters: ComposedAdapterInput[],
    opts: RunnerOptions = {},
  ): OpenedModel {
    const { spec, tokenizer } = openTokenizedModel(modelDir);
    const inputs = adapters.map((a) => ({
      name: a.name,
      // One --positions for several adapters: only for the folders that do not record theirs.
      adapter: readAdapterFor(a.dir, spec, opts.positions, true),
      scale: a.scale,
      enabled: a.enabled,
    }));
    checkComposition(spec, inputs, { forceBase: opts.forceBase, modelName: modelDir });
    const conflict = promptTemplateConflict(inputs);
    if (conflict && opts.chat === 'auto') throw templateConflictError(conflict);
    const counts = inputs.find((i) => i.adapter.manifest.promptTemplate === 'chat') ?? inputs[0];
    const reader = new PromptReader(
      spec,
      tokenizer,
      counts?.adapter.manifest ?? null,
      conflict,
      counts && `adapter "${counts.name}"`,
    );
    return {
      reader,
      checkMemory: () => checkMemory(spec, opts),
      load: async () => {
        const base = await prepareBaseFor(spec, opts);
        const composed = await ComposedAdapters.load(base, inputs, {
          device: opts.device,
          forceBase: opts.forceBase,
          modelName: modelDir,
        });
        return new ModelRunner(composed.model, reader, opts.device, composed);
      },
    };
  }

  /** openComposed, then load. */
  static async loadComposed(
    modelDir: string,
    adapters: ComposedAdapterInput[],
    opts: RunnerOptions = {},
  ): Promise<ModelRunner> {
    return ModelRunner.openComposed(modelDir, adapters, opts).load();
  }

  get tokenizer(): Tokenizer {
    return this.reader.tokenizer;
  }

  get manifest(): StudioManifest | null {
    return this.reader.manifest;
  }

  /**
   * Per intervention, no positions: what `base` feeds. The interventions then write back nothing
   * (as a composition's adapter turned off, compose.ts), so the session computes the base model
   * itself: an evaluation compares the two on one session, holding the weights once instead of
   * mapping them again for a base session (RSS counts every session's mapping of the same file).
   */
  #none(): number[][] {
    return this.model.states.map(() => []);
  }

  /** Where the session runs, and why not on the device asked for (a fallback to the CPU). */
  get deviceUsed(): DeviceUsed {
    return deviceUsed(this.model.session, this.#requested);
  }

  get hasAdapter(): boolean {
    return this.model.states.length > 0 && !this.#baseOnly;
  }

  /** Prompt token ids (reader.encodePrompt). */
  encodePrompt(prompt: string, chat: boolean | 'auto' = 'auto'): number[] {
    return this.reader.encodePrompt(prompt, chat);
  }

  /**
   * How `rows` prompts generate with `opts` on this session: the provider, tokens per run (1: no
   * in-graph loop) and the loop body a token runs ('fused' at batch 1 where it applies; null
   * without the loop).
   */
  decoding(
    rows: number,
    opts: GenerateTextOptions = {},
  ): { device: string; tokensPerRun: number; step: 'fused' | 'general' | null } {
    const perRun = this.model.generator().chunkSize(opts);
    const step = perRun === 1 ? null : rows === 1 && this.model.decoding.fused ? 'fused' : 'general';
    return { device: this.model.session.device, tokensPerRun: perRun, step };
  }

  /** Generates a continuation for each prompt (one batch, left-padded). */
  async generate(prompts: PromptInput[], opts: GenerateTextOptions = {}): Promise<GeneratedText[]> {
    const asked = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
    const { ids, maxNew } = this.reader.request(prompts, { chat: opts.chat, maxNewTokens: asked });
    // What is streamed is the answer: never a stop string or what follows it.
    const answers = ids.map(
      (_, r) => new AnswerStream(this.tokenizer, opts.stop ?? [], (t) => opts.onText?.(r, t)),
    );
    const firstAt: Array<number | undefined> = ids.map(() => undefined);
    const lastAt: number[] = ids.map(() => 0);
    const gen = this.model.generator();
    const n = this.model.states.length;
    const base = opts.base || this.#baseOnly;
    const res = await gen.generate(ids, {
      ...opts,
      eosTokenIds: opts.eosTokenIds ?? this.reader.eosTokenIds,
      maxNewTokens: maxNew,
      onToken: (row, id) => {
        const now = performance.now();
        firstAt[row] ??= now;
        lastAt[row] = now;
        answers[row].push(id);
      },
      shouldStop: (row) => answers[row].stopped,
      interventions: this.composed
        ? {
            params: this.model.paramFeed(),
            locations: ids.map((p) =>
              base ? this.#none() : (this.composed as ComposedAdapters).locationsFor(p.length),
            ),
            scales: this.model.states.map((s) => s.scale ?? 1),
          }
        : n
          ? {
              params: this.model.paramFeed(),
              locations: ids.map((p) =>
                base ? this.#none() : interventionLocations(p.length, this.positions, n, this.untied),
              ),
            }
          : undefined,
    });
    for (const a of answers) a.finish();
    // The answer is the streamed text, so a client that follows the pieces ends with the same text.
    return res.tokens.map((toks, r) => ({
      text: answers[r].text,
      ids: toks,
      tokens: toks.length,
      finishReason: res.finishReasons[r] === 'length' && maxNew < asked ? 'context' : res.finishReasons[r],
      promptTokens: ids[r].length,
      emptyNote: emptyAnswerNote(this.tokenizer, toks, answers[r].text, answers[r].stopped),
      decodeMs: toks.length > 1 && firstAt[r] !== undefined ? lastAt[r] - (firstAt[r] as number) : null,
    }));
  }

  /**
   * Token-weighted mean loss over a dataset's completions (prompts formatted as in training, or
   * through the chat template as `chat` says): this model measured alone, batch by batch as
   * evaluate.ts measures it (which runs the base model on each batch too, through batchLoss).
   */
  async datasetLoss(
    ds: Dataset,
    opts: { chat?: boolean; maxLength?: number; limit?: number; batchSize?: number } = {},
  ): Promise<LossResult> {
    const rows = this.reader.lossRows(ds, opts);
    const bs = opts.batchSize ?? 8;
    const parts: BatchLoss[] = [];
    for (let i = 0; i < rows.length; i += bs) parts.push(await this.batchLoss(rows.slice(i, i + bs)));
    return lossResult(rows, parts);
  }

  /** The loss of one batch of tokenized rows (a slice of reader.lossRows); `base`: the base model's. */
  async batchLoss(chunk: StoredExample[], opts: { base?: boolean } = {}): Promise<BatchLoss> {
    const { padId } = specialIds(this.tokenizer, this.spec);
    const n = opts.base || this.#baseOnly ? 0 : this.model.states.length;
    const { batch } = buildBatch(chunk, this.positions, this.untied, n, padId);
    for (let j = n; j < this.model.states.length; j++)
      batch.locations.push({ data: new BigInt64Array(0), P: 0 });
    const tokens = chunk.reduce((s, r) => s + r.ids.length - r.promptLen, 0);
    return { loss: (await this.model.forward(batch)).loss, tokens };
  }

  async release(): Promise<void> {
    if (this.#owned) await this.model.session.session.release();
  }
}
