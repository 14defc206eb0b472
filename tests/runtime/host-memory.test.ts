// A model whose weights cannot be held in the computer's memory on the CPU is refused before any
// conversion (runtime/precision.ts hostMemoryProblem), with the quantized forms that would fit; the
// automatic form picks the first that fits (hostAutoForm); on a GPU the same against its memory
// (gpuAutoForm).

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../native-runtime/errors.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
import {
  type AutoPlace,
  autoBaseForm,
  baseWeightBytes,
  gpuAutoForm,
  hostAutoForm,
} from '../../native-runtime/quantize/memory.ts';
import { hostMemoryProblem, prepareModel } from '../../native-runtime/runtime/precision.ts';
import { setEnvFor } from '../helpers/env.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const GB = 1e9;
// Llama-3-8B's sizes on a fixture's spec (only the weights' shape is read).
const llama8b: ModelSpec = {
  ...loadModelSpec(modelDir('llama')),
  params: 8.03e9,
  hiddenSize: 4096,
  vocabSize: 128256,
  tieEmbeddings: false,
};

test('an 8B model: float32 is refused on a 23 GB computer, with the quantized forms that fit', (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const why = hostMemoryProblem(llama8b, 'none', 'chat', 23 * GB) ?? '';
  assert.match(why, /take 32\.1 GB in float32 on the CPU, more than this computer's 23\.0 GB/);
  assert.match(why, /choose int8 \(\d+\.\d GB\) or int4 \(\d+\.\d GB\) weights/);
  assert.equal(hostMemoryProblem(llama8b, 'int8', 'chat', 23 * GB), null);
  assert.equal(hostMemoryProblem(llama8b, 'none', 'chat', 64 * GB), null);
  // On 8 GB only int4 fits; on 4 GB nothing does.
  assert.match(hostMemoryProblem(llama8b, 'none', 'chat', 8 * GB) ?? '', /choose int4 \(/);
  assert.match(
    hostMemoryProblem(llama8b, 'int4', 'train', 4 * GB) ?? '',
    /too large for this computer even at int4/,
  );
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', '0');
  assert.equal(hostMemoryProblem(llama8b, 'none', 'chat', 8 * GB), null);
});

test('prepareModel refuses before converting a bf16 checkpoint to its float32 store', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dataDir = tempDir('host-memory-');
  const spec = loadModelSpec(modelDir('llama-bf16'));
  await assert.rejects(
    prepareModel(spec, { quantize: 'none', device: 'cpu', dataDir, totalMemory: 1000 }),
    (e: unknown) => e instanceof ConfigError && e.code === 'model-too-large',
  );
  // Nothing was written: the conversion never started.
  assert.ok(!existsSync(join(dataDir, 'bases')) || readdirSync(join(dataDir, 'bases')).length === 0);
  // With room, the same call converts it and goes on.
  const ok = await prepareModel(spec, { quantize: 'none', device: 'cpu', dataDir, totalMemory: 64 * GB });
  assert.equal(ok.base?.form, 'fp32');
});

test('--dtype fp16 on the CPU is judged at the float32 weights the CPU holds, not at 2 bytes', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dataDir = tempDir('host-memory-fp16-');
  const spec = loadModelSpec(modelDir('llama-bf16'));
  // Room for the checkpoint's 2 bytes a weight, not for the float32 store the CPU reads it from.
  const totalMemory = (3 * spec.params) / 0.9;
  const asked = { dtype: 'fp16' as const, device: 'cpu' as const, dataDir, totalMemory };
  await assert.rejects(
    prepareModel(spec, { ...asked, quantize: 'none' }),
    (e: unknown) =>
      e instanceof ConfigError && e.code === 'model-too-large' && /in float32 on the CPU/.test(e.message),
  );
  // auto weighs the same float32 weights: they do not fit, 8 bits do.
  const auto = await prepareModel(spec, { ...asked, quantize: 'auto' });
  assert.match(auto.base?.form ?? '', /^int8/);
});

test('auto: float32 where it fits, else int8, else int4 — decided on the weights the CPU would hold', (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const shape = { ...llama8b, tied: false };
  assert.equal(hostAutoForm(shape, 'chat', 64 * GB), 'none');
  assert.equal(hostAutoForm(shape, 'chat', 23 * GB), 'int8');
  assert.equal(hostAutoForm(shape, 'chat', 8 * GB), 'int4');
  assert.equal(hostAutoForm(shape, 'chat', 2 * GB), 'int4', 'nothing fits: the check then says so');
  assert.ok(baseWeightBytes(shape, 'int8', 'chat') <= 0.9 * 23 * GB);
});

test("auto on a GPU: the checkpoint's half weights where they fit in 80% of it, else int8, else int4", () => {
  const shape = { ...llama8b, tied: false };
  // Llama-3-8B in bf16 (16.1 GB): an H100 and a 24 GB card keep it; 16 and 12 GB cards get 8 bits
  // (≈9 GB), an 8 GB card 4 bits.
  const MiB = 2 ** 20;
  const cards = [81559, 24564, 16380, 12288, 8188].map((m) => gpuAutoForm(shape, 'chat', m * MiB, 'fp16'));
  assert.deepEqual(cards, ['none', 'none', 'int8', 'int8', 'int4']);
  // Counted in float32 where the GPU computes in float32 (an fp32 checkpoint): 32.1 GB needs 40.2 GB.
  assert.equal(gpuAutoForm(shape, 'chat', 48 * GB, 'none'), 'none');
  assert.equal(gpuAutoForm(shape, 'chat', 40 * GB, 'none'), 'int8');
  // autoBaseForm: a GPU (CUDA, WebGPU) with its memory; an unknown memory keeps the weights.
  const at = (a: Partial<AutoPlace>) =>
    autoBaseForm(shape, 'chat', { device: 'cuda', memory: 12 * GB, full: 'fp16', ...a });
  assert.equal(at({}), 'int8');
  assert.equal(at({ memory: null }), 'none');
  assert.equal(at({ device: 'webgpu' }), 'int8');
  assert.equal(at({ device: 'cpu', full: 'none', memory: 23 * GB }), hostAutoForm(shape, 'chat', 23 * GB));
});

test('prepareModel with auto: the fixture in float32 with room, quantized to int8 (said in the log) without', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dataDir = tempDir('host-memory-auto-');
  const spec = loadModelSpec(modelDir('llama'));
  const log: string[] = [];
  const roomy = await prepareModel(spec, {
    quantize: 'auto',
    device: 'cpu',
    dataDir,
    log: (m) => log.push(m),
  });
  assert.equal(roomy.base?.form, 'fp32');
  assert.equal(log.length, 0);
  // Memory between the int8 and the float32 weights of this model.
  const f32 = 4 * spec.params;
  const tight = await prepareModel(spec, {
    quantize: 'auto',
    device: 'cpu',
    dataDir,
    totalMemory: f32,
    log: (m) => log.push(m),
  });
  assert.match(tight.base?.form ?? '', /^int8/);
  assert.match(log.join('\n'), /base weights: int8 \(automatic\): in float32 they would take/);
});
