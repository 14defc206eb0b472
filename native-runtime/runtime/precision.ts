// The model as the device will read it: the base weights' form (quantize/base.ts prepareBase) and the
// dtype its graphs compute in (ModelSpec.compute, models/decoder.ts). One decision for training,
// generation and evaluation, made before any session exists:
//   --dtype auto   on CUDA, a half-precision checkpoint (bf16/fp16, not quantized) is read in place
//                  and computed in its own precision — an 8B model takes 16 GB of the GPU, not 32;
//                  on WebGPU, an fp16 checkpoint where the adapter has float16 shaders (probed);
//                  everywhere else float32 (the CPU has no bfloat16 kernels and slow float16 ones;
//                  on the CPU a half checkpoint is read from its float32 store).
//   fp32|fp16|bf16 that dtype, asked for (bf16 only where it has kernels: CUDA; fp16 on WebGPU only
//                  with float16 shaders).
// Norm statistics, softmax, the loss and the interventions stay float32 in every case.

import { ConfigError } from '../errors.ts';
import type { ModelSpec } from '../models/config.ts';
import { baseForm, prepareBaseLogged } from '../quantize/base.ts';
import type { DtypeOption } from '../training/options.ts';
import { type DeviceChoice, runsOnCuda, webgpuHalfSupport } from './session.ts';

export type ComputeDtype = NonNullable<ModelSpec['compute']>;

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
}

/** The dtype the graphs of `spec` (its base prepared) compute in, for `option` on the target. */
export function computeDtype(spec: ModelSpec, option: DtypeOption, target: ComputeTarget): ComputeDtype {
  if (option === 'bf16' && !target.cuda)
    throw new ConfigError(
      'dtype-unsupported',
      'bfloat16 needs CUDA (the CPU and WebGPU have no bfloat16 kernels): use --dtype fp32 or fp16',
    );
  if (option === 'fp16' && target.webgpuHalf === false)
    throw new ConfigError(
      'dtype-unsupported',
      "this GPU's WebGPU adapter has no float16 shaders (shader-f16): use --dtype fp32",
    );
  if (option !== 'auto') return DTYPE[option];
  const form = baseForm(spec);
  if (target.cuda && (form === 'bf16' || form === 'fp16')) return DTYPE[form];
  // WebGPU has float16 only: an fp16 checkpoint stays fp16; bf16 becomes float32 (bf16's range does
  // not fit float16's, so converting is a choice the user makes with --dtype fp16).
  if (target.webgpuHalf && form === 'fp16') return 'float16';
  return 'float32';
}

export interface PrepareModelOptions {
  quantize: string;
  dtype?: DtypeOption;
  device?: DeviceChoice;
  dataDir?: string;
  signal?: AbortSignal;
  log?: (m: string) => void;
  /** See prepareBaseLogged: a training session packs quantized codes when they fit. */
  training?: boolean;
}

/** `spec` with its base in the form `o.quantize` asks for and the compute dtype for the device. */
export async function prepareModel(spec: ModelSpec, o: PrepareModelOptions): Promise<ModelSpec> {
  const dtype = o.dtype ?? 'auto';
  const cuda = await runsOnCuda(o.device);
  // Probed (a child process, once) only where a half dtype on WebGPU is possible.
  const webgpuHalf = !cuda && dtype !== 'fp32' ? await webgpuHalfSupport(o.device) : null;
  const target: ComputeTarget = { cuda, webgpuHalf };
  // Decided on the checkpoint before its base is prepared: a half file that will compute in half on
  // the GPU is read in place; otherwise the CPU's float32 store (prepareBase).
  const half = computeDtype(spec, dtype, target) !== 'float32';
  const base = await prepareBaseLogged(spec, o.quantize, {
    dataDir: o.dataDir,
    // 'auto' that will run on CUDA keeps half-precision files in place, as 'cuda' does.
    device: cuda ? 'cuda' : half && webgpuHalf ? 'webgpu' : o.device,
    signal: o.signal,
    log: o.log,
    training: o.training,
  });
  const compute = computeDtype(base, dtype, target);
  if (compute === 'float32') return base;
  o.log?.(`computing in ${compute} (norms, softmax, the loss and interventions in float32)`);
  return { ...base, compute, computeAuto: dtype === 'auto' };
}
