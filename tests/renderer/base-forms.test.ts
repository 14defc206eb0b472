// The Base weights choices (Models page, Train wizard): Automatic names the form it picks on this
// computer's CPU when the page knows the memory, with that form's figures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseFormChoices, gpuMemoryFor } from '../../renderer/src/lib/base-forms.ts';

const GB = 1e9;
const llama8b = {
  params: 8.03e9,
  hiddenSize: 4096,
  vocabSize: 128256,
  config: { tie_word_embeddings: false },
};

test('Automatic says what it picks here: 8-bit on 23 GB, full precision on 64 GB, the rule without memory', () => {
  const at = (memory?: number) => {
    const cs = baseFormChoices(llama8b, memory);
    const auto = cs.find((c) => c.value === 'auto');
    assert.ok(auto);
    return { auto, of: (v: string) => cs.find((c) => c.value === v) };
  };
  const small = at(23 * GB);
  assert.match(small.auto.detail, /^8-bit on this computer's CPU: weights [\d.]+ GB/);
  assert.equal(small.auto.chatBytes, small.of('int8')?.chatBytes);
  const big = at(64 * GB);
  assert.match(big.auto.detail, /^full precision on this computer's CPU: weights /);
  assert.equal(big.auto.chatBytes, big.of('none')?.chatBytes);
  // The control shows the short label; what it means here is the detail beside it (the full text
  // was cut at the select's edge, "…— weights 1.").
  assert.equal(small.auto.label, 'Automatic');
  assert.match(small.of('int8')?.detail ?? '', /^weights [\d.]+ GB/);
  // Bug: "weights 1.0 MB" beside the Models page's "1.2 MB" (the folder on disk) read as a
  // contradiction: each figure says what it counts.
  assert.match(small.of('int8')?.detail ?? '', /^weights [\d.]+ GB in memory/);
  assert.equal(at().auto.detail, 'full precision where it fits in memory, else 8 or 4 bits');
  assert.deepEqual(
    baseFormChoices(llama8b).map((c) => c.value),
    ['auto', 'none', 'int8', 'int4'],
  );
});

test('with an NVIDIA GPU runs go to, Automatic names its form there too and shows the GPU figures', () => {
  const MiB = 2 ** 20;
  const bf16 = { ...llama8b, config: { ...llama8b.config, torch_dtype: 'bfloat16' } };
  const auto = (gpu: number, use: 'chat' | 'train' = 'chat') =>
    baseFormChoices(bf16, 23 * GB, use, { api: 'cuda', memoryBytes: gpu * MiB }).find(
      (c) => c.value === 'auto',
    );
  // A 24 GB card holds the bf16 weights (16.1 GB); a 12 GB card gets 8 bits (as the engine decides).
  assert.match(
    auto(24564)?.detail ?? '',
    /^full precision on the GPU, 8-bit on this computer's CPU: weights 16\.1 GB in GPU memory/,
  );
  assert.match(
    auto(12288)?.detail ?? '',
    /^8-bit on the GPU, 8-bit on this computer's CPU: weights [\d.]+ GB in GPU memory/,
  );
  const int8 = baseFormChoices(bf16, 23 * GB, 'chat', { api: 'cuda', memoryBytes: 12288 * MiB }).find(
    (c) => c.value === 'int8',
  );
  assert.equal(auto(12288)?.chatBytes, int8?.chatBytes);
  // An 8 GB card: 4 bits.
  assert.match(auto(8188)?.detail ?? '', /^4-bit on the GPU/);
  // WebGPU has no bfloat16: the bf16 checkpoint would take float32 there (32 GB on a 24 GB card: 8 bits).
  const webgpu = baseFormChoices(bf16, 23 * GB, 'chat', { api: 'webgpu', memoryBytes: 24564 * MiB });
  assert.match(webgpu[0].detail, /^8-bit on the GPU/);
  assert.match(webgpu[1].detail, /^weights 32\.1 GB in GPU memory/);
  // Nor has a GPU before Ampere (an RTX 2080 Ti: system/info's cudaBf16 false): float32 on a 24 GB card too.
  const turing = gpuMemoryFor('cuda', { cudaMemBytes: 24564 * MiB, cudaBf16: false });
  assert.deepEqual(turing, { api: 'cuda', memoryBytes: 24564 * MiB, bf16: false });
  const old = baseFormChoices(bf16, 23 * GB, 'chat', turing);
  assert.match(old[0].detail, /^8-bit on the GPU/);
  assert.match(old[1].detail, /^weights 32\.1 GB in GPU memory/);
  // Without a GPU's memory (no CUDA pack): the CPU's form only, as before.
  assert.match(
    baseFormChoices(bf16, 23 * GB, 'chat', null)[0].detail,
    /^8-bit on this computer's CPU: weights /,
  );
});

test('the GPU counts where the run goes there: cuda or auto with CUDA available, WebGPU, not the CPU', () => {
  const mem = { cudaMemBytes: 12e9, webgpuMemBytes: 11e9 };
  assert.deepEqual(gpuMemoryFor('cuda', mem), { api: 'cuda', memoryBytes: 12e9, bf16: true });
  assert.deepEqual(gpuMemoryFor('auto', mem), { api: 'cuda', memoryBytes: 12e9, bf16: true });
  assert.deepEqual(gpuMemoryFor('webgpu', mem), { api: 'webgpu', memoryBytes: 11e9 });
  assert.equal(gpuMemoryFor('cpu', mem), null);
  assert.equal(
    gpuMemoryFor('auto', { ...mem, cudaMemBytes: null }),
    null,
    'no CUDA runtime pack: auto runs on the computer',
  );
  assert.equal(gpuMemoryFor('cuda', undefined), null);
});

test('a block spelling chosen elsewhere (a run started with --quantize int4-b64) gets a choice of its own', () => {
  const cs = baseFormChoices(llama8b, 23 * GB, 'train', null, 'int4-b64');
  assert.deepEqual(
    cs.map((c) => c.value),
    ['auto', 'none', 'int8', 'int4', 'int4-b64'],
  );
  const b64 = cs.at(-1);
  assert.equal(b64?.label, 'int4-b64');
  assert.match(b64?.detail ?? '', /^weights /);
  // Its own figures: 64-weight blocks keep half the scales of int4's 32.
  assert.ok((b64?.chatBytes ?? 0) < (cs.find((c) => c.value === 'int4')?.chatBytes ?? 0));
  // One of the four, or nothing chosen: the four only.
  for (const current of ['int4', null, undefined])
    assert.equal(baseFormChoices(llama8b, 23 * GB, 'train', null, current).length, 4);
});
