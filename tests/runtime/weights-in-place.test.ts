// Weights stay in the memory-mapped safetensors file: ONNX Runtime must not copy them into its own
// memory (pre-packing, constant folding of a transposed weight, a Cast). A copy shows as anonymous
// memory about the size of the weights; the file mapping is what should grow. Measured on a 79 MB
// random Llama-shaped model with two generator sessions in one process (Linux: /proc/self/status).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeSafetensors, type TensorToWrite } from '../../native-runtime/formats/safetensors.ts';
import { Generator } from '../../native-runtime/generation/generator.ts';
import { loadModelSpec } from '../../native-runtime/models/config.ts';
import { tempDir } from '../helpers/temp.ts';

const MB = 1 << 20;
const status = (): Record<string, number> =>
  Object.fromEntries(
    readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .filter((l) => /^(RssAnon|RssFile):/.test(l))
      .map((l) => [l.split(':')[0], (Number.parseInt(l.split(':')[1], 10) * 1024) / MB]),
  );

function writeModel(dir: string): number {
  const H = 512,
    I = 1376,
    V = 8192,
    L = 4;
  let seed = 1;
  const rand = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = (seed / 2 ** 32 - 0.5) * 0.1;
    }
    return a;
  };
  const t: Record<string, TensorToWrite> = {};
  const add = (name: string, shape: number[], ones = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    t[name] = { dtype: 'F32', shape, data: ones ? new Float32Array(n).fill(1) : rand(n) };
  };
  add('model.embed_tokens.weight', [V, H]);
  add('lm_head.weight', [V, H]);
  add('model.norm.weight', [H], true);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}self_attn.q_proj.weight`, [H, H]);
    add(`${p}self_attn.k_proj.weight`, [256, H]);
    add(`${p}self_attn.v_proj.weight`, [256, H]);
    add(`${p}self_attn.o_proj.weight`, [H, H]);
    add(`${p}mlp.gate_proj.weight`, [I, H]);
    add(`${p}mlp.up_proj.weight`, [I, H]);
    add(`${p}mlp.down_proj.weight`, [H, I]);
    add(`${p}input_layernorm.weight`, [H], true);
    add(`${p}post_attention_layernorm.weight`, [H], true);
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: H,
      intermediate_size: I,
      num_hidden_layers: L,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      vocab_size: V,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      torch_dtype: 'float32',
    }),
  );
  return Object.values(t).reduce((s, x) => s + x.data.byteLength, 0) / MB;
}

test('two generator sessions keep the weights in the file mapping, not in private memory', {
  skip: process.platform === 'linux' ? false : 'reads /proc/self/status (Linux only)',
}, async () => {
  const dir = tempDir('reft-inplace-');
  const weightsMb = writeModel(dir);
  const spec = loadModelSpec(dir);
  const before = status();
  for (let i = 0; i < 2; i++) {
    const gen = await Generator.load(spec);
    await gen.generate([[1, 5, 9, 200, 17]], { greedy: true, maxNewTokens: 3, eosTokenIds: [] });
  }
  const after = status();
  const anon = after.RssAnon - before.RssAnon;
  const file = after.RssFile - before.RssFile;
  // Each session costs some anonymous memory of its own (graph, arena), well under the weights;
  // a copied weight set would add ~79 MB per session.
  assert.ok(
    anon < 0.4 * weightsMb,
    `anonymous memory grew ${anon.toFixed(1)} MB for ${weightsMb.toFixed(0)} MB of weights`,
  );
  assert.ok(
    file > 0.6 * weightsMb,
    `file-backed memory grew only ${file.toFixed(1)} MB: weights not read from the file?`,
  );
});
