// `bench --synthetic`: a model this computer cannot hold, or whose build the disk cannot hold, is
// refused in one line before anything is written (a float32 Llama-3-8B on a 25 GB machine wrote a
// 32 GB file before), and a killed bench's scratch folder goes at the next start of the library.
// The memory figure is injected (`memory`) and the shapes are small, so nothing large is written.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeLibrary, openLibrary } from '../../electron/backend/library/library.ts';
import { buildSynthetic, syntheticShape } from '../../native-runtime/bench/synthetic.ts';
import { parseQuantize } from '../../native-runtime/quantize/scheme.ts';
import { setEnvFor } from '../helpers/env.ts';
import { SMALL_SYNTHETIC } from '../helpers/models.ts';
import { tempDir } from '../helpers/temp.ts';

const small = { overrides: SMALL_SYNTHETIC, device: 'cpu' };
// Room for its int8 weights, not for its float32 ones (4 bytes a weight, within 90% of memory).
const memory = 2 * syntheticShape('tinyllama-1.1b', SMALL_SYNTHETIC).params;

test('a synthetic model over the memory is refused in one line before anything is written', async (t) => {
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dataDir = tempDir('reft-synth-memory-');
  for (const use of ['chat', 'train'] as const) {
    await assert.rejects(buildSynthetic('tinyllama-1.1b', { ...small, dataDir, memory, use }), (e: Error) => {
      assert.equal((e as { code?: string }).code, 'model-too-large');
      assert.match(
        e.message,
        /^this model's weights take .+ in float32 on the CPU, more than this computer's .+ of memory can hold: choose int8 \(.+\) or int4 \(.+\) with --quantize, or a GPU with --device \(REFT_STUDIO_MEMORY_CHECK=0 skips this check\)$/,
      );
      return true;
    });
  }
  assert.deepEqual(readdirSync(dataDir), [], 'nothing written');
  // The form the refusal names fits.
  const int8 = await buildSynthetic('tinyllama-1.1b', {
    ...small,
    dataDir,
    memory,
    scheme: parseQuantize('int8'),
  });
  assert.equal(int8.spec.base?.form, 'int8-b32');
  int8.dispose();
  // The switch every memory refusal names runs it anyway.
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', '0');
  const unchecked = await buildSynthetic('tinyllama-1.1b', {
    ...small,
    dataDir: tempDir('reft-synth-'),
    memory,
  });
  assert.equal(unchecked.spec.hiddenSize, 64);
  unchecked.dispose();
});

test("a training bench's step over the memory is refused in one line, as train refuses it", async (t) => {
  // Room for the float32 weights, not for a step of 4 × 128 tokens (logits alone: 4 bytes × 3 × vocab a token).
  const roomy = 64 * syntheticShape('tinyllama-1.1b', SMALL_SYNTHETIC).params;
  const train = { ...small, memory: roomy, use: 'train' as const };
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', undefined);
  const dataDir = tempDir('reft-synth-step-');
  await assert.rejects(
    buildSynthetic('tinyllama-1.1b', { ...train, dataDir, step: { batch: 4, tokens: 128 } }),
    (e: Error) => {
      assert.equal((e as { code?: string }).code, 'batch-too-large');
      assert.match(
        e.message,
        /^a training step of 4 × 128 tokens needs about .+, more than this computer's .+ of memory can hold: use a batch size of at most 3 .+ \(REFT_STUDIO_MEMORY_CHECK=0 skips this check\)$/,
      );
      return true;
    },
  );
  assert.deepEqual(readdirSync(dataDir), [], 'nothing written');
  // The batch the refusal names fits.
  const suggested = await buildSynthetic('tinyllama-1.1b', {
    ...train,
    dataDir,
    step: { batch: 3, tokens: 128 },
  });
  suggested.dispose();
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', '0');
  const unchecked = await buildSynthetic('tinyllama-1.1b', {
    ...train,
    dataDir: tempDir('reft-synth-step-'),
    step: { batch: 4, tokens: 128 },
  });
  unchecked.dispose();
});

test('a synthetic model whose build the disk cannot hold is refused before anything is written', async (t) => {
  // A shape of hundreds of terabytes, its memory check off: only the disk can refuse it.
  setEnvFor(t, 'REFT_STUDIO_MEMORY_CHECK', '0');
  const dataDir = join(tempDir('reft-synth-disk-'), 'data');
  const overrides = {
    hidden_size: 65536,
    num_attention_heads: 512,
    num_key_value_heads: 512,
    intermediate_size: 262144,
    num_hidden_layers: 1000,
  };
  await assert.rejects(buildSynthetic('llama3-8b', { dataDir, overrides, device: 'cpu' }), (e: Error) => {
    assert.equal((e as { code?: string }).code, 'disk-full');
    assert.match(
      e.message,
      new RegExp(
        `^the synthetic llama3-8b model needs .+ TB of disk space in ${dataDir} \\(its weights, deleted after the bench, and 268 MB left free\\), but only .+ is free$`,
      ),
    );
    return true;
  });
  assert.equal(existsSync(dataDir), false, 'not even the data folder made');
});

test("a killed bench's synthetic model is swept when the library next opens; a running one's stays", () => {
  const dataDir = tempDir('reft-synth-sweep-');
  // A pid that no longer runs: a child that has exited.
  const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
  const left = join(dataDir, 'tmp', `synthetic-llama3-8b-${dead}-mxckm92d`);
  const running = join(dataDir, 'tmp', `synthetic-llama3-8b-${process.pid}-mxckm92e`);
  for (const dir of [left, running]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors.partial'), 'weights');
  }
  closeLibrary(openLibrary(dataDir));
  assert.equal(existsSync(left), false, "the killed bench's folder is gone");
  assert.ok(existsSync(join(running, 'model.safetensors.partial')), 'a running process keeps its own');
});
