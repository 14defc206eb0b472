// `reft-studio bench train|prefill|decode`: speed of the engine on the anchor workloads (cli.md,
// ../shared/docs/anchors.md). Prints {"tokens_per_s", "step_ms", "peak_rss_mb", "device"}; each
// bench runs in a fresh process so peak RSS is its own.

import { benchDecode, benchPrefill, benchTrain } from '../../native-runtime/bench/bench.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { resolveModelDir } from '../../native-runtime/models/model-folder.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { str, UsageError } from '../args.ts';
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

function show(ctx: CommandContext, what: string, r: Record<string, unknown>): number {
  ctx.print(
    r,
    () =>
      `${what}: ${Number(r.tokens_per_s).toFixed(1)} tok/s, ${Number(r.step_ms).toFixed(1)} ms/step, peak RSS ${r.peak_rss_mb} MB on ${r.device}`,
  );
  return 0;
}

const base = { model: { type: 'string' }, device: { type: 'string' }, steps: { type: 'string' } } as const;

export const benchCommands: Command[] = [
  {
    name: 'bench train',
    summary: 'LoReFT training tokens/s (random data, AdamW, one warm-up step)',
    usage:
      'bench train --model DIR [--layers all] [--positions f5+l5] [--rank 4] [--batch 4] [--seq 128] [--prompt 64] [--steps 3] [--device cpu]',
    options: {
      ...base,
      layers: { type: 'string' },
      positions: { type: 'string' },
      rank: { type: 'string' },
      batch: { type: 'string' },
      seq: { type: 'string' },
      prompt: { type: 'string' },
    },
    async run(ctx) {
      const { spec, device } = setup(ctx);
      const seq = num(ctx, 'seq') ?? 128,
        prompt = num(ctx, 'prompt') ?? 64;
      if (prompt >= seq)
        throw new UsageError(`bench train: --prompt (${prompt}) must be smaller than --seq (${seq})`);
      const r = await benchTrain(spec, {
        layers: str(ctx.values, 'layers'),
        positions: str(ctx.values, 'positions'),
        rank: num(ctx, 'rank'),
        batch: num(ctx, 'batch'),
        seq,
        prompt,
        steps: num(ctx, 'steps'),
        device,
      });
      return show(ctx, 'train', r);
    },
  },
  {
    name: 'bench prefill',
    summary: 'Forward pass tokens/s over batch × seq tokens, logits computed',
    usage: 'bench prefill --model DIR [--batch 4] [--seq 128] [--steps 3] [--device cpu]',
    options: { ...base, batch: { type: 'string' }, seq: { type: 'string' } },
    async run(ctx) {
      const { spec, device } = setup(ctx);
      return show(
        ctx,
        'prefill',
        await benchPrefill(spec, {
          batch: num(ctx, 'batch'),
          seq: num(ctx, 'seq'),
          steps: num(ctx, 'steps'),
          device,
        }),
      );
    },
  },
  {
    name: 'bench decode',
    summary: 'Greedy decoding tokens/s at batch 1 with the KV cache',
    usage: 'bench decode --model DIR [--prompt 32] [--new-tokens 64] [--device cpu]',
    options: { ...base, prompt: { type: 'string' }, 'new-tokens': { type: 'string' } },
    async run(ctx) {
      const { spec, device } = setup(ctx);
      return show(
        ctx,
        'decode',
        await benchDecode(spec, { prompt: num(ctx, 'prompt'), newTokens: num(ctx, 'new-tokens'), device }),
      );
    },
  },
];
