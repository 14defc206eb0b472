// `reft-studio generate [--model DIR|ID] [--adapter DIR|ID [--scale X]]... --prompt STR [--chat] ...`: text
// from a model, optionally through a ReFT adapter (studio or pyreft folder) or several composed on one
// session as the Playground composes them (adapters/compose.ts: in the order given, each at its
// strength). Streams text to stdout as it comes; with --json prints one object at the end instead.
// An --adapter that is no folder but a library adapter's id (as `adapters list` shows it) is that
// adapter's folder, as `evaluate --adapter` and `export --adapter` take it; a name gets its id.

// A strength is its own repeatable flag, matched to the adapters by order, not a suffix of the folder
// (`DIR:X`): a folder's path may itself hold ':' (C:\adapters, ./run:2). As with the sampling flags,
// a strength has no upper bound here (the Playground's dial stops at 2).

import { existsSync, realpathSync } from 'node:fs';
import { listAdapters, resolveAdapterRef, resolveModelRef } from '../../electron/backend/library/adapters.ts';
import type { Library } from '../../electron/backend/library/library.ts';
import { visibleControls } from '../../native-runtime/control-characters.ts';
import { ConfigError, ValidationError } from '../../native-runtime/errors.ts';
import { defaultChat } from '../../native-runtime/evaluation/prompt-reader.ts';
import { type GenerateTextOptions, ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { plural } from '../../native-runtime/plural.ts';
import { type ArgValues, badValue, positionsFlag, str, UsageError } from '../args.ts';
import {
  BASE_FORM_OPTION,
  baseFormFlag,
  DEVICE_OPTION,
  DEVICE_VALUE,
  DTYPE_OPTION,
  deviceFlag,
  dtypeFlag,
  sessionNotices,
} from '../base-form.ts';
import { type Command, type CommandContext, nextCommand } from '../command.ts';
import { adapterBaseModel, modelFolderFlag, warnModelNote } from '../model-flag.ts';

/** A sampling flag's number, checked; `rule` says what it must be when it does not fit. */
function num(
  v: string | undefined,
  name: string,
  check: (n: number) => boolean,
  rule: string,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw badValue(`generate: --${name}`, rule, v);
  return n;
}

/** The repeated values of a `multiple` flag, in the order given. */
const all = (v: ArgValues, key: string): string[] => (Array.isArray(v[key]) ? (v[key] as string[]) : []);

/**
 * The --adapter folders with their --scale (undefined when no --scale is given), matched by order:
 * either no --scale or one per --adapter, so no strength is ever given to the wrong adapter; each
 * adapter once, and --positions or --force-base only with one.
 */
function adaptersWithScales(v: ArgValues): { dir: string; scale?: number }[] {
  const dirs = all(v, 'adapter');
  const scales = all(v, 'scale');
  if (scales.length && scales.length !== dirs.length)
    throw new UsageError(
      `generate: give one --scale per --adapter, in the same order (got ${dirs.length} --adapter and ${scales.length} --scale)`,
    );
  // Known from the words alone, before anything is read (two words for one folder: the engine's refusal).
  const twice = dirs.find((d, i) => dirs.indexOf(d) !== i);
  if (twice !== undefined)
    throw new UsageError(
      `generate: --adapter ${JSON.stringify(twice)} is given twice; give each adapter once (--scale sets its strength)`,
    );
  // An adapter's own flags with no adapter would be passed over in silence.
  if (!dirs.length)
    for (const flag of ['positions', 'force-base'])
      if (v[flag] !== undefined)
        throw new UsageError(`generate: --${flag} needs --adapter (it applies to an adapter)`);
  return dirs.map((dir, i) => ({ dir, scale: num(scales[i], 'scale', (n) => n >= 0, 'a number ≥ 0') }));
}

/**
 * The adapter an --adapter value names: a folder as given, else a library adapter by its id (a
 * folder of that name wins, as resolveAdapterRef decides for evaluate and export). A library
 * adapter's name is refused with its id, which is what --adapter takes.
 */
function adapterRef(lib: Library, ref: string, ctx: CommandContext): ReturnType<typeof resolveAdapterRef> {
  if (existsSync(ref) || /^\d+$/.test(ref)) return resolveAdapterRef(lib, ref);
  const ids = listAdapters(lib)
    .filter((a) => a.name === ref)
    .map((a) => `--adapter ${a.id}`);
  const why =
    ids.length === 0
      ? `is neither a folder nor a library adapter id (the ids: ${nextCommand(ctx.values, 'adapters', 'list')})`
      : ids.length === 1
        ? `is not a folder; the library adapter of that name is ${ids[0]}`
        : `is not a folder; ${ids.length} library adapters have that name: ${ids.join(', ')}`;
  throw new ValidationError('not-found', `--adapter: "${ref}" ${why}`);
}

/**
 * The model folder and each --adapter value's folder. The library is opened only where a value is
 * not a folder: a library id, or no --model at all, when the first adapter's base model (found by
 * its fingerprint, as evaluate finds it) is the model.
 */
async function modelAndAdapters(
  ctx: CommandContext,
  modelFlag: string | undefined,
  refs: string[],
): Promise<{ model: string; folders: string[] }> {
  const modelId = modelFlag !== undefined && /^\d+$/.test(modelFlag) && !existsSync(modelFlag);
  if (modelFlag !== undefined && !modelId && refs.every((r) => existsSync(r)))
    return { model: modelFolderFlag(ctx, modelFlag), folders: refs };
  return ctx.withLibrary((lib) => {
    const adapters = refs.map((r) => adapterRef(lib, r, ctx));
    let model: string;
    if (modelFlag === undefined)
      model = adapterBaseModel(lib, refs[0] as string, adapters[0] as Adapter).path;
    else if (modelId) {
      const m = resolveModelRef(lib, modelFlag);
      warnModelNote(ctx, m.note);
      model = m.path;
    } else model = modelFolderFlag(ctx, modelFlag);
    return { model, folders: adapters.map((a) => a.path) };
  });
}

type Adapter = ReturnType<typeof resolveAdapterRef>;

/**
 * Two --adapter words for one folder (`./a` and `a/`, a library id and its folder): the engine
 * compares the words, so it would compose that adapter twice. Refused once the folders are found.
 */
function refuseSameFolder(words: string[], folders: string[]): void {
  const seen = new Map<string, string>();
  folders.forEach((folder, i) => {
    const key = existsSync(folder) ? realpathSync(folder) : folder;
    const before = seen.get(key);
    if (before !== undefined)
      throw new ConfigError('duplicate-adapter', `adapter "${words[i]}" is given twice (as "${before}" too)`);
    seen.set(key, words[i] as string);
  });
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text with a model, optionally through a ReFT adapter',
  usage: `generate [--model DIR|ID] [--adapter DIR|ID [--scale X]]... --prompt STR [--chat] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--repetition-penalty X] [--seed S] [--greedy] [--stop STR] [--positions f1+l1] [--force-base] [--device ${DEVICE_VALUE}] [--quantize auto|none|int8|int4] [--dtype auto|fp32|fp16|bf16]`,
  options: {
    model: {
      type: 'string',
      description: "the model folder or library model id (default: a library --adapter's base model)",
    },
    adapter: {
      type: 'string',
      multiple: true,
      description:
        'a ReFT adapter folder (studio or pyreft) or a library adapter id to apply; repeat to compose several, in order',
    },
    scale: {
      type: 'string',
      multiple: true,
      description:
        "an adapter's strength, one per --adapter in the same order: 0 = the base model, 1 = as trained (default)",
    },
    prompt: { type: 'string', description: 'the prompt text' },
    chat: {
      type: 'boolean',
      description:
        "wrap the prompt in the model's chat template (default: as the adapters were trained, else not)",
    },
    'max-new-tokens': { type: 'string', description: 'stop after N new tokens (default 128)' },
    temperature: { type: 'string', description: 'sampling temperature (0 = greedy)' },
    'top-p': { type: 'string', description: 'nucleus sampling: keep the top tokens up to probability P' },
    'top-k': { type: 'string', description: 'keep only the K most likely tokens (0 = all)' },
    'repetition-penalty': { type: 'string', description: 'penalise tokens already generated (1 = off)' },
    seed: { type: 'string', description: 'random seed for sampling, 0 to 4294967295 (default 0)' },
    greedy: { type: 'boolean', description: 'always take the most likely token' },
    stop: { type: 'string', multiple: true, description: 'stop at this text (repeat for several)' },
    positions: {
      type: 'string',
      description:
        "the intervention positions of an adapter folder that does not record them (one --adapter: replaces the folder's own)",
    },
    'force-base': {
      type: 'boolean',
      description: 'apply an adapter trained for another base model of the same shape',
    },
    ...DEVICE_OPTION,
    ...BASE_FORM_OPTION,
    ...DTYPE_OPTION,
  },
  // A base converted first (--quantize) shows its progress; with --json as events.
  stream: true,
  examples: [
    'generate --model ./SmolLM2-135M --prompt "Once upon a time" --greedy',
    'generate --model ./Qwen2.5-0.5B-Instruct --adapter ./pirate --prompt "Who are you?" --chat',
    'generate --model ./Qwen2.5-0.5B-Instruct --adapter ./pirate --scale 1.5 --adapter ./terse --scale 0.5 --prompt "Who are you?"',
  ],
  async run(ctx) {
    const v = ctx.values;
    const modelFlag = str(v, 'model');
    const prompt = str(v, 'prompt');
    if (!modelFlag && !all(v, 'adapter').length)
      throw new UsageError(
        'generate: --model DIR|ID is required (or --adapter ID: a library adapter runs on its base model)',
      );
    if (prompt === undefined) throw new UsageError('generate: --prompt STR is required');
    const adapters = adaptersWithScales(v);
    // One adapter without --scale loads as it always has; a --scale or a second adapter composes.
    const composed = adapters.length > 1 || adapters.some((a) => a.scale !== undefined);
    const adapter = adapters[0]?.dir;
    const stream = !ctx.json;
    // The sampling flags are read first: a bad value fails before the model is loaded.
    const opts: GenerateTextOptions = {
      // --chat forces the chat template; otherwise an adapter gets its prompts as it was trained.
      chat: v.chat === true ? true : defaultChat(adapter !== undefined),
      maxNewTokens:
        num(
          str(v, 'max-new-tokens'),
          'max-new-tokens',
          (n) => Number.isInteger(n) && n >= 1,
          'a whole number ≥ 1',
        ) ?? 128,
      temperature: num(str(v, 'temperature'), 'temperature', (n) => n >= 0, 'a number ≥ 0'),
      topP: num(str(v, 'top-p'), 'top-p', (n) => n > 0 && n <= 1, 'a number above 0 and at most 1'),
      topK: num(str(v, 'top-k'), 'top-k', (n) => Number.isInteger(n) && n >= 0, 'a whole number ≥ 0'),
      repetitionPenalty: num(
        str(v, 'repetition-penalty'),
        'repetition-penalty',
        (n) => n > 0,
        'a number above 0',
      ),
      // The generator keeps 32 bits (sampling.ts mulberry32): -1 or 2^32 would silently be another seed.
      seed:
        num(
          str(v, 'seed'),
          'seed',
          (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
          'a whole number from 0 to 4294967295',
        ) ?? 0,
      greedy: v.greedy === true,
      stop: Array.isArray(v.stop) ? (v.stop as string[]) : undefined,
      // A model's text can hold control characters like any file's (terminal-text.ts).
      onText: stream ? (_row, t) => process.stdout.write(visibleControls(t)) : undefined,
    };
    const load = {
      positions: positionsFlag(v),
      device: deviceFlag(v, 'generate'),
      forceBase: v['force-base'] === true,
      quantize: baseFormFlag(v, 'generate'),
      dtype: dtypeFlag(v, 'generate'),
      dataDir: ctx.dataDir,
      chat: opts.chat,
      onNotice: sessionNotices(ctx.progress),
    };
    // After every flag is read: a usage error is said before the folder is looked at.
    const { model, folders } = await modelAndAdapters(
      ctx,
      modelFlag,
      adapters.map((a) => a.dir),
    );
    refuseSameFolder(
      adapters.map((a) => a.dir),
      folders,
    );
    // Each adapter is named as given (a folder or a library id), in messages and in the JSON.
    const opened = composed
      ? ModelRunner.openComposed(
          model,
          adapters.map((a, i) => ({ dir: folders[i], name: a.dir, scale: a.scale })),
          load,
        )
      : ModelRunner.open(model, folders[0] ?? null, load);
    // A prompt the model cannot read is refused before the base is converted or the session opens.
    opened.reader.request([prompt], opts);
    const runner = await opened.load();
    const [r] = await runner.generate([prompt], opts);
    if (stream) process.stdout.write('\n');
    else
      ctx.print(
        {
          text: r.text,
          tokens: r.ids,
          promptTokens: r.promptTokens,
          finishReason: r.finishReason,
          // Why `text` is empty though tokens came (ids past the tokenizer, special tokens), else null.
          emptyNote: r.emptyNote,
          adapter: adapter ?? null,
          ...(composed ? { adapters: adapters.map((a) => ({ dir: a.dir, scale: a.scale ?? 1 })) } : {}),
          // Where and how it decoded, and how fast (the first new token comes from the prompt pass).
          ...runner.decoding(1, opts),
          // Why `device` is not the one asked for (a fallback, told on stderr as it loaded), or null.
          deviceFallback: runner.deviceUsed.fallback,
          decodeTokensPerSecond: r.decodeMs ? ((r.tokens - 1) * 1000) / r.decodeMs : null,
        },
        () => r.text,
      );
    // Tokens but no text (ids past the tokenizer, special tokens): an empty line alone looks broken.
    if (r.emptyNote) ctx.progress.log(r.emptyNote, 'warn');
    // The answer is shorter than asked: say why (the JSON's finishReason says 'context').
    if (r.finishReason === 'context')
      ctx.progress.log(
        `stopped after ${plural(r.tokens, 'new token')}: the model's context holds ${runner.spec.maxPositions} tokens and the prompt has ${r.promptTokens}`,
      );
    return 0;
  },
};
