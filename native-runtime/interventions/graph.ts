// Interventions as graph fragments on the residual stream leaving a block (pyreft's block_output).
// Positions are selected with a one-hot matrix M (B, P, T) built from the location input, so the
// gather and the write-back are plain MatMuls that autodiff handles like any other:
//   sel = M·h (B, P, D);  new = f(sel);  h' = h + Mᵀ·(new − sel) / count
// A location of −1 matches no token and is a no-op (our padding). pyreft-layout batches point
// padding slots at the sink token 0; dividing by the number of slots that hit a token makes those
// repeated writes one write, as pyvene's scatter does. Inputs per intervention j: `iv{j}.loc`
// (B, P) int64 and its parameters `iv{j}.<name>` float32, plus `iv{j}.scale` (a float32 scalar α,
// h' = h + α·Mᵀ·(new − sel)/count) for specs that opt in with `scalable`.

import type { GraphBuilder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';
import type { BlockHookContext } from '../models/decoder.ts';
import { type ActivationName, type InterventionSpec, PARAMS } from './kinds.ts';

export interface InterventionInputs {
  loc: Value;
  params: Map<string, Value>;
  /** Dropout keep-mask scaled by 1/(1−p), (B, P, D); present only in training graphs with dropout. */
  dropoutMask: Value | null;
  /** The scalar α multiplying the change; present only for `scalable` specs. */
  scale: Value | null;
}

function act(b: GraphBuilder, a: ActivationName, x: Value): Value {
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return b.op('Relu', [x]);
    case 'tanh':
      return b.tanh(x);
    case 'sigmoid':
      return b.sigmoid(x);
    case 'silu':
      return b.mul(x, b.sigmoid(x));
    case 'gelu': {
      const e = b.op('Erf', [b.mul(x, b.scalar(Math.SQRT1_2))]);
      return b.mul(b.mul(b.scalar(0.5), x), b.add(b.scalar(1), e));
    }
  }
}

/** x·Wᵀ + bias for a torch Linear (r, n) applied to x (B, P, n). */
function lin(b: GraphBuilder, x: Value, w: Value, bias: Value): Value {
  return b.add(b.matmul(x, b.transpose(w, [1, 0])), bias);
}

/** The intervened representation f(h) for one intervention type; h: (B, P, n). */
export function interventionOutput(
  b: GraphBuilder,
  spec: InterventionSpec,
  h: Value,
  p: Map<string, Value>,
): Value {
  const g = (n: string) => p.get(n)!;
  switch (spec.type) {
    case 'loreft': {
      const R = g('rotate_layer');
      const diff = b.sub(act(b, spec.act, lin(b, h, g('weight'), g('bias'))), b.matmul(h, R));
      return b.add(h, b.matmul(diff, b.transpose(R, [1, 0])));
    }
    case 'noreft': {
      const W2 = g('proj_layer.weight');
      const diff = b.sub(
        act(b, spec.act, lin(b, h, g('learned_source.weight'), g('learned_source.bias'))),
        lin(b, h, W2, g('proj_layer.bias')),
      );
      return b.add(h, b.matmul(diff, W2));
    }
    case 'direft': {
      const R = g('rotate_layer');
      return b.add(
        h,
        b.matmul(
          act(b, spec.act, lin(b, h, g('learned_source.weight'), g('learned_source.bias'))),
          b.transpose(R, [1, 0]),
        ),
      );
    }
    case 'nodireft':
      return b.add(
        h,
        b.matmul(
          act(b, spec.act, lin(b, h, g('learned_source.weight'), g('learned_source.bias'))),
          g('proj_layer.weight'),
        ),
      );
    case 'consreft': {
      const R = g('rotate_layer');
      return b.add(h, b.matmul(b.sub(g('learned_source'), b.matmul(h, R)), b.transpose(R, [1, 0])));
    }
    case 'lobireft': {
      const R = g('rotate_layer');
      return b.add(h, b.matmul(b.unsqueeze(g('learned_source'), [0]), b.transpose(R, [1, 0])));
    }
  }
}

/** Declares the graph inputs of every intervention (locations and parameters). */
export function interventionInputs(
  b: GraphBuilder,
  specs: InterventionSpec[],
  withDropout: boolean,
): InterventionInputs[] {
  return specs.map((s, j) => {
    const params = new Map<string, Value>();
    for (const d of PARAMS[s.type])
      params.set(d.name, b.input(`iv${j}.${d.name}`, 'float32', d.shape(s.embedDim, s.rank)));
    const loc = b.input(`iv${j}.loc`, 'int64', ['B', `P${j}`]);
    const useDrop = withDropout && s.dropout > 0 && s.type !== 'consreft';
    const dropoutMask = useDrop
      ? b.input(`iv${j}.dropout_mask`, 'float32', ['B', `P${j}`, s.embedDim])
      : null;
    const scale = s.scalable ? b.input(`iv${j}.scale`, 'float32', []) : null;
    return { loc, params, dropoutMask, scale };
  });
}

/** The afterBlock hook applying every intervention on its layer, in config order. */
export function interventionHook(specs: InterventionSpec[], inputs: InterventionInputs[]) {
  return (layer: number, h: Value, ctx: BlockHookContext): Value => {
    const { b } = ctx;
    let out = h;
    specs.forEach((s, j) => {
      if (s.layer !== layer) return;
      const { params, scale } = inputs[j];
      // One always-empty slot (−1) is appended so P ≥ 1 inside the graph: with P = 0 (decoding steps,
      // an adapter switched off) the write-back MatMul contracts over nothing, and ORT's batched
      // MatMul then leaves rows past the first uninitialized. The slot adds exact zeros.
      const B1 = b.concat([b.slice(ctx.batchSeq, [0], [1], [0]), b.ints([1])], 0);
      const loc = b.concat([inputs[j].loc, b.expand(b.const('int64', [-1], [1, 1]), B1, ['B', 1])], 1, [
        'B',
        `P${j}+1`,
      ]);
      const dropoutMask = inputs[j].dropoutMask
        ? b.concat(
            [
              inputs[j].dropoutMask!,
              b.expand(b.const('float32', [1], [1, 1, 1]), b.concat([B1, b.ints([s.embedDim])], 0), [
                'B',
                1,
                s.embedDim,
              ]),
            ],
            1,
            ['B', `P${j}+1`, s.embedDim],
          )
        : null;
      const T = b.squeeze(b.slice(ctx.batchSeq, [1], [2], [0]), [0]);
      const tpos = b.op(
        'Range',
        [b.const('int64', [0], []), T, b.const('int64', [1], [])],
        {},
        { shapes: [['T']] },
      );
      const M = b.cast(b.op('Equal', [b.unsqueeze(loc, [-1]), tpos]), 'float32'); // (B, P, T)
      const sel = b.matmul(M, out); // (B, P, D)
      let neu = interventionOutput(b, s, sel, params);
      if (dropoutMask) neu = b.mul(neu, dropoutMask);
      const Mt = b.transpose(M, [0, 2, 1]); // (B, T, P)
      const count = b.op('Max', [b.reduceSum(Mt, [2]), b.scalar(1)]); // (B, T, 1)
      const change = scale ? b.mul(b.sub(neu, sel), scale) : b.sub(neu, sel);
      out = b.add(out, b.div(b.matmul(Mt, change), count));
    });
    return out;
  };
}
