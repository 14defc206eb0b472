// `reft-studio generate --model DIR [--adapter DIR] --prompt STR [--chat] ...`: text from a model,
// optionally with a ReFT adapter (studio or pyreft folder). Streams text to stdout as it comes;
// with --json prints one object at the end instead.

import { ModelRunner } from '../../native-runtime/evaluation/runner.ts';
import { schemeName } from '../../native-runtime/quantize/scheme.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { str, UsageError } from '../args.ts';
import { QUANTIZE_OPTION, quantizeFlag } from '../base-form.ts';
import type { Command } from '../command.ts';

function num(v: string | undefined, name: string, check: (n: number) => boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`generate: invalid --${name} "${v}"`);
  return n;
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'Generate text with a model, optionally through a ReFT adapter',
  usage:
    'generate --model DIR [--adapter DIR] --prompt STR [--chat] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--repetition-penalty X] [--seed S] [--greedy] [--stop STR] [--positions f1+l1] [--force-base] [--device cpu] [--quantize none|int8|int4]',
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    prompt: { type: 'string' },
    chat: { type: 'boolean' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    'repetition-penalty': { type: 'string' },
    seed: { type: 'string' },
    greedy: { type: 'boolean' },
    stop: { type: 'string', multiple: true },
    positions: { type: 'string' },
    'force-base': { type: 'boolean' },
    device: { type: 'string' },
    ...QUANTIZE_OPTION,
  },
  async run(ctx) {
    const v = ctx.values;
    const model = str(v, 'model');
    const prompt = str(v, 'prompt');
    if (!model) throw new UsageError('generate: --model DIR is required');
    if (prompt === undefined) throw new UsageError('generate: --prompt STR is required');
    const adapter = str(v, 'adapter');
    const runner = await ModelRunner.load(model, adapter ?? null, {
      positions: str(v, 'positions'),
      device: (str(v, 'device') ?? 'cpu') as DeviceChoice,
      forceBase: v['force-base'] === true,
      quantize: schemeName(quantizeFlag(v)),
      dataDir: ctx.dataDir,
      onNotice: (m) => process.stderr.write(`${m}\n`),
    });
    const stream = !ctx.json;
    const [r] = await runner.generate([prompt], {
      // --chat forces the chat template; otherwise an adapter gets its prompts as it was trained.
      chat: v.chat === true ? true : adapter ? 'auto' : false,
      maxNewTokens:
        num(str(v, 'max-new-tokens'), 'max-new-tokens', (n) => Number.isInteger(n) && n >= 1) ?? 128,
      temperature: num(str(v, 'temperature'), 'temperature', (n) => n >= 0),
      topP: num(str(v, 'top-p'), 'top-p', (n) => n > 0 && n <= 1),
      topK: num(str(v, 'top-k'), 'top-k', (n) => Number.isInteger(n) && n >= 0),
      repetitionPenalty: num(str(v, 'repetition-penalty'), 'repetition-penalty', (n) => n > 0),
      seed: num(str(v, 'seed'), 'seed', Number.isInteger) ?? 0,
      greedy: v.greedy === true,
      stop: Array.isArray(v.stop) ? (v.stop as string[]) : undefined,
      onText: stream ? (_row, t) => process.stdout.write(t) : undefined,
    });
    if (stream) process.stdout.write('\n');
    else
      ctx.print(
        {
          text: r.text,
          tokens: r.ids,
          promptTokens: r.promptTokens,
          finishReason: r.finishReason,
          adapter: adapter ?? null,
        },
        () => r.text,
      );
    return 0;
  },
};
