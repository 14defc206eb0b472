// The one graph a ReFT model runs for training, evaluation and generation, so a process holds one
// copy of the weights (ORT cannot share initializers between sessions from JavaScript).
// The frozen model runs up to the final norm in the main graph, with interventions on the residual
// stream, and the LM head (all positions, or the last one when last_only is true: generation).
// An If node on `train` then picks a branch:
//   train=true   the loss and the gradients of every intervention parameter; the backward pass exists
//                only in this branch, and only above the lowest intervened layer (autodiff walks no
//                further); logits are not returned
//   train=false  logits and the loss (debug forward, evaluation; 0 for a single position)
// KV-cache inputs/outputs are always present; training and evaluation feed an empty past.
// Inputs: input_ids, attention_mask, position_ids, past_key.i, past_value.i, labels (B, T) int64,
// (labels (B, 1) when last_only), train, last_only (bool scalars), iv{j}.loc (B, P) and iv{j}.<param> per intervention (+ iv{j}.dropout_mask).
// Outputs: logits, loss, new_key.i, new_value.i (this pass's cache entries), grad.iv{j}.<param>.

import { buildBackward } from '../autodiff/backward.ts';
import { zerosOfShape } from '../autodiff/rules.ts';
import { addDecodeLoop, decodeLoopInputs } from '../generation/decode-loop.ts';
import { addFusedDecoding } from '../generation/fused-decoding.ts';
import type { FusedStepOptions } from '../generation/fused-step.ts';
import { interventionHook, interventionInputs } from '../interventions/graph.ts';
import type { InterventionSpec } from '../interventions/kinds.ts';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Value } from '../ir/graph.ts';
import type { ModelSpec } from '../models/config.ts';
import { buildDecoder } from '../models/decoder.ts';
import { orderBranchesForOrt } from '../passes/branch-order.ts';
import { eliminateCommonSubexpressions } from '../passes/cse.ts';
import { eliminateDeadCode } from '../passes/dead-code.ts';
import { hoistShapes } from '../passes/hoist-shapes.ts';
import { rematerializeInBranches } from '../passes/rematerialize.ts';
import { causalLmLoss, supervisedLmLoss } from './loss.ts';

export interface ReftGraph {
  graph: Graph;
  weightsDir: string;
  /** Names of the gradient outputs per intervention, by parameter name. */
  gradOutputs: Array<Map<string, string>>;
}

export function buildReftGraph(
  spec: ModelSpec,
  interventions: InterventionSpec[],
  opts: {
    dropout?: boolean;
    /** Add the in-graph decoding loop (generation/decode-loop.ts): a generator's own graph. */
    decodeLoop?: boolean;
    /**
     * A decoding run at batch 1 skips the general graph for the fused step's loop
     * (generation/fused-decoding.ts), built in this form; the caller checked fusedStepProblem.
     */
    fusedDecode?: FusedStepOptions | null;
    /**
     * Keep only the residual stream between layers for the backward and recompute each layer there
     * (autodiff/backward.ts): a second forward pass of the intervened layers, for a fraction of the
     * memory (see recompute.ts for when it is chosen).
     */
    recompute?: boolean;
  } = {},
): ReftGraph {
  const b = new GraphBuilder(`${spec.arch}-reft`);
  const ivs = interventionInputs(b, interventions, !!opts.dropout);
  const dg = buildDecoder(b, spec, {
    withCache: true,
    headless: true,
    afterBlock: interventions.length ? interventionHook(interventions, ivs) : undefined,
  });
  const loopIO = opts.decodeLoop ? decodeLoopInputs(b) : null;
  const labels = b.input('labels', 'int64', ['B', 'T']);
  const train = b.input('train', 'bool', []);
  const lastOnly = b.input('last_only', 'bool', []);
  const params: Value[] = ivs.flatMap((iv) => [...iv.params.values()]);
  const V = spec.vocabSize;
  const D = spec.hiddenSize;

  // Final hidden states, all positions or only the last one (generation: slice from −1 instead of 0).
  // In float32 also for half-precision models: the loss's row gather (and its ScatterND gradient,
  // which the CPU lacks in float16) run on it; the head casts the rows it multiplies.
  const h3 = b.reshape(b.cast(dg.finalHidden, 'float32'), b.concat([dg.batchSeq, b.ints([D])], 0), [
    'B',
    'T',
    D,
  ]);
  const start = b.unsqueeze(b.where(lastOnly, b.const('int64', [-1], []), b.const('int64', [0], [])), [0]);
  const hSel = b.op(
    'Slice',
    [h3, start, b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])],
    {},
    { shapes: [['B', '?', D]] }, // T positions, or 1 when last_only
  );

  // Training branch: loss and gradients, the LM head applied only where a label is predicted (the
  // main graph's logits are not used here); empty (B, 0, V) logits keep the outputs aligned.
  const bt = b.subgraph('train_branch');
  const lossT = supervisedLmLoss(bt, h3, dg.head, labels);
  const grads = buildBackward(bt, lossT, params, opts.recompute ? { recompute: dg.blockInputs } : {});
  bt.output(
    zerosOfShape(
      bt,
      bt.concat([bt.slice(dg.batchSeq, [0], [1], [0]), bt.ints([0, V])], 0),
      ['B', 0, V],
      'float32',
    ),
    'train_logits',
  );
  bt.output(lossT, 'train_loss');
  params.forEach((p, k) => {
    bt.output(grads.get(p)!, `train_grad_${k}`);
  });

  // Inference branch: logits and the loss. Generation (last_only) skips the loss: there is nothing
  // to predict from one position, and ORT's reductions mishandle the empty (B, 0, V) slice.
  // The LM head lives inside each branch (ORT runs every main-graph node an If reads, whichever branch
  // is taken); the weight is read in place, so two consumers cost no memory.
  const bi = b.subgraph('infer_branch');
  const logits = bi.reshape(
    dg.head(bi, bi.reshape(hSel, [-1, D], ['?', D])),
    bi.concat([bi.slice(dg.batchSeq, [0], [1], [0]), bi.ints([-1, V])], 0),
    ['B', '?', V],
  );
  bi.output(logits, 'infer_logits');
  const bl = bi.subgraph('eval_loss');
  bl.output(causalLmLoss(bl, logits, labels), 'eval_loss_value');
  const b0 = bi.subgraph('no_loss');
  b0.output(b.const('float32', [0], []), 'no_loss_value');
  bi.output(
    bi.op('If', [lastOnly], { then_branch: b0.graph, else_branch: bl.graph }, { shapes: [[]] }),
    'infer_loss',
  );
  params.forEach((p, k) => {
    const zeros = new Float32Array(p.shape.reduce<number>((a, d) => a * (d as number), 1));
    bi.output(b.const('float32', zeros, p.shape as number[]), `infer_grad_${k}`);
  });

  const gradNames: Array<Map<string, string>> = ivs.map(() => new Map());
  const names = ['logits', 'loss'];
  ivs.forEach((iv, j) => {
    for (const name of iv.params.keys()) {
      names.push(`grad.iv${j}.${name}`);
      gradNames[j].set(name, `grad.iv${j}.${name}`);
    }
  });
  const shapes = [['B', '?', V], [], ...params.map((p) => p.shape)];
  const outs = b.opN(
    'If',
    [train],
    { then_branch: bt.graph, else_branch: bi.graph },
    { outputs: names.length, shapes, names },
  );
  for (const o of outs) b.output(o);
  if (loopIO) addDecodeLoop(b, spec, dg, outs[0], loopIO);
  // The backward walker emits repeated subexpressions (shape arithmetic, transposes of the same
  // weight) and values no output needs. Dropping them leaves ~7% fewer nodes (1181 → 1098 for the
  // 4-layer Llama with LoReFT on every layer) and a first step 5–15% sooner (less to serialize and
  // for ORT to optimize); step time is unchanged, as ORT runs its own CSE. See ARCHITECTURE.md.
  eliminateCommonSubexpressions(b.graph);
  // What the backward keeps from the forward (passes/hoist-shapes.ts, rematerialize.ts,
  // branch-order.ts): TinyLlama fp32 at 4 × 512 peaked at 21.1 GB RSS before, 8.7 GB after.
  hoistShapes(b.graph);
  rematerializeInBranches(b.graph);
  orderBranchesForOrt(b.graph);
  eliminateDeadCode(b.graph);
  // Last: the fast path wraps the finished graph (generation/fused-decoding.ts).
  if (loopIO && opts.fusedDecode) addFusedDecoding(b, spec, dg, loopIO, opts.fusedDecode);
  return { graph: b.graph, weightsDir: dg.weightsDir, gradOutputs: gradNames };
}
