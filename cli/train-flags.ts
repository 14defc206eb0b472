// The training options as command-line flags, derived from their one declaration
// (native-runtime/training/options.ts): the flag of `maxGradNorm` is `--max-grad-norm`, its help line
// is the option's one-line explanation with its default and limits, and a value is turned into the
// option's type here while every rule is checked by the same code as for the studio: the rules of a
// value on its own (optionIssues) here, as bad usage (exit 2), and those against the model
// (resolveTrainConfig → OptionError, worded for the CLI by cli/main.ts) once it is opened (exit 1).

import {
  numberRule,
  optionFlag,
  optionIssues,
  TRAIN_OPTION_KEYS,
  TRAIN_OPTIONS,
  type TrainOptionKey,
  type TrainOptionSpec,
  type TrainOptions,
} from '../native-runtime/training/options.ts';
import { type ArgValues, badValue, UsageError } from './args.ts';

/** A flag as the CLI's parser and its --help take it. */
export interface FlagDef {
  type: 'string' | 'boolean';
  /** One line for --help. */
  description: string;
  /** The value's placeholder in --help ('R', 'X', 'linear|cosine|constant'). */
  value?: string;
}

function valueName(o: TrainOptionSpec): string | undefined {
  if (o.kind === 'boolean') return undefined;
  if (o.kind === 'choice') return o.choices.map((c) => c.value).join('|');
  return o.valueName;
}

function description(o: TrainOptionSpec): string {
  const parts = [o.help.replace(/\.$/, '')];
  if (o.kind === 'int' || o.kind === 'number') {
    const def = o.unset ? `default: ${o.unset}` : `default ${o.default}`;
    parts.push(`${numberRule(o)}, ${def}${o.zero ? ` (0 = ${o.zero})` : ''}`);
  } else if (o.kind !== 'boolean') {
    parts.push(`default ${o.default}`);
  }
  return parts.join('; ');
}

/** Every training option's flag, in the schema's order. */
export const TRAIN_OPTION_FLAGS: Record<string, FlagDef> = Object.fromEntries(
  TRAIN_OPTION_KEYS.map((k) => {
    const o: TrainOptionSpec = TRAIN_OPTIONS[k];
    const value = valueName(o);
    const def: FlagDef = {
      type: o.kind === 'boolean' ? 'boolean' : 'string',
      description: description(o),
      ...(value ? { value } : {}),
    };
    return [optionFlag(k), def];
  }),
);

/** The usage fragment of the training options: "[--rank R] [--share-weights] …". */
export const TRAIN_OPTIONS_USAGE = TRAIN_OPTION_KEYS.map((k) => {
  const v = valueName(TRAIN_OPTIONS[k]);
  return `[--${optionFlag(k)}${v ? ` ${v}` : ''}]`;
}).join(' ');

function toValue(key: TrainOptionKey, raw: string | boolean): unknown {
  const o: TrainOptionSpec = TRAIN_OPTIONS[key];
  if (o.kind === 'boolean' || typeof raw === 'boolean') return raw;
  if (o.kind === 'int' || o.kind === 'number') {
    const x = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(x)) throw badValue(`--${optionFlag(key)}`, 'a number', raw);
    return x;
  }
  return raw;
}

/**
 * The training options given on the command line (flags not given are left out). A value no model
 * could take (`--rank 0`, `--intervention mega`, `--layers x`) is refused here as bad usage, like
 * every other command's malformed flag; what depends on the model is checked when it is opened.
 */
export function trainOptionsFromFlags(values: ArgValues): TrainOptions {
  const out: Record<string, unknown> = {};
  for (const k of TRAIN_OPTION_KEYS) {
    const raw = values[optionFlag(k)];
    if (raw === undefined || Array.isArray(raw)) continue;
    out[k] = toValue(k, raw);
  }
  const [first] = optionIssues(out);
  if (first) throw new UsageError(first.cli, first.code);
  return out as TrainOptions;
}
