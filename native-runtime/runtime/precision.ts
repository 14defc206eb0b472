// The model as the device will read it: the base weights' form (quantize/base.ts prepareBase) and the
// dtype its graphs compute in (ModelSpec.compute, models/decoder.ts). One decision for training,
// generation and evaluation, made before any session exists:
//   --dtype auto   on CUDA, a half-precision checkpoint (bf16/fp16) is read in place and computed
//                  in its own precision — an 8B model takes 16 GB of the GPU, not 32 (quantized, its
//                  codes compute in that precision too);
//                  on WebGPU, an fp16 checkpoint where the adapter has float16 shaders (probed);
//                  everywhere else float32 (the CPU has no bfloat16 kernels and slow float16 ones;
//                  on the CPU a half checkpoint is read from its float32 store).
//   fp32|fp16|bf16 that dtype, asked for (bf16 only where it has kernels: CUDA; fp16 on WebGPU only
//                  with float16 shaders).
// Norm statistics, softmax, the loss and the interventions stay float32 in every case.

import { totalmem } from 'node:os';
import { byteSize } from '../byte-size.ts';
import { ConfigError } from '../errors.ts';
import type { ModelSpec } from '../models/config.ts';
import type { Notify } from '../notices.ts';
import { baseForm, prepareBaseLogged } from '../quantize/base.ts';
import { type AutoPlace, autoBaseForm, baseWeightBytes, HOST_WEIGHTS_SHARE } from '../quantize/memory.ts';
import { parseQuantize, schemeName } from '../quantize/scheme.ts';
import {
  bf16ComputesInFloat32,
  bf16Refusal,
  type DtypeOption,
  OptionError,
  type OptionIssue,
} from '../training/options.ts';
import { type HostShape, hostStepIssue } from '../training/recompute.ts';
import { chosenGpuIndex } from './gpu-choice.ts';
import {
  cudaComputeCapability,
  cudaDeviceMemoryBytes,
  hasBf16Kernels,
  webgpuRunMemoryBytes,
} from './gpus.ts';
import { MEMORY_CHECK_HINT, memoryCheckSkipped } from './memory-check.ts';
import {
  type DeviceChoice,
  runsInHostMemory,
  runsOnCuda,
  runsOnWebgpu,
  webgpuHalfSupport,
} from './session.ts';

export type ComputeDtype = NonNullable<ModelSpec['compute']>;

/** Why `auto` computes a bf16 checkpoint in float32 on this CUDA GPU (before Ampere), or null. */
export function bf16FallbackNote(
  spec: ModelSpec,
  option: DtypeOption,
  target: ComputeTarget,
): { message: string; cli: string } | null {
  const cap = target.cudaCapability ?? null;
  if (!target.cuda || option !== 'auto' || baseForm(spec) !== 'bf16' || hasBf16Kernels(cap)) return null;
  return bf16ComputesInFloat32(cap as string);
}

const DTYPE: Record<Exclude<DtypeOption, 'auto'>, ComputeDtype> = {
  fp32: 'float32',
  fp16: 'float16',
  bf16: 'bfloat16',
};

/** Where the sessions will run, as far as the dtype cares. */
export interface ComputeTarget {
  cuda: boolean;
  /** On WebGPU: whether the adapter runs float16 shaders; null or absent: not on WebGPU. */
  webgpuHalf?: boolean | null;
  /** On CUDA: the GPU's compute capability where known ("7.5"): before 8.0 it has no bfloat16. */
  cudaCapability?: string | null;
  /** Off CUDA, the provider that runs, for messages (default: WebGPU where webgpuHalf says so, else the CPU). */
  device?: DeviceChoice;
}

/** The dtype the graphs of `spec` (its base prepared) compute in, for `option` on the target. */
export function computeDtype(spec: ModelSpec, option: DtypeOption, target: ComputeTarget): ComputeDtype {
  // Worded as the training option's check words it; the engine's messages name the CLI's flags.
  if (option === 'bf16' && !target.cuda)
    throw new ConfigError(
      'dtype-unsupported',
      bf16Refusal(target.device ?? (target.webgpuHalf != null ? 'webgpu' : 'cpu')).cli,
    );
  const bf16 = hasBf16Kernels(target.cudaCapability ?? null);
  if (option === 'bf16' && !bf16)
    throw new ConfigError(
      'dtype-unsupported',
      `this GPU (compute capability ${target.cudaCapability}) has no bfloat16 kernels — NVIDIA GPUs have them from Ampere (8.0) on: use --dtype fp16 or fp32`,
    );
  if (option === 'fp16' && target.webgpuHalf === false)
    throw new ConfigError(
      'dtype-unsupported',
      "this GPU's WebGPU adapter has no float16 shaders (shader-f16): use --dtype fp32",
    );
  if (option !== 'auto') return DTYPE[option];
  const form = baseForm(spec);
  // Before Ampere a bf16 checkpoint computes in float32 (not float16: bf16's range does not fit it).
  if (target.cuda && (form === 'fp16' || (form === 'bf16' && bf16))) return DTYPE[form];
  // WebGPU has float16 only: an fp16 checkpoint stays fp16; bf16 becomes float32 (bf16's range does
  // not fit float16's, so converting is a choice the user makes with --dtype fp16).
  if (target.webgpuHalf && form === 'fp16') return 'float16';
  return 'float32';
}

export interface PrepareModelOptions {
  /** none | int8 | int4 (quantize/scheme.ts), or auto: see prepareModel. */
  quantize: string;
  dtype?: DtypeOption;
  device?: DeviceChoice;
  dataDir?: string;
  signal?: AbortSignal;
  log?: Notify;
  /** See prepareBaseLogged: a training session packs quantized codes when they fit. */
  training?: boolean;
  /** The computer's memory in bytes (tests); os.totalmem() by default. */
  totalMemory?: number;
  /**
   * Called once the base's form is decided ('none', or the scheme's name, 'int8-b32', 'int4-b64', …) and
   * before it is converted or read, with the computer's memory: the trainer refuses there a step
   * that cannot fit (trainer.ts refuseStepOverMemory) instead of after a conversion of minutes.
   */
  beforeBase?: (form: string, memory: number) => void | Promise<void>;
  /** See prepareBaseLogged: a conversion of the base weights begins. */
  onConversion?: () => void;
  /** What set `quantize` and `device`, for the words of a memory refusal (default: a flag). */
  setBy?: FormSetBy;
  /** The GPU's memory in bytes, null if unknown (tests); by default nvidia-smi's answer on CUDA,
   * webgpuDeviceMemoryBytes (else the computer's) on WebGPU. */
  gpuMemory?: number | null;
}

const shapeOf = (spec: HostShape) => ({ ...spec, tied: spec.tieEmbeddings });

/**
 * Where the studio changes the base weights and the device of what `use` runs: a run's in the Train
 * wizard (its Base weights and Device fields); the Playground's and evaluations' are the model's
 * Base weights on the Models page and the Device in Settings.
 */
const STUDIO_PLACES: Record<'chat' | 'train', { weights: string; device: string }> = {
  train: { weights: 'as base weights', device: 'as the device' },
  chat: { weights: "as the model's Base weights on the Models page", device: 'as the Device in Settings' },
};

/**
 * What set the weights' form of what loads (hostMemoryIssue): a flag of the command (`generate`,
 * `train`), the library model's own Base weights (evaluations), or a recorded run's config (the
 * trainer; its probe prompts load the base the trainer prepared), which its Train wizard or `train`'s
 * flags fixed when it started.
 */
export type FormSetBy = 'flag' | 'model' | 'run' | 'bench';

/**
 * How the command line sets the weights' form: `generate` and `train` by their --quantize; an
 * evaluation reads the library model's own Base weights, which no command changes (`evaluate` has
 * no --quantize), so its refusal names the studio's Models page and evaluate's --device; a run keeps
 * the form and device it started with (`runs resume` has neither flag): a new run changes them.
 */
const CLI_PLACES: Record<FormSetBy, { weights: string; gpu: string }> = {
  flag: { weights: "weights (the model's setting on the Models page, or --quantize)", gpu: 'a GPU' },
  model: {
    weights: "as the model's Base weights (on the Models page of the studio or `reft-studio serve`)",
    gpu: 'a GPU with --device',
  },
  run: {
    weights: 'weights in a new run (`reft-studio train … --quantize`)',
    gpu: 'a GPU in a new run (`reft-studio train … --device`)',
  },
  // `bench`: its own --quantize alone sets the form (a synthetic model is in no library).
  bench: { weights: 'with --quantize', gpu: 'a GPU with --device' },
};

/**
 * Why the base weights of `spec` in `form` ('none' = float32, 'fp16', 'int8', 'int4-b64', …) cannot be
 * held in `memory` bytes on the CPU, or null. Weights are memory-mapped, so a model larger than
 * the memory still opens — and then reads its whole file from disk for every token (minutes a
 * token), after converting a half-precision checkpoint to a float32 store twice its size. Said
 * before any of that, with the forms that would fit: in the studio's words (`message`,
 * STUDIO_PLACES: a run's fields, else those of `use`) and for the command line (`cli`, CLI_PLACES
 * by what set the form, FormSetBy).
 */
export function hostMemoryIssue(
  spec: HostShape,
  form: string,
  use: 'chat' | 'train',
  memory: number,
  setBy: FormSetBy = 'flag',
): OptionIssue | null {
  if (memoryCheckSkipped()) return null;
  const bytes = (f: string) => baseWeightBytes(shapeOf(spec), f, use, memory);
  const need = bytes(form);
  if (need <= HOST_WEIGHTS_SHARE * memory) return null;
  const fits = (['int8', 'int4'] as const).filter(
    (f) => bytes(f) < need && bytes(f) <= HOST_WEIGHTS_SHARE * memory,
  );
  const label = form === 'none' ? 'float32' : form;
  const why = `this model's weights take ${byteSize(need)} in ${label} on the CPU, more than this computer's ${byteSize(memory)} of memory can hold: `;
  const forms = fits.map((f) => `${f} (${byteSize(bytes(f))})`).join(' or ');
  // A run's form is set by its fields, whatever loads it.
  const at = STUDIO_PLACES[setBy === 'run' ? 'train' : use];
  const cli = CLI_PLACES[setBy];
  return {
    field: 'quantize',
    code: 'model-too-large',
    message:
      why +
      (fits.length
        ? `choose ${forms} ${at.weights}, or a GPU ${at.device}`
        : `it is too large for this computer even at int4; choose a GPU ${at.device}`),
    cli:
      why +
      (fits.length
        ? `choose ${forms} ${cli.weights}, or ${cli.gpu}`
        : `it is too large for this computer even at int4; use ${cli.gpu}`) +
      ` ${MEMORY_CHECK_HINT}`,
  };
}

/** hostMemoryIssue in the engine's words (the command line's), or null. */
export function hostMemoryProblem(
  spec: HostShape,
  form: string,
  use: 'chat' | 'train',
  memory: number,
): string | null {
  return hostMemoryIssue(spec, form, use, memory)?.cli ?? null;
}

/**
 * Why a CPU training run on `spec` with its base in `form`, at a batch of `w`, cannot start in the
 * computer's `memory`, or null: the engine's refusals in its order (the weights, hostMemoryIssue;
 * then one step, training/recompute.ts hostStepIssue). The run estimate, "what fits" and the
 * studio's runs/start ask the same question, so the studio says before a run what the engine would
 * say at its start.
 */
export function hostTrainingIssue(
  spec: HostShape,
  form: string,
  memory: number,
  w: { batch: number; tokens: number },
): OptionIssue | null {
  return hostMemoryIssue(spec, form, 'train', memory) ?? hostStepIssue(spec, form, memory, w);
}

/** hostTrainingIssue in the engine's words (the command line's), or null. */
export function hostTrainingProblem(
  spec: HostShape,
  form: string,
  memory: number,
  w: { batch: number; tokens: number },
): string | null {
  return hostTrainingIssue(spec, form, memory, w)?.cli ?? null;
}

/**
 * The base's form on the CPU for `quantize` as prepareModel picks it there ('auto': float32 where
 * it fits, else int8, else int4), by its scheme's name ('none', 'int8-b32', …).
 */
function hostBaseForm(spec: HostShape, quantize: string, use: 'chat' | 'train', memory: number): string {
  const q =
    quantize === 'auto'
      ? autoBaseForm(shapeOf(spec), use, { device: 'cpu', memory, full: 'none' })
      : quantize;
  return schemeName(parseQuantize(q));
}

/**
 * The computer's memory (`memory`, else its total) where the sessions for `device` will hold their
 * weights in it (runsInHostMemory, decided as the sessions are planned); null on a GPU, or with the
 * memory checks off.
 */
async function hostMemoryFor(device: DeviceChoice | undefined, memory?: number): Promise<number | null> {
  if (memoryCheckSkipped() || !(await runsInHostMemory(device))) return null;
  return memory ?? totalmem();
}

/**
 * The engine's memory refusal of a training run, asked before the run exists (the studio's
 * runs/start and its estimate, through the 'tokens' engine process, and the CLI's `train`): where
 * the sessions will hold their weights in the computer's memory (hostMemoryFor), the weights in the
 * form `quantize` resolves to there (prepareModel's check), then one step of `w` (trainer.ts
 * refuseStepOverMemory, which judges at the data's longest example: the caller passes that as
 * `w.tokens`). Null when the engine would start the run.
 */
export async function trainingStartIssue(
  spec: HostShape,
  o: { quantize: string; device: DeviceChoice; batch: number; tokens: number; memory?: number },
): Promise<OptionIssue | null> {
  const memory = await hostMemoryFor(o.device, o.memory);
  if (memory === null) return null;
  return hostTrainingIssue(spec, hostBaseForm(spec, o.quantize, 'train', memory), memory, o);
}

/**
 * prepareModel's memory refusal of `spec` loaded to generate or evaluate on `device` with its base
 * in `quantize`, asked before anything is loaded (evaluation/runner.ts OpenedModel.checkMemory: an
 * evaluation is recorded only once its model would load). Null when prepareModel would go on.
 * `use` and `setBy` are those of a bench (bench/bench.ts refuseBenchOverMemory): it trains or
 * generates, and its --quantize sets the form; a training bench also gives its `step` (batch ×
 * tokens), refused as `train` refuses one that cannot fit (hostStepIssue).
 */
export async function modelLoadIssue(
  spec: HostShape,
  o: {
    quantize: string;
    device?: DeviceChoice;
    memory?: number;
    use?: 'chat' | 'train';
    setBy?: FormSetBy;
    step?: { batch: number; tokens: number };
  },
): Promise<OptionIssue | null> {
  const memory = await hostMemoryFor(o.device, o.memory);
  if (memory === null) return null;
  const use = o.use ?? 'chat';
  // An evaluation's form is its library model's Base weights (the CLI's evaluate has no --quantize).
  const form = hostBaseForm(spec, o.quantize, use, memory);
  const weights = hostMemoryIssue(spec, form, use, memory, o.setBy ?? 'model');
  return weights ?? (use === 'train' && o.step ? hostStepIssue(spec, form, memory, o.step) : null);
}

/**
 * The memory of the GPU a run lives on: the chosen NVIDIA GPU's on CUDA (null where nvidia-smi does
 * not tell), on WebGPU what the machine reports for its GPU, else `computer`; null off the GPUs.
 */
export async function runGpuMemoryBytes(
  on: { cuda: boolean; webgpu: boolean },
  computer = totalmem(),
): Promise<number | null> {
  if (on.cuda) return cudaDeviceMemoryBytes(undefined, chosenGpuIndex());
  return on.webgpu ? webgpuRunMemoryBytes(computer) : null;
}

/**
 * `spec` with its base in the form `o.quantize` asks for and the compute dtype for the device.
 * `auto`: on the CPU, float32 where they fit in the computer's memory, else 8-bit, else 4-bit
 * (hostAutoForm); on CUDA the checkpoint's own weights where they fit in the GPU's memory, else 8-bit,
 * else 4-bit (gpuAutoForm), computing in the checkpoint's half precision all the same; the same on
 * WebGPU against the memory the machine reports for its GPU (else the computer's). Said in the log
 * when it quantizes.
 */
export async function prepareModel(spec: ModelSpec, o: PrepareModelOptions): Promise<ModelSpec> {
  const dtype = o.dtype ?? 'auto';
  const cuda = await runsOnCuda(o.device);
  const webgpu = !cuda && (await runsOnWebgpu(o.device));
  // The adapter's float16 shaders matter only where a half dtype on WebGPU is possible.
  const webgpuHalf = webgpu && dtype !== 'fp32' ? await webgpuHalfSupport(o.device) : null;
  const cudaCapability = cuda ? await cudaComputeCapability(undefined, chosenGpuIndex()) : null;
  // Off CUDA and WebGPU the sessions run on the CPU, or DirectML / Core ML when named.
  const named = o.device === 'dml' || o.device === 'coreml' ? o.device : 'cpu';
  const target: ComputeTarget = { cuda, webgpuHalf, cudaCapability, device: webgpu ? 'webgpu' : named };
  // What the checkpoint computes in there (its base not yet prepared): sizes `auto`'s weights on a
  // GPU and decides whether a half file is read in place.
  const checkpointCompute = computeDtype(spec, dtype, target);
  // On the CPU the weights live in the computer's memory: the form `auto` picks for it, and a
  // refusal when the form cannot fit.
  const onHost = !cuda && !webgpu;
  const use = o.training ? 'train' : 'chat';
  const memory = o.totalMemory ?? totalmem();
  // On a GPU the weights live in its memory: `auto` fits them there, and a training session packs a
  // quantized base for its backward only where the GPU holds that too (base.ts). WebGPU's memory is
  // what the machine tells (an NVIDIA or AMD card's), else the computer's (Apple's unified memory).
  const gpuMemory =
    o.gpuMemory !== undefined && !onHost ? o.gpuMemory : await runGpuMemoryBytes({ cuda, webgpu }, memory);
  let quantize = o.quantize;
  if (quantize === 'auto') {
    // The memory the weights must fit in, and their form there unquantized.
    let at: AutoPlace & { label: string; name: string };
    // The CPU holds full-precision weights as float32 whatever --dtype says: a half checkpoint as
    // its float32 store (quantize/base.ts), which float16 compute casts from (measured at hidden
    // 1024 × 6 layers: a float16 session held as much as a float32 one, not half).
    if (onHost) at = { device: 'cpu', memory, full: 'none', label: 'float32', name: "this computer's" };
    else
      at = {
        device: cuda ? 'cuda' : 'webgpu',
        memory: gpuMemory,
        full: checkpointCompute === 'float32' ? 'none' : 'fp16',
        label: checkpointCompute,
        name: "this GPU's",
      };
    quantize = autoBaseForm(shapeOf(spec), use, at);
    if (quantize !== 'none' && at.memory) {
      const need = baseWeightBytes(shapeOf(spec), at.full, use, at.memory);
      o.log?.(
        `base weights: ${quantize} (automatic): in ${at.label} they would take ${byteSize(need)} of ${at.name} ${byteSize(at.memory)}`,
      );
    }
  }
  const scheme = parseQuantize(quantize);
  if (onHost) {
    // Both wordings: the studio's (its Playground, its runs) and the command line's (wordedFor).
    const issue = hostMemoryIssue(spec, schemeName(scheme), use, memory, o.setBy);
    if (issue) throw new OptionError(issue);
  }
  // The scheme's own name (int4-b64, int8-b128-zp): its blocks' scales weigh in the step's check too.
  await o.beforeBase?.(schemeName(scheme), memory);
  // Decided on the checkpoint before its base is prepared: a half file that will compute in half on
  // the GPU is read in place; otherwise the CPU's float32 store (prepareBase).
  const half = checkpointCompute !== 'float32';
  const base = await prepareBaseLogged(spec, quantize, {
    dataDir: o.dataDir,
    // 'auto' that will run on CUDA keeps half-precision files in place, as 'cuda' does; on WebGPU,
    // so do half files computed in half, and quantized codes are marked for the GPU (onGpu).
    device: cuda ? 'cuda' : webgpu && ((half && webgpuHalf) || scheme) ? 'webgpu' : o.device,
    signal: o.signal,
    log: o.log,
    onConversion: o.onConversion,
    training: o.training,
    totalMemory: (!onHost && gpuMemory) || o.totalMemory,
  });
  // A quantized base on a GPU computes as its checkpoint would (bf16 for a bf16 checkpoint on CUDA,
  // fp16 on WebGPU with float16 shaders): MatMulNBits has half kernels there, and the activations
  // take half the memory.
  const compute = !onHost && base.base?.scheme ? checkpointCompute : computeDtype(base, dtype, target);
  if (compute === 'float32') {
    const note = bf16FallbackNote(spec, dtype, target);
    // Not the precision that `auto` would give this checkpoint elsewhere: a warning.
    if (note) o.log?.(note.cli, 'warn');
    return base;
  }
  o.log?.(`computing in ${compute} (norms, softmax, the loss and interventions in float32)`);
  return { ...base, compute, computeAuto: dtype === 'auto' };
}
