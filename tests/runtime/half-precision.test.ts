// Half-precision graphs (ModelSpec.compute): weights in float16/bfloat16 stay in it, activations too,
// with norm statistics, softmax, logits, loss and interventions in float32 (models/decoder.ts).
//
// Numerics are checked against the float32 graph on the device under test: the CPU (float16; it has
// no bfloat16 Gemm) unless REFT_STUDIO_DEVICE names another (the GPU check runs this file on CUDA,
// where bfloat16 is measured too; WebGPU has float16 only). Tolerances, from the formats' unit roundoff
// u (float16 2⁻¹¹ ≈ 4.9e-4, bfloat16 2⁻⁸ ≈ 3.9e-3) times the ~30 roundings a logit or gradient goes
// through in the 4-layer fixture, as fractions of the largest |value|:
//   float16: logits 1e-2, loss 1e-3 (relative), LoReFT gradients 3e-2   (measured: 3e-3, 4e-5, 9e-3)
//   bfloat16: logits 8e-2, loss 1e-2 (relative), gradients 0.2 (8× float16: u is 8× larger)
// Greedy tokens are not compared: a random model's near-ties flip under any rounding change.
// The structure is checked for both dtypes everywhere: no weight matrix is widened to float32, no
// ReduceMean/Softmax/ReduceLogSumExp/Pow reads a half tensor (CUDA has no bfloat16 ReduceMean), no Einsum.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSynthetic } from '../../native-runtime/bench/synthetic.ts';
import { fusedStepOptions } from '../../native-runtime/generation/fused-step.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { Graph, Node, Value } from '../../native-runtime/ir/graph.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { buildDecoder } from '../../native-runtime/models/decoder.ts';
import { prepareBaseLogged, prepareTraining } from '../../native-runtime/quantize/base.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import type { DeviceChoice } from '../../native-runtime/runtime/session.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { loreftAt, loreftState, SMALL_SYNTHETIC, smallReftBatch } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

type Half = 'float16' | 'bfloat16';
const TOL: Record<Half, { logits: number; loss: number; grads: number }> = {
  float16: { logits: 1e-2, loss: 1e-3, grads: 3e-2 },
  bfloat16: { logits: 8e-2, loss: 1e-2, grads: 0.2 },
};
const device = (process.env.REFT_STUDIO_DEVICE ?? 'cpu') as DeviceChoice;
/** Which half dtypes the device under test has kernels for. */
const RUNS: Record<string, Half[]> = { cpu: ['float16'], webgpu: ['float16'], cuda: ['float16', 'bfloat16'] };

const base = loadModelSpec(modelDir('llama'));
const tmp = tempDir('reft-half-');
const iv = loreftAt(base, 1, 2);

function allNodes(g: Graph): Node[] {
  return g.nodes.flatMap((nd) => [
    nd,
    ...Object.values(nd.attrs).flatMap((a) => (a.type === 'graph' ? allNodes(a.value) : [])),
  ]);
}

function checkStructure(g: Graph, dt: Half): void {
  const nodes = allNodes(g);
  assert.ok(!nodes.some((nd) => nd.op === 'Einsum'), 'no Einsum');
  for (const nd of nodes)
    if (['ReduceMean', 'Softmax', 'ReduceLogSumExp', 'Pow', 'Sqrt'].includes(nd.op))
      assert.equal(nd.inputs[0]?.dtype, 'float32', `${nd.name} reads ${nd.inputs[0]?.dtype}`);
  const isWeight = (v: Value | null) => !!v?.data && v.data.kind === 'external' && v.rank === 2;
  const matrices = nodes.filter((nd) => nd.op === 'Gemm' || nd.op === 'MatMul').map((nd) => nd.inputs[1]);
  assert.ok(matrices.some(isWeight), 'weights are read in place');
  for (const w of matrices.filter(isWeight)) assert.equal(w?.dtype, dt, `${w?.name} is ${w?.dtype}`);
  // No weight matrix is cast (ORT would fold that into a float32 copy).
  for (const nd of nodes.filter((x) => x.op === 'Cast'))
    assert.ok(
      !isWeight(nd.inputs[0]) || nd.outputs[0].dtype === dt,
      `${nd.name} widens ${nd.inputs[0]?.name}`,
    );
}

const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

for (const dt of ['float16', 'bfloat16'] as Half[]) {
  // Stored in float32 here: the weights are cast once (folded); the bench's synthetic models store dt.
  const spec: ModelSpec = { ...base, compute: dt };

  describe(`${dt} graphs`, () => {
    it('keep weights, products and activations in half precision, statistics in float32', async () => {
      // A small Llama stored in dt (the synthetic builder; 'cuda' keeps the file as it is, no store).
      const m = await buildSynthetic('tinyllama-1.1b', {
        dataDir: tmp,
        dtype: dt,
        device: 'cuda',
        overrides: SMALL_SYNTHETIC,
      });
      try {
        const stored: ModelSpec = { ...m.spec, compute: dt };
        const b = new GraphBuilder('forward');
        const g = buildDecoder(b, stored, {});
        b.output(g.logits!, 'logits');
        assert.equal(g.logits?.dtype, 'float32');
        checkStructure(b.graph, dt);
        const rg = buildReftGraph(stored, [{ ...iv, embedDim: 64 }]);
        checkStructure(rg.graph, dt);
        // A generator's graph, with both decoding loop bodies (the general decoder, the fused step
        // in its GPU form).
        const fusedDecode = fusedStepOptions('cuda');
        checkStructure(buildReftGraph(stored, [], { decodeLoop: true, fusedDecode }).graph, dt);
        for (const v of rg.graph.outputs)
          assert.ok(['float32', 'int64'].includes(v.dtype), `${v.name} ${v.dtype}`);
      } finally {
        m.dispose();
      }
    });

    const runs = RUNS[device]?.includes(dt);
    it(`forward logits within ${TOL[dt].logits} of float32 on ${device}`, {
      skip: !runs && `${device} has no ${dt} kernels`,
    }, async () => {
      const B = 2,
        T = 7;
      const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(3 + i * 11));
      const mask = new BigInt64Array(B * T).fill(1n);
      const ref = await loadForwardModel(base, { device });
      const m = await loadForwardModel(spec, { device });
      const a = (await runForward(ref, ids, mask, [B, T])).logits.data as Float32Array;
      const h = (await runForward(m, ids, mask, [B, T])).logits.data as Float32Array;
      const err = maxDiff(a, h) / maxAbs(a);
      assert.ok(err <= TOL[dt].logits, `relative logit error ${err}`);
      assert.ok(err > 0, 'the half graph computed something different from float32');
    });

    // GPT-2's LayerNorm over a cast from half: ORT's fusion of that pattern made a graph it refused.
    it(`GPT-2 (LayerNorm) loads and its logits are within ${TOL[dt].logits} of float32 on ${device}`, {
      skip: !runs && `${device} has no ${dt} kernels`,
    }, async () => {
      const B = 2,
        T = 7;
      const gpt2 = loadModelSpec(modelDir('gpt2'));
      const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(3 + i * 11));
      const mask = new BigInt64Array(B * T).fill(1n);
      const ref = await loadForwardModel(gpt2, { device });
      const m = await loadForwardModel({ ...gpt2, compute: dt }, { device });
      const a = (await runForward(ref, ids, mask, [B, T])).logits.data as Float32Array;
      const h = (await runForward(m, ids, mask, [B, T])).logits.data as Float32Array;
      const err = maxDiff(a, h) / maxAbs(a);
      assert.ok(err <= TOL[dt].logits, `relative logit error ${err}`);
    });

    it(`LoReFT loss and gradients within tolerance of float32 on ${device}`, {
      skip: !runs && `${device} has no ${dt} kernels`,
    }, async () => {
      await compareGrads(base, spec, TOL[dt]);
    });

    // A quantized base computes in half precision too (MatMulNBits reads its scales cast; on CUDA
    // `auto` picks it for GPUs too small for the checkpoint): against float32 over the same codes
    // with the exact kernels (accuracy_level 0), through both backward layouts (the forward's codes
    // dequantized, and the packed int8 Ŵᵀ); and with the store's own level (the CPU's int8-compute
    // kernels) the packed layout's half gradients stay within 5% of the exact ones, as float32's do
    // (quantize/linear.ts keeps half gradients off the int8 kernels: they were 30–50% off). Blocks
    // with zero points too (int4 at block 16: the fixture's 160 inputs make an even number of blocks).
    for (const form of ['int8', 'int4', 'int8-b32-zp', 'int4-b16-zp'])
      it(`over ${form} codes: LoReFT loss and gradients within tolerance of float32 on ${device}`, {
        skip: !runs && `${device} has no ${dt} kernels`,
      }, async () => {
        const q = await prepareBaseLogged(base, form, { dataDir: tmp, device });
        const level = (sp: ModelSpec, accuracyLevel: number): ModelSpec => ({
          ...sp,
          base: sp.base && { ...sp.base, accuracyLevel },
        });
        const packed = await prepareTraining(q, { pack: true });
        // The unpacked backward reads the codes one way on the CPU (uint8 views, bit operations,
        // blocked DequantizeLinear) and another on GPUs (float arithmetic: BaseWeights.onGpu). On the
        // CPU the GPU's way runs too, and matches; a GPU cannot run the CPU's (CUDA's blocked
        // DequantizeLinear takes no uint8 codes), so there only its own way runs.
        const layouts = [q, packed];
        if (device === 'cpu') {
          const gpuWay = { ...q, base: q.base && { ...q.base, onGpu: true } };
          await compareGrads(level(q, 0), level(gpuWay, 0), { loss: 1e-6, grads: 1e-5 });
          layouts.push(gpuWay);
        }
        for (const layout of layouts) {
          const exact = level(layout, 0);
          await compareGrads(exact, { ...exact, compute: dt }, TOL[dt]);
          const g = buildReftGraph({ ...layout, compute: dt }, [iv]).graph;
          const nbits = allNodes(g).filter((nd) => nd.op === 'MatMulNBits');
          assert.ok(
            nbits.length > 0 && nbits.every((nd) => nd.outputs[0].dtype === dt),
            'MatMulNBits in half',
          );
        }
        await compareGrads(level(q, 0), { ...packed, compute: dt }, { loss: 2e-3, grads: 0.05 });
      });
  });
}

/** LoReFT loss and gradients of `half` against `ref` (float32) on a fixed batch, within `tol`. */
async function compareGrads(
  ref: ModelSpec,
  half: ModelSpec,
  tol: { loss: number; grads: number },
): Promise<void> {
  const batch = smallReftBatch(2, 9, 4);
  const a = await (await ReftModel.load(ref, [loreftState(iv)], { device })).lossAndGrads(batch);
  const h = await (await ReftModel.load(half, [loreftState(iv)], { device })).lossAndGrads(batch);
  assert.ok(Math.abs(a.loss - h.loss) / a.loss <= tol.loss, `loss ${a.loss} vs ${h.loss}`);
  for (const [name, g] of a.grads[0]) {
    const err = maxDiff(g, h.grads[0].get(name)!) / maxAbs(g);
    assert.ok(err <= tol.grads, `${name}: relative error ${err}`);
  }
}
