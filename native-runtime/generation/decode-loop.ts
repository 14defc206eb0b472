// Decoding a chunk of tokens per run, inside the graph: after the graph's own pass (the prompt, or the
// token sampled last), an ONNX Loop samples the next token and runs the decoder on it, carrying the
// KV cache, the attention mask and the positions, `chunk_steps` tokens in all. The cache never
// leaves the graph between those tokens — on CUDA, where every run() copies its inputs and outputs
// between host and device, one run per chunk instead of per token moves the cache once per chunk.
// The Loop's body is the same decoder at one token, reading the weights of the outer graph (no second
// copy) and no interventions (pyreft does not intervene on generated tokens); sampling-graph.ts picks
// the tokens. Stops early when every row has produced an end-of-sequence id. A single prompt of a
// model the fused step covers decodes elsewhere (fused-decoding.ts: ~3× fewer nodes a token, which
// is what bounds decoding on a GPU); this loop serves batches and the other models.
//
// Inputs: chunk_steps int64 [] (N; 0: only the graph's own pass, as without the loop),
//   chunk_uniforms float32 (≥max(N,1), B) (row i for token i), chunk_greedy bool [],
//   chunk_temperature float32 [], chunk_top_k int64 [], chunk_top_p float32 [],
//   chunk_eos int64 (≥1) (ids that end a row; −1 for none), chunk_done bool (B) (rows already ended).
// Outputs besides the decoder's own (new_key.i … for the graph's pass): chunk_new_key.i /
// chunk_new_value.i = the N − 1 tokens the loop added to the cache, chunk_present_key.i / … = the
// whole cache after the run (both empty when N ≤ 1), chunk_tokens int64 (N, B) (one row when N = 0;
// ignore it then). Finished rows repeat their token.

import type { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Value } from '../ir/graph.ts';
import type { ModelSpec } from '../models/config.ts';
import { buildDecoder, type DecoderGraph } from '../models/decoder.ts';
import { type SamplingInputs, sampleTokens } from './sampling-graph.ts';

/** The loop bodies: the general decoder at one token, the fused step at batch 1 (fused-decoding.ts). */
export type DecodeStep = 'decode_step' | 'fused_decode_step';

/**
 * How many nodes the loop body `step` has (each generated token runs them once), or null for a graph
 * without it. On a GPU every node is at least one kernel launch: with a cached token's few FLOPs,
 * launches bound the speed, so this count divides a token's time into time per node (bench).
 */
export function decodeLoopNodes(g: Graph, step: DecodeStep = 'decode_step'): number | null {
  for (const n of g.nodes) {
    if (n.op === 'Loop' && n.attrs.body?.type === 'graph' && n.attrs.body.value.name === step)
      return n.attrs.body.value.nodes.length;
    for (const a of Object.values(n.attrs)) {
      const inner = a.type === 'graph' ? decodeLoopNodes(a.value, step) : null;
      if (inner !== null) return inner;
    }
  }
  return null;
}

export interface DecodeLoopIO {
  steps: Value;
  uniforms: Value;
  eos: Value;
  done: Value;
  sampling: SamplingInputs;
}

export function decodeLoopInputs(b: GraphBuilder): DecodeLoopIO {
  return {
    steps: b.input('chunk_steps', 'int64', []),
    uniforms: b.input('chunk_uniforms', 'float32', ['U', 'B']),
    eos: b.input('chunk_eos', 'int64', ['Z']),
    done: b.input('chunk_done', 'bool', ['B']),
    sampling: {
      greedy: b.input('chunk_greedy', 'bool', []),
      temperature: b.input('chunk_temperature', 'float32', []),
      topK: b.input('chunk_top_k', 'int64', []),
      topP: b.input('chunk_top_p', 'float32', []),
    },
  };
}

/** Row `i` of the uniforms, (B). */
function uniformRow(b: GraphBuilder, io: DecodeLoopIO, i: Value): Value {
  return b.op('Gather', [io.uniforms, b.reshape(i, [], [])], { axis: 0 }, { shapes: [['B']] });
}

/** (B) bool: the token is one of the end ids. */
function isEos(b: GraphBuilder, tok: Value, eos: Value): Value {
  const hit = b.cast(b.op('Equal', [b.unsqueeze(tok, [1]), b.unsqueeze(eos, [0])]), 'float32'); // (B, Z)
  return b.op('Greater', [b.reduceMax(hit, [1], false), b.scalar(0)]);
}

/** bool []: some row has not ended. */
export function notAllDone(b: GraphBuilder, done: Value): Value {
  const min = b.op('ReduceMin', [b.cast(done, 'float32')], { keepdims: 0 }, { shapes: [[]] });
  return b.op('Not', [b.op('Equal', [min, b.scalar(1)])]);
}

/** What every chunk's loop starts from: the token sampled from the graph's pass, the rows ended. */
interface ChunkStart {
  /** (B) int64 */
  first: Value;
  /** (B) bool */
  done: Value;
  /** int64 []: N − 1 trips (the first token came from the graph's own pass). */
  trips: Value;
}

/**
 * A body's next token (B) from its logits (B, V): sampled with uniforms row iter + firstRow, or the
 * row's last token once it ended.
 */
export function nextToken(
  body: GraphBuilder,
  io: DecodeLoopIO,
  iter: Value,
  logits: Value,
  tokIn: Value,
  doneIn: Value,
  vocab: number,
  firstRow: 0 | 1,
): { next: Value; done: Value } {
  const row = firstRow ? body.add(iter, body.const('int64', [1], [])) : iter;
  const u = uniformRow(body, io, row);
  const next = body.where(doneIn, tokIn, sampleTokens(body, logits, u, io.sampling, vocab));
  return { next, done: body.op('Or', [doneIn, isEos(body, next, io.eos)]) };
}

/** int64 ones of x's shape. */
function onesLike(bb: GraphBuilder, x: Value): Value {
  return bb.add(bb.mul(x, bb.const('int64', [0], [])), bb.const('int64', [1], []));
}

/**
 * The general loop in `bb` (the If branch of N > 0): the decoder at one token over the float32 cache
 * as the graph's pass left it; declares the branch's outputs.
 */
function generalChunk(
  bb: GraphBuilder,
  spec: ModelSpec,
  dg: DecoderGraph,
  io: DecodeLoopIO,
  start: ChunkStart,
) {
  const L = spec.numLayers,
    V = spec.vocabSize;
  const cacheShape = ['B', spec.numKvHeads, '?', spec.headDim];
  const first2 = bb.reshape(start.first, [-1, 1], ['B', 1]);
  const mask0 = bb.concat([dg.attentionMask, onesLike(bb, first2)], 1, ['B', '?']);
  const pos0 = bb.add(
    bb.op(
      'Slice',
      [dg.positionIds, bb.ints([-1]), bb.ints([Number.MAX_SAFE_INTEGER]), bb.ints([1])],
      {},
      { shapes: [['B', 1]] },
    ),
    bb.const('int64', [1], []),
  );

  // The body: (i, cond, token, mask, pos, past…, done) → (cond, token', mask', pos', cache…, done', token').
  const body = bb.subgraph('decode_step');
  const iter = body.input('loop_i', 'int64', []);
  body.input('loop_cond', 'bool', []);
  const step = buildDecoder(body, spec, {
    withCache: true,
    lastLogitsOnly: true,
    weightsFrom: dg.weights,
    cacheOutputs: false,
  });
  const doneIn = body.input('loop_done', 'bool', ['B']);
  // Loop-body names must not shadow the outer graph's.
  for (const v of body.graph.inputs) if (!v.name.startsWith('loop_')) v.name = `loop_${v.name}`;
  const tokIn = body.reshape(step.inputIds, [-1], ['B']);
  const { next, done } = nextToken(
    body,
    io,
    iter,
    body.reshape(step.logits!, [-1, V], ['B', V]),
    tokIn,
    doneIn,
    V,
    1,
  );
  const next2 = body.reshape(next, [-1, 1], ['B', 1]);
  body.output(notAllDone(body, done), 'loop_cond_out');
  body.output(next2, 'loop_token_out');
  body.output(body.concat([step.attentionMask, onesLike(body, next2)], 1, ['B', '?']), 'loop_mask_out');
  body.output(body.add(step.positionIds, body.const('int64', [1], [])), 'loop_pos_out');
  step.cache.forEach((c, i) => {
    body.output(c.k, `loop_key_out.${i}`);
    body.output(c.v, `loop_value_out.${i}`);
  });
  body.output(done, 'loop_done_out');
  body.output(body.op('Identity', [next]), 'loop_scan_token');

  const carried = [first2, mask0, pos0, ...dg.cache.flatMap((c) => [c.k, c.v]), start.done];
  const outs = bb.opN(
    'Loop',
    [start.trips, notAllDone(bb, start.done), ...carried],
    { body: body.graph },
    {
      outputs: carried.length + 1,
      shapes: [
        ['B', 1],
        ['B', '?'],
        ['B', 1],
        ...dg.cache.flatMap(() => [cacheShape, cacheShape]),
        ['B'],
        ['?', 'B'],
      ],
      dtypes: [
        'int64',
        'int64',
        'int64',
        ...dg.cache.flatMap(() => ['float32', 'float32'] as const),
        'bool',
        'int64',
      ],
    },
  );
  // The outputs: the loop's own entries (everything after the graph's pass's cache), the whole
  // caches, and the tokens (first, then the loop's).
  const finals = outs.slice(3, 3 + 2 * L);
  const ownLen = bb.shapeOf(dg.cache[0].k, 2, 3);
  const added = (v: Value) =>
    bb.op(
      'Slice',
      [v, ownLen, bb.ints([Number.MAX_SAFE_INTEGER]), bb.ints([2])],
      {},
      { shapes: [cacheShape] },
    );
  for (let i = 0; i < L; i++) bb.output(added(finals[2 * i]));
  for (let i = 0; i < L; i++) bb.output(added(finals[2 * i + 1]));
  for (let i = 0; i < L; i++) bb.output(bb.op('Identity', [finals[2 * i]]));
  for (let i = 0; i < L; i++) bb.output(bb.op('Identity', [finals[2 * i + 1]]));
  bb.output(bb.concat([bb.unsqueeze(start.first, [0]), outs[outs.length - 1]], 0, ['?', 'B']));
}

/**
 * Adds the loop after the graph's own pass (whose cache outputs stay as they are) and declares
 * chunk_new_* / chunk_present_* and chunk_tokens. `logits` are the pass's logits (B, T, V) float32.
 */
export function addDecodeLoop(
  b: GraphBuilder,
  spec: ModelSpec,
  dg: DecoderGraph,
  logits: Value,
  io: DecodeLoopIO,
): void {
  const L = spec.numLayers,
    K = spec.numKvHeads,
    E = spec.headDim,
    V = spec.vocabSize;
  const cacheShape = ['B', K, '?', E];

  // N = 0: nothing more (empty cache tensors; copying the whole cache through the If every token
  // cost more than the loop saves on a small model).
  const off = b.subgraph('chunk_off');
  const none = (v: Value) =>
    off.op('Slice', [v, off.ints([0]), off.ints([0]), off.ints([2])], {}, { shapes: [['B', K, 0, E]] });
  for (let n = 0; n < 4; n++) for (const c of dg.cache) off.output(none(n % 2 ? c.vNew : c.kNew));
  // chunk_tokens: (1, B), the last input token (never read: N = 0 samples nothing).
  off.output(
    off.transpose(
      off.op(
        'Slice',
        [dg.inputIds, off.ints([-1]), off.ints([Number.MAX_SAFE_INTEGER]), off.ints([1])],
        {},
        { shapes: [['B', 1]] },
      ),
      [1, 0],
    ),
  );

  const on = b.subgraph('chunk_on');
  const last = on.reshape(
    on.op(
      'Slice',
      [logits, on.ints([-1]), on.ints([Number.MAX_SAFE_INTEGER]), on.ints([1])],
      {},
      { shapes: [['B', 1, V]] },
    ),
    [-1, V],
    ['B', V],
  );
  const first = sampleTokens(on, last, uniformRow(on, io, on.const('int64', [0], [])), io.sampling, V); // (B)
  const start: ChunkStart = {
    first,
    done: on.op('Or', [io.done, isEos(on, first, io.eos)]),
    trips: on.op('Max', [on.sub(io.steps, on.const('int64', [1], [])), on.const('int64', [0], [])]),
  };
  generalChunk(on, spec, dg, io, start);

  const use = b.op('Greater', [io.steps, b.const('int64', [0], [])]);
  const res = b.opN(
    'If',
    [use],
    { then_branch: on.graph, else_branch: off.graph },
    {
      outputs: 4 * L + 1,
      shapes: [...Array.from({ length: 4 * L }, () => cacheShape), ['?', 'B']],
      dtypes: [...Array.from({ length: 4 * L }, () => 'float32' as const), 'int64'],
    },
  );
  for (let i = 0; i < L; i++) b.output(res[i], `chunk_new_key.${i}`);
  for (let i = 0; i < L; i++) b.output(res[L + i], `chunk_new_value.${i}`);
  for (let i = 0; i < L; i++) b.output(res[2 * L + i], `chunk_present_key.${i}`);
  for (let i = 0; i < L; i++) b.output(res[3 * L + i], `chunk_present_value.${i}`);
  b.output(res[4 * L], 'chunk_tokens');
}
