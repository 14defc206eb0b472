// The precision a run's frozen model really computed in, beside the one its config asked for (its
// `dtype`: auto, fp32, fp16, bf16). `auto` settles per device (runtime/precision.ts computeDtype: a
// bf16 checkpoint stays bf16 on CUDA from Ampere on, and is float32 on the CPU), and a half
// precision whose kernels are missing where the session runs falls back to float32
// (training/reft-model.ts): the run records what its session computed in, in the option's names,
// so runs compare by it. No Node imports: the renderer words it too.

import type { ModelSpec } from '../models/config.ts';
import type { DeviceUsed } from './device-choice.ts';

/** A compute dtype in the `--dtype` option's names. */
export type Precision = 'fp32' | 'fp16' | 'bf16';

const NAMES: Record<NonNullable<ModelSpec['compute']>, Precision> = {
  float32: 'fp32',
  float16: 'fp16',
  bfloat16: 'bf16',
};

/** Whether `v` is one of the precision names (an adapter's manifest or sidecar as read from disk). */
export const isPrecision = (v: unknown): v is Precision => v === 'fp32' || v === 'fp16' || v === 'bf16';

/** Where a run's steps run and in what precision: the trainer's `device` event, once its session exists. */
export type ComputeUsed = DeviceUsed & { precision: Precision };

/** What a model prepared for its session computes in (ModelSpec.compute; float32 where unset). */
export const precisionOf = (spec: Pick<ModelSpec, 'compute'>): Precision => NAMES[spec.compute ?? 'float32'];

/** The precision a run's config asked for: its `dtype` option, `auto` where it names none. */
export const runAskedPrecision = (config: Record<string, unknown>): string => String(config.dtype ?? 'auto');

/**
 * A run's precision for people: "fp32", or "fp32 (asked fp16)" when the config asked for another (as a
 * device reads "cpu (asked cuda)"); auto's choice reads plainly, as a device auto picked does (the
 * Configuration tab says "auto (ran in fp32)": library/run-config.ts). null for a run that has not
 * computed yet or was recorded before runs kept it — never a guess.
 */
export const precisionText = (asked: string, ran: string | null): string | null =>
  ran === null ? null : ran === asked || asked === 'auto' ? ran : `${ran} (asked ${asked})`;
