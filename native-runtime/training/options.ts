// The training options, declared once. Each entry says what the option is (kind, limits, default),
// what it is called (a label for the studio, a flag for the CLI) and what it does (one line); from
// this table come the TypeScript types (TrainOptions), the zod schema the RPC handlers validate with,
// the CLI's flags and help lines (cli/commands/train.ts), the Train form's fields and the list of
// options a resume must agree on.
//
// Limits here are the ones that hold for every model. Those that depend on the model (rank ≤ hidden
// size, layers < number of layers, max length ≤ the model's positions, positions ≤ max length) are
// checked by modelIssues(), which the trainer (CLI and RPC, through resolveTrainConfig) and the Train
// form both call. An issue names its option (`field`) and words the rule without a surface's syntax:
// the studio prefixes the label ("Rank must be …"), the CLI the flag ("--rank must be …").
//
// No Node imports: the renderer imports this module (zod and the pure position parsers only).

import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { ActivationName, InterventionType } from '../interventions/kinds.ts';
import { isQuantizeOption, quantizeForms } from '../quantize/scheme.ts';
import type { DeviceChoice } from '../runtime/session.ts';
import type { ScheduleKind } from './optimizer.ts';
import {
  checkLayersSyntax,
  checkPositionsSyntax,
  PlacementError,
  parseLayers,
  parsePositions,
} from './positions.ts';

export type OptionGroup = 'intervention' | 'optimisation' | 'data' | 'checkpoints' | 'system';

interface OptionInfo {
  /** The studio's name for it ("Learning rate"). */
  label: string;
  /** One line: what it does and when to change it. */
  help: string;
  group: OptionGroup;
  /** Changes the numbers a run produces: a resume must agree on it. */
  deterministic: boolean;
  /** CLI value placeholder in the usage line (`--rank R`). */
  valueName?: string;
}

export interface Choice<T extends string> {
  value: T;
  label: string;
  help: string;
}

interface NumberSpec extends OptionInfo {
  kind: 'int' | 'number';
  min: number;
  max: number;
  /** The bound itself is refused ("> 0", "< 1"). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  default: number;
  /** The form's step ('any' for free decimals). */
  step: number | 'any';
  /** What 0 means, where it means "off" or "automatic" ("0 = only at the end"). */
  zero?: string;
  /** What leaving the option out does, where that is not simply `default` (help texts say this). */
  unset?: string;
  /** `max` is only a sanity cap (the real limit is the model's, or none): rules and forms omit it. */
  capOnly?: boolean;
  /** Why a value below `min` cannot work, said when one is refused. */
  belowMin?: string;
}

function num(spec: Omit<NumberSpec, 'kind' | 'step'> & { step?: number | 'any' }) {
  let s = z.number();
  s = spec.minExclusive ? s.gt(spec.min) : s.gte(spec.min);
  s = spec.maxExclusive ? s.lt(spec.max) : s.lte(spec.max);
  return { ...spec, kind: 'number' as const, step: spec.step ?? ('any' as const), schema: s };
}

function int(spec: Omit<NumberSpec, 'kind' | 'step' | 'minExclusive' | 'maxExclusive'>) {
  return {
    ...spec,
    kind: 'int' as const,
    step: 1,
    minExclusive: false,
    maxExclusive: false,
    schema: z.number().int().gte(spec.min).lte(spec.max),
  };
}

function choice<const T extends string>(spec: OptionInfo & { choices: readonly Choice<T>[]; default: T }) {
  const values = spec.choices.map((c) => c.value) as [T, ...T[]];
  return { ...spec, kind: 'choice' as const, schema: z.enum(values), rule: undefined as string | undefined };
}

/**
 * A choice whose `choices` are the named values the studio offers of a wider set the engine takes
 * (`accepts`, worded by `rule`: "must be <rule>"): the CLI takes them all, the form shows the named.
 */
function openChoice<const T extends string>(
  spec: OptionInfo & {
    choices: readonly Choice<T>[];
    default: T;
    accepts: (v: string) => boolean;
    rule: string;
  },
) {
  const { accepts, ...rest } = spec;
  return { ...rest, kind: 'choice' as const, schema: z.string().max(40).refine(accepts) };
}

function flag(spec: OptionInfo & { default: boolean }) {
  return { ...spec, kind: 'boolean' as const, schema: z.boolean() };
}

/** A string with its own syntax, checked by `parse` (which throws a ConfigError with the reason). */
function text<S extends z.ZodType>(spec: OptionInfo & { default: string; schema: S; example: string }) {
  return { ...spec, kind: 'text' as const };
}

const mustParse =
  <T>(parse: (v: T) => unknown) =>
  (v: T, ctx: z.RefinementCtx) => {
    try {
      parse(v);
    } catch (e) {
      ctx.addIssue({
        code: 'custom',
        message: (e as Error).message,
        params: { code: (e as ConfigError).code, cli: e instanceof PlacementError ? e.cli : undefined },
      });
    }
  };

export const INTERVENTION_CHOICES: readonly Choice<InterventionType>[] = [
  {
    value: 'loreft',
    label: 'LoReFT',
    help: 'The default: edits hidden states inside a small learned subspace (orthogonal projection); strong results with very few parameters.',
  },
  {
    value: 'noreft',
    label: 'NoReFT',
    help: 'LoReFT without keeping the subspace orthogonal: a little more freedom, a little less stability.',
  },
  {
    value: 'direft',
    label: 'DiReFT',
    help: 'Adds a learned edit along an orthogonal subspace without first removing the old value; cheaper than LoReFT.',
  },
  {
    value: 'nodireft',
    label: 'NodiReFT',
    help: 'DiReFT without the orthogonality constraint (the paper calls this one DiReFT); the cheapest learned edit.',
  },
  {
    value: 'consreft',
    label: 'ConsReFT',
    help: 'Pulls the subspace toward one learned constant, whatever the input; for a fixed style or persona.',
  },
  {
    value: 'lobireft',
    label: 'LobiReFT',
    help: 'Adds one learned constant offset in the subspace; the smallest intervention of all.',
  },
];

const ACT_CHOICES: readonly Choice<ActivationName>[] = (
  ['linear', 'relu', 'gelu', 'tanh', 'silu', 'sigmoid'] as const
).map((value) => ({
  value,
  label: value,
  help: value === 'linear' ? 'no activation' : `${value} of the learned source`,
}));

const SCHEDULE_CHOICES: readonly Choice<ScheduleKind>[] = [
  { value: 'linear', label: 'Linear', help: 'decays to zero over the run (after warm-up)' },
  { value: 'cosine', label: 'Cosine', help: 'decays along a half cosine' },
  { value: 'constant', label: 'Constant', help: 'stays at the learning rate (after warm-up)' },
];

export const DEVICE_CHOICES: readonly Choice<DeviceChoice>[] = [
  { value: 'cpu', label: 'CPU', help: 'always available' },
  { value: 'auto', label: 'Automatic', help: 'the fastest available provider, else the CPU' },
  { value: 'cuda', label: 'CUDA', help: 'an NVIDIA GPU' },
  { value: 'webgpu', label: 'WebGPU', help: 'a GPU through WebGPU' },
  { value: 'dml', label: 'DirectML', help: 'a GPU on Windows' },
  { value: 'coreml', label: 'Core ML', help: 'Apple silicon' },
];

export type QuantizeOption = 'auto' | 'none' | 'int8' | 'int4';

export const QUANTIZE_OPTION_CHOICES: readonly Choice<QuantizeOption>[] = [
  {
    value: 'auto',
    label: 'Automatic',
    help: 'full precision where the weights fit the device’s memory (90% of the computer’s on the CPU, 80% of a GPU’s), else 8-bit, else 4-bit',
  },
  { value: 'none', label: 'Full precision', help: 'the checkpoint’s own weights (fp32 on the CPU)' },
  { value: 'int8', label: '8-bit', help: 'about 30% of fp32 memory, near-identical results' },
  { value: 'int4', label: '4-bit', help: 'about 17% of fp32 memory; for models that do not fit otherwise' },
];

export type DtypeOption = 'auto' | 'fp32' | 'fp16' | 'bf16';

export const DTYPE_OPTION_CHOICES: readonly Choice<DtypeOption>[] = [
  {
    value: 'auto',
    label: 'Automatic',
    // As computeDtype decides (runtime/precision.ts; hasBf16Kernels: Ampere and newer).
    help: 'on CUDA a half-precision checkpoint stays in its precision, a bf16 one only from compute capability 8.0 (Ampere; float32 before); on WebGPU an fp16 one; float32 elsewhere',
  },
  { value: 'fp32', label: 'float32', help: 'full precision everywhere (twice the GPU memory of half)' },
  { value: 'fp16', label: 'float16', help: 'half precision (GPUs; the CPU runs it slowly)' },
  { value: 'bf16', label: 'bfloat16', help: 'half precision with float32’s range (CUDA only)' },
];

/** Every training option, in the order the help and the form list them. */
export const TRAIN_OPTIONS = {
  intervention: choice({
    label: 'Intervention type',
    help: 'How the hidden states are edited; LoReFT is the paper’s main method.',
    group: 'intervention',
    deterministic: true,
    choices: INTERVENTION_CHOICES,
    default: 'loreft',
  }),
  layers: text({
    label: 'Layers',
    help: 'Which transformer layers get an intervention: all, or layer numbers such as 2;10;18.',
    group: 'intervention',
    deterministic: true,
    valueName: 'all|2;10;18',
    example: '2;10;18',
    default: 'all',
    schema: z
      .union([z.string().max(2000), z.array(z.number().int().min(0)).min(1).max(1000)])
      .superRefine(mustParse(checkLayersSyntax)),
  }),
  positions: text({
    label: 'Positions',
    help: 'Which prompt tokens are edited: fN the first N, lM the last M, fN+lM both.',
    group: 'intervention',
    deterministic: true,
    valueName: 'f1+l1',
    example: 'f3+l3',
    default: 'f1+l1',
    schema: z.string().max(40).superRefine(mustParse(checkPositionsSyntax)),
  }),
  shareWeights: flag({
    label: 'Share weights (tied)',
    help: 'One intervention per layer for the first and the last positions together, instead of one each.',
    group: 'intervention',
    deterministic: true,
    default: false,
  }),
  rank: int({
    label: 'Rank',
    help: 'Size of the subspace each intervention edits; higher learns more but trains slower (4 to 8 is typical).',
    group: 'intervention',
    deterministic: true,
    valueName: 'R',
    min: 1,
    max: 65536,
    capOnly: true,
    default: 4,
  }),
  act: choice({
    label: 'Activation',
    help: 'Applied to the learned source of the edit; linear means none, as in the paper.',
    group: 'intervention',
    deterministic: true,
    choices: ACT_CHOICES,
    default: 'linear',
  }),
  dropout: num({
    label: 'Dropout',
    help: 'Randomly drops part of the edit while training, against overfitting; 0.05 is typical, 0 is off.',
    group: 'intervention',
    deterministic: true,
    valueName: 'P',
    min: 0,
    max: 1,
    maxExclusive: true,
    default: 0,
    step: 0.01,
  }),
  lr: num({
    label: 'Learning rate',
    help: 'How big each update is: too high and the loss jumps, too low and it barely moves; ReFT likes 1e-3 to 9e-3.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'X',
    min: 0,
    minExclusive: true,
    max: 10,
    capOnly: true,
    default: 4e-3,
  }),
  epochs: int({
    label: 'Epochs',
    help: 'Passes over the whole dataset; small datasets need more.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'N',
    min: 1,
    max: 100000,
    capOnly: true,
    default: 1,
  }),
  maxSteps: int({
    label: 'Max steps',
    help: 'Stop after this many optimizer steps instead of counting epochs; handy for a quick trial.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'N',
    min: 0,
    max: 1e9,
    capOnly: true,
    default: 0,
    zero: 'use the epochs',
  }),
  batchSize: int({
    label: 'Batch size',
    help: 'Examples per forward pass; larger is smoother and faster per example but needs more memory.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'B',
    min: 1,
    max: 4096,
    default: 4,
  }),
  gradAccum: int({
    label: 'Gradient accumulation',
    help: 'Batches added up before each update: a larger effective batch without more memory.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'G',
    min: 1,
    max: 4096,
    default: 1,
  }),
  maxLength: int({
    label: 'Max length',
    help: "Longest example in tokens; a longer one keeps the prompt's end and the reply's start. Lower saves memory.",
    group: 'data',
    deterministic: true,
    valueName: 'T',
    // Every completion keeps at least one token, and a prompt of one token has no intervention
    // position (positions.ts takes at most half the prompt from each end): below 3, nothing trains.
    min: 3,
    belowMin: 'a shorter example keeps at most 1 prompt token, where no intervention can be placed',
    max: 1 << 20,
    capOnly: true,
    default: 512,
    unset: "512, or the model's context if shorter",
  }),
  weightDecay: num({
    label: 'Weight decay',
    help: 'Pulls the trained weights toward zero each step (AdamW), a mild regulariser; 0 is usual for ReFT.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'X',
    min: 0,
    max: 10,
    capOnly: true,
    default: 0,
  }),
  warmupRatio: num({
    label: 'Warm-up ratio',
    help: 'Fraction of the steps spent ramping the learning rate up from zero, e.g. 0.1.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'X',
    min: 0,
    max: 1,
    default: 0,
    step: 0.01,
  }),
  schedule: choice({
    label: 'LR schedule',
    help: 'How the learning rate changes over the run.',
    group: 'optimisation',
    deterministic: true,
    choices: SCHEDULE_CHOICES,
    default: 'linear',
  }),
  maxGradNorm: num({
    label: 'Gradient clipping',
    help: 'Largest allowed gradient norm per step, against sudden jumps in the loss.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'X',
    min: 0,
    max: 1e6,
    capOnly: true,
    default: 1,
    zero: 'no clipping',
  }),
  seed: int({
    label: 'Seed',
    help: 'Fixes the randomness (initial weights, order, held-out rows) so a run can be repeated exactly.',
    group: 'optimisation',
    deterministic: true,
    valueName: 'S',
    min: 0,
    max: 0xffffffff,
    default: 42,
  }),
  chatTemplate: choice({
    label: 'Chat template',
    help: 'Whether prompts are wrapped in the model’s chat template (when it has one), as a chat model expects.',
    group: 'data',
    deterministic: true,
    choices: [
      { value: 'auto', label: 'Use the model’s', help: 'when the model has a chat template' },
      { value: 'none', label: 'Plain text', help: 'the prompt as it is' },
    ],
    default: 'auto',
  }),
  evalSplit: num({
    label: 'Held-out fraction',
    help: 'Fraction of the training rows kept aside to measure the loss on unseen examples.',
    group: 'data',
    deterministic: true,
    valueName: 'X',
    min: 0,
    max: 1,
    maxExclusive: true,
    default: 0,
    step: 0.01,
    zero: 'none',
  }),
  evalEvery: int({
    label: 'Evaluate every',
    help: 'Measure the held-out loss every N steps.',
    group: 'data',
    deterministic: false,
    valueName: 'N',
    min: 0,
    max: 1e9,
    capOnly: true,
    default: 0,
    zero: 'at the end of each epoch',
  }),
  // Both judge the held-out loss: refused without held-out data (heldOutIssues). They change which
  // adapter a run ends with and at which step, so a resume must agree on them.
  keepBest: flag({
    label: 'Keep the best',
    help: 'End with the adapter from the evaluation with the lowest held-out loss, not the last step’s.',
    group: 'checkpoints',
    deterministic: true,
    default: false,
  }),
  earlyStoppingPatience: int({
    label: 'Stop without improvement',
    help: 'Stop the run once the held-out loss has not improved for N evaluations in a row.',
    group: 'checkpoints',
    deterministic: true,
    valueName: 'N',
    min: 0,
    max: 1e6,
    capOnly: true,
    default: 0,
    zero: 'never stop early',
  }),
  checkpointEvery: int({
    label: 'Checkpoint every',
    help: 'Save progress every N steps so a paused or interrupted run can resume from there.',
    group: 'checkpoints',
    deterministic: false,
    valueName: 'N',
    min: 0,
    max: 1e9,
    capOnly: true,
    default: 0,
    zero: 'only at the end',
    unset: 'about ten per run',
  }),
  keepCheckpoints: int({
    label: 'Keep checkpoints',
    help: 'How many of the newest checkpoints to keep on disk; older ones are deleted as new ones are saved.',
    group: 'checkpoints',
    deterministic: false,
    valueName: 'N',
    min: 0,
    max: 1e6,
    capOnly: true,
    default: 0,
    zero: 'all',
  }),
  device: choice({
    label: 'Device',
    help: 'Where the training runs; the CPU always works.',
    group: 'system',
    deterministic: false,
    choices: DEVICE_CHOICES,
    default: 'cpu',
  }),
  // The engine's block spellings (int4-b64, int8-b128-zp) too, as --quantize of generate takes them.
  quantize: openChoice({
    label: 'Base weights',
    help: 'The frozen model’s weights: full precision, or 8 or 4 bits; automatic quantizes only a model that would not fit.',
    group: 'system',
    deterministic: true,
    choices: QUANTIZE_OPTION_CHOICES,
    default: 'auto',
    accepts: isQuantizeOption,
    rule: quantizeForms({ auto: true }),
  }),
  dtype: choice({
    label: 'Precision',
    help: 'The frozen model’s arithmetic: half precision halves its GPU memory; norms, loss and interventions stay float32.',
    group: 'system',
    deterministic: true,
    choices: DTYPE_OPTION_CHOICES,
    default: 'auto',
  }),
};

type Table = typeof TRAIN_OPTIONS;
export type TrainOptionKey = keyof Table;
export type TrainOptionSpec = Table[TrainOptionKey];

type Shape = { [K in TrainOptionKey]: z.ZodOptional<Table[K]['schema']> };

/** The options as every surface accepts them: all optional (the defaults fill in). Strict. */
export const TrainOptionsSchema = z
  .object(
    Object.fromEntries(Object.entries(TRAIN_OPTIONS).map(([k, o]) => [k, o.schema.optional()])) as Shape,
  )
  .strict();

/** What a caller may give: every option optional. */
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

/** Every option with its value (layers: the indices; positions: the canonical text). */
export type ResolvedTrainOptions = { [K in TrainOptionKey]-?: Exclude<TrainOptions[K], undefined> } & {
  layers: number[];
};

export const TRAIN_OPTION_KEYS = Object.keys(TRAIN_OPTIONS) as TrainOptionKey[];

export const TRAIN_DEFAULTS = Object.fromEntries(
  Object.entries(TRAIN_OPTIONS).map(([k, o]) => [k, o.default]),
) as { [K in TrainOptionKey]: Table[K]['default'] };

/** The options that change the numbers a run produces; a resume must agree on all of them. */
export const DETERMINISTIC_OPTIONS = TRAIN_OPTION_KEYS.filter((k) => TRAIN_OPTIONS[k].deterministic);

/** The option's CLI flag: its name in kebab case (maxGradNorm → max-grad-norm). */
export function optionFlag(key: TrainOptionKey): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The rule a number option's value must follow, in words ("an integer from 1 to 65536"). */
export function numberRule(
  o: Pick<NumberSpec, 'kind' | 'min' | 'max' | 'minExclusive' | 'maxExclusive' | 'capOnly'>,
): string {
  const what = o.kind === 'int' ? 'an integer' : 'a number';
  const low = o.minExclusive ? `> ${o.min}` : `≥ ${o.min}`;
  if (o.capOnly) return `${what} ${low}`;
  if (o.maxExclusive) return `${what} ${low} and < ${o.max}`;
  return o.minExclusive ? `${what} ${low} and ≤ ${o.max}` : `${what} from ${o.min} to ${o.max}`;
}

// ---- issues ------------------------------------------------------------------------------------

/** One problem with one option, worded for the studio (`message`) and for the CLI (`cli`). */
export interface OptionIssue {
  field: TrainOptionKey;
  code: string;
  /** "Rank must be an integer from 1 to 65536 (got 0)" */
  message: string;
  /** "--rank must be an integer from 1 to 65536 (got 0)" */
  cli: string;
}

/** The refusal of an option: a ConfigError naming the option by its label (`field`: its key). */
export class OptionError extends ConfigError {
  readonly field: TrainOptionKey;
  readonly issue: OptionIssue;
  constructor(issue: OptionIssue) {
    super(issue.code, issue.message);
    this.field = issue.field;
    this.issue = issue;
  }

  /** The same refusal worded for the command line. */
  forCli(): ConfigError {
    return new ConfigError(this.code, this.issue.cli);
  }
}

/** Who reads an error: the studio's windows (its fields and pages) or the command line (its flags). */
export type Audience = 'studio' | 'cli';

/**
 * `e` worded for `audience`: an OptionError or a PlacementError (--layers, --positions; their
 * messages are the studio's) in the command line's words for the CLI; anything else as it is. The CLI's every failure line passes here (cli/main.ts),
 * and so does a run's stored error where the CLI trains it (jobs/engine-tasks.ts trainTask).
 */
export function wordedFor(e: unknown, audience: Audience): unknown {
  return audience === 'cli' && (e instanceof OptionError || e instanceof PlacementError) ? e.forCli() : e;
}

/** Longest value quoted back in a refusal; a pasted document is cut, not echoed whole. */
const SHOW_MAX = 60;

/**
 * A refused value as the request held it: JSON (so an object reads {"a":1}, not [object Object]),
 * numbers and other non-JSON values as JavaScript writes them, cut to SHOW_MAX characters.
 */
function showValue(v: unknown): string {
  let text: string;
  if (typeof v === 'number' || typeof v === 'bigint' || v === undefined) text = String(v);
  else {
    try {
      text = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(typeof v);
    } catch {
      text = Object.prototype.toString.call(v); // a cycle
    }
  }
  return text.length > SHOW_MAX ? `${text.slice(0, SHOW_MAX - 1)}…` : text;
}

/**
 * The one wording of a refused value, "must be <rule> (got <value>)", completed by what it refuses:
 * "--rank must be an integer ≥ 1 (got 0)", "Rank must be …". The training options and every CLI
 * flag and argument (cli/args.ts badValue) say it so.
 */
export function mustBe(rule: string, value: unknown): string {
  return `must be ${rule} (got ${showValue(value)})`;
}

/** A refusal of one option whose text completes "<the option> …" ("must be …"). */
export function optionError(field: TrainOptionKey, code: string, rule: string): OptionError {
  return new OptionError(ruleIssue(field, code, rule));
}

/** An issue whose text completes "<the option> …". */
function ruleIssue(field: TrainOptionKey, code: string, rule: string): OptionIssue {
  return {
    field,
    code,
    message: `${TRAIN_OPTIONS[field].label} ${rule}`,
    cli: `--${optionFlag(field)} ${rule}`,
  };
}

/**
 * An issue whose text already names the option (the position and layer parsers' messages), `cli`
 * their words naming the flag.
 */
function textIssue(field: TrainOptionKey, code: string, text: string, cli = text): OptionIssue {
  return { field, code, message: text, cli };
}

function issueFor(key: TrainOptionKey, value: unknown, zodIssue: z.core.$ZodIssue): OptionIssue {
  const o: TrainOptionSpec = TRAIN_OPTIONS[key];
  const code = key === 'intervention' ? 'unknown-intervention' : `bad-${optionFlag(key)}`;
  switch (o.kind) {
    case 'int':
    case 'number':
      // A sanity cap is left out of the rule people read; a value above it is told the cap.
      if (o.capOnly && typeof value === 'number' && (o.maxExclusive ? value >= o.max : value > o.max))
        return ruleIssue(key, code, mustBe(`${o.maxExclusive ? 'less than' : 'at most'} ${o.max}`, value));
      if (o.belowMin && typeof value === 'number' && value < o.min)
        return ruleIssue(key, code, `${mustBe(numberRule(o), value)}: ${o.belowMin}`);
      return ruleIssue(key, code, mustBe(numberRule(o), value));
    case 'choice':
      return ruleIssue(
        key,
        code,
        mustBe(o.rule ?? `one of ${o.choices.map((x) => x.value).join(', ')}`, value),
      );
    case 'boolean':
      return ruleIssue(key, code, mustBe('true or false', value));
    case 'text':
      if (zodIssue.code === 'custom')
        return textIssue(
          key,
          (zodIssue.params?.code as string | undefined) ?? code,
          zodIssue.message,
          zodIssue.params?.cli as string | undefined,
        );
      return ruleIssue(key, code, mustBe(`written like ${o.example}`, value));
  }
}

/**
 * The refusal of bfloat16 on `device` (not CUDA): the one wording of the option check below, of the
 * run's plan (library/run-plan.ts: 'auto' or 'cuda' where CUDA cannot run, `noCuda` saying why, or
 * `noGpu` — gpus.ts noNvidiaGpu's words — where the machine has no NVIDIA GPU, which no runtime pack
 * can help) and of the run's own decision (runtime/precision.ts computeDtype, where 'auto' turned out
 * not to be CUDA).
 */
export function bf16Refusal(device: DeviceChoice, noCuda?: string, noGpu?: string | null): OptionIssue {
  const name = DEVICE_CHOICES.find((c) => c.value === device)?.label ?? device;
  const why = noGpu
    ? `bfloat16 needs CUDA: ${noGpu}`
    : noCuda
      ? `bfloat16 needs CUDA, and ${noCuda}`
      : `bfloat16 needs CUDA (${name} has no bfloat16 kernels)`;
  return {
    field: 'dtype',
    code: 'dtype-unsupported',
    message: `${why}: choose float32 or float16`,
    cli: `${why}: use --dtype fp32 or fp16`,
  };
}

/**
 * What `--dtype auto` does with a bf16 checkpoint on an NVIDIA GPU before Ampere (compute capability
 * `cap` below 8.0): float32, since float16's range does not hold bf16's. Said before a run starts
 * (the studio's estimate) and in the run's log (runtime/precision.ts prepareModel).
 */
export function bf16ComputesInFloat32(cap: string): { message: string; cli: string } {
  const why = `this GPU (compute capability ${cap}) has no bfloat16 kernels`;
  const half = "half the memory where the model's activations fit float16's range";
  return {
    message: `The bf16 checkpoint computes in float32: ${why}; Precision float16 takes ${half}.`,
    cli: `computing in float32: ${why}; --dtype fp16 takes ${half}`,
  };
}

/**
 * Options each valid that cannot go together. Only CUDA has bfloat16 kernels (runtime/precision.ts
 * computeDtype): bf16 on a device named otherwise is refused here, before a run is recorded, not
 * as a failed run that no resume can put right.
 */
function pairIssues(o: TrainOptions): OptionIssue[] {
  if (o.dtype !== 'bf16' || o.device === undefined || o.device === 'cuda' || o.device === 'auto') return [];
  return [bf16Refusal(o.device)];
}

/** Why keep the best and early stopping need held-out data, and where each surface gives it. */
export const NEEDS_HELD_OUT = {
  why: 'needs held-out data to measure the loss on',
  studio: 'under Validation (Model & data), hold out rows or choose another version',
  cli: 'give --eval-split X or --eval-data FILE',
} as const;

/**
 * The options that judge the held-out loss (keep the best, early stopping) given without held-out
 * data: neither a held-out fraction nor evaluation data (`evalData`). Called by resolveTrainConfig
 * (runs/start, the CLI, the bundle) and by the Train form.
 */
export function heldOutIssues(opts: TrainOptions, evalData: boolean): OptionIssue[] {
  if (evalData || (opts.evalSplit ?? 0) > 0) return [];
  const given = {
    keepBest: opts.keepBest === true,
    earlyStoppingPatience: (opts.earlyStoppingPatience ?? 0) > 0,
  };
  const { why, studio, cli } = NEEDS_HELD_OUT;
  return (Object.keys(given) as (keyof typeof given)[])
    .filter((field) => given[field])
    .map((field) => ({
      field,
      code: 'needs-held-out',
      message: `${TRAIN_OPTIONS[field].label} ${why}: ${studio}`,
      cli: `--${optionFlag(field)} ${why}: ${cli}`,
    }));
}

/** Problems with the options that hold for every model (types, limits, syntax); [] when none. */
export function optionIssues(input: unknown): OptionIssue[] {
  const r = TrainOptionsSchema.safeParse(input);
  if (r.success) return pairIssues(r.data);
  const out: OptionIssue[] = [];
  const seen = new Set<string>();
  for (const i of r.error.issues) {
    const key = i.path[0];
    if (typeof key !== 'string' || !(key in TRAIN_OPTIONS)) {
      const names = i.code === 'unrecognized_keys' ? i.keys.join(', ') : String(key);
      throw new ConfigError('unknown-option', `unknown training option ${names}`);
    }
    if (seen.has(key)) continue;
    seen.add(key);
    const k = key as TrainOptionKey;
    out.push(issueFor(k, (input as Record<string, unknown>)[k], i));
  }
  return out;
}

/** What the model-dependent checks need to know about the model. */
export interface ModelShapeForTraining {
  numLayers: number;
  hiddenSize: number;
  maxPositions: number;
}

/**
 * Checks options against the model: rank ≤ hidden size, layers within the model, max length within
 * its positions, positions within the max length. Only looks at options that are valid on their own.
 */
export function modelIssues(opts: TrainOptions, model: ModelShapeForTraining): OptionIssue[] {
  const out: OptionIssue[] = [];
  const d = TRAIN_DEFAULTS;
  const rank = opts.rank ?? d.rank;
  if (rank > model.hiddenSize) {
    out.push(
      ruleIssue('rank', 'bad-rank', mustBe(`at most the model's hidden size, ${model.hiddenSize}`, rank)),
    );
  }
  const maxLength = opts.maxLength ?? Math.min(d.maxLength, model.maxPositions);
  if (maxLength > model.maxPositions) {
    out.push(
      ruleIssue(
        'maxLength',
        'bad-max-length',
        mustBe(`at most the model's ${model.maxPositions} positions`, maxLength),
      ),
    );
  }
  for (const [field, check] of [
    ['layers', () => parseLayers(opts.layers ?? d.layers, model.numLayers)],
    ['positions', () => parsePositions(opts.positions ?? d.positions, maxLength)],
  ] as const) {
    try {
      check();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      out.push(textIssue(field, e.code, e.message, e instanceof PlacementError ? e.cli : undefined));
    }
  }
  return out;
}

/** Every problem, for a form: the options' own, then the model's (when the model is known). */
export function trainOptionIssues(input: TrainOptions, model?: ModelShapeForTraining | null): OptionIssue[] {
  const own = optionIssues(input);
  if (!model) return own;
  const bad = new Set(own.map((i) => i.field));
  const valid = Object.fromEntries(
    Object.entries(input).filter(([k]) => !bad.has(k as TrainOptionKey)),
  ) as TrainOptions;
  return [...own, ...modelIssues(valid, model)];
}

/** Fills defaults and refuses the first problem (OptionError). */
export function resolveTrainOptions(input: TrainOptions, model: ModelShapeForTraining): ResolvedTrainOptions {
  const [first] = trainOptionIssues(input, model);
  if (first) throw new OptionError(first);
  const o = TrainOptionsSchema.parse(input);
  const maxLength = o.maxLength ?? Math.min(TRAIN_DEFAULTS.maxLength, model.maxPositions);
  const defaults = TRAIN_DEFAULTS as unknown as ResolvedTrainOptions;
  return {
    ...defaults,
    ...(Object.fromEntries(
      Object.entries(o).filter(([, v]) => v !== undefined),
    ) as Partial<ResolvedTrainOptions>),
    maxLength,
    layers: parseLayers(o.layers ?? TRAIN_DEFAULTS.layers, model.numLayers),
    positions: parsePositions(o.positions ?? TRAIN_DEFAULTS.positions, maxLength).text,
  };
}
