// Sliding-window attention (Mistral; Qwen2/Qwen3 with use_sliding_window): a query sees itself and the
// window − 1 keys before it. Checked against the independent PyTorch reference (tests/tools/torchref.py,
// transformers' rule kv_idx > q_idx − sliding_window) on the llama/qwen2 fixture weights with a
// 4-token window, and through the generator, whose cache applies the window itself (generator.ts).
// The PyTorch half needs Debian's python3-torch; skipped with a reason without it, except under CI.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { loadForwardModel, runForward } from '../../native-runtime/runtime/forward.ts';
import { runPython, torchSkipReason } from '../adapters/torch-python.ts';
import { modelDir, modelVariant, qwenMixedWindow } from '../helpers/fixtures.ts';
import { assertCacheFreeGreedy } from '../helpers/greedy.ts';
import { tempDir } from '../helpers/temp.ts';

const root = tempDir('reft-window-');

const variant = (name: string, from: string, edit: (c: Record<string, unknown>) => void): string =>
  modelVariant(join(root, name), from, edit);

const MISTRAL = variant('mistral', 'llama', (c) => {
  c.model_type = 'mistral';
  c.architectures = ['MistralForCausalLM'];
  c.sliding_window = 4;
});
const MISTRAL_NO_WINDOW = variant('mistral-full', 'llama', (c) => {
  c.model_type = 'mistral';
  c.architectures = ['MistralForCausalLM'];
  c.sliding_window = null;
});
// Layer 2 of 3 windowed, from max_window_layers (layer_types removed so it is derived).
const QWEN_MIXED = qwenMixedWindow(join(root, 'qwen2-mixed'));

// Row 1 is left-padded by 3: padding, window and causality combine in one mask.
const ROWS = [
  [1, 15, 27, 99, 3, 44, 51, 8, 120, 7, 64, 300],
  [0, 0, 0, 1, 200, 7, 88, 17, 230, 5, 61, 9],
];
const MASK = ROWS.map((r, i) => r.map((_, t) => (i === 1 && t < 3 ? 0 : 1)));
const B = ROWS.length,
  T = ROWS[0].length;

async function studioLogits(dir: string): Promise<Float32Array> {
  const m = await loadForwardModel(loadModelSpec(dir));
  const out = await runForward(
    m,
    BigInt64Array.from(ROWS.flat(), BigInt),
    BigInt64Array.from(MASK.flat(), BigInt),
    [B, T],
  );
  return out.logits.data as Float32Array;
}

/** Largest |a − b| over positions where the mask is 1. */
function maxDiff(a: Float32Array, b: ArrayLike<number>): number {
  const V = a.length / (B * T);
  let m = 0;
  for (let r = 0; r < B; r++)
    for (let t = 0; t < T; t++) {
      if (!MASK[r][t]) continue;
      for (let v = 0; v < V; v++) {
        const i = (r * T + t) * V + v;
        m = Math.max(m, Math.abs(a[i] - b[i]));
      }
    }
  return m;
}

test('config: windows per layer from sliding_window, use_sliding_window, max_window_layers', () => {
  assert.deepEqual(loadModelSpec(MISTRAL).slidingWindow, { size: 4, layers: [true, true, true, true] });
  assert.equal(loadModelSpec(MISTRAL_NO_WINDOW).slidingWindow, null);
  assert.deepEqual(loadModelSpec(QWEN_MIXED).slidingWindow, { size: 4, layers: [false, false, true] });
  assert.equal(loadModelSpec(modelDir('qwen2')).slidingWindow, null, 'use_sliding_window false');
});

const TORCH_SCRIPT = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torchref
m = torchref.Model(sys.argv[2])
ids = torch.tensor(json.loads(sys.argv[3])); mask = torch.tensor(json.loads(sys.argv[4]))
with torch.no_grad():
    logits, _ = m.forward(ids, mask)
print(json.dumps(logits.flatten().tolist()))
`;
const TOOLS = fileURLToPath(new URL('../tools/', import.meta.url));

test('forward logits match PyTorch with a 4-token window (all layers; mixed layers)', {
  skip: torchSkipReason(),
}, async () => {
  for (const dir of [MISTRAL, QWEN_MIXED]) {
    const ours = await studioLogits(dir);
    const ref = runPython<number[]>(TORCH_SCRIPT, [TOOLS, dir, JSON.stringify(ROWS), JSON.stringify(MASK)]);
    const err = maxDiff(ours, ref);
    assert.ok(err < 1e-4, `${dir}: max logit error ${err}`);
  }
});

test('the window changes the logits (the check above can fail)', async () => {
  const d = maxDiff(await studioLogits(MISTRAL), await studioLogits(MISTRAL_NO_WINDOW));
  assert.ok(d > 1e-2, `window made no difference (${d})`);
});

test('cached greedy decoding past the window equals cache-free passes with the window', async () => {
  const spec = loadModelSpec(MISTRAL);
  const gen = await Generator.load(spec);
  const prompts = [ROWS[0].slice(0, 6), ROWS[1].slice(3, 6)];
  const r = await gen.generate(prompts, { greedy: true, maxNewTokens: 40, eosTokenIds: [] });
  await assertCacheFreeGreedy(spec, prompts, r.tokens);
});

test('a model mixing windowed and full layers refuses to generate past the window', async () => {
  const gen = await Generator.load(loadModelSpec(QWEN_MIXED));
  await assert.rejects(gen.generate([[1, 2, 3]], { greedy: true, maxNewTokens: 10, eosTokenIds: [] }), {
    code: 'sliding-window-mixed',
  });
  const ok = await gen.generate([[1, 2, 3]], { greedy: true, maxNewTokens: 2, eosTokenIds: [] });
  assert.equal(ok.tokens[0].length, 2);
});
