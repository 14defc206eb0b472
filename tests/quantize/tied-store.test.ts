// The fp32 store of a tied half-precision model holds its embedding table once, in fp32: the LM
// head multiplies it and the embedding gathers from it (no spare `lm_head.weight` of vocab × hidden
// × 4 bytes), and the logits are those of the checkpoint read in place (cast in the graph).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  loadSafetensors,
  readSafetensorsHeader,
  readTensorBytes,
  type TensorToWrite,
  writeSafetensors,
} from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { prepareBase } from '../../native-runtime/quantize/base.ts';
import { STORE_FILE } from '../../native-runtime/quantize/store.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { modelDir } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

/** A bf16 copy of fixture `arch` (each fp32 weight truncated to its top 16 bits). */
function bf16Copy(arch: string): string {
  const src = modelDir(arch);
  const dir = join(tempDir('reft-tied-'), 'model');
  mkdirSync(dir);
  for (const f of readdirSync(src)) if (!f.endsWith('.safetensors')) copyFileSync(join(src, f), join(dir, f));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of loadSafetensors(join(src, 'model.safetensors'))) {
    const f = t.data as Float32Array;
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    tensors[name] = { dtype: 'BF16', shape: t.shape, data: Uint16Array.from(bits, (b) => b >>> 16) };
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

async function logits(spec: Parameters<typeof loadForwardModel>[0]): Promise<Float32Array> {
  const ids = BigInt64Array.from([1, 5, 9, 200, 17, 3, 300, 42], BigInt);
  const m = await loadForwardModel(spec);
  return (await runForward(m, ids, new BigInt64Array(8).fill(1n), [1, 8])).logits.data as Float32Array;
}

for (const [arch, embedding] of [
  ['qwen2', 'model.embed_tokens.weight'],
  ['gpt2', 'transformer.wte.weight'],
] as const) {
  describe(`tied ${arch} in bf16, fp32 store`, () => {
    it('holds the embedding table once, in fp32, and computes the in-place logits', async () => {
      const dir = bf16Copy(arch);
      const inPlace = loadModelSpec(dir);
      assert.ok(inPlace.tieEmbeddings);
      const dataDir = tempDir('reft-tied-data-');
      const stored = await prepareBase(inPlace, null, { dataDir });
      const file = join(stored.base!.dir!, STORE_FILE);
      const tensors = readSafetensorsHeader(file).tensors;
      assert.ok(!tensors.has('lm_head.weight'), 'the store keeps a spare copy of the tied head');
      const table = tensors.get(embedding)!;
      assert.equal(table.dtype, 'F32');
      assert.deepEqual(table.shape, [inPlace.vocabSize, inPlace.hiddenSize]);
      const weights = [...tensors.values()].reduce((n, t) => n + t.byteLength, 0);
      assert.ok(statSync(file).size - weights < 64 * 1024, 'the file holds only the listed tensors');
      const expected = await logits(inPlace);
      assert.deepEqual(await logits(stored), expected);

      // A store written before holds the embedding in the checkpoint's bf16 and the head's own fp32
      // copy (as the last tensor): it is still complete, and read as it is.
      const old: Record<string, TensorToWrite> = {};
      for (const [n, t] of tensors)
        old[n] = { dtype: t.dtype, shape: t.shape, data: readTensorBytes(file, t) };
      old['lm_head.weight'] = old[embedding];
      const half = inPlace.weights.get(embedding);
      old[embedding] = { dtype: 'BF16', shape: half.info.shape, data: readTensorBytes(half.file, half.info) };
      writeSafetensors(file, old, readSafetensorsHeader(file).metadata);
      const reopened = await prepareBase(inPlace, null, { dataDir });
      assert.ok(readSafetensorsHeader(file).tensors.has('lm_head.weight'), 'the old store was rewritten');
      assert.deepEqual(await logits(reopened), expected);
    });
  });
}
