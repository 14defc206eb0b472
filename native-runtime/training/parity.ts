// The `reft-studio debug` commands: forward, gradients and short training runs on a batch in pyreft's
// layout (cli.md), for checking the engine against pyreft's golden numbers. Tensor names in the
// outputs follow pyreft's state dicts (`weight`, `bias` for LoReFT; `learned_source.*`, `proj_layer.*`
// for the others) and `rotate_layer` for R itself.

import { ConfigError } from '../errors.ts';
import { readPyreftFolder } from '../formats/pyreft.ts';
import { loadSafetensors, type TensorToWrite } from '../formats/safetensors.ts';
import { isUnusedParam } from '../interventions/kinds.ts';
import { loadModelSpec, type ModelSpec } from '../models/config.ts';
import { type ReftBatch, ReftModel, statesFromPyreft } from './reft-model.ts';
import { ReftOptimizer } from './reft-optimizer.ts';

/**
 * A batch file in pyreft's layout (cli.md), checked before ORT sees it: shapes, dtypes, token ids
 * within the model's `vocabSize` rows and intervention positions within the row, each refused with
 * one line naming the tensor (not ORT's Gather error, a wrong-sized tensor, or — for a position
 * past the row — an intervention silently left out, where pyreft fails).
 */
export function readParityBatch(path: string, numInterventions: number, vocabSize?: number): ReftBatch {
  const t = loadSafetensors(path);
  const need = (n: string) => {
    const x = t.get(n);
    if (!x) throw new ConfigError('missing-tensor', `${path}: no '${n}' tensor`);
    if (x.dtype !== 'I64') throw new ConfigError('bad-dtype', `${path}: '${n}' must be int64, is ${x.dtype}`);
    return x;
  };
  const outside = (n: string, d: BigInt64Array, lo: number, hi: number, what: string) => {
    const bad = d.find((x) => x < lo || x >= hi);
    if (bad !== undefined)
      throw new ConfigError('bad-value', `${path}: '${n}' holds ${bad}, outside ${what} [${lo}, ${hi - 1}]`);
  };
  const ids = need('input_ids');
  if (ids.shape.length !== 2 || ids.shape.includes(0))
    throw new ConfigError('bad-shape', `${path}: input_ids [${ids.shape}] must be [batch, tokens]`);
  const [B, T] = ids.shape;
  if (vocabSize !== undefined)
    outside('input_ids', ids.data as BigInt64Array, 0, vocabSize, "the model's vocabulary");
  const mask = need('attention_mask');
  if (mask.shape.join() !== ids.shape.join())
    throw new ConfigError('bad-shape', `${path}: attention_mask [${mask.shape}] ≠ input_ids [${ids.shape}]`);
  let labels: BigInt64Array | undefined;
  if (t.has('labels')) {
    const l = need('labels');
    if (l.shape.join() !== ids.shape.join())
      throw new ConfigError('bad-shape', `${path}: labels [${l.shape}] ≠ input_ids [${ids.shape}]`);
    labels = l.data as BigInt64Array;
    if (vocabSize !== undefined)
      for (const x of labels)
        if (x !== -100n && (x < 0n || x >= BigInt(vocabSize)))
          throw new ConfigError(
            'bad-value',
            `${path}: 'labels' holds ${x}, neither -100 nor in the model's vocabulary [0, ${vocabSize - 1}]`,
          );
  }
  const locations: ReftBatch['locations'] = [];
  // Positions with nothing to place there: the logits would be the base model's, not what was meant.
  if (numInterventions === 0 && t.has('intervention_locations'))
    throw new ConfigError(
      'no-adapter',
      `${path}: 'intervention_locations' given but no adapter to place: add --adapter PYREFT_DIR, or leave the tensor out for the base model's logits`,
    );
  if (numInterventions > 0) {
    const l = need('intervention_locations');
    const [lb, ni, P] = l.shape;
    if (l.shape.length !== 3 || lb !== B || ni !== numInterventions) {
      throw new ConfigError(
        'bad-shape',
        `${path}: intervention_locations [${l.shape}] must be [${B}, ${numInterventions}, P] for this adapter`,
      );
    }
    const d = l.data as BigInt64Array;
    outside('intervention_locations', d, 0, T, 'the positions of a row');
    for (let j = 0; j < ni; j++) {
      const out = new BigInt64Array(B * P);
      for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) out[b * P + p] = d[(b * ni + j) * P + p];
      locations.push({ data: out, P });
    }
  }
  return {
    inputIds: ids.data as BigInt64Array,
    attentionMask: mask.data as BigInt64Array,
    labels,
    dims: [B, T],
    locations,
  };
}

/** A model folder, or a spec already prepared in some base form (quantize/base.ts). */
export type ParityModel = string | ModelSpec;

export interface ParityOptions {
  /** Puts the base in another form (the CLI's --quantize): called once the batch has been checked. */
  prepare?: (spec: ModelSpec) => Promise<ModelSpec>;
}

/**
 * The session of a debug command and its batch. The batch is read and checked against the model and
 * the adapter first: a file that does not fit is refused before the weights are converted or loaded
 * (minutes for a large model), not after.
 */
async function open(
  model: ParityModel,
  adapterDir: string | undefined,
  batchPath: string,
  o: ParityOptions & { labelsFor?: string } = {},
): Promise<{ m: ReftModel; batch: ReftBatch }> {
  const spec = typeof model === 'string' ? loadModelSpec(model) : model;
  const states = adapterDir ? statesFromPyreft(readPyreftFolder(adapterDir)) : [];
  const batch = readParityBatch(batchPath, states.length, spec.vocabSize);
  if (o.labelsFor && !batch.labels)
    throw new ConfigError('missing-labels', `${batchPath}: debug ${o.labelsFor} needs a labels tensor`);
  return { m: await ReftModel.load(o.prepare ? await o.prepare(spec) : spec, states), batch };
}

export async function debugForward(
  modelDir: ParityModel,
  adapterDir: string | undefined,
  batchPath: string,
  o: ParityOptions = {},
): Promise<Record<string, TensorToWrite>> {
  const { m, batch } = await open(modelDir, adapterDir, batchPath, o);
  const r = await m.forward(batch);
  const out: Record<string, TensorToWrite> = {
    logits: { dtype: 'F32', shape: [...r.logits.dims], data: r.logits.data as Float32Array },
  };
  if (batch.labels) out.loss = { dtype: 'F32', shape: [1], data: Float32Array.of(r.loss) };
  return out;
}

export async function debugGrad(
  modelDir: ParityModel,
  adapterDir: string,
  batchPath: string,
): Promise<Record<string, TensorToWrite>> {
  const { m, batch } = await open(modelDir, adapterDir, batchPath, { labelsFor: 'grad' });
  const r = await m.lossAndGrads(batch);
  const out: Record<string, TensorToWrite> = {
    loss: { dtype: 'F32', shape: [1], data: Float32Array.of(r.loss) },
  };
  m.states.forEach((s, j) => {
    for (const [name, g] of r.grads[j])
      if (!isUnusedParam(s.spec.type, name))
        out[`grad/${s.spec.key}/${name}`] = { dtype: 'F32', shape: s.params.get(name)!.shape, data: g };
    // dL/dX is comparable with pyreft only when X and its base came from the file (not for LoReFT).
    if (s.rot && s.rotFromFile) {
      out[`grad/${s.spec.key}/rotate_layer.parametrizations.weight.original`] = {
        dtype: 'F32',
        shape: [s.rot.n, s.rot.r],
        data: s.rot.backward(r.grads[j].get('rotate_layer')!),
      };
    }
  });
  return out;
}

export async function debugTrain(
  modelDir: ParityModel,
  adapterDir: string,
  batchPath: string,
  steps: number,
  lr: number,
): Promise<Record<string, TensorToWrite>> {
  if (!(steps >= 1)) throw new ConfigError('bad-steps', `--steps must be ≥ 1 (got ${steps})`);
  const { m, batch } = await open(modelDir, adapterDir, batchPath, { labelsFor: 'train' });
  const opt = new ReftOptimizer(m, { weightDecay: 0 });
  const losses = new Float32Array(steps + 1);
  for (let k = 0; k < steps; k++) {
    const r = await m.lossAndGrads(batch);
    losses[k] = r.loss;
    opt.accumulate(r.grads, 1);
    opt.step(lr);
  }
  losses[steps] = (await m.forward(batch)).loss;
  const out: Record<string, TensorToWrite> = { losses: { dtype: 'F32', shape: [steps + 1], data: losses } };
  m.states.forEach((s) => {
    // The names debug grad writes (cli.md): a tensor the forward never reads is never trained.
    for (const [name, p] of s.params)
      if (!isUnusedParam(s.spec.type, name))
        out[`final/${s.spec.key}/${name}`] = { dtype: 'F32', shape: p.shape, data: p.data };
    // As in debugGrad: X is pyreft's only where X and its base came from the file (not for LoReFT).
    if (s.rot && s.rotFromFile)
      out[`final/${s.spec.key}/rotate_layer.parametrizations.weight.original`] = {
        dtype: 'F32',
        shape: [s.rot.n, s.rot.r],
        data: s.rot.x,
      };
  });
  return out;
}
