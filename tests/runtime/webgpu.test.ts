// The engine's graphs on ONNX Runtime's WebGPU provider (skipped where no WebGPU adapter starts; on a
// machine without a GPU, Mesa ≥ 23's lavapipe provides a CPU Vulkan adapter Dawn accepts).
//   - placement: ORT leaves only shape/index computations to the CPU — no node on the CPU reads a
//     float tensor or makes one of a model width (a real fallback would, e.g. the loss or zeros of
//     the logits' size). disable_cpu_ep_fallback cannot be the check: ORT also refuses the small
//     int64 shape nodes it moves to the CPU on purpose, and onnxruntime-node cannot switch on the
//     WebGPU provider's int64 support (ep.webgpuexecutionprovider.enableInt64 is not forwarded).
//   - training: a LoReFT loss and gradients equal the CPU's;
//   - generation: greedy tokens equal the CPU's, with the KV cache kept on the device
//     (present_key.i come back as GPU buffers and are fed back);
//   - a quantized base: MatMulNBits and the backward's dequantization on the GPU, no stored weight
//     or codes read on the CPU, the CPU's loss, gradients and tokens.
// The golden suites run on WebGPU unchanged with REFT_STUDIO_DEVICE=webgpu REFT_STUDIO_REQUIRE_DEVICE=1.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeSyntheticCheckpoint } from '../../native-runtime/bench/synthetic.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { GraphBuilder } from '../../native-runtime/ir/builder.ts';
import type { Graph, Node } from '../../native-runtime/ir/graph.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import { buildDecoder } from '../../native-runtime/models/decoder.ts';
import { prepareBaseLogged, prepareTraining } from '../../native-runtime/quantize/base.ts';
import { nodePlacement } from '../../native-runtime/runtime/placement.ts';
import { prepareModel } from '../../native-runtime/runtime/precision.ts';
import { webgpuHalfSupport, webgpuReachable } from '../../native-runtime/runtime/session.ts';
import { webgpuAdapter } from '../../native-runtime/runtime/webgpu-adapter.ts';
import { buildReftGraph } from '../../native-runtime/training/reft-graph.ts';
import { ReftModel } from '../../native-runtime/training/reft-model.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { loreftAt, loreftState, SMALL_SYNTHETIC, smallReftBatch } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

const why = await webgpuReachable();
const tmp = tempDir('reft-webgpu-');
const spec = loadModelSpec(modelDir('llama'));
const ivSpec = loreftAt(spec, 1);

function nodesByName(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  const walk = (gr: Graph) => {
    for (const n of gr.nodes) {
      m.set(n.name, n);
      for (const a of Object.values(n.attrs)) if (a.type === 'graph') walk(a.value);
    }
  };
  walk(g);
  return m;
}

/** Nodes ORT put on the CPU that do model math: read a float tensor, or make one with a model-width axis. */
async function cpuMath(g: Graph, weightsDir: string): Promise<string[]> {
  const p = await nodePlacement(g, 'webgpu', weightsDir);
  assert.ok((p.byProvider.get('WebGpuExecutionProvider')?.length ?? 0) > 0, 'nothing ran on WebGPU');
  const ir = nodesByName(g);
  const bad: string[] = [];
  for (const { op, name } of p.byProvider.get('CPUExecutionProvider') ?? []) {
    const n = ir.get(name);
    // ORT's transpose optimizer turns Shape(Transpose(y)) into Gather(Shape(y), perm), named
    // Gather[_token_N]: int64 shape math, wherever a graph takes the Shape of a transposed value.
    // It never writes a Gather for float data (it moves Transposes).
    if (!n && op === 'Gather' && /^Gather(_token_\d+)?$/.test(name)) continue;
    if (!n) {
      bad.push(`${op} ${name} (made by ORT's optimizer)`);
      continue;
    }
    // Reading a stored weight (a quantized base's codes too) on the CPU copies it off the GPU.
    const readsFloat = n.inputs.some(
      (v) => v && ((/float/.test(v.dtype) && !v.data) || v.data?.kind === 'external'),
    );
    const wideFloat = n.outputs.some(
      (v) =>
        /float/.test(v.dtype) && v.shape.some((d) => typeof d === 'number' && d > 1) && !v.shape.includes(0),
    );
    if (readsFloat || wideFloat) bad.push(`${op} ${name} ${n.outputs.map(String).join(', ')}`);
  }
  return bad;
}

/** prepareModel's options for WebGPU, its log lines collected in `logs`. */
function onWebgpu(quantize: string, logs: string[]) {
  return { quantize, device: 'webgpu' as const, dataDir: tmp, log: (m: string) => logs.push(m) };
}

/** The LoReFT loss and gradients of `onGpu` on WebGPU equal those of `onCpu` on the CPU (1e-4). */
async function sameGradients(onCpu: ModelSpec, onGpu: ModelSpec): Promise<void> {
  const batch = smallReftBatch(2, 6, 3);
  const cpu = await (await ReftModel.load(onCpu, [loreftState(ivSpec)], { device: 'cpu' })).lossAndGrads(
    batch,
  );
  const gpuModel = await ReftModel.load(onGpu, [loreftState(ivSpec)], {
    device: 'webgpu',
    requireDevice: true,
  });
  assert.equal(gpuModel.session.device, 'webgpu');
  const gpu = await gpuModel.lossAndGrads(batch);
  assert.ok(Math.abs(cpu.loss - gpu.loss) < 1e-4, `loss ${cpu.loss} vs ${gpu.loss}`);
  for (const [name, g] of cpu.grads[0]) {
    const h = gpu.grads[0].get(name)!;
    const scale = Math.max(...g.map(Math.abs));
    const err = Math.max(...g.map((v, i) => Math.abs(v - h[i])));
    assert.ok(err <= 1e-4 * scale + 1e-7, `${name}: error ${err} (scale ${scale})`);
  }
}

describe('the WebGPU provider', { skip: why ?? false }, () => {
  it('runs the forward graph with only shape/index nodes left to the CPU', async () => {
    const b = new GraphBuilder('llama-forward');
    const g = buildDecoder(b, spec, {});
    b.output(g.logits!, 'logits');
    assert.deepEqual(await cpuMath(b.graph, g.weightsDir), []);
  });

  it('runs the ReFT graph (training If, loss, backward, cached generation) the same way', async () => {
    const g = buildReftGraph(spec, [ivSpec]);
    assert.deepEqual(await cpuMath(g.graph, g.weightsDir), []);
  });

  it('computes the same LoReFT loss and gradients as the CPU', async () => {
    await sameGradients(spec, spec);
  });

  it('a session opened on a software adapter because WebGPU was named says so, in one line', async () => {
    const adapter = await webgpuAdapter();
    const notes: string[] = [];
    const model = await ReftModel.load(spec, [loreftState(ivSpec)], {
      device: 'webgpu',
      onNotice: (m) => notes.push(m),
    });
    assert.equal(model.session.device, 'webgpu');
    if (!adapter.software) return assert.deepEqual(notes, []); // a GPU: nothing to say
    assert.deepEqual(notes, [
      `webgpu runs on a software adapter (${adapter.softwareWhy}), Vulkan emulated on the CPU: no GPU is used`,
    ]);
  });

  it('generates the same greedy tokens with the KV cache kept on the device', async () => {
    const prompts = [
      [1, 5, 9, 13, 200],
      [7, 3],
    ];
    const opts = { greedy: true, maxNewTokens: 6, eosTokenIds: [] };
    const cpu = await (await Generator.load(spec, { device: 'cpu' })).generate(prompts, opts);
    const gen = await Generator.load(spec, { device: 'webgpu', requireDevice: true });
    assert.equal(gen.session.device, 'webgpu');
    assert.ok(gen.session.outputsOnDevice.has('present_key.0'));
    const gpu = await gen.generate(prompts, opts);
    assert.deepEqual(gpu.tokens, cpu.tokens);
  });

  it('a quantized base (MatMulNBits): weights and gradients on the GPU, the CPU’s loss, gradients and tokens', async () => {
    // Exact kernels on both sides (the CPU's int8-compute level would differ by design). Both
    // backward layouts of both forms: int4's unpacked backward splits nibbles by float arithmetic
    // (BitwiseAnd/BitShift, which only the CPU has, put every weight's codes on the CPU each step).
    const exact = (sp: ModelSpec): ModelSpec => ({
      ...sp,
      base: sp.base && { ...sp.base, accuracyLevel: 0 },
    });
    for (const form of ['int8', 'int4']) {
      const q = exact(await prepareBaseLogged(spec, form, { dataDir: tmp, device: 'webgpu' }));
      const packed = await prepareTraining(q, { pack: true });
      for (const layout of [q, packed]) {
        const g = buildReftGraph(layout, [ivSpec]);
        assert.deepEqual(
          await cpuMath(g.graph, g.weightsDir),
          [],
          `${form} ${layout.base?.backward ?? 'dequantize'}`,
        );
        await sameGradients(layout, layout);
      }
      const prompts = [[1, 5, 9, 13, 200]];
      const opts = { greedy: true, maxNewTokens: 6, eosTokenIds: [] };
      const cpu = await (await Generator.load(q, { device: 'cpu' })).generate(prompts, opts);
      const gpu = await (await Generator.load(q, { device: 'webgpu', requireDevice: true })).generate(
        prompts,
        opts,
      );
      assert.deepEqual(gpu.tokens, cpu.tokens, form);
    }
    // `auto` on WebGPU weighs the GPU's memory: a GPU that cannot hold the float32 weights gets 8 bits.
    const logs: string[] = [];
    const small = onWebgpu('auto', logs);
    const auto = await prepareModel(spec, { ...small, gpuMemory: 4 * spec.params * 0.9 });
    assert.equal(auto.base?.scheme?.bits, 8);
    assert.equal(auto.base?.onGpu, true, 'codes marked for a GPU backward');
    assert.ok(
      logs.some((l) => /^base weights: int8 \(automatic\): in float32 .* of this GPU's/.test(l)),
      logs.join('\n'),
    );
    const roomy = await prepareModel(spec, { ...small, gpuMemory: 64e9 });
    assert.equal(roomy.base?.scheme ?? null, null);
  });

  it('--dtype auto computes an fp16 checkpoint in float16 where the adapter has float16 shaders', async () => {
    // The probe's answer decides (lavapipe and desktop GPUs have shader-f16; without it, float32 and
    // an explicit fp16 refused). A bf16 checkpoint stays float32 (its range does not fit float16).
    const f16 = await webgpuHalfSupport('webgpu');
    assert.equal(typeof f16, 'boolean', 'sessions for webgpu run on WebGPU here');
    const dir = join(tmp, 'fp16');
    await writeSyntheticCheckpoint('tinyllama-1.1b', dir, { dtype: 'float16', overrides: SMALL_SYNTHETIC });
    const logs: string[] = [];
    const opts = onWebgpu('none', logs);
    const half = await prepareModel(loadModelSpec(dir), opts);
    if (!f16) {
      assert.equal(half.compute, undefined, 'no float16 shaders: float32');
      await assert.rejects(
        prepareModel(loadModelSpec(dir), { ...opts, dtype: 'fp16' }),
        /no float16 shaders/,
      );
      return;
    }
    assert.equal(half.compute, 'float16');
    assert.equal(half.base?.dir, null, 'the fp16 file is read in place, no float32 store');
    assert.ok(
      logs.some((l) => /computing in float16/.test(l)),
      logs.join('\n'),
    );
    const gen = await Generator.load(half, { device: 'webgpu', requireDevice: true });
    assert.equal(gen.session.device, 'webgpu');
    const bfDir = join(tmp, 'bf16');
    await writeSyntheticCheckpoint('tinyllama-1.1b', bfDir, {
      dtype: 'bfloat16',
      overrides: SMALL_SYNTHETIC,
    });
    const bf = await prepareModel(loadModelSpec(bfDir), { quantize: 'none', device: 'webgpu', dataDir: tmp });
    assert.equal(bf.compute, undefined, 'bf16 computes in float32 on WebGPU');
  });
});
