// A model whose weights cannot be held in the computer's memory on the CPU is refused before any
// conversion (runtime/precision.ts hostMemoryProblem), with the quantized forms that would fit.

import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../native-runtime/errors.ts';
import { loadModelSpec, type ModelSpec } from '../../native-runtime/models/config.ts';
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
  // Half precision on the CPU (--dtype fp16) holds 2 bytes a weight: 16 GB fits in 23.
  assert.equal(hostMemoryProblem(llama8b, 'fp16', 'chat', 23 * GB), null);
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
