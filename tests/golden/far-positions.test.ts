// Every rotary variant the engine builds, far into a long context: the golden batch at positions
// 120000 and on, against the PyTorch reference (tests/tools/torchref.py, transformers' formulas with
// each step in float32 as there). The goldens stay below 14 positions, where a rotary frequency an
// ulp away changes nothing; at 120000 that ulp, times the position, moves the logits by up to 7e-3
// (qwen3's theta 1e6), so this is where the engine's ropeInvFreq and the reference must agree.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../native-runtime/formats/safetensors.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { ort } from '../../native-runtime/runtime/session.ts';
import { runPython, torchSkipReason } from '../adapters/torch-python.ts';
import { maxAbsDiffMasked, modelDir, modelVariant } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/temp.ts';

const FAR = 120_000;
const tmp = tempDir('reft-far-positions-');

/** Fixture folders, one per rotary variant (default rope at two thetas, llama3, linear, longrope). */
const CASES: Record<string, () => string> = {
  llama: () => modelDir('llama'),
  qwen3: () => modelDir('qwen3'),
  gemma: () => modelDir('gemma'),
  phi3: () => modelDir('phi3'),
  'llama+llama3': () =>
    modelVariant(join(tmp, 'llama3'), 'llama', (c) => {
      c.rope_parameters = {
        rope_type: 'llama3',
        rope_theta: 500000.0,
        factor: 32.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 8192,
      };
    }),
  'llama+linear': () =>
    modelVariant(join(tmp, 'linear'), 'llama', (c) => {
      c.rope_parameters = { rope_type: 'linear', rope_theta: 10000.0, factor: 4.0 };
    }),
};

const REFERENCE = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torchref
out = {}
for name, d in json.loads(sys.argv[2]).items():
    g = torchref.read_safetensors(d + '/golden_forward.safetensors')
    with torch.no_grad():
        out[name] = torchref.Model(d).forward(g['input_ids'], g['attention_mask'], pos0=int(sys.argv[3]))[0].flatten().tolist()
print(json.dumps(out))
`;

test(`rotary models at position ${FAR}: logits within 1e-4 of torchref`, {
  skip: torchSkipReason(),
}, async () => {
  const dirs = Object.fromEntries(Object.entries(CASES).map(([name, dir]) => [name, dir()]));
  const want = runPython<Record<string, number[]>>(REFERENCE, [
    fileURLToPath(new URL('../tools/', import.meta.url)),
    JSON.stringify(dirs),
    String(FAR),
  ]);
  const errors: Record<string, number> = {};
  for (const [name, dir] of Object.entries(dirs)) {
    const spec = loadModelSpec(dir);
    const golden = loadSafetensors(join(dir, 'golden_forward.safetensors'));
    const ids = golden.get('input_ids')!;
    const mask = golden.get('attention_mask')!.data as BigInt64Array;
    const [B, T] = ids.shape as [number, number];
    const positions = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(FAR + (i % T)));
    const r = await runForward(await loadForwardModel(spec), ids.data as BigInt64Array, mask, [B, T], {
      position_ids: new ort.Tensor('int64', positions, [B, T]),
    });
    errors[name] = maxAbsDiffMasked(
      r.logits.data as Float32Array,
      Float32Array.from(want[name]!),
      mask,
      spec.vocabSize,
    );
  }
  const off = Object.entries(errors).filter(([, err]) => !(err <= 1e-4));
  assert.deepEqual(off, [], `max logit errors: ${JSON.stringify(errors)}`);
});
