// Argument parsing for `reft-studio`: finds the command (one or two words, e.g. `serve`,
// `models list`) among the registered names, then parses its flags with node:util parseArgs, strict,
// together with the global flags (--json, --quiet, --data-dir, --help) which may appear anywhere.
// Every option carries its one-line description: `--help` is generated from these definitions.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ReftError, ValidationError } from '../native-runtime/errors.ts';
import { mustBe, wordedFor } from '../native-runtime/training/options.ts';
import { checkPositionsSyntax } from '../native-runtime/training/positions.ts';
import { shellWord } from './shell-word.ts';

/** One command-line option: parseArgs' definition plus what `--help` shows for it. */
export interface OptionDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** One line for --help: what the option does (and its default). */
  description: string;
  /** The value's placeholder in --help ('DIR', 'N'); default: taken from the usage line, else VALUE. */
  value?: string;
}

export type OptionSpec = Record<string, OptionDef>;
export type ArgValues = Record<string, string | boolean | string[] | undefined>;

export const GLOBAL_OPTIONS = {
  json: {
    type: 'boolean',
    description: 'one JSON object on stdout (notes and progress as JSON lines on stderr)',
  },
  quiet: { type: 'boolean', short: 'q', description: 'no progress bar, progress lines or notes' },
  'data-dir': {
    type: 'string',
    value: 'DIR',
    description: 'library folder (default: $REFT_STUDIO_HOME or the OS app-data folder)',
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies OptionSpec;

/** parseArgs' own option config (it is given only the fields it knows). */
function parseArgsOptions(spec: OptionSpec): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(spec).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
      },
    ]),
  );
}

/**
 * The command line itself is wrong (exit 2): an unknown command or option, a missing argument, or a
 * value that an option or argument never takes, which is known before anything is opened. `code`
 * keeps a library check's own code (`bad-rank`, `bad-repo-id`) where one refused the value.
 */
export class UsageError extends ValidationError {
  constructor(message: string, code = 'usage') {
    super(code, message);
  }
}

/**
 * A refused value of a flag or argument, in the one wording the training options use too:
 * `badValue('--batch', 'an integer ≥ 1', '0')` is "--batch must be an integer ≥ 1 (got "0")".
 * `what` names the flag as the error says it ("generate: --top-p", "ID").
 */
export function badValue(what: string, rule: string, value: unknown, code?: string): UsageError {
  return new UsageError(`${what} ${mustBe(rule, value)}`, code);
}

/**
 * Runs a library check of a value given on the command line (a model id's form): its refusal is
 * bad usage, exit 2, in the check's own words and code, as the command's own checks refuse values.
 */
export function checkArgument<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    // In the command line's words: a refused --layers names its flag.
    const worded = wordedFor(e, 'cli');
    if (worded instanceof ReftError && !(worded instanceof UsageError))
      throw new UsageError(worded.message, worded.code);
    throw e;
  }
}

/**
 * Splits argv into the command name and the remaining arguments. Global flags before the command
 * words are kept in `rest`. Returns the longest registered name that matches the leading words, or
 * null with the words seen (for "unknown command" / group help).
 */
export function findCommand(
  argv: string[],
  names: readonly string[],
): { name: string | null; words: string[]; rest: string[] } {
  const rest: string[] = [];
  const words: { word: string; index: number }[] = [];
  // A word after a group that names none of its commands ("runs bogus"): kept for the error.
  let unknown: string | undefined;
  for (let i = 0; i < argv.length && words.length < 3; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      // Only global flags may precede the command words; `--data-dir X` takes the next token.
      if (a === '--data-dir') i++;
      continue;
    }
    words.push({ word: a, index: i });
    // Stop once the words can't start any command name (an unknown first word is kept for the error).
    const prefix = words.map((w) => w.word).join(' ');
    if (!names.some((n) => n === prefix || n.startsWith(`${prefix} `))) {
      if (words.length > 1) unknown = words.pop()?.word;
      break;
    }
  }
  for (let n = words.length; n > 0; n--) {
    const name = words
      .slice(0, n)
      .map((w) => w.word)
      .join(' ');
    if (names.includes(name)) {
      const used = new Set(words.slice(0, n).map((w) => w.index));
      for (let i = 0; i < argv.length; i++) if (!used.has(i)) rest.push(argv[i]);
      return { name, words: words.slice(0, n).map((w) => w.word), rest };
    }
  }
  const used = new Set(words.map((w) => w.index));
  for (let i = 0; i < argv.length; i++) if (!used.has(i)) rest.push(argv[i]);
  return {
    name: null,
    words: [...words.map((w) => w.word), ...(unknown === undefined ? [] : [unknown])],
    rest,
  };
}

export interface Parsed {
  values: ArgValues;
  positionals: string[];
}

/**
 * parseArgs keeps the last of a repeated single-value option: `evaluate --adapter 3 --adapter 5`
 * would evaluate 5 and say nothing of 3. Two different values of one are refused instead.
 */
function refuseRepeats(tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>, spec: OptionSpec): void {
  const seen = new Map<string, string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.value === undefined || spec[t.name]?.multiple) continue;
    const before = seen.get(t.name);
    if (before !== undefined && before !== t.value)
      throw new UsageError(
        `--${t.name} is given twice (${JSON.stringify(before)}, then ${JSON.stringify(t.value)}); it takes one value`,
      );
    seen.set(t.name, t.value);
  }
}

/** A negative number (`-1`, `-0.5`, `-.5`, `-1e-3`): a value, never an option (no short option is a digit). */
const NEGATIVE_NUMBER = /^-\.?\d/;

/** The option a token names (`--tag`, `--tag=x`, `-q`), if the spec has it. */
function optionOf(token: string, spec: OptionSpec): { name: string; def: OptionDef } | null {
  const long = /^--([^=]+)/.exec(token);
  if (long) return spec[long[1]] ? { name: long[1], def: spec[long[1]] } : null;
  const short = /^-([^-])$/.exec(token);
  const found = short && Object.entries(spec).find(([, d]) => d.short === short[1]);
  return found ? { name: found[0], def: found[1] } : null;
}

/**
 * An option that takes a value, given none: at the end (`--tag`), or followed by another option
 * (`--tag --data-dir X`). parseArgs words both for a value starting with '-' ("argument is
 * ambiguous… use '--tag=-XYZ'"), which misleads when the next word is simply another option.
 */
function refuseMissingValues(args: string[], spec: OptionSpec): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return;
    const opt = !a.includes('=') && a.startsWith('-') && !NEGATIVE_NUMBER.test(a) ? optionOf(a, spec) : null;
    if (opt?.def.type !== 'string') continue;
    const next = args[i + 1];
    if (next === undefined) throw new UsageError(`--${opt.name} needs a value`);
    if (next === '--' || optionOf(next, spec))
      throw new UsageError(`--${opt.name} needs a value; ${next} after it is an option`);
    i++;
  }
}

/**
 * The word parseArgs refused as an unknown option, whole (`-xyz`, where it names only `-x`): the
 * first word that looks like an option and names none, a string option's value passed over.
 */
function unknownOptionWord(args: string[], spec: OptionSpec): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return undefined;
    if (!a.startsWith('-') || NEGATIVE_NUMBER.test(a)) continue;
    const opt = optionOf(a, spec);
    if (!opt) return a;
    if (opt.def.type === 'string' && !a.includes('=')) i++;
  }
  return undefined;
}

/**
 * Edits between two short words: how far a typo is from an option or a command. Insert, delete,
 * replace, and two neighbouring letters swapped (`--modle`, `trian`), each one edit.
 */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/**
 * The name a mistyped word most likely meant: the one nearest within two edits (one for a short
 * name, none under three letters: `rm` is no typo of `ls`), when no other is as near.
 */
export function closestWord(word: string, names: readonly string[]): string | undefined {
  const near = names
    .map((n) => ({ n, d: editDistance(word, n) }))
    .filter(({ n, d }) => d <= Math.min(2, Math.floor(n.length / 3)))
    .sort((a, b) => a.d - b.d);
  return near.length && (near.length === 1 || near[0].d < near[1].d) ? near[0].n : undefined;
}

/**
 * The option a mistyped `--word` most likely meant: the closest word (`--ranks`, `--lr=`, `--modle`),
 * else one whose name holds the word as a part of it (`--steps` → `--max-steps`); none when unclear.
 */
export function closestOption(word: string, spec: OptionSpec): string | undefined {
  const w = /^--([^=]+)/.exec(word)?.[1];
  if (!w || w.length < 2) return undefined;
  const names = Object.keys(spec);
  const near = closestWord(w, names);
  if (near) return `--${near}`;
  const parts = names.filter((n) => w.length >= 3 && n.split('-').includes(w));
  return parts.length === 1 ? `--${parts[0]}` : undefined;
}

/**
 * A parseArgs refusal in the CLI's own words, one lower-case line as its other errors: parseArgs
 * writes "Unknown option '--x'", capitalised, and three lines for a value starting with '-'.
 */
function parseArgsRefusal(
  e: Error & { code?: string },
  rest: string[],
  spec: OptionSpec,
  takesArguments: boolean,
): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  // "-q, --quiet" in parseArgs' words: the long name is the one the CLI's errors use.
  const option = quoted.split(', ').at(-1) ?? quoted;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument is ambiguous/.test(e.message))
      return `${option} needs a value; write one starting with '-' as ${option}=-VALUE`;
    if (/does not take an argument/.test(e.message)) return `${option} takes no value`;
  }
  if (e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return e.message.split('\n')[0];
  // The whole word (`-xyz`, where parseArgs names only `-x`), where the command takes arguments:
  // one that starts with '-' is passed after --. Not for an unknown `--word`: that is a mistyped
  // option far more often than an argument.
  const word = takesArguments ? unknownOptionWord(rest, spec) : undefined;
  if (word !== undefined && !word.startsWith('--'))
    return `unknown option ${option}; write an argument starting with '-' after --, as in: -- ${shellWord(word)}`;
  const meant = option.startsWith('--') ? closestOption(option, spec) : undefined;
  return meant ? `unknown option ${option} (did you mean ${meant}?)` : `unknown option ${option}`;
}

/**
 * `takesArguments`: the command has positional arguments (`adapters tag ID TAG...`), so an unknown
 * option may be one that starts with '-' (a tag "-x"), and the error says how to pass it.
 */
export function parseCommandArgs(rest: string[], options: OptionSpec = {}, takesArguments = false): Parsed {
  const spec = { ...GLOBAL_OPTIONS, ...options };
  refuseMissingValues(rest, spec);
  // Negative numbers are values (`runs show -1`, `--seed -1`), which parseArgs would read as
  // options: they go through it as stand-ins and are put back after.
  const negatives: string[] = [];
  const STAND_IN = '\u0000value-';
  const args = rest.map((a) => (NEGATIVE_NUMBER.test(a) ? `${STAND_IN}${negatives.push(a) - 1}` : a));
  const back = (v: string) => (v.startsWith(STAND_IN) ? negatives[Number(v.slice(STAND_IN.length))] : v);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: parseArgsOptions(spec),
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError(parseArgsRefusal(e as Error & { code?: string }, rest, spec, takesArguments));
  }
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? back(v)
        : Array.isArray(v)
          ? v.map((x) => (typeof x === 'string' ? back(x) : x))
          : v,
    ]),
  ) as ArgValues;
  const tokens = (parsed.tokens ?? []).map((t) =>
    t.kind === 'option' && t.value !== undefined ? { ...t, value: back(t.value) } : t,
  );
  refuseRepeats(tokens, spec);
  return { values, positionals: parsed.positionals.map(back) };
}

/**
 * How many positional arguments a command takes, read from its usage line: the words between its
 * name and its first option (`ID`, `[DIR]`); a word ending in `...` takes any number. main refuses
 * more, so `adapters rm 1 2` cannot remove adapter 1 and pass over 2 in silence.
 */
export function positionalLimit(usage: string, name: string): number {
  let n = 0;
  for (const word of usage.slice(name.length).trim().split(/\s+/)) {
    if (!word || word.startsWith('-') || word.startsWith('[-') || word === '|') break;
    if (word.endsWith('...')) return Number.POSITIVE_INFINITY;
    n++;
  }
  return n;
}

/** A positive integer id from a positional argument. */
export function parseId(value: string | undefined, what = 'ID'): number {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw badValue(what, 'a positive integer', value);
  }
  return Number(value);
}

export function str(values: ArgValues, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * --positions (f1+l1, l3), its form checked: a malformed one is bad usage, said before a model is
 * loaded or the library opened (whether it fits a prompt is known only later).
 */
export function positionsFlag(values: ArgValues): string | undefined {
  const v = str(values, 'positions');
  if (v !== undefined) checkArgument(() => checkPositionsSyntax(v));
  return v;
}

export function int(values: ArgValues, key: string): number | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw badValue(`--${key}`, 'an integer', v);
  return Number(v);
}

/** An integer option that must pass `ok` (`rule` says how in the refusal); undefined when not given. */
function intWhere(
  values: ArgValues,
  key: string,
  ok: (n: number) => boolean,
  rule: string,
): number | undefined {
  const v = str(values, key);
  const n = int(values, key);
  if (n !== undefined && !ok(n)) throw badValue(`--${key}`, `an integer ${rule}`, v);
  return n;
}

/** An integer option that must be at least `min` (a count, a limit); undefined when not given. */
export function intAtLeast(values: ArgValues, key: string, min: number): number | undefined {
  return intWhere(values, key, (n) => n >= min, `≥ ${min}`);
}

/** An integer option from `min` to `max` (a port); undefined when not given. */
export function intBetween(values: ArgValues, key: string, min: number, max: number): number | undefined {
  return intWhere(values, key, (n) => n >= min && n <= max, `from ${min} to ${max}`);
}
