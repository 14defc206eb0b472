// A generator's graph with a fast path for decoding a single prompt: a run that decodes a chunk
// (chunk_steps > 0) at batch 1 skips the whole graph — the general decoder's pass over the fed token,
// the training/evaluation If, the general loop — and runs only the fused step (fused-step.ts) in a
// Loop, starting from the fed token. ONNX Runtime runs every node of a graph whatever the outputs
// asked for, so the general pass is skipped only by putting it in an If branch: the graph built so
// far becomes the else branch of a top-level If, unchanged.
//
// The fast branch keeps the general graph's outputs and their meaning, so the generator does not
// know which ran: new_key.i / new_value.i = the fed token's keys/values, chunk_new_* = the loop's
// other entries, chunk_tokens = the sampled tokens (the first from the fed token, as the general
// pass's logits would give it: same uniforms row 0). chunk_present_* = the whole cache compacted (no
// masked slots). Outputs no decoding run reads (logits, loss, gradients, present_*) are empty.
//
// On a GPU a cached token's time is its kernel launches: at 16 tokens a run the general pass over
// the fed token was ~1,252 of a chunk's ~7,200 nodes at the TinyLlama shape.

import type { GraphBuilder } from '../ir/builder.ts';
import { Graph, type Node, type Value } from '../ir/graph.ts';
import type { ModelSpec } from '../models/config.ts';
import type { DecoderGraph } from '../models/decoder.ts';
import { WeightRefs } from '../models/weight-refs.ts';
import { allInputs, outerScopeValues } from '../passes/graph-utils.ts';
import { type DecodeLoopIO, nextToken, notAllDone } from './decode-loop.ts';
import { buildFusedStep, type FusedStepOptions, rotaryCache } from './fused-step.ts';

/**
 * Wraps the finished graph of `b` (root builder; passes already run) in If(chunk_steps > 0 and
 * batch 1): then the fused loop, else the graph as it was. The caller checked fusedStepProblem.
 */
export function addFusedDecoding(
  b: GraphBuilder,
  spec: ModelSpec,
  dg: DecoderGraph,
  io: DecodeLoopIO,
  opts: FusedStepOptions,
): void {
  const g = b.graph;
  // The graph so far becomes the else branch; its outputs are renamed (an If's outputs and a
  // branch's values may not share names) and the If's outputs take their names.
  const general = new Graph('general_pass');
  general.nodes = g.nodes;
  const names = g.outputs.map((o) => o.name);
  general.outputs = g.outputs.map((o) => {
    o.name = `${o.name}.general`;
    return o;
  });
  g.nodes = [];
  g.outputs = [];

  const fast = b.subgraph('fused_decoding');
  const outs = fusedChunk(fast, spec, dg, io, opts);
  general.outputs.forEach((o, i) => {
    const v = outs.get(names[i]) ?? emptyLike(fast, o);
    fast.output(v, `${names[i]}.fused`);
  });
  hoistShared(general, fast.graph, g);

  const one = b.op('Equal', [b.shapeOf(dg.inputIds, 0, 1), b.ints([1])]);
  const use = b.op('And', [b.reshape(one, [], []), b.op('Greater', [io.steps, b.const('int64', [0], [])])]);
  const res = b.opN(
    'If',
    [use],
    { then_branch: fast.graph, else_branch: general },
    {
      outputs: names.length,
      shapes: general.outputs.map((o) => o.shape),
      dtypes: general.outputs.map((o) => o.dtype),
    },
  );
  for (const [i, v] of res.entries()) b.output(v, names[i]);
}

/**
 * Moves the nodes of the general branch whose values the fast branch reads (and what they are
 * computed from) back to the root, before the If. These are the weights in the compute dtype that
 * the general pass declared once in the root graph (casts of initializers, models/weight-refs.ts),
 * shared by the fast branch's steps: left in the else branch, the then branch would read values an
 * enclosing graph does not define (ORT: "Nodes in a graph must be topologically sorted"), as with
 * an fp32 checkpoint computed in fp16 or bf16.
 */
function hoistShared(general: Graph, fast: Graph, root: Graph): void {
  const producer = new Map<Value, Node>();
  for (const n of general.nodes) for (const o of n.outputs) producer.set(o, n);
  const shared = new Set<Node>();
  const visit = (v: Value) => {
    const n = producer.get(v);
    if (!n || shared.has(n)) return;
    shared.add(n);
    allInputs(n).forEach(visit);
  };
  outerScopeValues(fast).forEach(visit);
  // What the fast branch declared in the root (stacked weights) may be built from them too.
  for (const n of root.nodes) allInputs(n).forEach(visit);
  if (shared.size === 0) return;
  // In their order, ahead of what the fast branch declared in the root since (stacked weights).
  root.nodes.unshift(...general.nodes.filter((n) => shared.has(n)));
  general.nodes = general.nodes.filter((n) => !shared.has(n));
}

/** An empty tensor of o's dtype and rank: symbolic dims 0, numeric ones kept (a scalar: zero). */
function emptyLike(bb: GraphBuilder, o: Value): Value {
  const dims = o.shape.map((d) => (typeof d === 'number' ? d : 0));
  const zero = bb.cast(bb.scalar(0), o.dtype);
  return bb.op('Expand', [zero, bb.ints(dims)], {}, { shapes: [dims] });
}

/**
 * The fused loop from the fed token (input_ids (1, 1)) over the fed past, compacted to the mask's
 * kept slots: chunk_steps trips, each running one token and sampling the next. Returns the outputs
 * it gives by name.
 */
function fusedChunk(
  bb: GraphBuilder,
  spec: ModelSpec,
  dg: DecoderGraph,
  io: DecodeLoopIO,
  opts: FusedStepOptions,
): Map<string, Value> {
  const { numLayers: L, numKvHeads: K, headDim: E, vocabSize: V } = spec;
  const dt = spec.compute ?? 'float32';
  // The mask covers the past's slots, then the fed token.
  const pastMask = bb.op(
    'Slice',
    [bb.reshape(dg.attentionMask, [-1], ['S']), bb.ints([0]), bb.ints([-1]), bb.ints([0])],
    {},
    { shapes: [['P']] },
  );
  const kept = bb.reshape(
    bb.op('NonZero', [pastMask], {}, { shapes: [[1, 'n']], dtypes: ['int64'] }),
    [-1],
    ['n'],
  );
  const n = bb.shapeOf(kept); // (1)
  const compact = (v: Value) => bb.cast(bb.gather(v, kept, 2), dt);
  const rows = bb.reshape(bb.add(n, bb.reshape(io.steps, [1], [1])), [], []); // positions 0 … n + N − 1
  const { cos, sin } = rotaryCache(bb, spec, rows);

  // The body: (i, cond, token, length, past…, done) → (cond, token', length + 1, cache…, done', token').
  const body = bb.subgraph('fused_decode_step');
  const iter = body.input('fused_i', 'int64', []);
  body.input('fused_cond', 'bool', []);
  const token = body.input('fused_token', 'int64', [1, 1]);
  const len = body.input('fused_len', 'int32', [1]);
  const past = Array.from({ length: L }, (_, i) => ({
    k: body.input(`fused_key.${i}`, dt, [1, K, 'P', E]),
    v: body.input(`fused_value.${i}`, dt, [1, K, 'P', E]),
  }));
  const doneIn = body.input('fused_done', 'bool', [1]);
  const w = new WeightRefs(body, spec, dg.weights); // the outer graph's weights, read from the body
  const step = buildFusedStep(body, spec, w, { token, past, pastLen: len, cos, sin }, opts);
  const tokIn = body.reshape(token, [-1], [1]);
  const { next, done } = nextToken(body, io, iter, step.logits, tokIn, doneIn, V, 0);
  body.output(notAllDone(body, done), 'fused_cond_out');
  body.output(body.reshape(next, [1, 1], [1, 1]), 'fused_token_out');
  body.output(body.add(len, body.const('int32', [1], [])), 'fused_len_out');
  step.present.forEach((c, i) => {
    body.output(c.k, `fused_key_out.${i}`);
    body.output(c.v, `fused_value_out.${i}`);
  });
  body.output(done, 'fused_done_out');
  body.output(body.op('Identity', [next]), 'fused_scan_token');

  const carried = [
    dg.inputIds,
    bb.cast(n, 'int32'),
    ...dg.cache.flatMap((c) => [compact(c.pastK), compact(c.pastV)]),
    io.done,
  ];
  const cacheShape = [1, K, '?', E];
  const loop = bb.opN(
    'Loop',
    [io.steps, notAllDone(bb, io.done), ...carried],
    { body: body.graph },
    {
      outputs: carried.length + 1,
      shapes: [[1, 1], [1], ...dg.cache.flatMap(() => [cacheShape, cacheShape]), [1], ['?', 1]],
      dtypes: ['int64', 'int32', ...dg.cache.flatMap(() => [dt, dt]), 'bool', 'int64'],
    },
  );
  const out = new Map<string, Value>();
  const entries = (v: Value, from: Value, to: Value) =>
    bb.op('Slice', [v, from, to, bb.ints([2])], {}, { shapes: [cacheShape] });
  const n1 = bb.add(n, bb.ints([1]));
  const end = bb.ints([Number.MAX_SAFE_INTEGER]);
  for (let i = 0; i < L; i++)
    for (const [j, kv] of [
      [0, 'key'],
      [1, 'value'],
    ] as const) {
      const all = bb.cast(loop[2 + 2 * i + j], 'float32');
      out.set(`new_${kv}.${i}`, entries(all, n, n1));
      out.set(`chunk_new_${kv}.${i}`, entries(all, n1, end));
      out.set(`chunk_present_${kv}.${i}`, all);
    }
  out.set('chunk_tokens', loop[loop.length - 1]);
  return out;
}
