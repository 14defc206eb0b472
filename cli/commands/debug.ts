// `reft-studio debug forward|grad|train`: parity with pyreft on a batch in pyreft's layout (cli.md).
// Outputs are safetensors files; --json prints a summary object. The work is in
// native-runtime/training/parity.ts, shared with the golden tests.

import { resolve } from 'node:path';
import { type TensorToWrite, writeSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { debugForward, debugGrad, debugTrain } from '../../native-runtime/training/parity.ts';
import { badValue, type OptionSpec, str, UsageError } from '../args.ts';
import { conversionProgress, QUANTIZE_OPTION, quantizeFlag } from '../base-form.ts';
import type { Command, CommandContext } from '../command.ts';
import { modelFolderFlag } from '../model-flag.ts';

const common = {
  model: { type: 'string', description: 'the model folder' },
  adapter: { type: 'string', value: 'PYREFT_DIR', description: 'a pyreft adapter folder' },
  batch: {
    type: 'string',
    value: 'IN.safetensors',
    description: 'input_ids, attention_mask, optional labels and intervention_locations (pyreft layout)',
  },
  out: { type: 'string', value: 'OUT.safetensors', description: 'where to write the result tensors' },
} as const satisfies OptionSpec;

/** A required flag's value. Every one is read before any work: a missing --out is not found after it. */
function need(ctx: CommandContext, key: string, cmd: string): string {
  const v = str(ctx.values, key);
  if (v === undefined) throw new UsageError(`debug ${cmd}: --${key} is required`);
  return v;
}

/**
 * --model's spec: a model folder, or a Hugging Face cache repo folder (its snapshot, how it was
 * chosen said on stderr as the other commands say it; stdout stays the parity output).
 */
const modelSpec = (ctx: CommandContext, dir: string) => loadModelSpec(modelFolderFlag(ctx, dir));

function finish(ctx: CommandContext, out: string, tensors: Record<string, TensorToWrite>): number {
  writeSafetensors(resolve(out), tensors);
  const summary: Record<string, unknown> = { out: resolve(out), tensors: Object.keys(tensors).length };
  if (tensors.loss) summary.loss = (tensors.loss.data as Float32Array)[0];
  if (tensors.losses) summary.losses = Array.from(tensors.losses.data as Float32Array);
  ctx.print(
    summary,
    () =>
      `wrote ${Object.keys(tensors).length} tensors to ${resolve(out)}${summary.loss !== undefined ? ` (loss ${summary.loss})` : ''}`,
  );
  return 0;
}

export const debugCommands: Command[] = [
  {
    name: 'debug forward',
    summary: 'logits (and loss) of the model, optionally with a pyreft adapter, on a pyreft-layout batch',
    usage:
      'debug forward --model DIR [--adapter PYREFT_DIR] --batch IN.safetensors --out OUT.safetensors [--quantize none|int8|int4]',
    options: { ...common, ...QUANTIZE_OPTION },
    examples: [
      'debug forward --model ./llama --adapter ./pyreft-adapter --batch in.safetensors --out out.safetensors',
    ],
    async run(ctx) {
      const scheme = quantizeFlag(ctx.values, 'debug forward');
      const dir = need(ctx, 'model', 'forward');
      const batch = need(ctx, 'batch', 'forward');
      const out = need(ctx, 'out', 'forward');
      // The base is converted only after the batch passed its checks (parity.ts).
      const t = await debugForward(modelSpec(ctx, dir), str(ctx.values, 'adapter'), batch, {
        prepare: scheme
          ? (spec) =>
              prepareBase(spec, scheme, {
                dataDir: ctx.dataDir,
                onProgress: conversionProgress(ctx.progress),
              })
          : undefined,
      });
      return finish(ctx, out, t);
    },
  },
  {
    name: 'debug grad',
    summary: 'loss and the gradient of every intervention parameter (R itself for rotate_layer)',
    usage: 'debug grad --model DIR --adapter PYREFT_DIR --batch IN.safetensors --out OUT.safetensors',
    options: common,
    examples: [
      'debug grad --model ./llama --adapter ./pyreft-adapter --batch in.safetensors --out grads.safetensors',
    ],
    async run(ctx) {
      const [model, adapter, batch, out] = ['model', 'adapter', 'batch', 'out'].map((k) =>
        need(ctx, k, 'grad'),
      );
      return finish(ctx, out, await debugGrad(modelSpec(ctx, model), adapter, batch));
    },
  },
  {
    name: 'debug train',
    summary: 'N AdamW steps on one batch (constant lr, no weight decay); losses and final parameters',
    usage:
      'debug train --model DIR --adapter PYREFT_DIR --batch IN.safetensors --steps N --lr X --out OUT.safetensors',
    options: {
      ...common,
      steps: { type: 'string', description: 'number of AdamW steps' },
      lr: { type: 'string', description: 'learning rate (constant)' },
    },
    examples: [
      'debug train --model ./llama --adapter ./pyreft-adapter --batch in.safetensors --steps 5 --lr 0.01 --out trained.safetensors',
    ],
    async run(ctx) {
      const [model, adapter, batch, out] = ['model', 'adapter', 'batch', 'out'].map((k) =>
        need(ctx, k, 'train'),
      );
      const steps = Number(need(ctx, 'steps', 'train'));
      const lr = Number(need(ctx, 'lr', 'train'));
      if (!Number.isSafeInteger(steps) || steps < 1)
        throw badValue('debug train: --steps', 'a positive integer', ctx.values.steps);
      // Infinity (or 1e999) passes "> 0" and would train to NaN losses.
      if (!(lr > 0 && Number.isFinite(lr)))
        throw badValue('debug train: --lr', 'a positive number', ctx.values.lr);
      return finish(ctx, out, await debugTrain(modelSpec(ctx, model), adapter, batch, steps, lr));
    },
  },
];
