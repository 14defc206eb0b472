// The forms a library model's frozen weights can be used in (none / int8 / int4), each with the
// memory its weights take while chatting and training, from the engine's own estimate
// (native-runtime/quantize/memory.ts). Shown on the Models page and in the Train wizard.

import {
  baseWeightBytes,
  gpuAutoForm,
  halfOnGpu,
  hostAutoForm,
  residentWeightBytes,
} from '../../../native-runtime/quantize/memory.ts';
import { QUANTIZE_OPTION_CHOICES } from '../../../native-runtime/training/options.ts';
import { formatBytes } from './format.ts';
import { choicesShowing } from './train/choices.ts';

export interface BaseFormModel {
  params: number;
  hiddenSize: number | null;
  vocabSize: number | null;
  config: Record<string, unknown>;
}

export interface BaseFormChoice {
  /** One of the four choices, or a stored block spelling (int4-b64) shown beside them. */
  value: string;
  label: string;
  help: string;
  chatBytes: number;
  trainBytes: number;
  /**
   * What the choice means here: "weights 1.3 GB in memory, 2.5 GB to train"; for Automatic the form it picks
   * first ("8-bit on the GPU: weights …"). Shown beside the control: an option's own text is the
   * short label, which a select shows whole.
   */
  detail: string;
}

/**
 * The memory of the GPU a run on `device` uses, from system/info: the NVIDIA GPU's for cuda and auto
 * where CUDA can run (`cudaMemBytes`), what `auto` weighs on WebGPU for webgpu (`webgpuMemBytes`);
 * null where it runs on the CPU.
 */
export function gpuMemoryFor(
  device: string | null | undefined,
  mem: { cudaMemBytes?: number | null; cudaBf16?: boolean; webgpuMemBytes?: number | null } | undefined,
): RunGpu | null {
  if (device === 'webgpu')
    return mem?.webgpuMemBytes ? { api: 'webgpu', memoryBytes: mem.webgpuMemBytes } : null;
  return (device === 'cuda' || device === 'auto') && mem?.cudaMemBytes
    ? { api: 'cuda', memoryBytes: mem.cudaMemBytes, bf16: mem.cudaBf16 !== false }
    : null;
}

/** The GPU a model runs on, as the Base weights choice weighs it. */
export interface RunGpu {
  api: 'cuda' | 'webgpu';
  memoryBytes: number;
  /** CUDA: the GPU has bfloat16 kernels (Ampere on); without, a bf16 checkpoint computes in float32. */
  bf16?: boolean;
}

/**
 * The choices for a model; with the computer's memory (system/info), Automatic names the form it
 * picks on this computer's CPU, and with the memory of the NVIDIA GPU the model runs on
 * (`runGpu`, gpuMemoryFor) the form it picks there, whose figures it then shows
 * (runtime/precision.ts decides with the same rule, quantize/memory.ts autoBaseForm).
 * `current`, the form chosen now, gets a choice of its own when it is none of the four (a run's
 * `--quantize int4-b64`, choicesShowing).
 */
export function baseFormChoices(
  m: BaseFormModel,
  memoryBytes?: number,
  use: 'chat' | 'train' = 'chat',
  runGpu?: RunGpu | null,
  current?: string | null,
): BaseFormChoice[] {
  const shape = {
    params: m.params,
    hiddenSize: m.hiddenSize ?? 0,
    vocabSize: m.vocabSize ?? 0,
    tied: m.config.tie_word_embeddings !== false,
  };
  const label = (v: string) => QUANTIZE_OPTION_CHOICES.find((c) => c.value === v)?.label ?? v;
  const here = memoryBytes ? hostAutoForm(shape, use, memoryBytes) : null;
  // On the GPU a half checkpoint computes in its own precision (--dtype auto), where the GPU has
  // that precision's kernels.
  const half = !!runGpu && halfOnGpu(String(m.config.torch_dtype ?? m.config.dtype ?? ''), runGpu);
  const gpu = runGpu
    ? {
        form: gpuAutoForm(shape, use, runGpu.memoryBytes, half ? 'fp16' : 'none'),
        memory: runGpu.memoryBytes,
      }
    : null;
  // A weight's bytes where the model runs: the GPU holds a half checkpoint in half precision; a
  // quantized base packs for training only where the memory allows (quantize/memory.ts).
  const bytesOf = (form: string, u: 'chat' | 'train') =>
    gpu
      ? residentWeightBytes(shape, form, u, gpu.memory, { gpu: true, half })
      : baseWeightBytes(shape, form, u, memoryBytes);
  const where = [
    gpu ? `${label(gpu.form).toLowerCase()} on the GPU` : null,
    here ? `${label(here).toLowerCase()} on this computer's CPU` : null,
  ].filter((w) => w !== null);
  return choicesShowing(QUANTIZE_OPTION_CHOICES, current).map((c) => {
    // Automatic is decided where the model runs: its figures are those of the form it picks there.
    const form = c.value === 'auto' ? (gpu?.form ?? here ?? 'none') : c.value;
    const chatBytes = bytesOf(form, 'chat');
    const trainBytes = bytesOf(form, 'train');
    const train = trainBytes === chatBytes ? '' : `, ${formatBytes(trainBytes)} to train`;
    // "in memory": beside the folder's size on disk (Models), a bare figure read as a contradiction.
    const weights = `weights ${formatBytes(chatBytes)} in ${gpu ? 'GPU ' : ''}memory${train}`;
    const picked = c.value === 'auto' && where.length ? where.join(', ') : null;
    const detail =
      c.value !== 'auto'
        ? weights
        : picked
          ? `${picked}: ${weights}`
          : 'full precision where it fits in memory, else 8 or 4 bits';
    return {
      value: c.value,
      label: c.label,
      help: c.help,
      chatBytes,
      trainBytes,
      detail,
    };
  });
}
