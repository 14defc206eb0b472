// `reft-studio generate --model DIR [--adapter DIR] --prompt STR [--chat] ...`: text from a model,
// optionally with a ReFT adapter (studio or pyreft folder). Streams text to stdout as it comes;
// with --json prints one object at the end instead.

import { type GenerateTextOptions, ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { str, UsageError } from '../args.ts';
import { BASE_FORM_OPTION, baseFormFlag, DTYPE_OPTION, deviceFlag, dtypeFlag } from '../base-form.ts';
import type { Command } from '../command.ts';

/** A sampling flag's number, checked; `takes` says what it takes when it does not fit. */
function num(
  v: string | undefined,
  name: string,
  check: (n: number) => boolean,
  takes: string,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new UsageError(`generate: --${name} takes ${takes} (got "${v}")`);
  return n;
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text with a model, optionally through a ReFT adapter',
  usage:
    'generate --model DIR [--adapter DIR] --prompt STR [--chat] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--repetition-penalty X] [--seed S] [--greedy] [--stop STR] [--positions f1+l1] [--force-base] [--device cpu] [--quantize auto|none|int8|int4] [--dtype auto|fp32|fp16|bf16]',
  options: {
    model: { type: 'string', description: 'the model folder' },
    adapter: { type: 'string', description: 'a ReFT adapter folder (studio or pyreft) to apply' },
    prompt: { type: 'string', description: 'the prompt text' },
    chat: { type: 'boolean', description: "wrap the prompt in the model's chat template" },
    'max-new-tokens': { type: 'string', description: 'stop after N new tokens (default 128)' },
    temperature: { type: 'string', description: 'sampling temperature (0 = greedy)' },
    'top-p': { type: 'string', description: 'nucleus sampling: keep the top tokens up to probability P' },
    'top-k': { type: 'string', description: 'keep only the K most likely tokens (0 = all)' },
    'repetition-penalty': { type: 'string', description: 'penalise tokens already generated (1 = off)' },
    seed: { type: 'string', description: 'random seed for sampling (default 0)' },
    greedy: { type: 'boolean', description: 'always take the most likely token' },
    stop: { type: 'string', multiple: true, description: 'stop at this text (repeat for several)' },
    positions: {
      type: 'string',
      description: "the adapter's intervention positions when its folder does not record them",
    },
    'force-base': {
      type: 'boolean',
      description: 'apply an adapter trained for another base model of the same shape',
    },
    device: { type: 'string', description: 'cpu (default), cuda, webgpu, dml, coreml or auto' },
    ...BASE_FORM_OPTION,
    ...DTYPE_OPTION,
  },
  examples: [
    'generate --model ./SmolLM2-135M --prompt "Once upon a time" --greedy',
    'generate --model ./Qwen2.5-0.5B-Instruct --adapter ./pirate --prompt "Who are you?" --chat',
  ],
  async run(ctx) {
    const v = ctx.values;
    const model = str(v, 'model');
    const prompt = str(v, 'prompt');
    if (!model) throw new UsageError('generate: --model DIR is required');
    if (prompt === undefined) throw new UsageError('generate: --prompt STR is required');
    const adapter = str(v, 'adapter');
    const stream = !ctx.json;
    // The sampling flags are read first: a bad value fails before the model is loaded.
    const opts: GenerateTextOptions = {
      // --chat forces the chat template; otherwise an adapter gets its prompts as it was trained.
      chat: v.chat === true ? true : adapter ? 'auto' : false,
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
      seed: num(str(v, 'seed'), 'seed', Number.isInteger, 'a whole number') ?? 0,
      greedy: v.greedy === true,
      stop: Array.isArray(v.stop) ? (v.stop as string[]) : undefined,
      onText: stream ? (_row, t) => process.stdout.write(t) : undefined,
    };
    const runner = await ModelRunner.load(model, adapter ?? null, {
      positions: str(v, 'positions'),
      device: deviceFlag(v, 'generate'),
      forceBase: v['force-base'] === true,
      quantize: baseFormFlag(v, 'generate'),
      dtype: dtypeFlag(v, 'generate'),
      dataDir: ctx.dataDir,
      onNotice: (m) => ctx.progress.log(m),
    });
    const [r] = await runner.generate([prompt], opts);
    if (stream) process.stdout.write('\n');
    else
      ctx.print(
        {
          text: r.text,
          tokens: r.ids,
          promptTokens: r.promptTokens,
          finishReason: r.finishReason,
          adapter: adapter ?? null,
          // Where and how it decoded, and how fast (the first new token comes from the prompt pass).
          ...runner.decoding(1, opts),
          decodeTokensPerSecond: r.decodeMs ? ((r.tokens - 1) * 1000) / r.decodeMs : null,
        },
        () => r.text,
      );
    return 0;
  },
};
