// `--quantize` for the commands that load a model (none|int8|int4 for bench and debug forward,
// auto as well for generate; train's comes from its options), and their --dtype and --device: parse the flags, and show a conversion's progress through
// the progress reporter (a conversion runs once per model and form; later runs find the store in the
// data folder).

import type { Notify } from '../native-runtime/notices.ts';
import { conversionLabel, takenOverLine } from '../native-runtime/quantize/base.ts';
import {
  parseQuantize,
  type QuantScheme,
  quantizeForms,
  schemeName,
} from '../native-runtime/quantize/scheme.ts';
import type { ConversionProgress } from '../native-runtime/quantize/store.ts';
import { DEVICES, type DeviceChoice } from '../native-runtime/runtime/device-choice.ts';
import { DTYPE_OPTION_CHOICES, type DtypeOption } from '../native-runtime/training/options.ts';
import { type ArgValues, badValue, type OptionSpec, str, UsageError } from './args.ts';
import type { Reporter, TransferTask } from './progress/reporter.ts';

/** --device's placeholder: every choice, the default (cpu) first, as train's usage shows them. */
export const DEVICE_VALUE = ['cpu', ...DEVICES.filter((d) => d !== 'cpu')].join('|');

/** --device for generate and evaluate (bench shows its defaults as values: `--device cpu`). */
export const DEVICE_OPTION = {
  device: {
    type: 'string',
    value: DEVICE_VALUE,
    description: 'cpu (default), cuda, webgpu, dml, coreml or auto',
  },
} as const satisfies OptionSpec;

export const QUANTIZE_OPTION = {
  quantize: {
    type: 'string',
    value: 'none|int8|int4',
    description: 'weight form of the base model (converted once, kept in the data folder); default none',
  },
} as const satisfies OptionSpec;

export const DTYPE_OPTION = {
  dtype: {
    type: 'string',
    value: 'auto|fp32|fp16|bf16',
    description:
      'compute precision of the base model: auto keeps a half-precision checkpoint half on CUDA (fp16 ones on WebGPU too), float32 elsewhere',
  },
} as const satisfies OptionSpec;

/** The --dtype value (auto when absent); anything else is a usage error. */
export function dtypeFlag(values: ArgValues, command: string): DtypeOption {
  const v = str(values, 'dtype') ?? 'auto';
  if (!DTYPE_OPTION_CHOICES.some((c) => c.value === v))
    throw badValue(`${command}: --dtype`, 'auto, fp32, fp16 or bf16', v);
  return v as DtypeOption;
}

/** The --device value (the CPU when absent); anything else is a usage error. */
export function deviceFlag(values: ArgValues, command: string): DeviceChoice {
  const v = str(values, 'device') ?? 'cpu';
  if (!(DEVICES as readonly string[]).includes(v))
    throw badValue(`${command}: --device`, `one of ${DEVICES.join(', ')}`, v);
  return v as DeviceChoice;
}

/**
 * `--quantize` for the commands that load a model through the engine's own choice (generate): auto
 * (default) quantizes only a model whose weights would not fit the device's memory
 * (runtime/precision.ts).
 */
export const BASE_FORM_OPTION = {
  quantize: {
    type: 'string',
    value: 'auto|none|int8|int4',
    description:
      'weight form of the base model: auto (default) quantizes only a model whose weights would not fit the memory of the CPU or GPU it runs on; int8/int4 are converted once and kept in the data folder',
  },
} as const satisfies OptionSpec;

/**
 * A --quantize value as its scheme (null for none); anything else is a usage error, like a bad
 * --device or --dtype, naming the command and the forms it takes (scheme.ts words them for all).
 */
function quantizeScheme(v: string, command: string, auto: boolean): QuantScheme | null {
  try {
    return parseQuantize(v);
  } catch {
    throw badValue(`${command}: --quantize`, quantizeForms({ auto }), v);
  }
}

/** The --quantize value of BASE_FORM_OPTION: auto, or a scheme's name (none, int8-b32, …). */
export function baseFormFlag(values: ArgValues, command: string): string {
  const v = str(values, 'quantize') ?? 'auto';
  return v === 'auto' ? v : schemeName(quantizeScheme(v, command, true));
}

/** The scheme named by --quantize of QUANTIZE_OPTION (null for none or absent). */
export function quantizeFlag(values: ArgValues, command: string): QuantScheme | null {
  return quantizeScheme(str(values, 'quantize') ?? 'none', command, false);
}

/**
 * Prints what loading a model says (a session's onNotice, the trainer's and an evaluation's lines
 * that carry it on): as notes, and as warnings (`warning: `, a log event's level 'warn') those its
 * sayer marked so (a fallback to the CPU, the software adapter's line: notices.ts), whatever their words.
 */
export function sessionNotices(progress: Reporter): Notify {
  return (line, level) => progress.log(line, level ?? 'info');
}

/** A progress callback for prepareBase: a transfer task in bytes written, labelled as the log lines are. */
export function conversionProgress(progress: Reporter): (p: ConversionProgress) => void {
  let task: TransferTask | null = null;
  return (p) => {
    if (!task && p.takenOverFrom !== undefined) progress.log(takenOverLine(p.takenOverFrom));
    task ??= progress.transfer({ label: conversionLabel(p), totalBytes: p.totalBytes });
    task.update(p.doneBytes, p.totalBytes);
    if (p.done === p.total) task.done();
  };
}
