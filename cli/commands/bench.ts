// `reft-studio bench train|prefill|decode`: speed of the engine on the anchor workloads (cli.md,
// ../shared/docs/anchors.md). Prints {"tokens_per_s", "step_ms", "peak_rss_mb", "device"}; each
// bench runs in a fresh process so peak RSS is its own. --json stays exactly one object on stdout
// (external tools parse it); progress goes to stderr as a bar or lines, like every long command.

import {
  type BenchProgress,
  benchDecode,
  benchPrefill,
  benchTrain,
} from '../../native-runtime/bench/bench.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { resolveModelDir } from '../../native-runtime/models/model-folder.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { type OptionSpec, str, UsageError } from '../args.ts';
import type { Command, CommandContext } from '../command.ts';

const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'];

function num(ctx: CommandContext, key: string): number | undefined {
  const v = str(ctx.values, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`bench: --${key} must be a positive integer, got "${v}"`);
  return n;
}

function setup(ctx: CommandContext) {
  const model = str(ctx.values, 'model');
  if (!model) throw new UsageError('bench: --model DIR is required');
  const device = (str(ctx.values, 'device') ?? 'cpu') as DeviceChoice;
  if (!DEVICES.includes(device)) throw new UsageError(`bench: --device must be one of ${DEVICES.join(', ')}`);
  return { spec: loadModelSpec(resolveModelDir(model)), device };
}

/** A count task for the bench's steps (or tokens), started on the first report. */
function steps(ctx: CommandContext, label: string, unit: string): { onStep: BenchProgress; done(): void } {
  let task: ReturnType<CommandContext['progress']['count']> | null = null;
  return {
    onStep(done, total) {
      task ??= ctx.progress.count({ label, unit, total });
      task.update(done, total);
    },
    done: () => task?.done(),
  };
}

function show(ctx: CommandContext, what: string, r: Record<string, unknown>): number {
  ctx.print(
    r,
    () =>
      `${what}: ${Number(r.tokens_per_s).toFixed(1)} tok/s, ${Number(r.step_ms).toFixed(1)} ms/step, peak RSS ${r.peak_rss_mb} MB on ${r.device}`,
  );
  return 0;
}

const base = {
  model: { type: 'string', description: 'the model folder' },
  device: { type: 'string', description: 'cpu (default), cuda, webgpu, dml, coreml or auto' },
  steps: { type: 'string', description: 'timed steps after one untimed warm-up (default 3)' },
} as const satisfies OptionSpec;

export const benchCommands: Command[] = [
  {
    name: 'bench train',
    summary: 'LoReFT training tokens/s (random data, AdamW, one warm-up step)',
    usage:
      'bench train --model DIR [--layers all] [--positions f5+l5] [--rank 4] [--batch 4] [--seq 128] [--prompt 64] [--steps 3] [--device cpu]',
    options: {
      ...base,
      layers: { type: 'string', description: 'intervened layers: all (default) or a list like 2;10;18' },
      positions: { type: 'string', description: 'intervention positions (default f5+l5)' },
      rank: { type: 'string', description: 'LoReFT rank (default 4)' },
      batch: { type: 'string', description: 'sequences per step (default 4)' },
      seq: { type: 'string', description: 'tokens per sequence (default 128)' },
      prompt: { type: 'string', description: 'prompt tokens; labels on the rest (default 64)' },
    },
    examples: [
      'bench train --model ./SmolLM2-135M --json',
      'bench train --model ./llama --layers "2;10" --rank 8 --steps 5',
    ],
    async run(ctx) {
      const { spec, device } = setup(ctx);
      const seq = num(ctx, 'seq') ?? 128,
        prompt = num(ctx, 'prompt') ?? 64;
      if (prompt >= seq)
        throw new UsageError(`bench train: --prompt (${prompt}) must be smaller than --seq (${seq})`);
      const p = steps(ctx, 'bench train', 'steps');
      const r = await benchTrain(spec, {
        onStep: p.onStep,
        layers: str(ctx.values, 'layers'),
        positions: str(ctx.values, 'positions'),
        rank: num(ctx, 'rank'),
        batch: num(ctx, 'batch'),
        seq,
        prompt,
        steps: num(ctx, 'steps'),
        device,
      });
      p.done();
      return show(ctx, 'train', r);
    },
  },
  {
    name: 'bench prefill',
    summary: 'Forward pass tokens/s over batch × seq tokens, logits computed',
    usage: 'bench prefill --model DIR [--batch 4] [--seq 128] [--steps 3] [--device cpu]',
    options: {
      ...base,
      batch: { type: 'string', description: 'sequences per pass (default 4)' },
      seq: { type: 'string', description: 'tokens per sequence (default 128)' },
    },
    examples: ['bench prefill --model ./SmolLM2-135M --batch 4 --seq 128 --json'],
    async run(ctx) {
      const { spec, device } = setup(ctx);
      const p = steps(ctx, 'bench prefill', 'steps');
      const r = await benchPrefill(spec, {
        batch: num(ctx, 'batch'),
        seq: num(ctx, 'seq'),
        steps: num(ctx, 'steps'),
        device,
        onStep: p.onStep,
      });
      p.done();
      return show(ctx, 'prefill', r);
    },
  },
  {
    name: 'bench decode',
    summary: 'Greedy decoding tokens/s at batch 1 with the KV cache',
    usage: 'bench decode --model DIR [--prompt 32] [--new-tokens 64] [--device cpu]',
    options: {
      ...base,
      steps: { type: 'string', description: 'accepted for symmetry; decode times every new token' },
      prompt: { type: 'string', description: 'prompt tokens (default 32)' },
      'new-tokens': { type: 'string', description: 'tokens to generate (default 64)' },
    },
    examples: ['bench decode --model ./SmolLM2-135M --new-tokens 64 --json'],
    async run(ctx) {
      const { spec, device } = setup(ctx);
      const p = steps(ctx, 'bench decode', 'tokens');
      const r = await benchDecode(spec, {
        prompt: num(ctx, 'prompt'),
        newTokens: num(ctx, 'new-tokens'),
        device,
        onStep: p.onStep,
      });
      p.done();
      return show(ctx, 'decode', r);
    },
  },
];
