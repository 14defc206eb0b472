// A bf16 checkpoint on an NVIDIA GPU before Ampere (a T4: compute capability 7.5) computes in float32
// under Precision Automatic: the Train wizard's estimate says so before the run starts, in the words
// the run's log uses (runtime/precision.ts), rather than the log alone once it has started.
// In-process host, a stand-in nvidia-smi on PATH (asked once per process, so set before anything):
// GPU 0 an A100 (bfloat16 kernels), GPU 1 a T4, the one chosen in Settings → GPU.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Backend, createBackend } from '../../electron/backend/host.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { inProcess, LLAMA_FIXTURE, tempDir } from './helpers.ts';

const root = tempDir('estimate-bf16-gpu');
const bin = join(root, 'bin');
mkdirSync(bin);
writeFileSync(
  join(bin, 'nvidia-smi'),
  `#!/bin/sh
case "$1" in
  --query-gpu=*) printf '0, NVIDIA A100-SXM4-40GB, 40960, 580.95.05, 8.0\n1, Tesla T4, 15360, 580.95.05, 7.5\n';;
  *) echo "| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0 |";;
esac
`,
  { mode: 0o755 },
);
process.env.PATH = `${bin}:${process.env.PATH}`;
delete process.env.REFT_STUDIO_GPU;

let b: Backend;
let datasetId: number;
const { call } = inProcess(() => b);

before(async () => {
  b = createBackend(join(root, 'data'), { seedDemo: false, watchHubCache: false });
  const file = join(root, 'rows.jsonl');
  writeFileSync(
    file,
    `${Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `q${i}`, completion: `a${i}` })).join('\n')}\n`,
  );
  datasetId = (await call('datasets/import', { path: file })).dataset.id;
  await call('settings/environment-set', { gpu: 1 });
});
after(() => b.close());

const estimate = async (path: string, dtype: string) => {
  const modelId = (await call('models/add', { path })).id;
  return call('runs/estimate', {
    modelId,
    datasetId,
    device: 'cuda',
    dtype,
    maxLength: 64,
    calibrate: false,
  });
};

test('the estimate of a bf16 checkpoint on a GPU before Ampere says it computes in float32, and why', async () => {
  // The chosen GPU is judged, not the first (here an A100, which has bfloat16).
  const e = await estimate(modelDir('llama-bf16'), 'auto');
  assert.equal(e.memory.device.computeCapability, '7.5');
  assert.equal(
    e.precisionNote,
    "The bf16 checkpoint computes in float32: this GPU (compute capability 7.5) has no bfloat16 kernels; Precision float16 takes half the memory where the model's activations fit float16's range.",
  );
  // Nothing to say where float16 is asked for, or of a float32 checkpoint.
  assert.equal((await estimate(modelDir('llama-bf16'), 'fp16')).precisionNote, null);
  assert.equal((await estimate(LLAMA_FIXTURE, 'auto')).precisionNote, null);
  // With the A100 chosen, the checkpoint stays in bfloat16: nothing to say.
  await call('settings/environment-set', { gpu: 0 });
  const onA100 = await estimate(modelDir('llama-bf16'), 'auto');
  assert.equal(onA100.memory.device.computeCapability, '8.0');
  assert.equal(onA100.precisionNote, null);
});
