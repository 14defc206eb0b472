// What the training graph keeps from the forward for its backward: the values its train branch
// reads from the main graph (ORT holds each until the If runs). After hoistShapes and
// rematerializeInBranches (native-runtime/passes/), a differentiated Llama block keeps its MLP's
// gate and up, its two norms' inputs, q, K and V, and nothing T×T-sized; the numbers behind
// layerActivationValues (training/recompute.ts). The golden parity tests check the gradients.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dimValue } from '../../native-runtime/ir/dims.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { outerScopeValues, subgraphsOf } from '../../native-runtime/passes/graph-utils.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { loreftOnEveryLayer } from '../helpers/models.ts';

function keptValues(name: string, recompute = false, compute?: ModelSpec['compute']) {
  const file = loadModelSpec(modelDir(name));
  // A half compute dtype as runtime/precision.ts sets it for CUDA (the graph builds on any machine).
  const spec: ModelSpec = compute ? { ...file, compute } : file;
  const ivs = loreftOnEveryLayer(spec);
  const { graph } = buildReftGraph(spec, ivs, { recompute });
  const ifNode = graph.nodes.filter((n) => n.op === 'If').at(-1)!;
  const train = subgraphsOf(ifNode)[0];
  return { spec, graph, kept: [...outerScopeValues(train)].filter((v) => !v.data) };
}

describe('kept activations', () => {
  it('a Llama block keeps gate and up, and no attention scores or probabilities', () => {
    const { spec, kept } = keptValues('llama');
    const f = spec.intermediateSize;
    // Interventions on every layer: the backward runs through blocks 1..L−1.
    const blocks = spec.numLayers - 1;
    const mlp = kept.filter((v) => v.shape.at(-1) === f);
    assert.equal(mlp.length, 2 * blocks, `MLP-sized values kept: ${mlp.map((v) => v.producer?.op)}`);
    // (B, heads, T, S) or grouped (B, kv, groups·T, S) ('g*T'); the mask (B, 1, T, S) is one value for all layers.
    const perHead = kept.filter(
      (v) =>
        v.shape.length === 4 &&
        v.shape[3] === 'S' &&
        (v.shape[2] === 'T' || /^\d+\*T$/.test(String(v.shape[2]))) &&
        v.shape[1] !== 1,
    );
    assert.deepEqual(
      perHead.map((v) => `${v.producer?.op} [${v.shape}]`),
      [],
      'no (B, heads, T, S) scores or probabilities',
    );
    assert.ok(!kept.some((v) => v.producer?.op === 'Sigmoid'), 'σ(gate) is recomputed');
  });

  it("reads no forward value's shape: the shapes are rebuilt from the graph inputs", () => {
    const { graph, kept } = keptValues('llama');
    // A Shape in the main graph would hold its tensor until ORT gets to it, which may be after the
    // whole forward (passes/hoist-shapes.ts).
    const shapes = kept.filter(
      (v) => v.producer?.op === 'Shape' && !graph.inputs.includes(v.producer.inputs[0]!),
    );
    assert.deepEqual(
      shapes.map((v) => `Shape(${v.producer!.inputs[0]})`),
      [],
    );
  });

  it("in bfloat16 a block keeps its values in bfloat16: the norms' float32 inputs are recomputed", () => {
    const { spec, kept } = keptValues('llama-bf16', false, 'bfloat16');
    const d = spec.hiddenSize;
    const perToken = kept.filter((v) => v.shape.includes('N') || v.shape.includes('T'));
    const wide = perToken.filter((v) => v.shape.at(-1) === d || v.shape.at(-1) === spec.intermediateSize);
    assert.deepEqual(
      wide.filter((v) => v.dtype !== 'bfloat16').map(String),
      [],
      'nothing hidden- or MLP-sized in float32',
    );
    // The two norms' inputs per block and the final norm's; not the block outputs the interventions
    // read a few rows of (a byte-blind cost once recomputed those rows from the whole block output).
    const hidden = wide.filter((v) => v.shape.at(-1) === d);
    assert.equal(
      hidden.length,
      2 * (spec.numLayers - 1) + 1,
      hidden.map((v) => `${v.producer?.op} ${v}`).join('; '),
    );
  });

  it('per token and block: 3·d + 2·f + 2·k', () => {
    const { spec, kept } = keptValues('llama');
    const T = 64;
    const tokenDims: Record<string, number> = { B: 1, T, S: T, N: T };
    const values = (v: (typeof kept)[number]) =>
      v.shape.reduce<number>((a, d) => a * (dimValue(d, (name) => tokenDims[name]) ?? 1), 1);
    // Values whose size grows with the tokens (the per-token activations), per token and block.
    const perToken = kept.filter((v) =>
      v.shape.some((d) => d === 'N' || d === 'T' || d === 'S' || /\*T$/.test(String(d))),
    );
    const total = perToken.reduce((a, v) => a + values(v), 0) / T / (spec.numLayers - 1);
    const formula = 3 * spec.hiddenSize + 2 * spec.intermediateSize + 2 * spec.numKvHeads * spec.headDim;
    // The final norm's input and the interventions' selected rows come on top, spread over the blocks.
    assert.ok(
      total >= 0.9 * formula && total <= 1.25 * formula,
      `kept ${total.toFixed(0)} values per token and block against ${formula}`,
    );
  });

  it('replaying layers keeps the residual stream only', () => {
    const { spec, kept } = keptValues('llama', true);
    const big = kept.filter((v) => v.shape.at(-1) === spec.intermediateSize);
    assert.deepEqual(big, []);
  });
});
