// The one graph a ReFT model runs for training, evaluation and generation, so a process holds one
// copy of the weights (ORT cannot share initializers between sessions from JavaScript).
// The frozen model runs up to the final norm in the main graph, with interventions on the residual
// stream; two boolean inputs then pick a branch with If nodes:
//   train=true                   logits are not returned; loss and the gradients of every intervention
//                                parameter (the backward pass exists only in this branch, and only above
//                                the lowest intervened layer: autodiff walks no further)
//   train=false, last_only=false full logits (B, T, V) and the loss: debug forward, evaluation
//   train=false, last_only=true  logits of the last position (B, 1, V): generation
// KV-cache inputs/outputs are always present; training and evaluation feed an empty past.
// Inputs: input_ids, attention_mask, position_ids, past_key.i, past_value.i, labels (B, T) int64,
// train, last_only (bool scalars), iv{j}.loc (B, P) and iv{j}.<param> per intervention (+ iv{j}.dropout_mask).
// Outputs: logits, loss, present_key.i, present_value.i, grad.iv{j}.<param>.

import { buildBackward } from '../autodiff/backward.ts';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { interventionHook, interventionInputs } from '../interventions/graph.ts';
import type { InterventionSpec } from '../interventions/kinds.ts';
import type { ModelSpec } from '../models/config.ts';
import { buildDecoder, lmHead } from '../models/decoder.ts';
import { causalLmLoss } from './loss.ts';

export interface ReftGraph {
  graph: Graph;
  weightsDir: string;
  /** Names of the gradient outputs per intervention, by parameter name. */
  gradOutputs: Array<Map<string, string>>;
}

export function buildReftGraph(spec: ModelSpec, interventions: InterventionSpec[], opts: { dropout?: boolean } = {}): ReftGraph {
  const b = new GraphBuilder(`${spec.arch}-reft`);
  const ivs = interventionInputs(b, interventions, !!opts.dropout);
  const dg = buildDecoder(b, spec, {
    withCache: true,
    headless: true,
    afterBlock: interventions.length ? interventionHook(interventions, ivs) : undefined,
  });
  const labels = b.input('labels', 'int64', ['B', 'T']);
  const train = b.input('train', 'bool', []);
  const lastOnly = b.input('last_only', 'bool', []);
  const params: Value[] = ivs.flatMap((iv) => [...iv.params.values()]);
  const V = spec.vocabSize;
  const zeros = params.map((p) => b.const('float32', new Float32Array(p.shape.reduce<number>((a, d) => a * (d as number), 1)), p.shape as number[]));
  const zeroLoss = b.const('float32', [0], []);

  // Training branch: loss and gradients; an empty (B, 0, V) logits placeholder keeps outputs aligned.
  const bt = b.subgraph('train_branch');
  const logitsT = lmHead(bt, dg.finalHidden, dg.head, dg.batchSeq, V, false);
  const lossT = causalLmLoss(bt, logitsT, labels);
  const grads = buildBackward(bt, lossT, params);
  bt.output(bt.slice(logitsT, [0], [0], [1]), 'train_logits');
  bt.output(lossT, 'train_loss');
  params.forEach((p, k) => bt.output(grads.get(p)!, `train_grad_${k}`));

  // Evaluation: full logits and the loss.
  const be = b.subgraph('eval_branch');
  const logitsE = lmHead(be, dg.finalHidden, dg.head, dg.batchSeq, V, false);
  be.output(logitsE, 'eval_logits');
  be.output(causalLmLoss(be, logitsE, labels), 'eval_loss');
  zeros.forEach((z, k) => be.output(z, `eval_grad_${k}`));

  // Generation: last-position logits only.
  const bg = b.subgraph('generate_branch');
  bg.output(lmHead(bg, dg.finalHidden, dg.head, dg.batchSeq, V, true), 'gen_logits');
  bg.output(zeroLoss, 'gen_loss');
  zeros.forEach((z, k) => bg.output(z, `gen_grad_${k}`));

  const n = 2 + params.length;
  const shapes = [['B', '?', V], [], ...params.map((p) => p.shape)];
  const bi = b.subgraph('infer_branch');
  const inferOuts = bi.opN('If', [lastOnly], { then_branch: bg.graph, else_branch: be.graph }, { outputs: n, shapes });
  inferOuts.forEach((v, k) => bi.output(v, `infer_out_${k}`));
  const gradNames: Array<Map<string, string>> = ivs.map(() => new Map());
  const names = ['logits', 'loss'];
  ivs.forEach((iv, j) => {
    for (const name of iv.params.keys()) {
      names.push(`grad.iv${j}.${name}`);
      gradNames[j].set(name, `grad.iv${j}.${name}`);
    }
  });
  const outs = b.opN('If', [train], { then_branch: bt.graph, else_branch: bi.graph }, { outputs: n, shapes, names });
  for (const o of outs) b.output(o);
  return { graph: b.graph, weightsDir: dg.weightsDir, gradOutputs: gradNames };
}
