// `reft-studio bench train|prefill|decode`: speed of the engine on the anchor workloads (cli.md,
// ../shared/docs/anchors.md). Prints {"tokens_per_s", "step_ms", "peak_rss_mb", "device"}; each
// bench runs in a fresh process so peak RSS is its own.

import { benchDecode, benchPrefill, benchTrain } from '../../native-runtime/bench/bench.ts';
import {
  buildSynthetic,
  SYNTHETIC_MODELS,
  type SyntheticName,
} from '../../native-runtime/bench/synthetic.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { resolveModelDir } from '../../native-runtime/models/model-folder.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { schemeName } from '../../native-runtime/quantize/scheme.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { str, UsageError } from '../args.ts';
import { conversionProgress, QUANTIZE_OPTION, quantizeFlag } from '../base-form.ts';
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

interface Setup {
  spec: ModelSpec;
  device: DeviceChoice;
  /** Echoed in the JSON: the model's form and, for synthetic models, their name. */
  extra: Record<string, unknown>;
  dispose(): void;
}

/** The model to measure: a folder (--model) or a synthetic shape (--synthetic), in --quantize form. */
async function setup(ctx: CommandContext): Promise<Setup> {
  const model = str(ctx.values, 'model');
  const synthetic = str(ctx.values, 'synthetic');
  if (!model === !synthetic)
    throw new UsageError(
      `bench: give exactly one of --model DIR and --synthetic ${SYNTHETIC_MODELS.join('|')}`,
    );
  const device = (str(ctx.values, 'device') ?? 'cpu') as DeviceChoice;
  if (!DEVICES.includes(device)) throw new UsageError(`bench: --device must be one of ${DEVICES.join(', ')}`);
  const scheme = quantizeFlag(ctx.values);
  const onProgress = conversionProgress();
  if (synthetic) {
    if (!(SYNTHETIC_MODELS as readonly string[]).includes(synthetic))
      throw new UsageError(
        `bench: --synthetic must be one of ${SYNTHETIC_MODELS.join(', ')}, got "${synthetic}"`,
      );
    const m = await buildSynthetic(synthetic as SyntheticName, {
      dataDir: ctx.dataDir,
      scheme,
      device,
      onProgress,
    });
    return {
      spec: m.spec,
      device,
      extra: { synthetic, quantize: schemeName(scheme), base_form: m.spec.base?.form },
      dispose: m.dispose,
    };
  }
  const spec = await prepareBase(loadModelSpec(resolveModelDir(model as string)), scheme, {
    dataDir: ctx.dataDir,
    device,
    onProgress,
  });
  return {
    spec,
    device,
    extra: { quantize: schemeName(scheme), base_form: spec.base?.form },
    dispose: () => {},
  };
}

function show(ctx: CommandContext, what: string, r: Record<string, unknown>): number {
  ctx.print(
    r,
    () =>
      `${what}: ${Number(r.tokens_per_s).toFixed(1)} tok/s, ${Number(r.step_ms).toFixed(1)} ms/step, peak RSS ${r.peak_rss_mb} MB on ${r.device}${r.base_form ? ` (${r.base_form})` : ''}`,
  );
  return 0;
}

/** Runs one measurement on the prepared model; a synthetic model's folder is deleted afterwards. */
async function measure(
  ctx: CommandContext,
  what: string,
  fn: (spec: ModelSpec, device: DeviceChoice) => Promise<Record<string, unknown>>,
): Promise<number> {
  const s = await setup(ctx);
  try {
    return show(ctx, what, { ...(await fn(s.spec, s.device)), ...s.extra });
  } finally {
    s.dispose();
  }
}

const base = {
  model: { type: 'string' },
  synthetic: { type: 'string' },
  device: { type: 'string' },
  steps: { type: 'string' },
  ...QUANTIZE_OPTION,
} as const;
const SOURCE = `--model DIR|--synthetic ${SYNTHETIC_MODELS.join('|')} [--quantize none|int8|int4]`;

export const benchCommands: Command[] = [
  {
    name: 'bench train',
    summary: 'LoReFT training tokens/s (random data, AdamW, one warm-up step)',
    usage: `bench train ${SOURCE} [--layers all] [--positions f5+l5] [--rank 4] [--batch 4] [--seq 128] [--prompt 64] [--steps 3] [--device cpu]`,
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
      const seq = num(ctx, 'seq') ?? 128,
        prompt = num(ctx, 'prompt') ?? 64;
      if (prompt >= seq)
        throw new UsageError(`bench train: --prompt (${prompt}) must be smaller than --seq (${seq})`);
      return measure(ctx, 'train', (spec, device) =>
        benchTrain(spec, {
          layers: str(ctx.values, 'layers'),
          positions: str(ctx.values, 'positions'),
          rank: num(ctx, 'rank'),
          batch: num(ctx, 'batch'),
          seq,
          prompt,
          steps: num(ctx, 'steps'),
          device,
        }),
      );
    },
  },
  {
    name: 'bench prefill',
    summary: 'Forward pass tokens/s over batch × seq tokens, logits computed',
    usage: `bench prefill ${SOURCE} [--batch 4] [--seq 128] [--steps 3] [--device cpu]`,
    options: { ...base, batch: { type: 'string' }, seq: { type: 'string' } },
    async run(ctx) {
      return measure(ctx, 'prefill', (spec, device) =>
        benchPrefill(spec, {
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
    usage: `bench decode ${SOURCE} [--prompt 32] [--new-tokens 64] [--device cpu]`,
    options: { ...base, prompt: { type: 'string' }, 'new-tokens': { type: 'string' } },
    async run(ctx) {
      return measure(ctx, 'decode', (spec, device) =>
        benchDecode(spec, { prompt: num(ctx, 'prompt'), newTokens: num(ctx, 'new-tokens'), device }),
      );
    },
  },
];
