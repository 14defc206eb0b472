// The model as the device will read it: the base weights' form (quantize/base.ts prepareBase) and the
// dtype its graphs compute in (ModelSpec.compute, models/decoder.ts). One decision for training,
// generation and evaluation, made before any session exists:
//   --dtype auto   on CUDA, a half-precision checkpoint (bf16/fp16, not quantized) is read in place
//                  and computed in its own precision — an 8B model takes 16 GB of the GPU, not 32;
//                  everywhere else float32 (the CPU has no bfloat16 kernels and slow float16 ones;
//                  on the CPU a half checkpoint is read from its float32 store).
//   fp32|fp16|bf16 that dtype, asked for (bf16 only where it has kernels: CUDA).
// Norm statistics, softmax, the loss and the interventions stay float32 in every case.

import { ConfigError } from '../errors.ts';
import type { ModelSpec } from '../models/config.ts';
import { baseForm, prepareBaseLogged } from '../quantize/base.ts';
import type { DtypeOption } from '../training/options.ts';
import { type DeviceChoice, runsOnCuda } from './session.ts';

export type ComputeDtype = NonNullable<ModelSpec['compute']>;

const DTYPE: Record<Exclude<DtypeOption, 'auto'>, ComputeDtype> = {
  fp32: 'float32',
  fp16: 'float16',
  bf16: 'bfloat16',
};

/** The dtype the graphs of `spec` (its base prepared) compute in, for `option` on the device. */
export function computeDtype(spec: ModelSpec, option: DtypeOption, onCuda: boolean): ComputeDtype {
  if (option === 'bf16' && !onCuda)
    throw new ConfigError(
      'dtype-unsupported',
      'bfloat16 needs CUDA (the CPU and WebGPU have no bfloat16 kernels): use --dtype fp32 or fp16',
    );
  if (option !== 'auto') return DTYPE[option];
  const form = baseForm(spec);
  return onCuda && (form === 'bf16' || form === 'fp16') ? DTYPE[form] : 'float32';
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
  const onCuda = runsOnCuda(o.device);
  const base = await prepareBaseLogged(spec, o.quantize, {
    dataDir: o.dataDir,
    // 'auto' that will run on CUDA keeps half-precision files in place, as 'cuda' does.
    device: onCuda ? 'cuda' : o.device,
    signal: o.signal,
    log: o.log,
    training: o.training,
  });
  const dtype = o.dtype ?? 'auto';
  const compute = computeDtype(base, dtype, onCuda);
  if (compute === 'float32') return base;
  o.log?.(`computing in ${compute} (norms, softmax, the loss and interventions in float32)`);
  return { ...base, compute, computeAuto: dtype === 'auto' };
}
